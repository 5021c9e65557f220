"""Responses shared by the pages that show one comment and save answers to it with htmx.

The labelling workspace and the reviewer's adjudication page work alike: the first load is
the whole page, later comments swap in as the page's named partial with the address bar
following, and a save made from a stale revision (another tab, another reviewer) is refused
with a 409 that keeps what the person gave. Writing these once keeps the two pages' htmx
contract (status codes, HX- headers, partial names) from drifting apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotator.labelling.scheme import Question


def render_page_or_partial(
    request: HttpRequest,
    template: str,
    partial: str,
    context: dict,
    *,
    url: str,
    status: int = 200,
) -> HttpResponse:
    """The whole page, or for htmx only its ``partial``; the address bar follows to ``url``."""
    # htmx restoring a page from its history (Back) needs the whole page, not the partial.
    if request.htmx and not request.htmx.boosted and not request.htmx.history_restore_request:
        template = f"{template}#{partial}"
    response = render(request, template, context, status=status)
    if request.htmx:
        response["HX-Push-Url"] = url
    return response


def conflict_response(
    request: HttpRequest,
    template: str,
    context: dict,
    *,
    status_id: str,
    page_context: Callable[[], dict],
) -> HttpResponse:
    """409 with the page's ``conflict`` partial in place of its save status (``status_id``).

    Without htmx the whole page is shown with the message; ``page_context`` builds what it
    needs, and is only called then, so an htmx conflict costs no page queries.
    """
    if request.htmx:
        response = render(request, f"{template}#conflict", context, status=409)
        response["HX-Retarget"] = f"#{status_id}"
        response["HX-Reswap"] = "outerHTML"
        return response
    return render(request, template, {**page_context(), **context}, status=409)


def _as_given(question: Question, value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else value


def unsaved_answers(
    questions: Iterable[Question],
    answers: dict,
    text: Callable[[Question, Any], str] = _as_given,
) -> list[tuple[str, str]]:
    """(question title, answer as ``text`` words it) for each answer given, in scheme order.

    The conflict message lists them so that nothing the person chose is lost with the refused
    save; by default an answer is shown as posted (values, several joined with commas).
    """
    return [
        (question.title, text(question, value))
        for question in questions
        if (value := answers.get(question.key)) not in (None, "", [])
    ]
