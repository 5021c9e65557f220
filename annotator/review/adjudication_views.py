"""The reviewer's pages: the disagreement queue and adjudicating one comment with the keyboard.

The queue page lists comments whose annotators disagree, worst first (``queue.py``), with a
button to accept every unanimous comment as gold in bulk. The adjudication page shows one
comment in its thread with every annotator's answers side by side and the gold form; Enter
saves (``gold.save_gold``) and htmx swaps in the next comment of the queue, the URL
following. Every endpoint checks ``Action.REVIEW`` through ``project_for``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotator.assist.models import MachineLabeller
from annotator.assist.suggestions import ModelAnswers, model_answers
from annotator.corpus.models import Comment, Project
from annotator.corpus.permissions import Action, comment_in, project_for
from annotator.labelling.models import Annotation, LabelScheme
from annotator.labelling.responses import (
    conflict_response,
    render_page_or_partial,
    unsaved_answers,
)
from annotator.labelling.scheme import Kind, Question, Scheme
from annotator.labelling.schemes import current_scheme_for
from annotator.labelling.stale import stale_answers_of
from annotator.labelling.thread_chain import ChainView, thread_around
from annotator.review.dashboard import label_text, question_title
from annotator.review.gold import GoldConflict, GoldInvalid, accept_unanimous, save_gold
from annotator.review.model_queue import ModelDisagreement, model_disagreements
from annotator.review.models import GoldEvent, GoldLabel
from annotator.review.queue import next_in_queue, normalised, review_state

QUEUE_PAGE = 100
REPLIES_SHOWN = 20
ADJUDICATE_TEMPLATE = "review/adjudicate.html"
SHOWN_STATUSES = (Annotation.Status.SUBMITTED, Annotation.Status.SKIPPED)


def _wants_spot_checks(params: QueryDict) -> bool:
    return params.get("spot") in {"1", "on", "true"}


def _adjudicate_url(project: Project, comment_id: int, spot: bool) -> str:
    url = reverse("review:adjudicate", args=[project.slug, comment_id])
    return f"{url}?spot=1" if spot else url


def _queue_url(project: Project, spot: bool, page: int = 1, model: int | None = None) -> str:
    url = reverse("review:queue", args=[project.slug])
    params = [
        *([f"model={model}"] if model is not None else []),
        *(["spot=1"] if spot and model is None else []),
        *([f"page={page}"] if page > 1 else []),
    ]
    return f"{url}?{'&'.join(params)}" if params else url


# -- the queue -------------------------------------------------------------------------------


@login_required
@require_GET
def review_queue(request: HttpRequest, slug: str) -> HttpResponse:
    """Counts, the queue worst first (``QUEUE_PAGE`` a page), bulk accept, spot-check toggle;
    with ``?model=<id>`` (one of the project's models) the comments on which that model and
    the people disagree instead (``model_queue``).

    ``?page=N`` past the end shows the last page (the queue shrinks as comments are settled).
    """
    project = project_for(request.user, slug, Action.REVIEW)
    spot = _wants_spot_checks(request.GET)
    try:
        number = int(request.GET.get("page") or 1)
    except ValueError:
        number = 0
    if number < 1:
        return HttpResponse("Bad page number.", status=400, content_type="text/plain")
    models = list(MachineLabeller.objects.filter(project=project).newest())
    chosen = None
    if "model" in request.GET:
        chosen = next((m for m in models if str(m.pk) == request.GET["model"]), None)
        if chosen is None:
            return HttpResponse(
                "No such model in this project.", status=400, content_type="text/plain"
            )
    scheme = current_scheme_for(project)
    state = review_state(project, scheme=scheme, include_spot_checks=spot)
    titles = {q.key: q.title for q in scheme.scheme.questions}
    listed = (
        model_disagreements(project, chosen, scheme.scheme) if chosen is not None else state.queue
    )
    page = Paginator(listed, QUEUE_PAGE).get_page(number)
    shown = page.object_list
    comments = Comment.objects.only("pk", "author", "text", "parent_id").in_bulk(
        [item.comment_id for item in shown]
    )
    if chosen is not None:
        items = [
            (item, comments.get(item.comment_id), _model_answers(scheme.scheme, item))
            for item in shown
        ]
    else:
        items = [
            (
                item,
                comments.get(item.comment_id),
                [titles.get(key, key) for key in item.disagreeing],
            )
            for item in shown
        ]
    filtered = chosen.pk if chosen is not None else None
    return render(
        request,
        "review/review_queue.html",
        {
            "project": project,
            "state": state,
            "items": items,
            "page": page,
            "queue_count": len(listed),
            "previous_url": (
                _queue_url(project, spot, page.previous_page_number(), filtered)
                if page.has_previous()
                else None
            ),
            "next_url": (
                _queue_url(project, spot, page.next_page_number(), filtered)
                if page.has_next()
                else None
            ),
            "unanimous_count": len(state.unanimous),
            "spot": spot,
            "first_url": (
                _adjudicate_url(project, state.queue[0].comment_id, spot) if state.queue else None
            ),
            "models": [(m, _queue_url(project, False, model=m.pk)) for m in models],
            "chosen": chosen,
        },
    )


def _model_answers(scheme: Scheme, item: ModelDisagreement) -> list[dict[str, str]]:
    """Per key where the model differs: its label beside the majority's and gold's."""

    def text(labels: dict, key: str) -> str:
        return label_text(scheme, key, labels[key]) if key in labels else "—"

    return [
        {
            "title": question_title(scheme, key),
            "model": text(item.model, key),
            "majority": text(item.majority, key),
            "gold": text(item.gold, key),
        }
        for key in item.keys
    ]


@login_required
@require_POST
def accept_unanimous_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Accept every unanimous comment as gold, then back to the queue with a message."""
    project = project_for(request.user, slug, Action.REVIEW)
    try:
        accepted = accept_unanimous(project, request.user)
    except GoldConflict:
        messages.error(request, "Other reviewers were settling these comments too: try again.")
        return HttpResponseRedirect(_queue_url(project, _wants_spot_checks(request.POST)))
    if accepted:
        messages.success(
            request, f"Accepted {accepted} unanimous comment{'s' if accepted != 1 else ''} as gold."
        )
    else:
        messages.info(request, "No unanimous comments were waiting.")
    return HttpResponseRedirect(_queue_url(project, _wants_spot_checks(request.POST)))


# -- adjudicating one comment ----------------------------------------------------------------


def _answer_text(question: Question | None, value: Any) -> str:
    """An answer as people read it: choice labels, not stored values (as stored for a
    question the current scheme no longer has, ``None``)."""
    if value in (None, "", []):
        return ""
    if question is not None and question.kind == Kind.TEXT:
        return str(value)
    values = value if isinstance(value, list) else [value]
    labels = []
    for one in values:
        choice = question.choice(one) if question is not None else None
        labels.append(choice.label if choice else str(one))
    return ", ".join(labels)


class QuestionRow:
    """One question: every annotator's answer side by side, and the gold choice."""

    def __init__(
        self,
        question: Question,
        annotations: list[Annotation],
        selected: dict,
        errors: dict,
        is_reply: bool,
    ) -> None:
        self.question = question
        self.key = question.key
        self.cells = [
            _answer_text(question, a.answers.get(question.key))
            if a.status == Annotation.Status.SUBMITTED
            else None
            for a in annotations
        ]
        submitted = [
            normalised(a.answers).get(question.key, None)
            for a in annotations
            if a.status == Annotation.Status.SUBMITTED
        ]
        answered = [value for value in submitted if value is not None]
        self.agreed = len(submitted) >= 2 and len(answered) == len(submitted)
        self.agreed = self.agreed and len({repr(v) for v in answered}) == 1
        self.disagreed = len(answered) >= 2 and len({repr(v) for v in answered}) > 1
        value = selected.get(question.key)
        self.selected = set(value) if isinstance(value, list) else {value} if value else set()
        self.text_value = value if question.kind == Kind.TEXT and value else ""
        self.error = errors.get(question.key, "")
        self.shown = question.is_shown(selected, is_reply)
        self.input_type = "checkbox" if question.kind == Kind.MULTIPLE else "radio"
        self.is_text = question.kind == Kind.TEXT
        self.kept_values = sorted(v for v in self.selected if v not in question.values)
        self.show_if_values = " ".join(question.show_if.values) if question.show_if else ""

    @property
    def choices(self):
        return [(choice, choice.value in self.selected) for choice in self.question.choices]


@dataclass(frozen=True)
class GoldChange:
    """One row of the gold history: a revision and what it changed, as people read it."""

    revision: int
    at: Any
    actor: str
    method: str
    changes: list[tuple[str, str, str]]  # (question, before, after), answers as labels
    note: str | None  # the new note when the note changed


def gold_history(events: list[GoldEvent], scheme: LabelScheme) -> list[GoldChange]:
    """The changes of a gold label, newest first, each with the answers it changed (keys of
    older scheme versions included, by key) and its note when the note changed."""
    questions = {q.key: q for q in scheme.scheme.questions}
    history = []
    for event in events:
        before = (event.before or {}).get("answers") or {}
        after = event.after.get("answers") or {}
        changes = []
        for key in [*questions, *sorted((before.keys() | after.keys()) - questions.keys())]:
            old, new = before.get(key), after.get(key)
            if old == new:
                continue
            question = questions.get(key)
            title = question.title if question is not None else key
            changes.append((title, _answer_text(question, old), _answer_text(question, new)))
        old_note = (event.before or {}).get("note") or ""
        new_note = event.after.get("note") or ""
        history.append(
            GoldChange(
                revision=event.revision,
                at=event.at,
                actor=event.actor.get_username() if event.actor else "",
                method=GoldLabel.Method(event.after["method"]).label
                if event.after.get("method") in GoldLabel.Method.values
                else str(event.after.get("method", "")),
                changes=changes,
                note=new_note if new_note != old_note else None,
            )
        )
    return history


def _agreed_defaults(scheme: LabelScheme, annotations: list[Annotation]) -> dict:
    """The answers every submitted annotation shares (two or more of them): preselected."""
    submitted = [a.answers for a in annotations if a.status == Annotation.Status.SUBMITTED]
    if len(submitted) < 2:
        return {}
    defaults = {}
    for question in scheme.scheme.questions:
        values = [normalised(answers).get(question.key) for answers in submitted]
        if values[0] is not None and all(v == values[0] for v in values):
            defaults[question.key] = submitted[0][question.key]
    return defaults


def _adopted(models: list[ModelAnswers], wanted: str | None) -> ModelAnswers | None:
    """The model whose answers the reviewer asked to put in the gold form (``?use_model=``);
    None for anything else."""
    return next((m for m in models if str(m.labeller_id) == wanted), None) if wanted else None


def _adjudication_context(
    request: HttpRequest,
    project: Project,
    comment: Comment,
    *,
    spot: bool,
    scheme: LabelScheme | None = None,
    answers: dict | None = None,
    note: str | None = None,
    errors: dict | None = None,
    missing: list[str] | None = None,
) -> dict:
    """Everything the adjudication page shows, in a constant number of queries."""
    scheme = scheme or current_scheme_for(project)
    gold = (
        GoldLabel.objects.select_related("decided_by", "scheme")
        .prefetch_related(
            Prefetch(
                "events",
                queryset=GoldEvent.objects.select_related("actor").order_by("-revision", "-id"),
            )
        )
        .filter(comment=comment)
        .first()
    )
    annotations = list(
        Annotation.objects.filter(comment=comment, status__in=SHOWN_STATUSES)
        .select_related("annotator")
        .order_by("annotator__username", "pk")
    )
    ancestors, replies = thread_around(comment, REPLIES_SHOWN)
    is_reply = comment.parent_id is not None
    models = model_answers(comment.pk, scheme.scheme)
    adopted = _adopted(models, request.GET.get("use_model")) if answers is None else None
    if answers is None:
        answers = gold.answers if gold else _agreed_defaults(scheme, annotations)
    if adopted is not None:
        # A reviewer adopting a model's answers: they fill the gold form, and become gold
        # only when the reviewer saves it (a prediction is never gold by itself).
        answers = {**answers, **adopted.as_answers()}
        if not note and not (gold and gold.note):
            note = f"Answers adopted from the model {adopted.label}, checked by the reviewer."
    errors = dict(errors or {})
    for key in missing or []:
        errors.setdefault(key, "Gold needs an answer here.")
    rows = [
        QuestionRow(q, annotations, answers, errors, is_reply)
        for q in scheme.scheme.questions
        if is_reply or not q.replies_only
    ]
    return {
        "project": project,
        "article": comment.article,
        "comment": comment,
        "ancestors": ancestors,
        "chain": ChainView(ancestors),
        "parent": ancestors[-1] if ancestors else None,
        "replies": replies[:REPLIES_SHOWN],
        "more_replies": len(replies) > REPLIES_SHOWN,
        "scheme": scheme,
        "gold": gold,
        "models": models,
        "adopted": adopted,
        "gold_history": gold_history(list(gold.events.all()), scheme) if gold else [],
        # Gold a move sent back to review: what it had said about the old parent.
        "gold_stale": stale_answers_of(gold, scheme.scheme) if gold and gold.needs_review else [],
        "revision": gold.revision if gold else 0,
        "annotations": annotations,
        "submitted_count": sum(a.status == Annotation.Status.SUBMITTED for a in annotations),
        "rows": rows,
        "unanimous": bool(rows) and not any(r.disagreed for r in rows),
        "note": note if note is not None else (gold.note if gold else ""),
        "errors": errors,
        "missing": missing or [],
        "spot": spot,
        "save_url": reverse("review:save", args=[project.slug, comment.pk]),
        "next_url": reverse("review:next", args=[project.slug])
        + f"?after={comment.pk}{'&spot=1' if spot else ''}",
        "queue_url": _queue_url(project, spot),
        "adjudicate_url": _adjudicate_url(project, comment.pk, spot),
    }


def _render_adjudication(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    return render_page_or_partial(
        request,
        ADJUDICATE_TEMPLATE,
        "adjudication",
        context,
        url=context["adjudicate_url"],
        status=status,
    )


@login_required
@require_GET
def adjudicate(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    """One comment in its thread, every annotator's answers side by side, the gold form."""
    project = project_for(request.user, slug, Action.REVIEW)
    comment = comment_in(project, comment_id)
    spot = _wants_spot_checks(request.GET)
    return _render_adjudication(
        request, _adjudication_context(request, project, comment, spot=spot)
    )


def _go_to_next(
    request: HttpRequest,
    project: Project,
    after_id: int | None,
    spot: bool,
    scheme: LabelScheme | None = None,
    **extra,
) -> HttpResponse:
    """The next comment of the queue after ``after_id`` (or the queue page when it is empty)."""
    scheme = scheme or current_scheme_for(project)
    state = review_state(project, scheme=scheme, include_spot_checks=spot, keep=after_id)
    following = next_in_queue(state.queue, after_id)
    if following is None:
        if "just_saved" in extra or not state.queue:
            messages.success(request, "The queue is empty: every disagreement is settled.")
        else:
            messages.info(request, "No other comment is waiting in the queue.")
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = _queue_url(project, spot)
            return response
        return HttpResponseRedirect(_queue_url(project, spot))
    if not request.htmx:
        return HttpResponseRedirect(_adjudicate_url(project, following.comment_id, spot))
    comment = comment_in(project, following.comment_id)
    context = _adjudication_context(request, project, comment, spot=spot, scheme=scheme)
    context.update(extra)
    return _render_adjudication(request, context)


@login_required
@require_GET
def review_next(request: HttpRequest, slug: str) -> HttpResponse:
    """Move on in the queue without saving (the ``]`` key)."""
    project = project_for(request.user, slug, Action.REVIEW)
    try:
        after = int(request.GET.get("after") or 0) or None
    except ValueError:
        return HttpResponse("Bad comment id.", status=400, content_type="text/plain")
    return _go_to_next(request, project, after, _wants_spot_checks(request.GET))


def _posted_answers(post: QueryDict, scheme: LabelScheme) -> dict:
    answers = {}
    for question in scheme.scheme.questions:
        if question.kind == Kind.MULTIPLE:
            answers[question.key] = post.getlist(question.key)
        else:
            answers[question.key] = post.get(question.key, "")
    return answers


@login_required
@require_POST
def gold_save(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    """Save the gold answers, then go to the next comment of the queue."""
    project = project_for(request.user, slug, Action.REVIEW)
    comment = comment_in(project, comment_id)
    spot = _wants_spot_checks(request.POST)
    try:
        base_revision = int(request.POST.get("revision", "0"))
    except ValueError:
        return HttpResponse("Bad revision.", status=400, content_type="text/plain")
    scheme = current_scheme_for(project)
    answers = _posted_answers(request.POST, scheme)
    note = request.POST.get("note", "")
    try:
        gold = save_gold(
            comment, answers, request.user, revision=base_revision, note=note, scheme=scheme
        )
    except GoldConflict as conflict:
        return _conflict_response(request, project, comment, scheme, conflict, answers, spot)
    except GoldInvalid as invalid:
        shown = {k: v for k, v in answers.items() if v not in ("", [], None)}
        context = _adjudication_context(
            request,
            project,
            comment,
            spot=spot,
            scheme=scheme,
            answers=shown,
            note=note,
            errors=invalid.errors,
            missing=invalid.missing,
        )
        return _render_adjudication(request, context, status=422)
    return _go_to_next(request, project, comment.pk, spot, scheme, just_saved=gold)


def _conflict_response(
    request: HttpRequest,
    project: Project,
    comment: Comment,
    scheme: LabelScheme,
    conflict: GoldConflict,
    answers: dict,
    spot: bool,
) -> HttpResponse:
    """409: another reviewer saved this gold label first; keep this reviewer's choices."""
    context = {
        "conflict": conflict,
        "current": conflict.current,
        "unsaved": unsaved_answers(scheme.scheme.questions, answers, _answer_text),
        "adjudicate_url": _adjudicate_url(project, comment.pk, spot),
    }
    return conflict_response(
        request,
        ADJUDICATE_TEMPLATE,
        context,
        status_id="gold-status",
        page_context=lambda: _adjudication_context(
            request, project, comment, spot=spot, scheme=scheme
        ),
    )
