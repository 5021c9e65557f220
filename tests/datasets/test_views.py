"""The export pages: who may see them, the options form, progress polling, the download."""

import io
import zipfile
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotator.datasets.jobs import start_export
from annotator.datasets.models import ExportJob
from annotator.datasets.options import ExportFormat, ExportOptions, LabelSet
from tests.datasets.corpus import make_labelled_corpus
from tests.factories import ArticleFactory, UserFactory, make_model

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Exports go to a temporary MEDIA_ROOT, never to the developer's media folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EXPORT_BACKGROUND_COMMENTS = 5000


@pytest.fixture
def corpus(project):
    return make_labelled_corpus(project)


@pytest.fixture
def researcher_client(client, researcher):
    client.force_login(researcher)
    return client


@pytest.fixture
def job(project, corpus, researcher) -> ExportJob:
    """A finished CSV export of the project."""
    return start_export(project, researcher, ExportOptions(format=ExportFormat.CSV))


def list_url(project) -> str:
    return reverse("datasets:export_list", args=[project.slug])


def detail_url(job) -> str:
    return reverse("datasets:export_detail", args=[job.project.slug, job.pk])


def download_url(job) -> str:
    return reverse("datasets:export_download", args=[job.project.slug, job.pk])


def form_data(**changes) -> dict:
    """What the page posts when the researcher keeps the defaults, with ``changes``."""
    data = {
        "format": "jsonl",
        "questions": ["stance_article", "stance_parent", "claim_type", "speculation"],
        "labels": "all",
        "include_unlabelled": "on",
        "split_seed": "13",
        "split_train": "0.8",
        "split_dev": "0.1",
        "split_test": "0.1",
        "changed_since": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def all_question_keys(project) -> list[str]:
    from annotator.labelling.schemes import current_scheme_for

    return [q.key for q in current_scheme_for(project).scheme.questions]


# --- Who may see what -------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["list", "detail", "download"])
@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("outsider", 404),
        ("annotator", 403),
        ("researcher", 200),
        ("reviewer", 200),
        ("project_admin", 200),
    ],
)
def test_exports_are_for_researchers_reviewers_and_admins(request, client, job, page, role, status):
    client.force_login(request.getfixturevalue(role))
    url = {"list": list_url(job.project), "detail": detail_url(job), "download": download_url(job)}

    response = client.get(url[page])

    assert response.status_code == status


