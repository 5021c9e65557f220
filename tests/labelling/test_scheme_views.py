"""The scheme and guidelines pages: who sees what, checking and saving, previews, queries."""

import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from annotator.labelling.default_scheme import guidelines_from_scheme
from annotator.labelling.models import Annotation, Guidelines, LabelScheme
from annotator.labelling.scheme import scheme_to_data
from annotator.labelling.scheme_forms import definition_as_text
from annotator.labelling.schemes import current_scheme_for, default_definition, save_scheme
from tests.factories import ArticleFactory, UserFactory, make_comment

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
PAGES = ["guidelines", "guidelines_edit", "scheme_edit"]


def url(name: str, slug: str = "aleppo") -> str:
    return reverse(f"labelling:{name}", args=[slug])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def retitled(title: str = "Stance (edited)") -> dict:
    """The default definition with the first question's title changed."""
    definition = default_definition()
    definition["questions"][0]["title"] = title
    return definition


def annotate_under(scheme: LabelScheme) -> Annotation:
    return Annotation.objects.create(
        project=scheme.project,
        comment=make_comment(ArticleFactory(project=scheme.project)),
        annotator=UserFactory(),
        scheme=scheme,
        answers={"stance_article": "support"},
        answered_under={"stance_article": scheme.version},
    )


# --- who may see what ------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_outsiders_do_not_learn_the_project_exists(client, outsider, project, page):
    client.force_login(outsider)
    assert client.get(url(page)).status_code == 404
    assert client.post(url(page), {"action": "save"}).status_code == 404


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, project, page):
    response = client.get(url(page))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", ["annotator", "reviewer", "researcher", "project_admin"])
def test_every_member_reads_the_guidelines(client, request, role):
    client.force_login(request.getfixturevalue(role))
    assert client.get(url("guidelines")).status_code == 200


@pytest.mark.parametrize("role", ["annotator", "reviewer", "researcher"])
@pytest.mark.parametrize("page", ["guidelines_edit", "scheme_edit"])
def test_only_admins_open_the_editors(client, request, role, page):
    client.force_login(request.getfixturevalue(role))
    assert client.get(url(page)).status_code == 403


@pytest.mark.parametrize("role", ["annotator", "reviewer", "researcher"])
@pytest.mark.parametrize(
    ("page", "data"),
    [
        ("guidelines_edit", {"action": "save", "text": "Hijacked"}),
        ("guidelines_edit", {"action": "preview", "text": "x"}),
        ("scheme_edit", {"action": "save", "definition": json.dumps(retitled())}),
        ("scheme_edit", {"action": "check", "definition": json.dumps(retitled())}),
    ],
)
def test_other_roles_cannot_post_to_the_editors_or_their_partials(
    client, request, project, role, page, data
):
    client.force_login(request.getfixturevalue(role))
    assert client.post(url(page), data).status_code == 403
    assert client.post(url(page), data, **HTMX).status_code == 403
    assert project.guidelines.text == guidelines_from_scheme(current_scheme_for(project).scheme)
    assert LabelScheme.objects.get(project=project).definition == default_definition()


@pytest.mark.parametrize("page", PAGES)
def test_admins_open_every_page(client, project_admin, page):
    client.force_login(project_admin)
    assert client.get(url(page)).status_code == 200


def test_a_project_admin_cannot_edit_another_project(client, project_admin, other_project):
    client.force_login(project_admin)
    assert client.get(url("scheme_edit", "other")).status_code == 404
    assert client.get(url("guidelines_edit", "other")).status_code == 404


