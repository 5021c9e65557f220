"""Answers that stop meaning anything when a comment's parent changes: set aside, not carried.

A "stance toward the parent" given while a comment answered #3 says nothing about #7. When
``Comment.move_under`` changes a comment's parent (``corpus.moves.parent_changed``), every
annotation of that comment loses its *parent-dependent* answers (``parent_dependent_keys``)
from ``answers`` into ``stale_answers``, keeping the value, the parent it was given toward,
when it was set aside and the scheme version it was answered under. Everything that reads
labels reads ``answers`` only, so the dashboard, agreement, the review queue and the
majority in exports leave stale answers out without knowing about them.

The annotation's ``revision`` is bumped (an open tab gets the usual conflict instead of
writing the old answers back), the change is an ``AnnotationEvent`` of kind *reparent* by
the person who moved the comment, and a submitted annotation that now lacks a required
answer goes back to draft: the queue hands out comments the annotator has not submitted or
skipped, so the comment comes back to them with no change to the queue (and the comment's
count of submitted labels, ``label_counts``, drops by the labels reopened). A top-level
comment that becomes a reply loses nothing but is now asked the parent questions, so its
submitted annotations go back to draft the same way. Moving the comment back to its first
parent restores nothing: the annotator answers again, against the parent they now see.

Each stale entry is ``{"value", "parent_id", "parent_source_id", "marked_stale_at" (ISO
8601), "scheme_version"}``; a later move replaces the entry of a question answered again.
Gold labels follow the same rules (``review.gold``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from annotator.corpus.models import Comment
from annotator.corpus.moves import MoveImpact
from annotator.labelling.label_counts import add_submitted
from annotator.labelling.models import Annotation, AnnotationEvent, LabelScheme
from annotator.labelling.scheme import Kind, Scheme, Target, missing_answers
from annotator.labelling.schemes import current_scheme_for


def parent_dependent_keys(schemes: Iterable[Scheme], *, is_reply: bool) -> set[str]:
    """Keys of the questions whose answers depend on the comment's parent, for a comment
    that is a reply (``is_reply``) or top-level after its move.

    Questions judged against the parent; when it becomes top-level, also the questions asked
    of replies only; and the questions shown only because of one of those answers
    (``show_if``), transitively. Several schemes (the current one and those the answers were
    given under) give the union, so a key only an old version had is not missed.
    """
    keys: set[str] = set()
    for scheme in schemes:
        own = set()
        # show_if always names a question above (parse_scheme), so one pass in order is enough.
        for question in scheme.questions:
            if (
                question.target == Target.PARENT
                or (question.replies_only and not is_reply)
                or (question.show_if is not None and question.show_if.question in own)
            ):
                own.add(question.key)
        keys |= own
    return keys


def stale_entry(
    value: Any, *, parent: Comment | None, at: datetime, scheme_version: int | None
) -> dict[str, Any]:
    """What is kept of one answer set aside (the shape is in the module docstring)."""
    return {
        "value": value,
        "parent_id": parent.pk if parent else None,
        "parent_source_id": parent.source_id if parent else None,
        "marked_stale_at": at.isoformat(),
        "scheme_version": scheme_version,
    }


def split_stale(
    answers: Mapping[str, Any], keys: set[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``answers`` split into (still live, set aside) by the parent-dependent ``keys``."""
    live = {k: v for k, v in answers.items() if k not in keys}
    gone = {k: v for k, v in answers.items() if k in keys}
    return live, gone


def _reason(old_parent: Comment | None, new_parent: Comment | None, stale: list[str]) -> str:
    before = f"#{old_parent.pk}" if old_parent else "the article"
    after = f"#{new_parent.pk}" if new_parent else "the article"
    text = f"The comment now answers {after} instead of {before}"
    if stale:
        return f"{text}: the answers about its parent were set aside ({', '.join(stale)})."
    return f"{text}: it is now asked the questions about its parent."


@dataclass(frozen=True)
class _Change:
    annotation: Annotation
    live: dict[str, Any]
    gone: dict[str, Any]
    reopen: bool


def _changes(
    annotations: Iterable[Annotation], current: LabelScheme, *, is_reply: bool
) -> list[_Change]:
    """What a move does to each annotation: the answers set aside, whether it reopens."""
    changes = []
    for annotation in annotations:
        schemes = [current.scheme, annotation.scheme.scheme]
        live, gone = split_stale(
            annotation.answers, parent_dependent_keys(schemes, is_reply=is_reply)
        )
        # Complete under the scheme it was submitted with: a scheme change alone does not
        # reopen anything here.
        reopen = annotation.status == Annotation.Status.SUBMITTED and bool(
            missing_answers(annotation.scheme.scheme, live, is_reply=is_reply)
        )
        if gone or reopen:
            changes.append(_Change(annotation, live, gone, reopen))
    return changes