def test_an_anonymous_visitor_is_sent_to_log_in(client, job):
    for url in (list_url(job.project), detail_url(job), download_url(job)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_a_researcher_cannot_reach_another_projects_export(
    researcher_client, project, other_project
):
    make_labelled_corpus(other_project)
    theirs = start_export(other_project, None, ExportOptions())

    # Through its own project (where the researcher is no member) and through theirs.
    assert researcher_client.get(download_url(theirs)).status_code == 404
    assert researcher_client.get(detail_url(theirs)).status_code == 404
    own_project_url = reverse("datasets:export_download", args=[project.slug, theirs.pk])
    assert researcher_client.get(own_project_url).status_code == 404
    own_detail_url = reverse("datasets:export_detail", args=[project.slug, theirs.pk])
    assert researcher_client.get(own_detail_url).status_code == 404


def test_an_annotator_may_not_start_an_export(client, annotator, project, corpus):
    client.force_login(annotator)

    response = client.post(list_url(project), form_data())

    assert response.status_code == 403
    assert not ExportJob.objects.exists()


def test_the_project_page_links_to_exports_for_those_who_may_export(
    client, project, researcher, annotator
):
    client.force_login(researcher)
    assert list_url(project) in client.get(project.get_absolute_url()).content.decode()

    client.force_login(annotator)
    assert list_url(project) not in client.get(project.get_absolute_url()).content.decode()


# --- The form ---------------------------------------------------------------------------------


def test_the_form_offers_every_option_with_all_questions_checked(researcher_client, project):
    response = researcher_client.get(list_url(project))

    html = response.content.decode()
    for value, label in [
        ("jsonl", "JSON Lines"),
        ("json", "Nested JSON"),
        ("csv", "CSV"),
        ("parquet", "Parquet"),
        ("convokit", "ConvoKit corpus"),
        ("rumoureval", "RumourEval / PHEME threads"),
    ]:
        assert f'value="{value}"' in html
        assert label in html
    for key in all_question_keys(project):
        assert f'name="questions" value="{key}"' in html
    checked = response.context["form"]["questions"].value()
    assert checked == all_question_keys(project)
    assert 'type="datetime-local" name="changed_since"' in html
    assert 'name="pseudonymise"' in html
    assert 'name="split"' in html
    assert "Nothing exported yet." in html


def test_a_valid_form_exports_and_goes_to_the_job(researcher_client, project, corpus, researcher):
    response = researcher_client.post(
        list_url(project),
        form_data(
            format="csv",
            questions=["stance_article", "claim_type"],
            labels="final",
            include_unlabelled=None,
            pseudonymise="on",
            split="on",
            split_seed="7",
            split_train="0.6",
            split_dev="0.2",
            split_test="0.2",
            changed_since="2026-01-31T12:30",
        ),
    )

    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail_url(job)
    options = ExportOptions.from_json(job.options)
    assert options.format == ExportFormat.CSV
    assert options.questions == ("stance_article", "claim_type")
    assert options.labels == LabelSet.FINAL
    assert options.include_unlabelled is False
    assert options.pseudonymise is True
    assert (options.split, options.split_seed, options.split_ratios) == (True, 7, (0.6, 0.2, 0.2))
    assert options.changed_since.isoformat() == "2026-01-31T12:30:00+00:00"
    assert job.created_by == researcher
    assert job.status == ExportJob.Status.SUCCEEDED


def test_all_questions_checked_is_recorded_as_every_question(researcher_client, project, corpus):
    researcher_client.post(list_url(project), form_data(questions=all_question_keys(project)))

    assert ExportJob.objects.get().options["questions"] == []


def test_without_a_split_its_numbers_are_ignored(researcher_client, project, corpus):
    researcher_client.post(list_url(project), form_data(split_train="9", split_seed=""))

    options = ExportOptions.from_json(ExportJob.objects.get().options)
    assert (options.split, options.split_ratios, options.split_seed) == (False, (0.8, 0.1, 0.1), 13)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"split": "on", "split_test": "0.3"}, "split", "Split ratios must add up to 1"),
        ({"questions": ["stance_article", "mood"]}, "questions", "mood is not one of"),
        ({"questions": None}, "questions", "Pick at least one question."),
        ({"format": "xml"}, "format", "xml is not one of"),
        ({"changed_since": "yesterday"}, "changed_since", "Enter a valid date/time."),
        ({"split": "on", "split_seed": "-1"}, "split_seed", "greater than or equal to 0"),
    ],
)
def test_invalid_options_show_form_errors_and_create_nothing(
    researcher_client, project, changes, field, message
):
    response = researcher_client.post(list_url(project), form_data(**changes))

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors[field])
    assert message in errors
    assert message.split(" is not")[0] in response.content.decode()
    assert not ExportJob.objects.exists()


def test_the_form_needs_a_csrf_token(project, researcher, corpus):
    client = Client(enforce_csrf_checks=True)
    client.force_login(researcher)

    response = client.post(list_url(project), form_data())

    assert response.status_code == 403
    assert not ExportJob.objects.exists()


# --- The export log ---------------------------------------------------------------------------


def test_the_log_shows_status_options_who_when_size_and_a_download_link(researcher_client, job):
    failed = ExportJob.objects.create(
        project=job.project, format="parquet", status=ExportJob.Status.FAILED, error="broke"
    )

    html = researcher_client.get(list_url(job.project)).content.decode()

    assert "CSV · all questions · all annotators" in html
    assert "res_researcher" in html
    assert 'class="badge status-succeeded">Ready<' in html
    assert 'class="badge status-failed">Failed<' in html
    assert f'href="{download_url(job)}"' in html
    assert f'href="{download_url(failed)}"' not in html
    assert f'href="{detail_url(failed)}"' in html
    assert f'<time datetime="{job.created_at:%Y-%m-%dT%H:%M}' in html


