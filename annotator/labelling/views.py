"""The annotation workspace: one comment at a time, in its thread, keyboard first.

The workspace is a full page on first load; after that htmx swaps the ``workspace`` partial
(next/previous comment, submit) or only the save status (autosave). Every endpoint checks
``Action.LABEL`` through ``project_for`` (saving, through ``save_target``: the same check,
read with the comment, scheme and annotation in one query); annotators only ever read and
write their own annotations. Saving goes through ``annotations.save_annotation``, which
refuses a save made from a stale revision (two tabs) with a conflict message instead of
overwriting. Which comment
comes next is decided by ``assignment.claim_next``, which holds it for the annotator: briefly
while they only look, for the project's claim length once they save (see assignment.py).
Leaving the page posts to ``label_release`` (the page's script, with ``sendBeacon``), which
gives back a hold with nothing saved so the comment goes straight back to the queue.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, render
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from annotator.assist.suggestions import (
    Suggestion,
    answer_text,
    parse_preselected,
    preselected_answers,
    suggestions_for,
)
from annotator.assist.suggestions import revealed as reveal
from annotator.corpus.models import Article, Comment, Project
from annotator.corpus.permissions import Action, can, comment_in, project_for
from annotator.labelling.annotations import (
    AnnotationConflict,
    SaveResult,
    Submission,
    save_annotation,
)
from annotator.labelling.assignment import claim_next, release_unstarted
from annotator.labelling.models import Annotation, LabelScheme
from annotator.labelling.navigation import Progress, neighbours_of, progress_for
from annotator.labelling.responses import (
    conflict_response,
    render_page_or_partial,
    unsaved_answers,
)
from annotator.labelling.save_target import save_target
from annotator.labelling.scheme import Kind, Question, Target
from annotator.labelling.schemes import current_scheme_for
from annotator.labelling.stale import stale_answers_of
from annotator.labelling.thread_chain import ChainView, thread_around

REPLIES_SHOWN = 20
# A pause longer than this starts a new labelling session (for the pace shown).
SESSION_IDLE = timedelta(minutes=30)
WORKSPACE_TEMPLATE = "labelling/workspace.html"


def _workspace_url(project: Project, comment: Comment | int) -> str:
    comment_id = comment if isinstance(comment, int) else comment.pk
    return reverse("labelling:workspace", args=[project.slug, comment_id])


def _touch_session(request: HttpRequest, project: Project) -> datetime:
    """Start of the current labelling session, kept in the Django session."""
    key = f"labelling-session-{project.pk}"
    now = timezone.now()
    start, last = now, None
    stored = request.session.get(key)
    if stored:
        start = datetime.fromisoformat(stored["start"])
        last = datetime.fromisoformat(stored["last"])
        if now - last > SESSION_IDLE:
            start = now
    if last is None or now - last > timedelta(seconds=30) or start == now:
        request.session[key] = {"start": start.isoformat(), "last": now.isoformat()}
    return start


def _progress(request: HttpRequest, project: Project) -> Progress:
    """The annotator's progress (one query over their own labels and the project's kept
    counts, see ``navigation.progress_for``): exact on every request."""
    return progress_for(request.user, project, _touch_session(request, project))


class QuestionView:
    """One question as the form shows it: what is selected, whether it is shown, its target."""

    def __init__(
        self,
        question: Question,
        answers: dict,
        errors: dict,
        is_reply: bool,
        suggestion: Suggestion | None = None,
        preselected: bool = False,
    ):
        self.question = question
        # A model's answer (assist.suggestions): pre-selected in the inputs, shown beside the
        # question once it is answered, or (mode "after", unanswered) not on the page at all.
        self.suggestion = suggestion
        self.preselected = preselected
        self.suggestion_shown = suggestion is not None and (
            preselected or answers.get(question.key) not in (None, "", [])
        )
        self.number = 0  # its place among the questions shown, from 1 (0 while hidden)
        self.key = question.key
        value = answers.get(question.key)
        self.selected = set(value) if isinstance(value, list) else {value} if value else set()
        self.text_value = value if question.kind == Kind.TEXT and value else ""
        self.error = errors.get(question.key, "")
        self.shown = question.is_shown(answers, is_reply)
        self.input_type = "checkbox" if question.kind == Kind.MULTIPLE else "radio"
        # Answers kept from an earlier scheme version whose value is no longer a choice.
        self.kept_values = sorted(v for v in self.selected if v not in question.values)

    @property
    def choices(self):
        return [(choice, choice.value in self.selected) for choice in self.question.choices]

    @property
    def suggestion_text(self) -> str:
        """The suggested answer as the choices name it."""
        return answer_text(self.question, self.suggestion.answer) if self.suggestion else ""

    @property
    def target(self) -> str:
        return self.question.target.value

    @property
    def is_text(self) -> bool:
        return self.question.kind == Kind.TEXT

    @property
    def show_if_values(self) -> str:
        return " ".join(self.question.show_if.values) if self.question.show_if else ""

    @property
    def inputs(self) -> str:
        """The question's answer inputs (``_answer_inputs.html``), rendered once per process
        for each question and choice selected: they are the bulk of rendering the next
        comment's form, and the same for every comment. Typed text is not kept."""
        if self.text_value:
            return get_template(ANSWER_INPUTS_TEMPLATE).render({"q": self})
        key = (self.question, frozenset(self.selected))
        html = _RENDERED_INPUTS.get(key)
        if html is None:
            html = get_template(ANSWER_INPUTS_TEMPLATE).render({"q": self})
            if len(_RENDERED_INPUTS) >= _RENDERED_INPUTS_MAX:
                _RENDERED_INPUTS.clear()
            _RENDERED_INPUTS[key] = html
        return html


