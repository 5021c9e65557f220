"""The import pages: upload, the preview of a scraped thread, confirmation, progress, the log."""

import errno
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotator.corpus.importers import ACCEPTED
from annotator.corpus.models import Article, Comment, DeletedArticle, DiscardedImport, ImportJob
from annotator.corpus.tasks import enqueue_import
from annotator.corpus.uploads import NO_SPACE_MESSAGE
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("uploads_in_tmp")]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SEED = FIXTURES / "seed_thread.txt"
SAMPLES = FIXTURES / "samples"

JSONL = "\n".join(
    json.dumps(record)
    for record in [
        {"type": "article", "id": "a-1", "title": "Ceasefire holds", "body": "It held."},
        {
            "type": "comment",
            "id": "c-1",
            "article_id": "a-1",
            "text": "Good news.",
            "author": "Rami",
        },
        {"type": "comment", "id": "c-2", "article_id": "a-1", "parent_id": "c-1", "text": "Maybe."},
        {"type": "comment", "id": "c-3", "article_id": "a-1", "text": "It won't last."},
    ]
).encode()

CSV = (
    b"article_id,article_title,comment_id,parent_id,author,text,posted_at\n"
    b"a-2,Aid convoys arrive,c-1,,Lina,Finally.,\n"
    b"a-2,Aid convoys arrive,c-2,c-1,,About time.,\n"
)

SMALL_THREAD = (
    b"Aid convoys reach the city\n\n"
    b"Aid convoys reach the city\n\n"
    b"The first aid convoys reached the eastern districts on Monday.\n\n"
    b"Officials said more would follow during the week.\n\n\n"
    b"Good news at last, if it lasts.\n\n\n"
    b"Who is paying for the convoys?\n"
)


def list_url(project) -> str:
    """The upload page and log of ``project``."""
    return reverse("corpus:import_list", args=[project.slug])


def detail_url(job) -> str:
    """The page of one import."""
    return reverse("corpus:import_detail", args=[job.project.slug, job.pk])


def confirm_url(job) -> str:
    """Where the preview's form posts."""
    return reverse("corpus:import_confirm", args=[job.project.slug, job.pk])


def save_url(job) -> str:
    """Where each change in the preview is kept."""
    return reverse("corpus:import_preview_save", args=[job.project.slug, job.pk])


def retry_url(job) -> str:
    """Where "Run it again" posts."""
    return reverse("corpus:import_retry", args=[job.project.slug, job.pk])


def search(client, job, before: int, typed: str) -> str:
    """What the "any comment above" field of the comment at ``before`` offers for ``typed``."""
    url = reverse("corpus:import_preview_search", args=[job.project.slug, job.pk])
    response = client.get(url, {"before": before, f"other-parent-{before}": typed})
    assert response.status_code == 200
    return response.content.decode().strip()


def upload(client, project, name: str, content: bytes, fmt: str = "auto", follow: bool = True):
    """Post a file to the upload form as a browser would."""
    return client.post(
        list_url(project),
        {"file": SimpleUploadedFile(name, content), "format": fmt},
        follow=follow,
    )


def seed_reconstruction(article_end=None):
    """The importer's reading of the seed, as the preview shows it."""
    from annotator.corpus.importers.text import reconstruct_thread

    return reconstruct_thread(SEED.read_text("utf-8"), SEED.name, article_end=article_end)


def upload_seed(client, project) -> ImportJob:
    """Upload the seed thread and check that it lands on its preview."""
    response = upload(client, project, SEED.name, SEED.read_bytes(), follow=False)
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert response["Location"] == detail_url(job)
    return job


# --- Upload of files with ids -----------------------------------------------------------------


def test_it_shows_the_upload_form_and_an_empty_log(importer_client, project):
    response = importer_client.get(list_url(project))
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert '<input type="file" name="file"' in html
    assert '<option value="auto" selected>' in html
    assert "Nothing imported yet." in html


def test_it_imports_a_small_jsonl_file_during_the_upload(importer_client, project, project_admin):
    response = upload(importer_client, project, "thread.jsonl", JSONL)

    job = ImportJob.objects.get()
    assert response.redirect_chain == [(detail_url(job), 302)]
    assert job.status == ImportJob.Status.SUCCEEDED
    assert (job.format, job.original_name, job.total_bytes) == ("jsonl", "thread.jsonl", len(JSONL))
    assert job.created_by == project_admin
    article = Article.objects.get(project=project)
    assert Comment.objects.filter(article=article).count() == 3
    assert Comment.objects.get(source_id="c-2").parent.source_id == "c-1"
    html = response.content.decode()
    assert "Imported" in html
    assert "<dt>Comments added</dt><dd>3</dd>" in html
    assert "<dt>Articles added</dt><dd>1</dd>" in html
    assert 'hx-trigger="every 1s"' not in html