@pytest.mark.parametrize(
    ("page", "data"),
    [
        ("guidelines_edit", {"action": "save", "text": "Forged"}),
        ("scheme_edit", {"action": "save", "definition": json.dumps(retitled())}),
    ],
)
def test_saving_needs_a_csrf_token(project_admin, project, page, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(project_admin)
    assert client.post(url(page), data).status_code == 403
    assert project.guidelines.text != "Forged"
    assert LabelScheme.objects.get(project=project).definition == default_definition()


def test_the_project_page_links_guidelines_for_members_and_the_scheme_for_admins(
    client, annotator, project_admin
):
    client.force_login(annotator)
    html = client.get(reverse("corpus:project_detail", args=["aleppo"])).content.decode()
    assert f'href="{url("guidelines")}"' in html
    assert url("scheme_edit") not in html
    client.force_login(project_admin)
    html = client.get(reverse("corpus:project_detail", args=["aleppo"])).content.decode()
    assert f'href="{url("guidelines")}"' in html
    assert f'href="{url("scheme_edit")}"' in html


# --- guidelines ------------------------------------------------------------------------------


def test_the_guidelines_render_markdown_under_the_page_title_with_html_escaped(
    client, annotator, project
):
    Guidelines.objects.filter(project=project).update(
        text="# Read me\n\n- **Support** backs it\n\n<script>alert(1)</script>"
    )
    client.force_login(annotator)
    html = client.get(url("guidelines")).content.decode()
    assert "<h2>Read me</h2>" in html
    assert "<li><strong>Support</strong> backs it</li>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert "Edit guidelines" not in html


def test_the_guidelines_page_says_when_there_are_none(client, annotator, project):
    Guidelines.objects.filter(project=project).delete()
    client.force_login(annotator)
    assert "No guidelines written yet." in client.get(url("guidelines")).content.decode()


def test_the_guidelines_page_reads_in_a_constant_number_of_queries(
    client, annotator, project, django_assert_num_queries
):
    client.force_login(annotator)
    # session, user, project, role, guidelines with their author
    with django_assert_num_queries(5):
        assert client.get(url("guidelines")).status_code == 200


def test_the_editor_holds_the_current_markdown(client, project_admin, project):
    Guidelines.objects.filter(project=project).update(text="Be **kind** & <careful>")
    client.force_login(project_admin)
    html = client.get(url("guidelines_edit")).content.decode()
    assert escape("Be **kind** & <careful>") in html
    assert 'name="action" value="preview"' in html
    assert "hx-post" in html


def test_preview_with_htmx_returns_only_the_rendered_preview(client, project_admin, project):
    before = Guidelines.objects.get(project=project)
    client.force_login(project_admin)
    response = client.post(
        url("guidelines_edit"),
        {"action": "preview", "text": "# Draft\n\n<img src=x onerror=alert(1)>"},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "<h2>Draft</h2>" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html
    assert Guidelines.objects.get(project=project).text == before.text


def test_preview_without_htmx_shows_the_page_with_the_text_as_sent(client, project_admin):
    client.force_login(project_admin)
    response = client.post(url("guidelines_edit"), {"action": "preview", "text": "*draft*"})
    html = response.content.decode()
    assert "<html" in html
    assert "<p><em>draft</em></p>" in html
    assert ">\n*draft*</textarea>" in html


def test_saving_the_guidelines_records_who_and_when(client, project_admin, project):
    old = Guidelines.objects.get(project=project)
    client.force_login(project_admin)
    response = client.post(
        url("guidelines_edit"), {"action": "save", "text": "New rules"}, follow=True
    )
    assert response.redirect_chain == [(url("guidelines"), 302)]
    assert messages_of(response) == ["Saved the guidelines."]
    saved = Guidelines.objects.get(project=project)
    assert (saved.text, saved.updated_by) == ("New rules", project_admin)
    assert saved.updated_at > old.updated_at
    assert "by ada_admin" in response.content.decode()


def test_saving_creates_guidelines_for_a_project_without_them(client, project_admin, project):
    Guidelines.objects.filter(project=project).delete()
    client.force_login(project_admin)
    client.post(url("guidelines_edit"), {"action": "save", "text": "First"})
    assert Guidelines.objects.get(project=project).text == "First"


def test_rewrite_fills_the_editor_from_the_current_scheme_without_saving(
    client, project_admin, project
):
    annotate_under(current_scheme_for(project))
    save_scheme(project, retitled("Stance on the story"), project_admin)
    before = Guidelines.objects.get(project=project).text
    client.force_login(project_admin)
    page = client.get(url("guidelines_edit")).content.decode()
    assert 'data-confirm="Replace the text in the editor' in page
    assert "changed after these guidelines were last saved" in page
    response = client.get(url("guidelines_edit"), {"from": "scheme"})
    expected = guidelines_from_scheme(current_scheme_for(project).scheme)
    assert "Stance on the story" in expected
    assert response.context["form"]["text"].value() == expected
    assert escape(expected.splitlines()[0]) in response.content.decode()
    assert "written from scheme version 2" in messages_of(response)[0]
    assert Guidelines.objects.get(project=project).text == before


# --- scheme page -----------------------------------------------------------------------------


def test_the_scheme_page_summarises_every_question(client, project_admin):
    client.force_login(project_admin)
    response = client.get(url("scheme_edit"))
    html = response.content.decode()
    assert "Version 1, saved" in html
    for key in ["stance_article", "stance_parent", "claim_type", "checkworthy", "speculation"]:
        assert f"<code>{key}</code>" in html
    assert "judged against the parent comment" in html
    assert "only for replies" in html
    assert "shown when <code>claim_type</code> is factual / prediction" in html
    assert "optional" in html
    assert "several choices" in html
    assert "exclusive: stands alone" in html
    assert "<kbd>0</kbd>" in html
    assert "Asks for evidence or clarification of its truth." in html


def test_the_editor_holds_the_current_definition_as_indented_json(client, project_admin, project):
    client.force_login(project_admin)
    response = client.get(url("scheme_edit"))
    # The scheme's own order, not the stored JSON's: PostgreSQL's jsonb does not keep key order.
    text = definition_as_text(scheme_to_data(current_scheme_for(project).scheme))
    assert response.context["form"]["definition"].value() == text
    assert escape(text) in response.content.decode()
    assert '\n  "questions": [\n' in text


def test_the_version_history_counts_annotations_per_version(client, project_admin, project):
    first = current_scheme_for(project)
    annotate_under(first)
    annotate_under(first)
    second = save_scheme(project, retitled(), project_admin)
    annotate_under(second)
    third = save_scheme(project, retitled("Again"), project_admin)
    client.force_login(project_admin)
    response = client.get(url("scheme_edit"))
    rows = [(v.version, v.annotation_count, v.created_by) for v in response.context["versions"]]
    assert rows == [(3, 0, project_admin), (2, 1, project_admin), (1, 2, None)]
    assert response.context["current"] == third
    assert "Version 3, saved" in response.content.decode()


@pytest.mark.parametrize("versions", [1, 5])
def test_the_scheme_page_reads_in_a_constant_number_of_queries(
    client, project_admin, project, django_assert_num_queries, versions
):
    for number in range(2, versions + 1):
        annotate_under(current_scheme_for(project))
        save_scheme(project, retitled(f"Title {number}"), project_admin)
    client.force_login(project_admin)
    # session, user, project, role, versions with authors and annotation counts
    with django_assert_num_queries(5):
        response = client.get(url("scheme_edit"))
    assert len(response.context["versions"]) == versions


def test_start_from_the_default_fills_the_editor_without_saving(client, project_admin, project):
    save_scheme(project, retitled(), project_admin)
    client.force_login(project_admin)
    page = client.get(url("scheme_edit")).content.decode()
    assert 'data-confirm="Replace both editors with the default scheme?' in page
    response = client.get(url("scheme_edit"), {"start": "default"})
    assert response.context["form"]["definition"].value() == definition_as_text(
        default_definition()
    )
    keys = [q.key for q in response.context["draft"].questions]
    assert keys == [q["key"] for q in default_definition()["questions"]]
    assert messages_of(response) == [
        "Both editors hold the default scheme. Nothing is saved until you press Save."
    ]
    assert current_scheme_for(project).definition == retitled()


# --- checking a definition -------------------------------------------------------------------


def check(client, definition, **extra):
    text = definition if isinstance(definition, str) else json.dumps(definition)
    return client.post(url("scheme_edit"), {"action": "check", "definition": text}, **extra)


def test_check_with_htmx_returns_the_summary_of_a_valid_definition(client, project_admin, project):
    client.force_login(project_admin)
    definition = retitled("Stance, checked")
    response = check(client, definition, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "The definition is valid: 6 questions." in html
    assert "Saving edits version 1 in place" in html
    assert "Stance, checked" in html
    assert current_scheme_for(project).definition == default_definition()


def test_check_says_when_saving_would_create_a_new_version(client, project_admin, project):
    annotate_under(current_scheme_for(project))
    client.force_login(project_admin)
    html = check(client, retitled(), **HTMX).content.decode()
    assert "Saving creates version 2, because answers exist under version 1." in html
    assert LabelScheme.objects.filter(project=project).count() == 1


def test_check_says_when_nothing_would_change(client, project_admin):
    client.force_login(project_admin)
    html = check(client, default_definition(), **HTMX).content.decode()
    assert "It is the same as version 1: saving changes nothing." in html


def test_check_points_at_the_line_and_column_of_a_json_error(client, project_admin):
    client.force_login(project_admin)
    text = '{\n  "questions": [\n    {"key": "a",}\n  ]\n}'
    html = check(client, text, **HTMX).content.decode()
    assert "Not saved: the definition cannot be used." in html
    assert (
        "This is not valid JSON: Expecting property name enclosed in double quotes "
        "at line 3, column 17." in html
    )


def test_check_shows_the_scheme_error_naming_the_question(client, project_admin):
    definition = retitled()
    definition["questions"][2]["choices"][0]["key"] = "?"
    client.force_login(project_admin)
    html = check(client, definition, **HTMX).content.decode()
    assert (
        escape(
            "Question 'claim_type', choice 'factual': key '?' is kept for the workspace; "
            "pick another."
        )
        in html
    )


def test_check_refuses_a_name_given_twice_in_one_object(client, project_admin):
    client.force_login(project_admin)
    text = '{"questions": [{"key": "a", "title": "A", "kind": "text", "kind": "single"}]}'
    html = check(client, text, **HTMX).content.decode()
    assert escape('The JSON gives "kind" twice in the same object.') in html


def test_check_without_htmx_shows_the_page_with_the_result_and_the_text(client, project_admin):
    client.force_login(project_admin)
    response = check(client, "{oops")
    html = response.content.decode()
    assert "<html" in html
    assert "at line 1, column 2." in html
    assert ">\n{oops</textarea>" in html


# --- saving a definition ---------------------------------------------------------------------


def save(client, definition, **extra):
    text = definition if isinstance(definition, str) else json.dumps(definition)
    return client.post(
        url("scheme_edit"), {"action": "save", "definition": text}, follow=True, **extra
    )


def test_saving_an_unused_version_edits_it_in_place(client, project_admin, project):
    first = current_scheme_for(project)
    client.force_login(project_admin)
    response = save(client, retitled())
    assert response.redirect_chain == [(url("scheme_edit"), 302)]
    assert messages_of(response) == [
        "Saved version 1 in place: no answers had been saved under it yet."
    ]
    (only,) = LabelScheme.objects.filter(project=project)
    assert (only.pk, only.created_by) == (first.pk, project_admin)
    assert only.definition == retitled()


def test_saving_a_version_with_answers_creates_the_next_one(client, project_admin, project):
    first = current_scheme_for(project)
    annotation = annotate_under(first)
    client.force_login(project_admin)
    response = save(client, retitled())
    assert messages_of(response) == [
        "Saved as version 2, because answers exist under version 1. Existing answers keep "
        "the version they were given under."
    ]
    assert [s.version for s in LabelScheme.objects.filter(project=project)] == [2, 1]
    first.refresh_from_db()
    assert first.definition == default_definition()
    annotation.refresh_from_db()
    assert annotation.scheme == first
    assert "Version 2, saved" in response.content.decode()


def test_saving_an_unchanged_definition_says_so(client, project_admin, project):
    client.force_login(project_admin)
    response = save(client, default_definition())
    assert messages_of(response) == ["Nothing to save: this is version 1 as it is."]
    assert LabelScheme.objects.get(project=project).created_by is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"questions": [}', "This is not valid JSON: Expecting value at line 1, column 16."),
        ('{"questions": []}', "A scheme needs at least one question."),
        ("", "The definition is empty."),
    ],
)
def test_saving_a_bad_definition_changes_nothing_and_says_why(
    client, project_admin, project, text, message
):
    before = current_scheme_for(project)
    client.force_login(project_admin)
    response = save(client, text)
    assert response.redirect_chain == []
    html = response.content.decode()
    assert "Not saved: the definition cannot be used." in html
    assert escape(message) in html
    assert list(LabelScheme.objects.filter(project=project)) == [before]
    before.refresh_from_db()
    assert (before.definition, before.created_by) == (default_definition(), None)