ANSWER_INPUTS_TEMPLATE = "labelling/_answer_inputs.html"
# The answer inputs by (question, values selected); a scheme has a few dozen of them.
_RENDERED_INPUTS: dict[tuple, str] = {}
_RENDERED_INPUTS_MAX = 2048


def number_shown(questions: list[QuestionView]) -> None:
    """Number the questions shown 1, 2, 3... (a hidden question has no number, so no gaps)."""
    shown = 0
    for view in questions:
        if view.shown:
            shown += 1
            view.number = shown


def _workspace_context(
    request: HttpRequest,
    project: Project,
    comment: Comment,
    *,
    scheme: LabelScheme | None = None,
    annotation: Annotation | None = None,
    load_annotation: bool = True,
    answers: dict | None = None,
    errors: dict | None = None,
    missing: list[str] | None = None,
    submission: Submission | None = None,
    save_errors: dict | None = None,
) -> dict:
    """Everything the workspace shows, in a constant number of queries."""
    scheme = scheme or current_scheme_for(project)
    if load_annotation and annotation is None:
        annotation = Annotation.objects.filter(comment=comment, annotator=request.user).first()
    ancestors, replies = thread_around(comment, REPLIES_SHOWN)
    previous_id, next_id = neighbours_of(comment, project)
    is_reply = comment.parent_id is not None
    if answers is None:
        answers = annotation.answers if annotation else {}
    errors = dict(errors or {})
    for key in missing or []:
        errors.setdefault(key, "This question needs an answer.")
    suggested = suggestions_for(comment.pk, scheme.scheme)
    preselect = preselected_answers(suggested, answers)
    if preselect:
        answers = {**{key: s.answer for key, s in preselect.items()}, **answers}
    questions = [
        QuestionView(
            q, answers, errors, is_reply, suggested.get(q.key), preselected=q.key in preselect
        )
        for q in scheme.scheme.questions
        if is_reply or not q.replies_only
    ]
    number_shown(questions)
    parent = ancestors[-1] if ancestors else None
    return {
        "project": project,
        "article": comment.article,
        "comment": comment,
        "ancestors": ancestors,
        "chain": ChainView(ancestors),
        "parent": parent,
        "replies": replies[:REPLIES_SHOWN],
        "more_replies": len(replies) > REPLIES_SHOWN,
        "scheme": scheme,
        "questions": questions,
        "targets": {q.target for q in questions},
        "annotation": annotation,
        # Answers set aside when the comment was moved (stale.StaleAnswer), read from the
        # annotation row: no query. The template says so above the form.
        "stale_answers": stale_answers_of(annotation, scheme.scheme),
        "revision": annotation.revision if annotation else 0,
        "note": submission.note if submission else (annotation.note if annotation else ""),
        "flagged": submission.flagged if submission else bool(annotation and annotation.flagged),
        "skip_reason": (
            submission.skip_reason if submission else (annotation.skip_reason if annotation else "")
        ),
        "errors": errors,
        "save_errors": save_errors or {},
        "missing": missing or [],
        "progress": _progress(request, project),
        "previous_id": previous_id,
        "next_id": next_id,
        "save_url": reverse("labelling:save", args=[project.slug, comment.pk]),
        "workspace_url": _workspace_url(project, comment),
        "Target": Target,
        # The form then says so, and its saves look the suggestions up (assist.suggestions).
        "has_suggestions": bool(suggested),
    }


