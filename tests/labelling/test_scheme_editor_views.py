"""The form editor's endpoints: who may use them, its buttons, its preview, Save (versions
and concurrent edits), the JSON export and upload, and hostile input."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from annotator.labelling.default_scheme import default_scheme
from annotator.labelling.models import Annotation, LabelScheme
from annotator.labelling.scheme import scheme_to_data
from annotator.labelling.scheme_editor import draft_from_definition
from annotator.labelling.scheme_views import revision_of
from annotator.labelling.schemes import current_scheme_for, default_definition, save_scheme
from tests.factories import ArticleFactory, UserFactory, make_comment
from tests.labelling.test_scheme_editor import as_post

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ENDPOINTS = ["scheme_form", "scheme_preview", "scheme_export"]


def url(name: str, slug: str = "aleppo") -> str:
    return reverse(f"labelling:{name}", args=[slug])


def editor_post(project, definition=None, **fields) -> dict[str, list[str]]:
    """What the page's form sends for ``definition`` (the current scheme by default), as
    lists (the test client sends only the last value of a ``QueryDict``'s names)."""
    draft = draft_from_definition(definition or current_scheme_for(project).definition)
    post = dict(as_post(draft).lists())
    post["base"] = [revision_of(current_scheme_for(project))]
    for name, value in fields.items():
        post[name.replace("__", "-")] = value if isinstance(value, list) else [value]
    return post


def annotate_under(scheme: LabelScheme) -> Annotation:
    return Annotation.objects.create(
        project=scheme.project,
        comment=make_comment(ArticleFactory(project=scheme.project)),
        annotator=UserFactory(),
        scheme=scheme,
        answers={"stance_article": "support"},
        answered_under={"stance_article": scheme.version},
    )


# --- who may use it ----------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("role", "status"),
    [("annotator", 403), ("reviewer", 403), ("researcher", 403), ("outsider", 404)],
)
def test_only_project_admins_use_the_form_editor(client, request, project, endpoint, role, status):
    client.force_login(request.getfixturevalue(role))
    post = editor_post(project, q1__title="Hijacked", action="save")
    if endpoint == "scheme_export":
        assert client.get(url(endpoint)).status_code == status
    else:
        assert client.post(url(endpoint), post).status_code == status
        assert client.post(url(endpoint), post, **HTMX).status_code == status
    assert LabelScheme.objects.get(project=project).definition == default_definition()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_anonymous_visitors_are_sent_to_log_in(client, project, endpoint):
    response = client.get(url(endpoint))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_admin_of_another_project_cannot_use_this_one(client, project_admin, other_project):
    client.force_login(project_admin)
    assert client.get(url("scheme_export", "other")).status_code == 404
    post = editor_post(other_project, action="save")
    assert client.post(url("scheme_form", "other"), post).status_code == 404
    assert client.post(url("scheme_preview", "other"), post).status_code == 404


@pytest.mark.parametrize("endpoint", ["scheme_form", "scheme_preview"])
def test_the_editor_only_takes_posts(client, project_admin, project, endpoint):
    client.force_login(project_admin)
    assert client.get(url(endpoint)).status_code == 405


def test_saving_from_the_form_needs_a_csrf_token(project_admin, project):
    client = Client(enforce_csrf_checks=True)
    client.force_login(project_admin)
    post = editor_post(project, q1__title="Forged", action="save")
    assert client.post(url("scheme_form"), post).status_code == 403
    assert current_scheme_for(project).definition == default_definition()


# --- the buttons and the preview ---------------------------------------------------------