def annotation_impact(
    sender: type, comment: Comment, new_parent: Comment | None, **kwargs: Any
) -> MoveImpact:
    """``move_impact_asked`` receiver: the answers and annotations a move would change."""
    annotations = Annotation.objects.filter(comment=comment).select_related("scheme")
    current = current_scheme_for(comment.article.project)
    changes = _changes(annotations, current, is_reply=new_parent is not None)
    with_stale = [c for c in changes if c.gone]
    return MoveImpact(
        answers=sum(len(c.gone) for c in with_stale),
        annotators=len(with_stale),
        reopened=sum(1 for c in changes if c.reopen),
    )


def set_aside_stale_answers(
    sender: type,
    comment: Comment,
    old_parent_id: int | None,
    new_parent: Comment | None,
    actor=None,
    **kwargs: Any,
) -> int:
    """``parent_changed`` receiver: set aside the moved comment's parent-dependent answers.

    In ``move_under``'s transaction, with the annotations locked; a constant number of
    queries whatever the number of annotations. Returns how many annotations changed.
    """
    is_reply = new_parent is not None
    with transaction.atomic():
        annotations = list(
            Annotation.objects.select_for_update(of=("self",))
            .filter(comment=comment)
            .select_related("scheme")
            .order_by("pk")
        )
        if not annotations:
            return 0
        current = current_scheme_for(comment.article.project)
        changes = _changes(annotations, current, is_reply=is_reply)
        if not changes:
            return 0
        old_parent = (
            Comment.objects.only("pk", "source_id").filter(pk=old_parent_id).order_by("pk").first()
            if old_parent_id
            else None
        )
        now = timezone.now()
        events = []
        for change in changes:
            annotation = change.annotation
            before = annotation.snapshot()
            stale = dict(annotation.stale_answers)
            for key, value in change.gone.items():
                stale[key] = stale_entry(
                    value,
                    parent=old_parent,
                    at=now,
                    scheme_version=annotation.answered_under.get(key, annotation.scheme.version),
                )
            annotation.answers = change.live
            annotation.answered_under = {
                k: v for k, v in annotation.answered_under.items() if k in change.live
            }
            annotation.stale_answers = stale
            if change.reopen:
                annotation.status = Annotation.Status.DRAFT
            annotation.revision += 1
            annotation.updated_at = now
            after = annotation.snapshot()
            after["parent_change"] = {
                "from": old_parent_id,
                "to": new_parent.pk if new_parent else None,
                "stale": sorted(change.gone),
                "reopened": change.reopen,
                "reason": _reason(old_parent, new_parent, sorted(change.gone)),
            }
            events.append(
                AnnotationEvent(
                    annotation=annotation,
                    actor=actor,
                    at=now,
                    kind=AnnotationEvent.Kind.REPARENT,
                    revision=annotation.revision,
                    before=before,
                    after=after,
                )
            )
        Annotation.objects.bulk_update(
            [c.annotation for c in changes],
            ["answers", "answered_under", "stale_answers", "status", "revision", "updated_at"],
            batch_size=500,
        )
        AnnotationEvent.objects.bulk_create(events, batch_size=500)
        # Submitted labels sent back to draft no longer count toward k (label_counts.py).
        reopened = sum(change.reopen for change in changes)
        add_submitted(comment.article.project_id, comment.pk, -reopened)
    return len(changes)


@dataclass(frozen=True)
class StaleAnswer:
    """One answer set aside, as the workspace shows it to the annotator who gave it."""

    question: str
    title: str
    value: Any
    value_label: str
    parent_id: int | None
    marked_stale_at: datetime | None
    answered_again: bool


def stale_answers_of(annotation: Annotation | None, scheme: Scheme) -> list[StaleAnswer]:
    """The annotation's (or a gold label's: same fields) answers set aside by a move, in
    scheme order (no query: they live on the row). Labels come from ``scheme``; a key or
    value it no longer has is shown as stored."""
    if annotation is None or not annotation.stale_answers:
        return []
    order = {q.key: i for i, q in enumerate(scheme.questions)}
    items = sorted(annotation.stale_answers.items(), key=lambda kv: (order.get(kv[0], 1e9), kv[0]))
    result = []
    for key, entry in items:
        question = scheme.question(key)
        value = entry.get("value")
        at = entry.get("marked_stale_at")
        result.append(
            StaleAnswer(
                question=key,
                title=question.title if question else key,
                value=value,
                value_label=_value_label(question, value),
                parent_id=entry.get("parent_id"),
                marked_stale_at=parse_datetime(at) if isinstance(at, str) else None,
                answered_again=annotation.answers.get(key) not in (None, "", []),
            )
        )
    return result


def _value_label(question, value: Any) -> str:
    values = value if isinstance(value, list) else [value]
    if question is None or question.kind == Kind.TEXT:
        return ", ".join(str(v) for v in values)
    return ", ".join((choice.label if (choice := question.choice(v)) else str(v)) for v in values)