def test_it_imports_a_csv_file_detected_from_its_header(importer_client, project):
    upload(importer_client, project, "dump.csv", CSV)

    job = ImportJob.objects.get()
    assert (job.format, job.status) == ("csv", ImportJob.Status.SUCCEEDED)
    assert Comment.objects.filter(article__project=project).count() == 2


@pytest.mark.parametrize(("sample", "fmt"), [("thread.jsonl", "jsonl"), ("thread.csv", "csv")])
def test_it_imports_the_sample_files(importer_client, project, sample, fmt):
    content = (SAMPLES / sample).read_bytes()

    response = upload(importer_client, project, sample, content)

    job = ImportJob.objects.get()
    assert (job.format, job.status, job.error) == (fmt, ImportJob.Status.SUCCEEDED, "")
    assert job.comments_added == Comment.objects.filter(article__project=project).count() > 0
    assert f"<dt>Comments added</dt><dd>{job.comments_added}</dd>" in response.content.decode()


def test_the_chosen_format_wins_over_detection(importer_client, project):
    upload(importer_client, project, "thread.txt", JSONL, fmt="jsonl")

    job = ImportJob.objects.get()
    assert (job.format, job.status) == ("jsonl", ImportJob.Status.SUCCEEDED)


def test_importing_the_same_file_twice_reports_the_comments_as_unchanged(importer_client, project):
    upload(importer_client, project, "thread.jsonl", JSONL)
    response = upload(importer_client, project, "thread.jsonl", JSONL)

    latest = ImportJob.objects.order_by("-pk").first()
    assert (latest.comments_added, latest.comments_unchanged) == (0, 3)
    assert "<dt>Comments already there (unchanged)</dt><dd>3</dd>" in response.content.decode()
    assert Comment.objects.count() == 3


def test_a_broken_file_is_refused_with_its_line_and_writes_nothing(importer_client, project):
    broken = JSONL.replace(b'"text": "Maybe."', b'"text": "Maybe.', 1)

    response = upload(importer_client, project, "broken.jsonl", broken)

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert "line 3" in job.error
    html = response.content.decode()
    assert "Refused" in html
    assert "line 3" in html
    assert "Nothing was imported" in html
    assert Article.objects.count() == 0
    assert Comment.objects.count() == 0


