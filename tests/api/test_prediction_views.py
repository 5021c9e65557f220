"""The API of model assistance: importing predictions (admins), a run and the models
(reviewers, researchers, admins), with 4xx JSON for bad input and constant query counts."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.assist.models import MachineLabeller, Prediction, PredictionRun
from tests.factories import ArticleFactory, make_comment, make_model, make_prediction, make_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_BACKGROUND_BYTES = 1024 * 1024


def as_user(user) -> Client:
    return Client(headers={"authorization": f"Token {make_token(user)}"})


def url(name: str, project, *args) -> str:
    return reverse(f"api:{name}", args=[project.slug, *args])


@pytest.fixture
def comments(project):
    article = ArticleFactory(project=project)
    top = make_comment(article)
    return [top, make_comment(article, top)]


def predictions_file(comments, **fields) -> SimpleUploadedFile:
    lines = [
        json.dumps(
            {
                "comment_id": comment.pk,
                "model": "roberta-stance",
                "answers": {"stance_article": "deny"},
                "confidences": {"stance_article": 0.4},
                **fields,
            }
        )
        for comment in comments
    ]
    return SimpleUploadedFile("p.jsonl", ("\n".join(lines) + "\n").encode())


def test_an_admin_imports_a_small_file_during_the_request(project, project_admin, comments):
    client = as_user(project_admin)

    response = client.post(url("prediction_import", project), {"file": predictions_file(comments)})

    assert response.status_code == 201
    data = response.json()
    run = PredictionRun.objects.get()
    assert response["Location"] == data["url"]
    assert data["url"].endswith(url("prediction_run_detail", project, run.pk))
    assert data["page"].endswith(reverse("assist:run_detail", args=[project.slug, run.pk]))
    assert (data["status"], data["model"], data["done"], data["created_by"]) == (
        "succeeded",
        "roberta-stance@1",
        2,
        "ada_admin",
    )
    assert data["report"]["models"][0]["predictions"] == 2
    assert client.get(data["url"]).json() == data


def test_a_refused_file_is_a_failed_run_with_its_refused_lines(project, project_admin, comments):
    upload = predictions_file(comments, answers={"stance_article": "maybe"})

    response = as_user(project_admin).post(url("prediction_import", project), {"file": upload})

    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "failed" and "Nothing was imported" in data["error"]
    assert data["report"]["error_count"] == 2
    assert data["report"]["errors"][1] == {
        "file": "p.jsonl",
        "line": 2,
        "reason": "'stance_article': not a choice: maybe",
    }
    assert not Prediction.objects.exists()


def test_a_large_file_is_queued_with_a_202(
    project, project_admin, comments, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_BACKGROUND_BYTES = 10

    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(project_admin).post(
            url("prediction_import", project), {"file": predictions_file(comments)}
        )

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    # The immediate backend of the tests ran it once the request's transaction committed.
    assert PredictionRun.objects.get().status == "succeeded"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "No file was submitted."),
        ({"file": "just text"}, "The submitted data was not a file"),
        ({"file": SimpleUploadedFile("e.jsonl", b"")}, "e.jsonl is empty"),
        ({"file": SimpleUploadedFile("b.jsonl", b"\x00\x01" * 9)}, "binary data"),
    ],
    ids=["missing", "not-a-file", "empty", "binary"],
)
def test_an_upload_that_cannot_be_predictions_is_a_400_and_makes_no_run(
    project, project_admin, data, message
):
    response = as_user(project_admin).post(url("prediction_import", project), data)

    assert response.status_code == 400
    assert message in response.json()["file"][0]
    assert not PredictionRun.objects.exists()


def test_an_import_must_be_multipart(project, project_admin):
    response = as_user(project_admin).post(
        url("prediction_import", project), {"file": "x"}, content_type="application/json"
    )
    assert response.status_code == 415


@pytest.mark.parametrize("role", ["annotator", "reviewer", "researcher"])
def test_only_admins_import(request, project, role, comments):
    client = as_user(request.getfixturevalue(role))

    response = client.post(url("prediction_import", project), {"file": predictions_file(comments)})

    assert response.status_code == 403
    assert "does not allow" in response.json()["detail"]
    assert not PredictionRun.objects.exists()


def test_results_roles_read_runs_and_models_and_annotators_do_not(
    project, reviewer, researcher, annotator, outsider
):
    model = make_model(project)
    run = PredictionRun.objects.create(project=project, kind="import", status="succeeded")
    for user in (reviewer, researcher):
        assert as_user(user).get(url("prediction_run_detail", project, run.pk)).status_code == 200
        assert as_user(user).get(url("model_list", project)).json()["results"][0]["id"] == model.pk
    assert as_user(annotator).get(url("model_list", project)).status_code == 403
    assert as_user(annotator).get(url("prediction_run_detail", project, run.pk)).status_code == 403
    assert as_user(outsider).get(url("model_list", project)).status_code == 404
    assert Client().get(url("model_list", project)).status_code == 401


def test_a_run_of_another_project_is_404(project, project_admin, other_project):
    run = PredictionRun.objects.create(project=other_project, kind="import")
    response = as_user(project_admin).get(url("prediction_run_detail", project, run.pk))
    assert response.status_code == 404


def test_the_models_list_every_version_with_counts(project, researcher, comments):
    old = make_model(project, "roberta", version="1")
    new = make_model(project, "roberta", version="2", quality={"stance_article": {"accuracy": 0.8}})
    make_prediction(new, comments[0], "stance_article", "deny", 0.3)
    make_prediction(new, comments[1], "stance_article", "support", 0.9)

    rows = as_user(researcher).get(url("model_list", project)).json()["results"]

    assert [(r["id"], r["label"], r["newest"], r["predictions"]) for r in rows] == [
        (old.pk, "roberta@1", False, 0),
        (new.pk, "roberta@2", True, 2),
    ]
    assert rows[1]["kind"] == "imported" and rows[1]["quality"]["stance_article"]["accuracy"] == 0.8


def test_the_models_list_costs_the_same_queries_for_one_model_as_for_five(project, researcher):
    client = as_user(researcher)
    make_model(project, "one")
    client.get(url("model_list", project))
    with CaptureQueriesContext(connection) as one:
        client.get(url("model_list", project))
    for index in range(4):
        make_model(project, f"more-{index}")
    with CaptureQueriesContext(connection) as five:
        assert len(client.get(url("model_list", project)).json()["results"]) == 5
    assert len(five) == len(one)
    assert MachineLabeller.objects.count() == 5