def test_a_button_with_htmx_swaps_the_editor_and_says_what_to_focus_and_to_redraw_the_preview(
    client, project_admin, project
):
    client.force_login(project_admin)
    response = client.post(url("scheme_form"), editor_post(project, op="add-question"), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('name="question"') == len(default_scheme().questions) + 1
    assert 'id="scheme-preview"' not in html
    events = json.loads(response["HX-Trigger-After-Settle"])
    assert events["scheme-changed"] is True
    focus = events["scheme-editor-focus"]
    assert f'id="{focus}"' in html
    assert current_scheme_for(project).definition == default_definition()  # nothing saved


def test_a_button_without_script_renders_the_whole_page_with_the_edit(
    client, project_admin, project
):
    client.force_login(project_admin)
    response = client.post(url("scheme_form"), editor_post(project, op="remove-question:q1"))
    assert response.status_code == 200
    keys = [q.key for q in response.context["draft"].questions]
    assert keys == [q.key for q in default_scheme().questions][1:]
    assert "<h1>Label scheme</h1>" in response.content.decode()


def test_the_preview_is_the_workspace_fieldset_of_each_question(client, project_admin, project):
    client.force_login(project_admin)
    response = client.post(url("scheme_preview"), editor_post(project), **HTMX)
    html = response.content.decode()
    for question in default_scheme().questions:
        assert f'id="q-{question.key}" data-key="{question.key}"' in html
    assert 'data-show-if="claim_type" data-show-if-values="factual prediction"' in html


def test_the_preview_says_why_it_cannot_show_the_form(client, project_admin, project):
    client.force_login(project_admin)
    post = editor_post(project, q6__key="stance_article")  # q6: the second question
    response = client.post(url("scheme_preview"), post, **HTMX)
    assert response.status_code == 200
    assert "two questions share this key" in response.content.decode()


def test_while_editing_an_empty_field_is_not_yet_marked_but_a_collision_is(
    client, project_admin, project
):
    client.force_login(project_admin)
    post = editor_post(project, q1__title="", c3__key="1", op="refresh")  # c2's key is 1
    response = client.post(url("scheme_form"), post, **HTMX)
    html = response.content.decode()
    assert 'id="c3-key-error" aria-live="polite">Choice 1 has this key.' in html
    assert "Give the question a title" not in html


# --- saving ------------------------------------------------------------------------------


def test_saving_the_form_edits_an_unused_version_in_place(client, project_admin, project):
    client.force_login(project_admin)
    response = client.post(
        url("scheme_form"), editor_post(project, q1__title="Stance", action="save")
    )
    assert response.status_code == 302
    current = current_scheme_for(project)
    assert (current.version, current.scheme.questions[0].title) == (1, "Stance")
    assert "Saved version 1 in place" in str(
        next(iter(client.get(response["Location"]).context["messages"]))
    )


def test_saving_the_form_after_answers_creates_the_next_version_and_keeps_the_old(
    client, project_admin, project
):
    first = current_scheme_for(project)
    annotation = annotate_under(first)
    client.force_login(project_admin)
    client.post(url("scheme_form"), editor_post(project, q1__title="Stance", action="save"))
    assert list(LabelScheme.objects.filter(project=project).values_list("version", flat=True)) == [
        2,
        1,
    ]
    first.refresh_from_db()
    assert first.definition == default_definition()
    annotation.refresh_from_db()
    assert annotation.scheme == first


def test_saving_the_form_unchanged_saves_nothing(client, project_admin, project):
    before = current_scheme_for(project)
    annotate_under(before)
    client.force_login(project_admin)
    client.post(url("scheme_form"), editor_post(project, action="save"))
    assert LabelScheme.objects.filter(project=project).count() == 1


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"c3__key": "1"}, "c3-key", "Choice 1 has this key."),
        ({"q6__key": "stance_article"}, "q6-key", "Question 1 has this key."),
        ({"c3__key": "g"}, "c3-key", "workspace shortcut"),
        ({"q1__kind": "slider"}, "q1-kind", "Pick a kind"),
        ({"q1__title": "x" * 100_000}, "q1-title", "At most 200"),
    ],
)
def test_the_server_refuses_to_save_what_the_page_marks(
    client, project_admin, project, fields, field, message
):
    client.force_login(project_admin)
    response = client.post(url("scheme_form"), editor_post(project, action="save", **fields))
    assert response.status_code == 422
    assert message in response.context["errors"][field]
    assert "Not saved:" in response.content.decode()
    assert current_scheme_for(project).definition == default_definition()


def test_a_save_from_a_page_older_than_the_current_version_is_refused_and_said(
    client, project_admin, project
):
    post = editor_post(project, q1__title="Mine", action="save")
    other = UserFactory(username="bea")
    save_scheme(
        project, {**default_definition(), "questions": default_definition()["questions"][:2]}, other
    )
    theirs = current_scheme_for(project).definition
    client.force_login(project_admin)
    response = client.post(url("scheme_form"), post)
    assert response.status_code == 409
    assert "bea saved version 1" in response.content.decode()
    assert current_scheme_for(project).definition == theirs
    # The edits are still in the form, now based on their version: a second Save is a choice.
    assert response.context["draft"].questions[0].title == "Mine"
    again = editor_post(project, q1__title="Mine", action="save")
    again["base"] = response.context["base"]
    assert client.post(url("scheme_form"), again).status_code == 302


