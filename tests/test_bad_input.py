"""Bad input anywhere is a 4xx with a message, never a 500: the regressions found by a fuzzing
pass over the forms and the API, and the pass itself, kept in the suite.

Each hostile value is sent to every form field and API option listed in ``TARGETS``; the
answer must be below 500 and the database unchanged where the request was refused.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from annotator.corpus.models import Comment, Membership
from annotator.labelling.models import LabelScheme
from tests.factories import ArticleFactory, make_comment

HUGE = str(2**63)
HOSTILE_VALUES = [
    "abc",
    "",
    "-1",
    HUGE,
    "9" * 5000,
    "[" * 100_000,
    "{" * 50_000,
    "\x00",
    "1e309",
    "NaN",
    "<script>alert(1)</script>",
    "1" * 70_000,
]


def as_user(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.fixture
def thread(project):
    article = ArticleFactory(project=project)
    top = make_comment(article, text="Top")
    reply = make_comment(article, top, text="Reply")
    return article, top, reply


def test_a_membership_that_is_not_a_number_is_not_found(project, project_admin):
    for value in ("abc", HUGE, "-5", "1.5"):
        response = as_user(project_admin).post(
            reverse("corpus:member_list", args=[project.slug]),
            {"action": "remove", "membership": value},
        )
        assert response.status_code == 404, value
    assert Membership.objects.filter(project=project).count() == 1


def test_a_parent_number_past_any_thread_is_refused_with_a_message(project, project_admin, thread):
    _, _, reply = thread
    url = reverse("corpus:comment_reparent", args=[project.slug, reply.pk])
    for value in (HUGE, "9" * 5000, str(2**31)):
        response = as_user(project_admin).post(url, {"parent_number": value}, follow=True)
        assert response.status_code == 200, value
        assert "Enter the number of the comment it answers" in response.content.decode()
    reply.refresh_from_db()
    assert reply.parent_id is not None and reply.depth == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000, "nested too deeply"),
        ('{"questions": [' * 3000, "nested too deeply"),
        ('{"version": ' + "9" * 5000 + "}", "number"),
    ],
    ids=["brackets", "objects", "long-number"],
)
def test_the_scheme_check_refuses_json_it_cannot_read(project, project_admin, text, message):
    before = LabelScheme.objects.filter(project=project).count()
    response = as_user(project_admin).post(
        reverse("labelling:scheme_edit", args=[project.slug]),
        {"action": "check", "definition": text},
    )
    assert response.status_code in (200, 400, 422)
    assert message in response.content.decode()
    assert LabelScheme.objects.filter(project=project).count() == before


def test_an_api_body_nested_too_deeply_is_a_400(project, researcher):
    body = '{"format": ' + "[" * 50_000 + "]" * 50_000 + "}"
    response = as_user(researcher).post(
        reverse("api:export_list", args=[project.slug]), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


# -- the fuzzing pass ----------------------------------------------------------------------


def targets(project, thread):
    """(url, fields sent with a hostile value each, fixed fields) of the project's forms."""
    _, top, reply = thread
    slug = project.slug
    return [
        (reverse("corpus:member_list", args=[slug]), ["membership", "role", "action"],
         {"action": "role", "role": "annotator", "membership": "1"}),
        (reverse("corpus:member_list", args=[slug]), ["username", "role"],
         {"action": "add", "username": "nobody", "role": "annotator"}),
        (reverse("corpus:comment_reparent", args=[slug, reply.pk]), ["parent_number", "confirm"],
         {"parent_number": "1"}),
        (reverse("labelling:scheme_edit", args=[slug]), ["definition", "action"],
         {"action": "check", "definition": "{}"}),
        (reverse("labelling:scheme_form", args=[slug]),
         ["question", "q1-key", "q1-kind", "q1-show_if", "q1-choice", "c2-key", "op", "base"],
         {"question": "q1", "q1-key": "a", "q1-title": "A", "q1-choice": "c2", "c2-value": "x",
          "action": "save"}),
        (reverse("labelling:scheme_preview", args=[slug]), ["question", "q1-show_if_in"],
         {"question": "q1", "q1-show_if": "q1"}),
        (reverse("labelling:save", args=[slug, top.pk]),
         ["revision", "elapsed_ms", "action", "stance_article", "source_cited", "note"],
         {"action": "autosave", "revision": "0"}),
        (reverse("labelling:report_form", args=[slug, reply.pk]), ["suggestion", "note"],
         {"suggestion": "0"}),
        (reverse("labelling:release", args=[slug, top.pk]), ["csrfmiddlewaretoken"], {}),
        (reverse("assist:llm_model_save", args=[slug]),
         ["llm-name", "llm-base_url", "llm-model", "llm-api_key_env", "llm-temperature",
          "llm-concurrency", "llm-request_cap"],
         {"llm-name": "fuzz", "llm-base_url": "http://localhost:1/v1", "llm-model": "m",
          "llm-api_key_env": "FUZZ_KEY", "llm-temperature": "0", "llm-concurrency": "1",
          "llm-request_cap": "1"}),
        (reverse("assist:llm_run_start", args=[slug]),
         ["llmrun-model", "llmrun-which", "llmrun-thread", "llmrun-limit"],
         {"llmrun-model": str(llm_model(project).pk), "llmrun-which": "thread",
          "llmrun-thread": top.article.source_id}),
        (reverse("assist:predictions_import", args=[slug]), ["file"], {}),
        (reverse("corpus:import_list", args=[slug]),
         ["file", "format", "encoding", "article_field"], {"format": "auto"}),
        (reverse("labelling:labels_import", args=[slug]), ["file", "encoding"], {}),
    ]  # fmt: skip