def test_it_refuses_an_empty_file_and_stores_no_job(importer_client, project):
    response = upload(importer_client, project, "empty.jsonl", b"")

    assert response.status_code == 200
    assert "empty.jsonl is empty" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_it_refuses_a_file_over_the_upload_limit(importer_client, project, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 100

    response = upload(importer_client, project, "big.jsonl", JSONL)

    html = response.content.decode()
    assert "big.jsonl is" in html
    assert "the largest file accepted here is 100\xa0bytes" in html
    assert not ImportJob.objects.exists()


def test_the_log_lists_imports_with_who_status_and_counts(importer_client, project):
    upload(importer_client, project, "thread.jsonl", JSONL)
    upload(importer_client, project, "broken.jsonl", b"{not json\n")

    html = importer_client.get(list_url(project)).content.decode()
    for job in ImportJob.objects.all():
        assert f'href="{detail_url(job)}">{job.original_name}</a>' in html
    assert '<span class="badge status-succeeded">Done</span>' in html
    assert '<span class="badge status-failed">Refused</span>' in html
    assert "ada_admin" in html


def test_the_log_reads_in_a_constant_number_of_queries(importer_client, project):
    upload(importer_client, project, "thread.jsonl", JSONL)
    with CaptureQueriesContext(connection) as one:
        importer_client.get(list_url(project))
    for n in range(5):
        upload(importer_client, project, f"thread-{n}.jsonl", JSONL)
    with CaptureQueriesContext(connection) as six:
        importer_client.get(list_url(project))
    assert len(six) == len(one)


# --- Large files: background import and progress -----------------------------------------------


@pytest.fixture
def queued_job(importer_client, project, settings, monkeypatch):
    """A large upload left in the queue (the worker is not running)."""
    settings.IMPORT_BACKGROUND_BYTES = 10
    enqueued = []
    monkeypatch.setattr("annotator.corpus.tasks.enqueue_import", enqueued.append)
    upload(importer_client, project, "large.jsonl", JSONL, follow=False)
    job = ImportJob.objects.get()
    assert enqueued == [job]
    return job


def test_a_large_file_goes_to_the_worker_and_the_page_polls_its_progress(
    importer_client, queued_job
):
    html = importer_client.get(detail_url(queued_job)).content.decode()

    assert queued_job.status == ImportJob.Status.QUEUED
    assert f'hx-get="{detail_url(queued_job)}" hx-trigger="every 1s"' in html
    assert '<progress id="import-bar" max="100" value="0">0%</progress>' in html
    assert 'role="status" aria-live="polite"' in html
    assert Comment.objects.count() == 0


def test_the_progress_request_returns_only_the_progress_block(importer_client, queued_job):
    ImportJob.objects.filter(pk=queued_job.pk).update(
        status=ImportJob.Status.RUNNING, processed_bytes=queued_job.total_bytes // 2
    )

    response = importer_client.get(detail_url(queued_job), headers={"HX-Request": "true"})

    html = response.content.decode()
    assert "<html" not in html
    assert html.strip().startswith('<section id="import-progress"')
    assert 'hx-trigger="every 1s"' in html
    assert "<strong>50%</strong>" in html


def test_polling_stops_when_the_job_has_finished(importer_client, queued_job):
    ImportJob.objects.filter(pk=queued_job.pk).update(
        status=ImportJob.Status.SUCCEEDED, articles_added=1, comments_added=3
    )

    html = importer_client.get(
        detail_url(queued_job), headers={"HX-Request": "true"}
    ).content.decode()

    assert "hx-trigger" not in html
    assert "<dt>Comments added</dt><dd>3</dd>" in html


def test_a_large_file_is_imported_by_the_task(
    importer_client, project, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_BACKGROUND_BYTES = 10
    # The immediate tasks backend runs the import as soon as the upload's transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        upload(importer_client, project, "large.jsonl", JSONL, follow=False)

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert Comment.objects.count() == 3


# --- Scraped text: the preview ----------------------------------------------------------------


def test_a_scraped_thread_stops_at_a_preview_and_writes_nothing(importer_client, project):
    job = upload_seed(importer_client, project)

    assert (job.status, job.format) == (ImportJob.Status.PREVIEW, "text")
    assert Article.objects.count() == 0
    assert Comment.objects.count() == 0


def test_the_preview_shows_the_article_the_comments_and_how_sure_each_link_is(
    importer_client, project
):
    job = upload_seed(importer_client, project)
    reconstruction = seed_reconstruction()

    response = importer_client.get(detail_url(job))

    html = response.content.decode()
    assert "Why Does Syrian Army Stop Active Military Operation In Aleppo?" in html
    assert html.count('name="article_end"') >= len(reconstruction.article_paragraphs)
    assert f'name="article_end" value="{reconstruction.article_end}" checked' in html
    rows = response.context["rows"]
    assert [row.line for row in rows] == [c.line for c in reconstruction.comments]
    for comment in reconstruction.comments:
        assert f'<select name="parent-{comment.line}" id="parent-{comment.line}">' in html
    unsure = [c for c in reconstruction.comments if c.confidence in {"medium", "low"}]
    if unsure:
        assert f"{len(unsure)} link{'s' if len(unsure) > 1 else ''} to check" in html
        assert html.count('<li class="comment indent-') == len(rows)
        assert html.count(" unsure") >= len(unsure)
    assert "named reply" in html  # the seed has named replies: explicit links
    assert "Confirm and import</button>" in html


def test_each_parent_select_offers_the_ranked_candidates_best_first(importer_client, project):
    job = upload_seed(importer_client, project)
    reconstruction = seed_reconstruction()

    rows = importer_client.get(detail_url(job)).context["rows"]

    for row, comment in zip(rows, reconstruction.comments, strict=True):
        ranked = [
            "article" if c.parent_line is None else str(c.parent_line) for c in comment.candidates
        ]
        offered = [value for value, _ in row.options]
        assert offered[: len(ranked)] == ranked
        assert "article" in offered
        chosen = "article" if comment.parent_line is None else str(comment.parent_line)
        assert row.selected == chosen


def test_any_comment_above_can_be_chosen_by_its_line_beyond_the_menu(importer_client, project):
    job = upload_seed(importer_client, project)
    reconstruction = seed_reconstruction()
    last = reconstruction.comments[-1]
    first = reconstruction.comments[0]
    menu = importer_client.get(detail_url(job)).context["rows"][-1]
    assert str(first.line) not in {v for v, _ in menu.options + menu.others}  # too far up

    # The page has one (empty) list for every field; typing searches the comments above.
    html = importer_client.get(detail_url(job)).content.decode()
    assert html.count('<datalist id="preview-comments">') == 1
    found = search(importer_client, job, last.line, str(first.line))
    assert found.startswith(f'<option value="{first.line}">line {first.line} · ')
    words = " ".join(first.text.split()[:3])
    assert f'<option value="{first.line}">' in search(importer_client, job, last.line, words)
    assert search(importer_client, job, first.line, words) == ""  # only comments above

    # Words, a later comment, a line that is no comment: said beside it, guess kept.
    for typed in ["sanctions", str(last.line + 1000), str(last.line)]:
        response = importer_client.post(save_url(job), {f"other-parent-{last.line}": typed})
        assert f'id="parent-problem-{last.line}" role="alert"' in response.content.decode(), typed
        row = importer_client.get(detail_url(job)).context["rows"][-1]
        assert row.parent == last.parent_line and not row.changed
    query = {f"other-parent-{last.line}": str(first.line)}
    assert f"line {last.line}" in importer_client.post(save_url(job), query).content.decode()
    row = importer_client.get(detail_url(job)).context["rows"][-1]
    assert row.parent == first.line and row.changed and row.problem == ""
    assert row.selected == str(first.line)  # the menu now holds it, for the next re-render

    # Confirming applies it.
    response = importer_client.post(confirm_url(job), query, follow=True)
    assert response.status_code == 200
    job.refresh_from_db()
    assert job.options["parents"][str(last.line)] == first.line


def test_each_correction_is_kept_on_the_import_and_survives_a_reload(importer_client, project):
    job = upload_seed(importer_client, project)
    reconstruction = seed_reconstruction()
    last, first = reconstruction.comments[-1], reconstruction.comments[0]
    shorter_end = reconstruction.article_paragraphs[-2].line

    # The page posts the whole form on every change; the answer is the preview.
    response = importer_client.post(
        save_url(job),
        {"article_end": str(shorter_end), f"other-parent-{last.line}": str(first.line)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response.content.decode().strip().startswith('<section id="import-preview"')
    job.refresh_from_db()
    assert job.options == {"article_end": shorter_end, "parents": {str(last.line): first.line}}
    assert job.status == ImportJob.Status.PREVIEW

    # A reload (or coming back tomorrow) shows them; the confirmation applies them.
    context = importer_client.get(detail_url(job)).context
    assert context["article_end"] == shorter_end
    assert context["rows"][-1].parent == first.line and context["rows"][-1].changed
    importer_client.post(
        confirm_url(job), {"article_end": str(shorter_end), f"parent-{last.line}": str(first.line)}
    )
    job.refresh_from_db()
    assert job.options["parents"][str(last.line)] == first.line
    # Confirmed: later choices are refused and change nothing.
    late = importer_client.post(save_url(job), {"article_end": str(reconstruction.article_end)})
    assert late.status_code == 409
    job.refresh_from_db()
    assert job.options["article_end"] == shorter_end


def test_a_kept_correction_can_be_undone(importer_client, project):
    job = upload_seed(importer_client, project)
    reconstruction = seed_reconstruction()
    last = reconstruction.comments[-1]
    other = "article" if last.parent_line is not None else str(reconstruction.comments[0].line)
    importer_client.post(save_url(job), {f"parent-{last.line}": other})
    job.refresh_from_db()
    assert job.options["parents"] == {str(last.line): None if other == "article" else int(other)}
    guess = "article" if last.parent_line is None else str(last.parent_line)
    importer_client.post(save_url(job), {f"parent-{last.line}": guess})
    job.refresh_from_db()
    assert job.options["parents"] == {}
    assert not importer_client.get(detail_url(job)).context["rows"][-1].changed


def test_comment_text_in_the_preview_is_escaped(importer_client, project):
    hostile = SMALL_THREAD + b"\n\n<script>alert('x')</script> <b>bold</b>\n"

    response = upload(importer_client, project, "hostile.txt", hostile)

    html = response.content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html


def test_changing_the_article_end_turns_a_paragraph_into_a_comment(importer_client, project):
    job = upload(importer_client, project, "small.txt", SMALL_THREAD).context["job"]
    first = importer_client.get(detail_url(job)).context
    assert len(first["paragraphs"]) == 2
    shorter_end = first["paragraphs"][0]["end"]

    response = importer_client.post(
        save_url(job), {"article_end": shorter_end}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert "<html" not in html
    assert html.strip().startswith('<section id="import-preview"')
    assert html.count('<div class="preview-paragraph') == 1
    comments = html[html.index('<ol class="thread preview-thread"') :]
    assert "Officials said more would follow during the week." in comments
    assert f'name="article_end" value="{shorter_end}" checked' in html


def test_the_first_comments_can_be_turned_back_into_article_text(importer_client, project):
    job = upload(importer_client, project, "small.txt", SMALL_THREAD).context["job"]
    first_comment = importer_client.get(detail_url(job)).context["rows"][0].comment

    importer_client.post(save_url(job), {"article_end": first_comment.end_line})
    context = importer_client.get(detail_url(job)).context

    assert "Good news at last" in context["paragraphs"][-1]["text"]
    assert all("Good news at last" not in row.comment.text for row in context["rows"])


def test_the_preview_reads_in_a_constant_number_of_queries(importer_client, project):
    small = upload(importer_client, project, "small.txt", SMALL_THREAD).context["job"]
    seed = upload_seed_again(importer_client, project)
    with CaptureQueriesContext(connection) as small_queries:
        importer_client.get(detail_url(small))
    with CaptureQueriesContext(connection) as seed_queries:
        importer_client.get(detail_url(seed))
    assert len(seed_queries) == len(small_queries)
    # session, user, project and role; the job; a page of comments, those its menus name,
    # and the links left to check (a count and the first ones).
    assert len(seed_queries) <= 10


def upload_seed_again(client, project) -> ImportJob:
    """Upload the seed once more and return the newest job."""
    upload(client, project, SEED.name, SEED.read_bytes(), follow=False)
    return ImportJob.objects.order_by("-pk").first()


# --- Confirming a preview ---------------------------------------------------------------------


def test_confirming_imports_the_thread_with_a_corrected_parent(importer_client, project):
    job = upload_seed(importer_client, project)
    reconstruction = seed_reconstruction()
    # A comment whose guess is wrong: take its second-best candidate, as the admin would.
    target = next(
        c
        for c in reconstruction.comments
        if len(c.candidates) > 1 and c.candidates[1].parent_line is not None
    )
    new_parent = target.candidates[1].parent_line
    data = {"article_end": reconstruction.article_end, f"parent-{target.line}": new_parent}

    response = importer_client.post(confirm_url(job), data, follow=True)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert "article_end" not in job.options  # not moved
    assert job.options["parents"][str(target.line)] == new_parent
    assert job.options["parents"] == {str(target.line): new_parent}  # only what changed
    assert job.comments_added == len(reconstruction.comments)
    assert "<dt>Comments added</dt>" in response.content.decode()
    by_line = {c.line: c for c in reconstruction.comments}
    saved = Comment.objects.get(text__startswith=target.text.strip()[:40])
    assert saved.parent is not None
    assert saved.parent.text.startswith(by_line[new_parent].text.strip()[:40])


def test_confirming_a_shorter_article_saves_the_paragraph_as_a_comment(importer_client, project):
    job = upload(importer_client, project, "small.txt", SMALL_THREAD).context["job"]
    shorter_end = importer_client.get(detail_url(job)).context["paragraphs"][0]["end"]

    # A new end read the thread again: it is shown to be checked before a confirmation.
    response = importer_client.post(confirm_url(job), {"article_end": shorter_end}, follow=True)
    assert "end changed: check the thread again, then confirm" in response.content.decode()
    assert not Article.objects.exists()
    assert response.context["article_end"] == shorter_end
    importer_client.post(confirm_url(job), {"article_end": shorter_end})

    article = Article.objects.get(project=project)
    assert "eastern districts" in article.body
    assert "more would follow" not in article.body
    assert Comment.objects.filter(article=article, text__contains="more would follow").exists()


def test_confirming_refuses_a_parent_below_the_comment(importer_client, project):
    job = upload_seed(importer_client, project)
    comments = seed_reconstruction().comments
    first, last = comments[0], comments[-1]

    response = importer_client.post(
        confirm_url(job), {f"parent-{first.line}": last.line}, follow=True
    )

    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEW
    assert f"The comment at line {first.line} can only answer the article or a comment above" in (
        response.content.decode()
    )
    assert Comment.objects.count() == 0


def test_confirming_refuses_an_article_end_beyond_the_file(importer_client, project):
    job = upload_seed(importer_client, project)

    response = importer_client.post(confirm_url(job), {"article_end": 99999}, follow=True)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEW
    assert "The article cannot end at line" in response.content.decode()
    assert job.reading["article_end"] == seed_reconstruction().article_end


def test_a_finished_import_cannot_be_confirmed_again(importer_client, project):
    job = upload(importer_client, project, "thread.jsonl", JSONL).context["job"]

    response = importer_client.post(confirm_url(job), {}, follow=True)

    assert "no longer awaiting review" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert Comment.objects.count() == 3


def test_confirm_only_accepts_post(importer_client, project):
    job = upload_seed(importer_client, project)
    assert importer_client.get(confirm_url(job)).status_code == 405


# --- Who may import ---------------------------------------------------------------------------


@pytest.fixture
def job(project, project_admin, tmp_path):
    """A previewed seed upload, made without going through the views."""
    return ImportJob.objects.create(
        project=project,
        created_by=project_admin,
        status=ImportJob.Status.PREVIEW,
        format="text",
        file=SimpleUploadedFile("seed.txt", SEED.read_bytes()),
        original_name="seed.txt",
        total_bytes=SEED.stat().st_size,
    )


@pytest.mark.parametrize("role_fixture", ["annotator", "reviewer", "researcher"])
def test_members_who_are_not_admins_get_403_on_every_import_page(
    client, request, project, job, role_fixture
):
    client.force_login(request.getfixturevalue(role_fixture))

    assert client.get(list_url(project)).status_code == 403
    assert upload(client, project, "t.jsonl", JSONL, follow=False).status_code == 403
    assert client.get(detail_url(job)).status_code == 403
    assert client.get(detail_url(job), headers={"HX-Request": "true"}).status_code == 403
    assert client.post(confirm_url(job), {}).status_code == 403
    assert client.post(save_url(job), {"article_end": "5"}).status_code == 403
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEW
    assert job.options == {}
    assert ImportJob.objects.count() == 1


def test_people_outside_the_project_get_404_on_every_import_page(client, outsider, project, job):
    client.force_login(outsider)

    assert client.get(list_url(project)).status_code == 404
    assert upload(client, project, "t.jsonl", JSONL, follow=False).status_code == 404
    assert client.get(detail_url(job)).status_code == 404
    assert client.post(confirm_url(job), {}).status_code == 404
    assert client.post(save_url(job), {"article_end": "5"}).status_code == 404


def test_a_job_of_another_project_is_not_found_through_this_one(
    client, project, other_project, job
):
    other_admin = UserFactory(username="olga")
    other_project.memberships.create(user=other_admin, role="admin")
    client.force_login(other_admin)

    url = reverse("corpus:import_detail", args=[other_project.slug, job.pk])
    assert client.get(url).status_code == 404
    confirm = reverse("corpus:import_confirm", args=[other_project.slug, job.pk])
    assert client.post(confirm, {}).status_code == 404


def test_anonymous_visitors_are_sent_to_the_login_page(client, project, job):
    response = client.get(detail_url(job))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- Files that are no thread -------------------------------------------------------------------

PDF = (SAMPLES / "refused" / "article.pdf").read_bytes()


@pytest.mark.parametrize("fmt", ["auto", "text", "jsonl"])
def test_a_pdf_is_refused_as_a_pdf_and_nothing_is_stored(importer_client, project, fmt, settings):
    response = upload(importer_client, project, "article.pdf", PDF, fmt=fmt)

    assert response.status_code == 200
    html = response.content.decode()
    assert "This is a PDF document, not a comment thread." in html
    assert ACCEPTED in html
    assert "is not UTF-8 text" not in html
    assert not ImportJob.objects.exists()
    assert not Article.objects.exists()
    assert not any(Path(settings.MEDIA_ROOT).rglob("*.pdf"))


def test_an_image_is_refused_as_an_image(importer_client, project):
    response = upload(importer_client, project, "photo.txt", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")

    assert "This is a JPEG image, not a comment thread." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_preview_without_comments_disables_confirm_and_says_why(importer_client, project):
    upload(importer_client, project, "notes.txt", b"Meeting notes\n\nWe met on Monday.\n")
    job = ImportJob.objects.get()

    html = importer_client.get(detail_url(job)).content.decode()

    assert "1 article paragraph, 0 comments" in html
    assert 'id="confirm-refusal"' in html
    assert "No comments were found after the article" in html
    assert html.count('disabled aria-describedby="confirm-refusal"') == 2


def test_a_preview_with_comments_keeps_confirm_enabled(importer_client, project):
    job = upload_seed(importer_client, project)

    html = importer_client.get(detail_url(job)).content.decode()

    assert "confirm-refusal" not in html
    assert "disabled" not in html


def test_the_server_refuses_to_confirm_a_reading_without_comments(importer_client, project):
    upload(importer_client, project, "notes.txt", b"Meeting notes\n\nWe met on Monday.\n")
    job = ImportJob.objects.get()

    response = importer_client.post(confirm_url(job), {}, follow=True)

    assert response.status_code == 200
    assert "Not imported: No comments were found after the article" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEW
    assert not Article.objects.exists()


def test_moving_the_article_end_up_makes_a_reading_confirmable(importer_client, project):
    text = b"Meeting notes\n\nWe met on Monday.\n\nI think it went well.\n"
    upload(importer_client, project, "notes.txt", text)
    job = ImportJob.objects.get()

    importer_client.post(confirm_url(job), {"article_end": "3"})

    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert Comment.objects.count() == 1


# --- Discarding an upload in review -------------------------------------------------------------


def discard_url(job) -> str:
    return reverse("corpus:import_discard", args=[job.project.slug, job.pk])


def test_the_preview_offers_to_discard_the_upload(importer_client, project):
    job = upload_seed(importer_client, project)

    html = importer_client.get(detail_url(job)).content.decode()

    assert f'href="{discard_url(job)}"' in html


def test_a_waiting_upload_without_a_reading_is_read_when_its_page_is_opened(
    importer_client, project, job
):
    assert job.reading == {}  # uploaded before readings were stored

    response = importer_client.get(detail_url(job))

    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEW
    assert job.reading["comments"] == len(seed_reconstruction().comments)
    assert len(response.context["rows"]) == job.reading["comments"]


def test_a_waiting_upload_whose_file_cannot_be_read_says_why(importer_client, project, job):
    job.file.save("broken.txt", SimpleUploadedFile("broken.txt", b"{not a thread}\n"))

    html = importer_client.get(detail_url(job)).content.decode()

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert "looks like JSON Lines, not scraped text" in html
    assert "Nothing was imported" in html


def test_discarding_asks_first_and_changes_nothing_on_get(importer_client, project, job):
    response = importer_client.get(discard_url(job))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Discard the upload of seed.txt?" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert ImportJob.objects.filter(pk=job.pk).exists()


def test_discarding_removes_the_upload_and_its_file_and_the_log_says_who(
    importer_client, project, job, django_capture_on_commit_callbacks
):
    stored = Path(job.file.path)
    assert stored.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = importer_client.post(discard_url(job), follow=True)

    assert response.redirect_chain[-1][0] == list_url(project)
    html = response.content.decode()
    assert "Discarded seed.txt: nothing was imported." in html
    assert "Discarded uploads" in html
    assert "<td>ada_admin</td>" in html
    assert not ImportJob.objects.exists()
    assert not stored.exists()
    assert not Article.objects.exists()
    assert importer_client.get(detail_url(job)).status_code == 404
    assert importer_client.post(confirm_url(job)).status_code == 404


@pytest.mark.parametrize("status", ["queued", "running", "succeeded", "failed"])
def test_an_upload_no_longer_in_review_is_not_discarded(importer_client, job, status):
    ImportJob.objects.filter(pk=job.pk).update(status=status)

    response = importer_client.post(discard_url(job), follow=True)

    assert "no longer awaiting review: nothing was discarded" in response.content.decode()
    assert ImportJob.objects.filter(pk=job.pk).exists()


def test_discard_needs_csrf(project_admin, project, job):
    client = Client(enforce_csrf_checks=True)
    client.force_login(project_admin)

    assert client.post(discard_url(job)).status_code == 403
    assert ImportJob.objects.filter(pk=job.pk).exists()


@pytest.mark.parametrize("role_fixture", ["annotator", "reviewer", "researcher"])
def test_members_who_are_not_admins_cannot_discard(client, request, job, role_fixture):
    client.force_login(request.getfixturevalue(role_fixture))

    assert client.get(discard_url(job)).status_code == 403
    assert client.post(discard_url(job)).status_code == 403
    assert ImportJob.objects.filter(pk=job.pk).exists()


def test_outsiders_and_other_projects_cannot_discard(client, outsider, other_project, job):
    client.force_login(outsider)
    assert client.post(discard_url(job)).status_code == 404
    other_admin = UserFactory(username="olga")
    other_project.memberships.create(user=other_admin, role="admin")
    client.force_login(other_admin)
    through_other = reverse("corpus:import_discard", args=[other_project.slug, job.pk])
    assert client.post(through_other).status_code == 404
    assert ImportJob.objects.filter(pk=job.pk).exists()


def test_the_log_lists_discarded_uploads_and_deleted_articles_in_constant_queries(
    importer_client, project, project_admin
):

    def page_queries() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = importer_client.get(list_url(project))
        return len(queries), response.content.decode()

    def add_history(n: int) -> None:
        uploader = UserFactory(username=f"uploader{n}")
        DiscardedImport.objects.create(
            project=project,
            original_name=f"notes-{n}.txt",
            format="text",
            uploaded_by=uploader,
            uploaded_at=timezone.now(),
            discarded_by=project_admin,
            discarded_by_name="ada_admin",
        )
        DeletedArticle.objects.create(
            project=project,
            title=f"Deleted thread {n}",
            source_id=f"sf-{n}",
            comments=60,
            annotations=12,
            annotators=3,
            gold_labels=2,
            deleted_by=project_admin,
            deleted_by_name="ada_admin",
        )

    add_history(0)
    one, html = page_queries()
    assert "notes-0.txt" in html
    assert "<td>uploader0</td>" in html
    assert "Deleted thread 0" in html
    assert "<code>sf-0</code>" in html
    assert '<td class="num">60</td>' in html
    for n in range(1, 6):
        add_history(n)
    six, html = page_queries()
    assert "Deleted thread 5" in html
    assert six == one


# --- A full disk ------------------------------------------------------------------------------


def fill_the_disk(monkeypatch):
    """Make the storage behave as a full disk does: the file is created, then a write fails."""
    from django.core.files.storage import FileSystemStorage

    def full(self, name, content):
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()  # what Django's os.open leaves before the first write fails
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", full)


def files_in(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_an_upload_onto_a_full_disk_says_so_and_leaves_nothing(
    importer_client, project, settings, monkeypatch
):
    fill_the_disk(monkeypatch)

    response = upload(importer_client, project, "thread.jsonl", JSONL, follow=False)

    assert response.status_code == 507
    assert NO_SPACE_MESSAGE in response.content.decode()
    assert "The server has no space left: nothing was imported." in NO_SPACE_MESSAGE
    assert files_in(Path(settings.MEDIA_ROOT)) == []
    assert ImportJob.objects.count() == 0
    assert Comment.objects.count() == 0


def test_a_full_database_disk_takes_the_stored_upload_with_it(
    importer_client, project, settings, monkeypatch
):
    from django.db import OperationalError

    def full(self, *args, **kwargs):
        raise OperationalError("database or disk is full")

    monkeypatch.setattr(ImportJob, "save", full)

    response = upload(importer_client, project, "thread.jsonl", JSONL, follow=False)

    assert response.status_code == 507
    assert NO_SPACE_MESSAGE in response.content.decode()
    assert files_in(Path(settings.MEDIA_ROOT)) == []


# --- A worker that died -----------------------------------------------------------------------


def stale_running(job: ImportJob, age: float = 120) -> None:
    """Leave ``job`` as a killed worker does: RUNNING, its last heartbeat ``age`` s ago."""
    then = timezone.now() - timedelta(seconds=age)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.RUNNING, started_at=then, heartbeat_at=then, processed_bytes=5
    )


def test_the_poll_of_a_job_whose_worker_died_says_so_and_offers_to_run_it_again(
    importer_client, queued_job, settings
):
    settings.JOB_STALE_AFTER = 60
    stale_running(queued_job)

    html = importer_client.get(
        detail_url(queued_job), headers={"HX-Request": "true"}
    ).content.decode()

    assert "hx-trigger" not in html  # polling stops
    assert ImportJob.WORKER_STOPPED in html
    assert "You can leave this page" not in html
    assert f'action="{retry_url(queued_job)}"' in html
    assert "Run it again" in html
    queued_job.refresh_from_db()
    assert queued_job.status == ImportJob.Status.FAILED


def test_a_running_job_with_a_fresh_heartbeat_is_left_running(
    importer_client, queued_job, settings
):
    settings.JOB_STALE_AFTER = 60
    stale_running(queued_job, age=5)

    html = importer_client.get(
        detail_url(queued_job), headers={"HX-Request": "true"}
    ).content.decode()

    assert 'hx-trigger="every 1s"' in html
    queued_job.refresh_from_db()
    assert queued_job.status == ImportJob.Status.RUNNING


def test_the_import_log_shows_dead_jobs_as_failed(importer_client, project, queued_job, settings):
    settings.JOB_STALE_AFTER = 60
    stale_running(queued_job)

    importer_client.get(list_url(project))

    queued_job.refresh_from_db()
    assert queued_job.worker_stopped


def test_run_it_again_imports_the_same_file_as_a_new_job(
    importer_client, project, queued_job, settings, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("annotator.corpus.tasks.enqueue_import", enqueue_import)  # a worker again
    settings.JOB_STALE_AFTER = 60
    stale_running(queued_job)
    importer_client.get(detail_url(queued_job))

    with django_capture_on_commit_callbacks(execute=True):
        response = importer_client.post(retry_url(queued_job))

    retry = ImportJob.objects.exclude(pk=queued_job.pk).get()
    assert response.status_code == 302
    assert response["Location"] == detail_url(retry)
    assert retry.status == ImportJob.Status.SUCCEEDED
    assert retry.file.name == queued_job.file.name
    assert (retry.format, retry.original_name) == (queued_job.format, queued_job.original_name)
    assert Comment.objects.count() == 3
    queued_job.refresh_from_db()
    assert queued_job.worker_stopped  # the log keeps what happened


def test_only_a_job_whose_worker_stopped_can_be_run_again(importer_client, queued_job):
    ImportJob.objects.filter(pk=queued_job.pk).update(
        status=ImportJob.Status.FAILED, error="thread.jsonl, line 3: not JSON"
    )

    response = importer_client.post(retry_url(queued_job), follow=True)

    assert "Only an import whose worker stopped can be run again." in response.content.decode()
    assert ImportJob.objects.count() == 1


@pytest.mark.parametrize("role_fixture", ["annotator", "reviewer", "researcher", "outsider"])
def test_run_it_again_is_for_project_admins_only(client, request, queued_job, role_fixture):
    ImportJob.objects.filter(pk=queued_job.pk).update(
        status=ImportJob.Status.FAILED, error=ImportJob.WORKER_STOPPED
    )
    client.force_login(request.getfixturevalue(role_fixture))

    response = client.post(retry_url(queued_job))

    assert response.status_code == (404 if role_fixture == "outsider" else 403)
    assert ImportJob.objects.count() == 1


def test_run_it_again_needs_post_and_the_csrf_token(project_admin, queued_job):
    ImportJob.objects.filter(pk=queued_job.pk).update(
        status=ImportJob.Status.FAILED, error=ImportJob.WORKER_STOPPED
    )
    client = Client(enforce_csrf_checks=True)
    client.force_login(project_admin)

    assert client.get(retry_url(queued_job)).status_code == 405
    assert client.post(retry_url(queued_job)).status_code == 403
    assert ImportJob.objects.count() == 1
