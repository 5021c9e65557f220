"""The upload of predictions on the models page: a small file imports in the request, a
large one in the worker; the admin lands on the run's page, which lists refused lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotator.assist.models import MachineLabeller, Prediction, PredictionRun
from tests.factories import ArticleFactory, make_comment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("uploads_in_tmp")]

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"


@pytest.fixture
def uploads_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_BACKGROUND_BYTES = 1024 * 1024


@pytest.fixture
def comments(project):
    article = ArticleFactory(project=project)
    top = make_comment(article, text="<script>alert(1)</script>")
    return [top, make_comment(article, top)]


def predictions(comments, **fields) -> bytes:
    lines = []
    for comment in comments:
        data = {"comment_id": comment.pk, "model": "roberta-stance", "version": "2"}
        data["answers"] = {"stance_article": "deny"}
        data["confidences"] = {"stance_article": 0.7}
        data.update(fields)
        lines.append(json.dumps(data))
    return ("\n".join(lines) + "\n").encode()


def upload(client, project, content: bytes, name: str = "predictions.jsonl", follow=False):
    return client.post(
        reverse("assist:predictions_import", args=[project.slug]),
        {"file": SimpleUploadedFile(name, content)},
        follow=follow,
    )


def test_the_models_page_offers_the_upload_to_admins_only(client, project, project_admin, reviewer):
    url = reverse("assist:model_list", args=[project.slug])
    action = reverse("assist:predictions_import", args=[project.slug])
    client.force_login(project_admin)
    assert f'action="{action}"' in client.get(url).content.decode()
    client.force_login(reviewer)
    assert f'action="{action}"' not in client.get(url).content.decode()


def test_a_small_file_imports_in_the_request_and_lands_on_the_run(
    client, project, project_admin, comments
):
    client.force_login(project_admin)

    response = upload(client, project, predictions(comments))

    run = PredictionRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("assist:run_detail", args=[project.slug, run.pk])
    assert (run.kind, run.status, run.done, run.created_by) == (
        "import",
        "succeeded",
        2,
        project_admin,
    )
    assert run.labeller == MachineLabeller.objects.get(name="roberta-stance", version="2")
    assert Prediction.objects.count() == 2
    page = client.get(response["Location"]).content.decode()
    assert "roberta-stance@2: 2 predictions for 2 comments" in page


def test_a_refused_file_lands_on_the_run_listing_file_line_and_reason(
    client, project, project_admin, comments
):
    client.force_login(project_admin)
    content = predictions(comments[:1]) + b'{"comment_id": 1, "model": "<b>x</b>"}\n'

    response = upload(client, project, content, follow=True)

    run = PredictionRun.objects.get()
    assert run.status == "failed" and "Nothing was imported" in run.error
    page = response.content.decode()
    assert "Refused lines" in page
    assert '<td>predictions.jsonl</td><td class="num">2</td>' in page
    assert "&quot;&lt;b&gt;x&lt;/b&gt;&quot;" in page and "<b>x</b>" not in page
    assert not Prediction.objects.exists() and not MachineLabeller.objects.exists()


def test_the_broken_sample_shows_each_of_its_refused_lines(client, project, project_admin):
    client.force_login(project_admin)

    response = upload(
        client, project, (SAMPLES / "predictions_broken.jsonl").read_bytes(), follow=True
    )

    run = PredictionRun.objects.get()
    page = response.content.decode()
    assert run.report["error_count"] == len(run.report["errors"]) >= 5
    for error in run.report["errors"]:
        assert f'<td class="num">{error["line"]}</td>' in page


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jsonl", b"", "empty.jsonl is empty"),
        ("photo.jsonl", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "PNG image"),
        ("binary.jsonl", b"\x00\x01\x02" * 10, "binary data"),
    ],
)
def test_a_file_that_cannot_be_predictions_is_refused_before_anything_is_stored(
    client, project, project_admin, name, content, message
):
    client.force_login(project_admin)

    response = upload(client, project, content, name=name, follow=True)

    assert response.redirect_chain[-1][0] == reverse("assist:model_list", args=[project.slug])
    assert message in response.content.decode()
    assert not PredictionRun.objects.exists()


def test_a_file_over_the_limit_is_refused_with_the_limit(
    client, project, project_admin, comments, settings
):
    settings.IMPORT_MAX_UPLOAD_BYTES = 100
    client.force_login(project_admin)

    response = upload(client, project, predictions(comments), follow=True)

    assert "the largest file accepted here is 100" in response.content.decode()
    assert not PredictionRun.objects.exists()


def test_a_post_without_a_file_says_so(client, project, project_admin):
    client.force_login(project_admin)

    response = client.post(
        reverse("assist:predictions_import", args=[project.slug]), {}, follow=True
    )

    assert "This field is required" in response.content.decode()
    assert not PredictionRun.objects.exists()


def test_a_large_file_goes_to_the_worker_and_the_run_page_polls(
    client, project, project_admin, comments, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_BACKGROUND_BYTES = 10
    client.force_login(project_admin)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = upload(client, project, predictions(comments))

    run = PredictionRun.objects.get()
    assert run.status == "queued" and len(queued) == 1
    page = client.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' in page
    queued[0]()  # the worker (the immediate backend runs the task here)
    run.refresh_from_db()
    assert run.status == "succeeded" and Prediction.objects.count() == 2