@pytest.mark.parametrize(
    ("labels", "shown"),
    [
        (LabelSet.ALL, "all annotators"),
        (LabelSet.FINAL, "final labels"),
        (LabelSet.GOLD, "gold labels only"),
    ],
)
def test_the_log_names_the_label_set_that_was_exported(
    researcher_client, project, corpus, researcher, labels, shown
):
    start_export(project, researcher, ExportOptions(format=ExportFormat.CSV, labels=labels))

    html = researcher_client.get(list_url(project)).content.decode()

    assert f"CSV · all questions · {shown}" in html
    if labels != LabelSet.ALL:
        assert "all annotators" not in html.split("<h2>Exports</h2>")[-1]


def test_the_log_costs_the_same_queries_for_one_or_ten_jobs(researcher_client, project, researcher):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = researcher_client.get(list_url(project))
        assert response.status_code == 200
        return len(queries)

    ExportJob.objects.create(project=project, format="csv", created_by=researcher)
    one = count_queries()
    for n in range(9):
        ExportJob.objects.create(
            project=project, format="csv", created_by=UserFactory(username=f"someone{n}")
        )
    ten = count_queries()

    assert ten == one
    assert one <= 8


def test_a_split_of_too_few_threads_says_so_on_the_export_page(researcher_client, project, corpus):
    response = researcher_client.post(list_url(project), form_data(split="on"), follow=True)

    html = response.content.decode()
    threads = project.articles.count()
    assert threads < 8
    assert 'id="split-shortfall"' in html
    assert f"This project has {threads} thread" in html
    assert "get no thread" in html
    assert "need at least 8 threads" in html


def test_a_split_with_enough_threads_or_no_split_says_nothing_about_it(
    researcher_client, project, corpus
):
    for n in range(20):
        ArticleFactory(project=project, source_id=f"more-{n}")

    with_split = researcher_client.post(list_url(project), form_data(split="on"), follow=True)
    without = researcher_client.post(list_url(project), form_data(), follow=True)

    assert "split-shortfall" not in with_split.content.decode()
    assert "split-shortfall" not in without.content.decode()


# --- Progress and download --------------------------------------------------------------------


def test_a_running_export_polls_and_a_finished_one_stops(researcher_client, project, researcher):
    running = ExportJob.objects.create(
        project=project,
        format="csv",
        status=ExportJob.Status.RUNNING,
        comments_total=200,
        comments_done=50,
        created_by=researcher,
    )

    page = researcher_client.get(detail_url(running))
    partial = researcher_client.get(detail_url(running), headers={"HX-Request": "true"})

    assert 'hx-trigger="every 1s"' in page.content.decode()
    html = partial.content.decode()
    assert html.lstrip().startswith('<section id="export-progress"')
    assert "<html" not in html
    assert 'value="25"' in html
    assert "50 of 200 comments" in html
    assert 'hx-trigger="every 1s"' in html

    ExportJob.objects.filter(pk=running.pk).update(status=ExportJob.Status.FAILED, error="Broke.")
    html = researcher_client.get(detail_url(running), headers={"HX-Request": "true"}).content
    assert b"hx-trigger" not in html
    assert b"Broke." in html


def test_a_finished_export_shows_its_counts_and_a_download_button(researcher_client, job):
    html = researcher_client.get(detail_url(job)).content.decode()

    assert "Ready" in html
    assert "<dt>Comments</dt><dd>6</dd>" in html
    assert "<dt>Labelled comments</dt><dd>2</dd>" in html
    assert "<dt>Annotations</dt><dd>4</dd>" in html
    assert f"<dt>Articles</dt><dd>{job.articles}</dd>" in html
    assert f'href="{download_url(job)}"' in html
    assert "hx-trigger" not in html