def llm_model(project):
    """An LLM model whose key's variable is unset: runs are refused before they start."""
    from annotator.assist.models import MachineLabeller

    config = {"base_url": "http://localhost:1/v1", "model": "m", "api_key_env": "FUZZ_UNSET"}
    return MachineLabeller.objects.get_or_create(
        project=project, name="fuzz-llm", kind=MachineLabeller.Kind.LLM, config=config
    )[0]


def test_no_hostile_value_in_any_form_field_gets_a_500(project, project_admin, thread):
    client = as_user(project_admin)
    failures = []
    for url, fields, fixed in targets(project, thread):
        for field in fields:
            for value in HOSTILE_VALUES:
                response = client.post(url, {**fixed, field: value})
                if response.status_code >= 500:
                    failures.append((url, field, value[:20], response.status_code))
    assert failures == []
    assert Comment.objects.filter(article__project=project).count() == 2


def test_no_hostile_value_in_an_api_export_option_gets_a_500(project, researcher):
    client = as_user(researcher)
    url = reverse("api:export_list", args=[project.slug])
    failures = []
    for field in [
        "format",
        "labels",
        "questions",
        "split",
        "seed",
        "changed_since",
        "pseudonyms",
        "predictions",
    ]:
        for value in HOSTILE_VALUES:
            raw = f'{{"{field}": {value[:60_000]}}}'  # the value as JSON, not as a string
            for body in (json.dumps({field: value}), raw):
                response = client.post(url, body, content_type="application/json")
                if response.status_code >= 500:
                    failures.append((field, value[:20], response.status_code))
    assert failures == []


def test_an_imported_javascript_url_is_never_a_link(
    project, project_admin, thread, reviewer, people_who_label
):
    article, top, reply = thread
    type(article).objects.filter(pk=article.pk).update(url="javascript:alert(document.cookie)")
    pages = [
        (project_admin, reverse("corpus:article_thread", args=[project.slug, article.pk])),
        (project_admin, reverse("labelling:workspace", args=[project.slug, reply.pk])),
        (reviewer, reverse("review:adjudicate", args=[project.slug, top.pk])),
    ]
    for user, url in pages:
        html = as_user(user).get(url).content.decode()
        assert "javascript:" not in html, url
        assert ">original</a>" not in html, url
    type(article).objects.filter(pk=article.pk).update(url="https://example.org/story")
    for user, url in pages:
        assert 'href="https://example.org/story"' in as_user(user).get(url).content.decode(), url


@pytest.fixture
def people_who_label(project, thread):
    """Two annotators' labels on the top-level comment, so it can be adjudicated."""
    from tests.factories import COMPLETE_TOP_LEVEL, MembershipFactory, UserFactory, make_label

    _, top, _ = thread
    for name in ("ann", "bob"):
        user = UserFactory(username=name)
        MembershipFactory(project=project, user=user)
        make_label(top, user, COMPLETE_TOP_LEVEL)


def test_no_hostile_value_in_the_queue_or_dashboard_parameters_gets_a_500(
    project, project_admin, thread
):
    from tests.factories import make_model, make_prediction

    _, top, _ = thread
    make_prediction(make_model(project), top, "stance_article", "support")
    client = as_user(project_admin)
    urls = [
        (reverse("review:queue", args=[project.slug]), ["model", "page", "spot"]),
        (reverse("review:dashboard", args=[project.slug]), ["question", "a", "b"]),
        (reverse("review:dashboard_csv", args=[project.slug, "models"]), ["model"]),
    ]
    failures = []
    for url, fields in urls:
        for field in fields:
            for value in HOSTILE_VALUES:
                response = client.get(url, {field: value[:4000]})
                if response.status_code >= 500:
                    failures.append((url, field, value[:20], response.status_code))
    assert failures == []