def test_a_form_without_its_base_is_not_saved(client, project_admin, project):
    client.force_login(project_admin)
    post = editor_post(project, q1__title="Mine", action="save")
    del post["base"]
    assert client.post(url("scheme_form"), post).status_code == 409
    assert current_scheme_for(project).definition == default_definition()


def test_the_json_editor_refuses_a_save_from_an_older_page_too(client, project_admin, project):
    client.force_login(project_admin)
    base = revision_of(current_scheme_for(project))
    save_scheme(project, {"questions": default_definition()["questions"][:1]}, project_admin)
    response = client.post(
        url("scheme_edit"),
        {"action": "save", "definition": json.dumps(default_definition()), "base": base},
    )
    assert response.status_code == 409
    assert len(current_scheme_for(project).definition["questions"]) == 1


# --- JSON export and upload --------------------------------------------------------------


def test_the_export_is_the_current_definition_as_a_json_file(client, project_admin, project):
    client.force_login(project_admin)
    response = client.get(url("scheme_export"))
    assert response["Content-Disposition"] == 'attachment; filename="scheme-aleppo-v1.json"'
    assert json.loads(response.content) == current_scheme_for(project).definition


def test_an_uploaded_json_file_is_checked_and_opened_in_the_form_editor(
    client, project_admin, project
):
    client.force_login(project_admin)
    definition = {"questions": default_definition()["questions"][:3]}
    upload = SimpleUploadedFile("s.json", json.dumps(definition).encode(), "application/json")
    response = client.post(url("scheme_edit"), {"action": "edit", "definition_file": upload})
    assert response.status_code == 200
    assert [q.key for q in response.context["draft"].questions] == [
        q["key"] for q in definition["questions"]
    ]
    assert current_scheme_for(project).definition == default_definition()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe not text", "not UTF-8"),
        (b"{", "not valid JSON"),
        (b'{"questions": [{"key": "a", "title": "A", "kind": "slider"}]}', "must be one of single"),
        (b"x" * 200_001, "larger than"),
    ],
)
def test_a_bad_upload_is_refused_with_its_reason(client, project_admin, project, content, message):
    client.force_login(project_admin)
    upload = SimpleUploadedFile("s.json", content, "application/json")
    response = client.post(url("scheme_edit"), {"action": "save", "definition_file": upload})
    assert message in response.content.decode()
    assert current_scheme_for(project).definition == default_definition()


# --- hostile input -----------------------------------------------------------------------


def test_ten_thousand_choices_are_a_4xx(project_admin, project):
    client = Client(raise_request_exception=False)
    client.force_login(project_admin)
    post = editor_post(project, action="save")
    post["q1-choice"] = [f"c{i}" for i in range(10_000)]
    for endpoint in ("scheme_form", "scheme_preview"):
        response = client.post(url(endpoint), post)
        assert 400 <= response.status_code < 500
    assert current_scheme_for(project).definition == default_definition()


@pytest.mark.parametrize(
    "fields",
    [
        {"question": "q1", "q1-show_if": "q1", "q1-show_if_in": "c2"},  # itself
        {"question": "q1", "q1-show_if": "q99"},  # a removed question
        {"question": ["q1", "q2"], "q1-show_if": "q2", "q2-show_if": "q1"},  # a cycle
        {"question": "q1", "q1-kind": "slider"},
        {"question": "q1", "q1-choice": ["c2", "c2"]},
        {"question": "../../etc"},
        {"question": "q1", "q1-choice": "c2", "c2-key": "\x00"},
        {"question": "q1", "op": "up:q1;DROP"},
    ],
)
def test_hostile_drafts_are_refused_without_a_500(project_admin, project, fields):
    client = Client(raise_request_exception=False)
    client.force_login(project_admin)
    for endpoint in ("scheme_form", "scheme_preview"):
        for extra in ({"action": "save"}, {"op": "refresh"}):
            response = client.post(url(endpoint), {"base": "x", **fields, **extra})
            assert response.status_code < 500, (endpoint, fields, extra)
            if endpoint == "scheme_form" and extra.get("action"):
                assert 400 <= response.status_code < 500
    assert current_scheme_for(project).definition == scheme_to_data(default_scheme())