def test_the_download_is_the_zip_with_its_card_and_data(researcher_client, job):
    response = researcher_client.get(download_url(job))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="{job.filename}"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = archive.namelist()
    assert "README.md" in names
    data = [name for name in names if name.endswith(".csv")]
    assert data
    assert "The ceasefire will hold." in archive.read(data[0]).decode()


def test_an_unfinished_or_failed_export_has_nothing_to_download(
    researcher_client, project, researcher
):
    for status in (ExportJob.Status.QUEUED, ExportJob.Status.FAILED):
        job = ExportJob.objects.create(project=project, format="csv", status=status)
        assert researcher_client.get(download_url(job)).status_code == 404


def test_a_download_whose_file_is_gone_is_a_404(researcher_client, job):
    job.file.storage.delete(job.file.name)

    assert researcher_client.get(download_url(job)).status_code == 404


# --- A worker that died -----------------------------------------------------------------------


def retry_url(job) -> str:
    return reverse("datasets:export_retry", args=[job.project.slug, job.pk])


def left_dead(job: ExportJob) -> None:
    """RUNNING with a heartbeat from two minutes ago: what a killed worker leaves."""
    then = timezone.now() - timedelta(seconds=120)
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING, started_at=then, heartbeat_at=then, file=""
    )


def test_the_poll_of_an_export_whose_worker_died_says_so_and_offers_to_run_it_again(
    researcher_client, job, settings
):
    settings.JOB_STALE_AFTER = 60
    left_dead(job)

    html = researcher_client.get(detail_url(job), headers={"HX-Request": "true"}).content.decode()

    assert "hx-trigger" not in html
    assert ExportJob.WORKER_STOPPED in html
    assert f'action="{retry_url(job)}"' in html
    assert "Run it again" in html


def test_run_it_again_exports_with_the_same_options(researcher_client, job, settings):
    settings.JOB_STALE_AFTER = 60
    left_dead(job)
    researcher_client.get(detail_url(job))

    response = researcher_client.post(retry_url(job))

    retry = ExportJob.objects.exclude(pk=job.pk).get()
    assert response["Location"] == detail_url(retry)
    assert retry.status == ExportJob.Status.SUCCEEDED
    assert retry.options == job.options
    assert retry.file


def test_only_an_export_whose_worker_stopped_can_be_run_again(researcher_client, job):
    response = researcher_client.post(retry_url(job), follow=True)

    assert "Only an export whose worker stopped can be run again." in response.content.decode()
    assert ExportJob.objects.count() == 1


@pytest.mark.parametrize(("role", "status"), [("outsider", 404), ("annotator", 403)])
def test_run_it_again_is_for_those_who_may_export(request, client, job, role, status):
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.FAILED, error=ExportJob.WORKER_STOPPED
    )
    client.force_login(request.getfixturevalue(role))

    assert client.post(retry_url(job)).status_code == status
    assert client.get(retry_url(job)).status_code in {status, 405}
    assert ExportJob.objects.count() == 1


def test_the_page_offers_model_predictions_only_when_the_project_has_models(
    researcher_client, project, corpus
):
    assert "Model predictions" not in researcher_client.get(list_url(project)).content.decode()
    make_model(project, "stance-bert")

    assert "Model predictions" in researcher_client.get(list_url(project)).content.decode()


@pytest.mark.parametrize(("ticked", "recorded"), [(True, True), (False, False)])
def test_the_model_predictions_choice_is_recorded_on_the_job(
    researcher_client, project, corpus, ticked, recorded
):
    make_model(project, "stance-bert")
    data = form_data(predictions="on") if ticked else form_data()

    researcher_client.post(list_url(project), data)

    job = ExportJob.objects.get()
    assert ExportOptions.from_json(job.options).predictions is recorded
    assert job.options_summary().endswith(
        " · model predictions" if recorded else " · without model predictions"
    )


def test_a_project_without_models_records_no_predictions(researcher_client, project, corpus):
    researcher_client.post(list_url(project), form_data(predictions="on"))

    job = ExportJob.objects.get()
    assert "predictions" not in job.options
    assert "model predictions" not in job.options_summary()
