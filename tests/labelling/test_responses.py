"""The responses the workspace and the adjudication page share: page or partial, 409 conflict.

The pages' own tests (test_views.py, review/test_adjudication_views.py) go through these with
real saves; here each rule is pinned once. ``labelling/_report_form.html`` stands in as a page
with a named partial (``report-done``) that renders from a small context.
"""

from types import SimpleNamespace

import pytest
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from annotator.labelling.responses import (
    conflict_response,
    render_page_or_partial,
    unsaved_answers,
)
from annotator.labelling.scheme import Choice, Kind, Question

PAGE = "labelling/_report_form.html"
COMMENT = SimpleNamespace(pk=41, parent=None)
HTMX = {"HTTP_HX_REQUEST": "true"}


def request_for(**headers):
    request = RequestFactory().get("/somewhere/", **headers)
    request.htmx = HtmxDetails(request)
    return request


def test_without_htmx_the_whole_page_is_rendered_and_the_url_left_alone():
    response = render_page_or_partial(
        request_for(), PAGE, "report-done", {"comment": COMMENT}, url="/next/"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert '<form class="report-form"' in html
    assert "HX-Push-Url" not in response


def test_htmx_gets_only_the_partial_and_the_address_bar_follows():
    response = render_page_or_partial(
        request_for(**HTMX), PAGE, "report-done", {"comment": COMMENT}, url="/next/", status=422
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "Reported #41" in html
    assert "<form" not in html
    assert response["HX-Push-Url"] == "/next/"


def test_htmx_restoring_history_gets_the_whole_page():
    request = request_for(HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)
    response = render_page_or_partial(request, PAGE, "report-done", {"comment": COMMENT}, url="/x/")
    assert '<form class="report-form"' in response.content.decode()
    assert response["HX-Push-Url"] == "/x/"


def test_an_htmx_conflict_replaces_the_save_status_without_building_the_page():
    def page_context() -> dict:
        raise AssertionError("an htmx conflict must not query for the whole page")

    context = {"current": None, "unsaved": [("Stance", "<b>deny</b>")], "workspace_url": "/w/"}
    response = conflict_response(
        request_for(**HTMX),
        "labelling/workspace.html",
        context,
        status_id="save-status",
        page_context=page_context,
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#save-status"
    assert response["HX-Reswap"] == "outerHTML"
    assert 'id="save-status"' in html and 'role="alert"' in html
    assert "Stance: &lt;b&gt;deny&lt;/b&gt;" in html  # unsaved answers stay text
    assert "<html" not in html


def test_a_conflict_without_htmx_is_the_whole_page_with_the_conflicts_words_on_top():
    page = {"comment": COMMENT, "report_url": "/page/", "workspace_url": "/page-url/"}
    response = conflict_response(
        request_for(),
        PAGE,
        {"workspace_url": "/load-the-saved-one/"},
        status_id="save-status",
        page_context=lambda: page,
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert 'action="/page/"' in html  # built from the page's context
    assert 'href="/load-the-saved-one/"' in html  # the conflict's own values win
    assert "HX-Retarget" not in response


@pytest.fixture
def questions():
    return (
        Question(key="stance", title="Stance", kind=Kind.SINGLE, choices=(Choice("deny", "Deny"),)),
        Question(key="note", title="Note", kind=Kind.TEXT),
        Question(
            key="sources",
            title="Sources",
            kind=Kind.MULTIPLE,
            choices=(Choice("link", "A link"), Choice("quote", "A quote")),
        ),
    )


def test_unsaved_answers_are_listed_in_scheme_order_as_posted_skipping_empty_ones(questions):
    answers = {"sources": ["link", "quote"], "note": "", "stance": "deny", "other": "x"}
    assert unsaved_answers(questions, answers) == [
        ("Stance", "deny"),
        ("Sources", "link, quote"),
    ]
    assert unsaved_answers(questions, {"sources": [], "stance": None}) == []


def test_unsaved_answers_can_be_worded_by_the_page(questions):
    def labels(question: Question, value) -> str:
        values = value if isinstance(value, list) else [value]
        return " & ".join(question.choice(v).label for v in values)

    assert unsaved_answers(questions, {"sources": ["quote", "link"]}, labels) == [
        ("Sources", "A quote & A link"),
    ]
