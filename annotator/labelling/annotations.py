"""Saving annotations without losing work, and choosing what an annotator labels next.

``save_annotation`` is the one write path for answers (browser autosave, submit, skip; later
the API). It uses optimistic locking: the caller says which ``revision`` it started from and
a save from any other revision raises ``AnnotationConflict`` and writes nothing. The write
is a compare and set on the revision (``annotation_writes.store_save``: one statement on
PostgreSQL), so two simultaneous saves cannot both pass the check and no lock is held while
the answers are checked. Every change writes an ``AnnotationEvent`` with the state before
and after, in the same statement; a save that changes nothing but the time spent adds no
history row. A save that moves the annotation into or out of *submitted* moves the comment's
count of submitted labels in that statement too (``label_counts``, for the progress bar).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from annotator.assist.suggestions import record as record_suggestions
from annotator.corpus.models import Comment, Project
from annotator.labelling.annotation_writes import Hold, store_save
from annotator.labelling.models import Annotation, AnnotationEvent, LabelScheme
from annotator.labelling.scheme import clean_answers, missing_answers

# One save adds at most this much time: a tab left open overnight is not 8 hours of work.
MAX_ELAPSED_PER_SAVE_MS = 10 * 60 * 1000
DONE_STATUSES = (Annotation.Status.SUBMITTED, Annotation.Status.SKIPPED)


class AnnotationConflict(Exception):
    """The annotation changed since the form was loaded (another tab, window or person)."""

    def __init__(self, current: Annotation | None, base_revision: int) -> None:
        self.current = current
        self.base_revision = base_revision
        super().__init__(
            f"The annotation is at revision {current.revision if current else 0}, "
            f"the form was loaded at revision {base_revision}."
        )


# ``save_annotation(stored=...)`` when the caller did not read the annotation.
UNREAD = object()


@dataclass
class SaveResult:
    """What a save did: the stored annotation (None if nothing was ever stored), errors."""

    annotation: Annotation | None
    errors: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    changed: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors and not self.missing


@dataclass(frozen=True)
class Submission:
    """What a form sends: answers by question key and the annotator's own fields."""

    answers: Mapping[str, Any]
    note: str = ""
    flagged: bool = False
    skip_reason: str = ""
    elapsed_ms: int = 0
    # The models' suggestions for this comment (assist.suggestions.suggestions_for) and the
    # questions the form said it pre-selected: recorded in ``Annotation.suggestions``.
    suggested: Mapping[str, Any] = field(default_factory=dict)
    preselected: frozenset[str] = frozenset()


def save_annotation(
    *,
    comment: Comment,
    annotator,
    scheme: LabelScheme,
    submission: Submission,
    base_revision: int,
    action: str,
    stored: Annotation | object | None = UNREAD,
) -> SaveResult:
    """Autosave, submit or skip one annotator's answers for ``comment``.

    ``action`` is ``"autosave"`` (partial answers kept as a draft), ``"submit"`` (required
    answers checked; if some are missing the answers are still kept as a draft and the result
    lists them) or ``"skip"`` (needs a reason). Raises ``AnnotationConflict`` when the stored
    revision is not ``base_revision`` (0 means "not saved before").

    The stored annotation is read without a lock, and written only if it is still at the
    revision read (``annotation_writes.store_save``); when another save got there first,
    it is read again and this save judged against it (a conflict, or a retry already
    applied). A change costs two queries on PostgreSQL: the read and one write; one, when
    the caller read the annotation already (``stored``: it, or None for none).
    """
    if action not in {"autosave", "submit", "skip"}:
        raise ValueError(f"unknown action {action!r}")
    for _ in range(_ATTEMPTS):
        annotation = stored
        if annotation is UNREAD:
            annotation = (
                Annotation.objects.filter(comment=comment, annotator=annotator)
                .select_related("scheme")
                .first()
            )
        stored = UNREAD  # after a lost race, what won is read
        result = _save_over(
            annotation, comment, annotator, scheme, submission, base_revision, action
        )
        if result is not None:
            return result
    # Only when the row keeps changing (or vanishing) under this save: say so, write nothing.
    current = Annotation.objects.filter(comment=comment, annotator=annotator).first()
    raise AnnotationConflict(current, base_revision)


# A save that lost the race is judged again against what won; the second look finds another
# revision, which never writes, so two attempts are enough (three for a deleted row).
_ATTEMPTS = 3


