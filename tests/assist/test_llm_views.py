"""The models page's LLM section: configuring an endpoint and starting runs (llm_views.py)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.assist import llm_runs
from annotator.assist.models import MachineLabeller, Prediction, PredictionRun
from tests.assist.openai_stub import OpenAIStub, Reply
from tests.factories import ArticleFactory, make_comment, make_model

pytestmark = pytest.mark.django_db

KEY = "sk-live-never-shown-777"


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("LLM_TEST_KEY", KEY)
    monkeypatch.delenv("LLM_UNSET_KEY", raising=False)
    monkeypatch.setattr(llm_runs, "BACKOFF_BASE", 0.02)


def settings(**changes) -> dict:
    data = {
        "llm-name": "local-llama",
        "llm-base_url": "http://llama:8080/v1/",
        "llm-model": "llama-3.1-8b",
        "llm-api_key_env": "LLM_TEST_KEY",
        "llm-temperature": "0.2",
        "llm-concurrency": "4",
        "llm-request_cap": "500",
    }
    return data | {f"llm-{name}": value for name, value in changes.items()}


def save(client, project, **changes):
    return client.post(
        reverse("assist:llm_model_save", args=[project.slug]), settings(**changes), follow=True
    )


def llm_model(project, env="LLM_TEST_KEY", name="local-llama", base_url="http://x/v1"):
    config = {"base_url": base_url, "model": "m", "api_key_env": env, "concurrency": 2}
    return make_model(project, name, kind=MachineLabeller.Kind.LLM, config=config)


def models_page(client, project) -> str:
    return client.get(reverse("assist:model_list", args=[project.slug])).content.decode()


def test_an_admin_saves_an_endpoint_as_a_model_with_the_keys_name_not_the_key(
    client, project, project_admin
):
    client.force_login(project_admin)

    page = save(client, project).content.decode()

    model = MachineLabeller.objects.get(project=project)
    assert (model.name, model.version, model.kind) == ("local-llama", "1", "llm")
    assert model.config == {
        "base_url": "http://llama:8080/v1",
        "model": "llama-3.1-8b",
        "api_key_env": "LLM_TEST_KEY",
        "temperature": 0.2,
        "concurrency": 4,
        "request_cap": 500,
    }
    assert model.created_by == project_admin
    assert "local-llama@1 saved." in page
    assert KEY not in page


def test_the_section_says_whether_the_keys_variable_is_set_never_its_value(
    client, project, project_admin
):
    llm_model(project, name="with-key")
    llm_model(project, env="LLM_UNSET_KEY", name="without-key")
    client.force_login(project_admin)

    page = models_page(client, project)

    assert 'LLM_TEST_KEY</code> <span class="badge status-succeeded">set</span>' in page
    assert 'LLM_UNSET_KEY</code> <span class="badge status-failed">not set' in page
    assert KEY not in page


def test_the_same_settings_again_make_no_new_version_and_changed_ones_do(
    client, project, project_admin
):
    client.force_login(project_admin)
    save(client, project)
    first = MachineLabeller.objects.get()
    MachineLabeller.objects.filter(pk=first.pk).update(suggestions="preselect", orders_work=True)

    again = save(client, project).content.decode()
    save(client, project, temperature="0.7")

    assert "already has these settings" in again
    versions = MachineLabeller.objects.filter(name="local-llama").order_by("id")
    assert [(m.version, m.orders_work) for m in versions] == [("1", False), ("2", True)]
    assert versions[1].suggestions == "preselect" and versions[1].config["temperature"] == 0.7


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("base_url", "ftp://files.example.org/v1", "must be http:// or https://"),
        ("base_url", "javascript:alert(1)", "must be http:// or https://"),
        ("base_url", "https://user:sk-secret@api.example.org/v1", "Leave credentials out"),
        ("base_url", "http://[::1/v1", "Enter the URL before"),
        ("api_key_env", KEY, "Enter the variable&#x27;s name"),
        ("concurrency", "33", "less than or equal to 32"),
        ("concurrency", "0", "greater than or equal to 1"),
        ("temperature", "NaN", "Enter a number"),
        ("name", "has spaces", "Use letters, digits"),
        ("request_cap", "0", "greater than or equal to 1"),
    ],
)
def test_settings_that_cannot_be_used_are_refused_and_nothing_is_stored(
    client, project, project_admin, field, value, message
):
    client.force_login(project_admin)

    response = save(client, project, **{field: value})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not MachineLabeller.objects.exists()
    assert KEY not in response.content.decode()


def test_a_name_taken_by_another_kind_of_model_is_refused(client, project, project_admin):
    make_model(project, "local-llama")
    client.force_login(project_admin)

    page = save(client, project).content.decode()

    assert "belongs to a model of another kind" in page
    assert MachineLabeller.objects.count() == 1


def test_model_text_on_the_page_is_escaped(client, project, project_admin):
    client.force_login(project_admin)
    save(client, project, model="<script>alert(1)</script>")

    page = models_page(client, project)

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_run_started_from_the_page_labels_the_comments_and_goes_to_its_page(
    client, project, project_admin, django_capture_on_commit_callbacks
):
    article = ArticleFactory(project=project, source_id="a-1")
    make_comment(article)
    make_comment(article)
    ArticleFactory(project=project, source_id="a-2")
    reply = json.dumps({"answers": {"speculation": "uncertain"}})
    client.force_login(project_admin)
    with OpenAIStub(lambda body, n: Reply(reply)) as stub:
        model = llm_model(project, base_url=stub.base_url)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("assist:llm_run_start", args=[project.slug]),
                {"llmrun-model": model.pk, "llmrun-which": "thread", "llmrun-thread": "a-1"},
            )

    run = PredictionRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("assist:run_detail", args=[project.slug, run.pk])
    assert (run.kind, run.status, run.options) == (
        "llm",
        "succeeded",
        {"which": "thread", "thread": article.pk},
    )
    assert run.created_by == project_admin
    assert Prediction.objects.filter(labeller=model).count() == 2
    assert "prompt llm-1" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"llmrun-which": "thread", "llmrun-thread": "no-such-thread"},
            "No thread of this project",
        ),
        ({"llmrun-which": "everything"}, "Select a valid choice"),
        ({"llmrun-limit": "0"}, "greater than or equal to 1"),
    ],
)
def test_a_run_that_cannot_start_says_why_and_creates_nothing(
    client, project, project_admin, data, message
):
    model = llm_model(project)
    client.force_login(project_admin)

    response = client.post(
        reverse("assist:llm_run_start", args=[project.slug]),
        {"llmrun-model": model.pk, "llmrun-which": "all"} | data,
        follow=True,
    )

    assert message in response.content.decode()
    assert not PredictionRun.objects.exists()


def test_a_run_is_not_started_while_the_keys_variable_is_unset(client, project, project_admin):
    model = llm_model(project, env="LLM_UNSET_KEY")
    client.force_login(project_admin)

    page = client.post(
        reverse("assist:llm_run_start", args=[project.slug]),
        {"llmrun-model": model.pk, "llmrun-which": "all"},
        follow=True,
    ).content.decode()

    assert "LLM_UNSET_KEY with the API key is not set on the server" in page
    assert not PredictionRun.objects.exists()


def test_a_model_of_another_project_cannot_be_run(client, project, other_project, project_admin):
    foreign = llm_model(other_project)
    client.force_login(project_admin)

    client.post(
        reverse("assist:llm_run_start", args=[project.slug]),
        {"llmrun-model": foreign.pk, "llmrun-which": "all"},
    )

    assert not PredictionRun.objects.exists()


def test_reviewers_see_the_models_page_without_the_llm_forms(client, project, reviewer):
    llm_model(project)
    client.force_login(reviewer)

    page = models_page(client, project)

    assert "local-llama" in page
    assert reverse("assist:llm_model_save", args=[project.slug]) not in page


def test_the_llm_section_costs_the_same_queries_for_one_model_as_for_five(
    client, project, project_admin
):
    client.force_login(project_admin)
    llm_model(project, name="m-0")
    models_page(client, project)
    with CaptureQueriesContext(connection) as one:
        models_page(client, project)
    for index in range(1, 5):
        llm_model(project, name=f"m-{index}")
    with CaptureQueriesContext(connection) as five:
        page = models_page(client, project)
    assert len(five) == len(one)
    assert page.count('id="llm-model-') == 5