def _render_workspace(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    return render_page_or_partial(
        request,
        WORKSPACE_TEMPLATE,
        "workspace",
        context,
        url=context["workspace_url"],
        status=status,
    )


@login_required
@require_GET
def label_start(request: HttpRequest, slug: str) -> HttpResponse:
    """Open the comment held for the annotator (claiming the next one), or say all are done."""
    project = project_for(request.user, slug, Action.LABEL)
    comment = claim_next(request.user, project)
    if comment is None:
        return render(
            request,
            "labelling/all_done.html",
            {"project": project, "progress": _progress(request, project)},
        )
    return HttpResponseRedirect(_workspace_url(project, comment))


@login_required
@require_GET
def workspace(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    """One comment with its article, the chain it answers, its replies and the label form.

    Any comment of the project opens here, even one the queue would not hand this person
    (already labelled by k others, or held by someone): a shared link or the previous/next
    keys must not break, and labelling it only adds an extra label (see assignment.py).
    """
    project = project_for(request.user, slug, Action.LABEL)
    comment = comment_in(project, comment_id)
    return _render_workspace(request, _workspace_context(request, project, comment))


@login_required
@require_POST
def label_release(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    """Give back the person's own hold on a comment they leave without saving; 204 always.

    Sent by the page on ``pagehide`` with ``navigator.sendBeacon`` (FormData with the
    ``csrfmiddlewaretoken`` field; nothing else is read), so the answer has no body: nobody
    reads it. A hold with something saved is kept (``assignment.release_unstarted``), and
    releasing nothing (no hold, already expired, sent twice) is not an error either.
    """
    project = project_for(request.user, slug, Action.LABEL)
    comment = comment_in(project, comment_id)
    release_unstarted(request.user, comment)
    return HttpResponse(status=204)


def _submission_from(post: QueryDict, questions) -> Submission:
    answers = {}
    for question in questions:
        if question.kind == Kind.MULTIPLE:
            answers[question.key] = post.getlist(question.key)
        else:
            answers[question.key] = post.get(question.key, "")
    try:
        elapsed = int(post.get("elapsed_ms") or 0)
    except ValueError:
        elapsed = 0
    return Submission(
        answers=answers,
        note=post.get("note", ""),
        flagged=post.get("flagged") in {"on", "1", "true"},
        skip_reason=post.get("skip_reason", ""),
        elapsed_ms=elapsed,
    )


@login_required
@require_POST
def annotation_save(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    """Autosave, submit or skip; a submit or skip moves on to the next comment."""
    target = save_target(request.user, slug, comment_id)
    project, comment, scheme = target.project, target.comment, target.scheme
    action = request.POST.get("action", "submit")
    if action not in {"autosave", "submit", "skip"}:
        return HttpResponse("Unknown action.", status=400, content_type="text/plain")
    try:
        base_revision = int(request.POST.get("revision", "0"))
    except ValueError:
        return HttpResponse("Bad revision.", status=400, content_type="text/plain")
    submission = _submission_from(request.POST, scheme.scheme.questions)
    # Only a page that showed suggestions asks for them: a save costs no query more otherwise.
    suggested = {}
    if request.POST.get("suggested"):
        suggested = suggestions_for(comment.pk, scheme.scheme)
    submission = replace(
        submission,
        suggested=suggested,
        preselected=frozenset(parse_preselected(request.POST.getlist("preselected"), suggested)),
    )
    try:
        result = save_annotation(
            comment=comment,
            annotator=request.user,
            scheme=scheme,
            submission=submission,
            base_revision=base_revision,
            action=action,
            stored=target.annotation,
        )
    except AnnotationConflict as conflict:
        return _conflict_response(request, project, comment, scheme, conflict, submission)
    if action == "autosave":
        return _autosave_response(request, project, comment, result, submission)
    if not result.ok:
        context = _workspace_context(
            request,
            project,
            comment,
            scheme=scheme,
            annotation=result.annotation,
            load_annotation=False,
            answers=_posted_answers(result, submission),
            errors=result.errors,
            missing=result.missing,
            submission=submission,
            save_errors=result.errors,
        )
        return _render_workspace(request, context, status=422)
    following = claim_next(request.user, project, after=comment)
    if following is None:
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = reverse("labelling:start", args=[project.slug])
            return response
        return HttpResponseRedirect(reverse("labelling:start", args=[project.slug]))
    if not request.htmx:
        return HttpResponseRedirect(_workspace_url(project, following))
    # Its article came with it, and the scheme is the one just saved under.
    context = _workspace_context(request, project, following, scheme=scheme)
    context["just_saved"] = comment
    return _render_workspace(request, context)


def _posted_answers(result: SaveResult, submission: Submission) -> dict:
    """What to show in a form refused for errors: the stored answers, else what was posted."""
    if result.errors:
        return {k: v for k, v in submission.answers.items() if v not in ("", [], None)}
    return result.annotation.answers if result.annotation else {}


def _autosave_response(
    request: HttpRequest,
    project: Project,
    comment: Comment,
    result: SaveResult,
    submission: Submission,
) -> HttpResponse:
    if not request.htmx:
        return HttpResponseRedirect(_workspace_url(project, comment))
    status = 422 if result.errors else 200
    # The models' answers to the questions now saved (mode "after": shown only now).
    revealed = []
    if result.annotation is not None and not result.errors:
        saved, scheme = result.annotation.answers, result.annotation.scheme.scheme
        is_reply = comment.parent_id is not None
        revealed = [
            QuestionView(
                question,
                saved,
                {},
                is_reply,
                suggestion,
                preselected=suggestion.question in submission.preselected,
            )
            for suggestion in reveal(submission.suggested, saved)
            if (question := scheme.question(suggestion.question)) is not None
        ]
    return render(
        request,
        "labelling/workspace.html#autosave-response",
        {"annotation": result.annotation, "save_errors": result.errors, "revealed": revealed},
        status=status,
    )


def _conflict_response(
    request: HttpRequest,
    project: Project,
    comment: Comment,
    scheme: LabelScheme,
    conflict: AnnotationConflict,
    submission: Submission,
) -> HttpResponse:
    """409: say that the annotation changed elsewhere, keep the person's unsaved answers."""
    context = {
        "conflict": conflict,
        "current": conflict.current,
        "unsaved": unsaved_answers(scheme.scheme.questions, submission.answers),
        "workspace_url": _workspace_url(project, comment),
    }
    return conflict_response(
        request,
        WORKSPACE_TEMPLATE,
        context,
        status_id="save-status",
        page_context=lambda: _workspace_context(request, project, comment, scheme=scheme),
    )


@login_required
@require_GET
def thread_labels(request: HttpRequest, slug: str, article_id: int) -> HttpResponse:
    """The whole tree of one article with this annotator's label status on each comment."""
    project = project_for(request.user, slug, Action.LABEL)
    article = get_object_or_404(Article, pk=article_id, project=project)
    comments = list(Comment.objects.thread(article))
    mine = Annotation.objects.filter(comment__article=article, annotator=request.user)
    statuses = {
        pk: (status, flag)
        for pk, status, flag in mine.values_list("comment_id", "status", "flagged")
    }
    counts = {status: 0 for status in [*Annotation.Status.values, "todo"]}
    for comment in comments:
        comment.label_status, comment.flagged = statuses.get(comment.pk, ("todo", False))
        comment.indent = min(comment.depth, 8)
        counts[comment.label_status] += 1
    return render(
        request,
        "labelling/thread_labels.html",
        {
            "project": project,
            "article": article,
            "comments": comments,
            "counts": counts,
            "can_review": can(request.user, Action.REVIEW, project),
        },
    )