def _save_over(
    annotation: Annotation | None,
    comment: Comment,
    annotator,
    scheme: LabelScheme,
    submission: Submission,
    base_revision: int,
    action: str,
) -> SaveResult | None:
    """The save judged against the stored ``annotation``; None if it lost a race to store."""
    is_reply = comment.parent_id is not None
    elapsed = max(0, min(int(submission.elapsed_ms or 0), MAX_ELAPSED_PER_SAVE_MS))
    current_revision = annotation.revision if annotation else 0
    stale = current_revision != base_revision
    if stale and annotation is None:
        raise AnnotationConflict(annotation, base_revision)
    kept = annotation.answers if annotation else {}
    answers, errors = clean_answers(scheme.scheme, submission.answers, is_reply=is_reply, kept=kept)
    note = submission.note.strip()[:10_000]
    skip_reason = submission.skip_reason.strip()[:500]
    if action == "skip" and not skip_reason:
        errors["skip_reason"] = "Say why you skip this comment."
    if errors:
        if stale:
            raise AnnotationConflict(annotation, base_revision)
        return SaveResult(annotation, errors=errors)
    missing = missing_answers(scheme.scheme, answers, is_reply=is_reply) if action != "skip" else []
    reported_missing = missing if action == "submit" else []
    status = _next_status(annotation, action, missing)
    if stale:
        # A save from an older revision is refused, unless the stored annotation is
        # already exactly what it asks for: a save the browser retried because its
        # answer was lost on the way (time-out, dropped connection) after it was
        # applied. That one is answered as saved, and adds no time or history.
        if _state_differs(annotation, answers, status, note, submission, skip_reason):
            raise AnnotationConflict(annotation, base_revision)
        return SaveResult(annotation, missing=reported_missing)
    now = timezone.now()
    if action != "autosave" and status in DONE_STATUSES:
        # Submitting or skipping ends the hold on the comment (see assignment.py), in the
        # same statement so its takers are never under-counted.
        hold = Hold(end=True)
    elif status == Annotation.Status.DRAFT:
        hold = Hold(renew_until=_hold_until(comment, now))
    else:
        hold = Hold()
    is_new = annotation is None
    if is_new:
        annotation = Annotation(
            project_id=comment.article.project_id,
            comment=comment,
            annotator=annotator,
            scheme=scheme,
            revision=0,
            created_at=now,
        )
        before = None
    else:
        before = annotation.snapshot()
    was_submitted = annotation.status == Annotation.Status.SUBMITTED
    changed = is_new or _state_differs(annotation, answers, status, note, submission, skip_reason)
    event = None
    if changed:
        annotation.answered_under = {
            key: (
                annotation.answered_under.get(key, scheme.version)
                if kept.get(key) == value
                else scheme.version
            )
            for key, value in answers.items()
        }
        if submission.suggested or annotation.suggestions:
            annotation.suggestions = record_suggestions(
                submission.suggested, answers, annotation.suggestions, submission.preselected
            )
        annotation.answers = answers
        annotation.scheme = scheme
        annotation.status = status
        annotation.note = note
        annotation.flagged = submission.flagged
        annotation.skip_reason = skip_reason if status == Annotation.Status.SKIPPED else ""
        annotation.revision += 1
        annotation.updated_at = now
        if status == Annotation.Status.SUBMITTED and annotation.submitted_at is None:
            annotation.submitted_at = now
        event = AnnotationEvent(
            actor=annotator,
            at=now,
            kind=_event_kind(action, missing),
            revision=annotation.revision,
            before=before,
            after=annotation.snapshot(),
        )
    annotation.time_spent_ms += elapsed
    stored = store_save(
        annotation,
        is_new=is_new,
        changed=changed,
        base_revision=base_revision,
        elapsed_ms=elapsed,
        event=event,
        hold=hold,
        now=now,
        was_submitted=was_submitted,
    )
    if not stored:
        return None
    return SaveResult(annotation, missing=reported_missing, changed=changed)


def _state_differs(
    annotation: Annotation,
    answers: dict,
    status: str,
    note: str,
    submission: Submission,
    skip_reason: str,
) -> bool:
    """Whether saving these would change what a person can see of ``annotation``."""
    return (
        answers != annotation.answers
        or status != annotation.status
        or note != annotation.note
        or submission.flagged != annotation.flagged
        or (status == Annotation.Status.SKIPPED and skip_reason != annotation.skip_reason)
    )


def _hold_until(comment: Comment, now: datetime) -> datetime:
    """When a draft's hold on ``comment`` ends: the project's full ``claim_minutes`` from now.

    A page view holds a comment only briefly (``assignment.VIEWING_HOLD``); saving answers
    means they are working on it, so the hold becomes the full one, renewed by every save
    while the annotation is a draft. The hold is written even when the viewing one has
    lapsed or the comment was opened by its address: that can only raise the comment's
    count of takers, never make the queue hand it out more than k times. A submitted
    annotation counts by itself and needs no hold.
    """
    return now + timedelta(minutes=comment.article.project.claim_minutes)


def _next_status(annotation: Annotation | None, action: str, missing: list[str]) -> str:
    if action == "skip":
        return Annotation.Status.SKIPPED
    if action == "submit" and not missing:
        return Annotation.Status.SUBMITTED
    # Autosave keeps a done annotation done while it stays complete.
    if annotation is not None and annotation.status == Annotation.Status.SUBMITTED:
        return Annotation.Status.DRAFT if missing else Annotation.Status.SUBMITTED
    return Annotation.Status.DRAFT


def _event_kind(action: str, missing: list[str]) -> str:
    if action == "skip":
        return AnnotationEvent.Kind.SKIP
    if action == "submit" and not missing:
        return AnnotationEvent.Kind.SUBMIT
    return AnnotationEvent.Kind.AUTOSAVE


# -- what to label next ----------------------------------------------------------------------


def project_comments(project: Project):
    """Every comment of the project in labelling order: article by article, in tree order."""
    return Comment.objects.filter(article__project=project).order_by("article_id", "path")


def next_comment_for(annotator, project: Project, after: Comment | None = None) -> Comment | None:
    """The next comment ``annotator`` has not submitted or skipped, in labelling order.

    With ``after``, the first such comment following it, wrapping round to the start; so
    submitting moves forward and comments left behind are found again at the end.
    """
    done = Annotation.objects.filter(
        comment=OuterRef("pk"), annotator=annotator, status__in=DONE_STATUSES
    )
    waiting = project_comments(project).filter(~Exists(done))
    if after is not None:
        later = waiting.filter(
            Q(article_id__gt=after.article_id) | Q(article_id=after.article_id, path__gt=after.path)
        ).first()
        if later is not None:
            return later
    return waiting.first()
