"""Storing one save of an annotation: the row, its history event, the annotator's hold and
the comment's count of submitted labels.

``annotations.save_annotation`` decides what a save stores; ``store_save`` stores it, and
only while the annotation is still at the revision that decision was made from (compare and
set: ``WHERE revision = ...``; a first save inserts with ``ON CONFLICT DO NOTHING``). Two
saves from the same revision therefore never both apply, and no row lock is held while
Python checks the answers: the loser writes nothing and ``save_annotation`` reads again.

On PostgreSQL the whole save is one statement: the annotation's ``INSERT`` or ``UPDATE``
with the history row, the hold on the comment and, when the save moves the annotation into
or out of *submitted*, the comment's label count and the project's count of full comments
(``label_counts``) as data-modifying ``WITH`` parts that only act when the annotation row
was written. One statement is atomic by itself (no BEGIN or
COMMIT round trips), and its text is built once per process, not compiled by the ORM on
every save. Other databases (SQLite in development and tests) get the same writes through
the ORM in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from annotator.labelling.label_counts import add_submitted
from annotator.labelling.models import (
    Annotation,
    AnnotationEvent,
    Claim,
    CommentLabelCount,
    ProjectLabelCounts,
)


@dataclass(frozen=True)
class Hold:
    """What a save does to the annotator's claim on the comment (see assignment.py).

    ``end``: a submit or skip ends it, in the same statement so its takers are never
    under-counted; ``renew_until``: a draft holds the comment until then (the full claim
    length, written even when the viewing hold has lapsed); neither: left as it is.
    """

    end: bool = False
    renew_until: datetime | None = None


def store_save(
    annotation: Annotation,
    *,
    is_new: bool,
    changed: bool,
    base_revision: int,
    elapsed_ms: int,
    event: AnnotationEvent | None,
    hold: Hold,
    now: datetime,
    was_submitted: bool = False,
) -> bool:
    """Write ``annotation`` (already holding the new state) if it is still at ``base_revision``.

    ``changed`` False stores only the time spent (no history, same revision); otherwise the
    row takes every field a person can change, its ``revision`` (``base_revision + 1``) and
    ``event`` is stored with it. Returns False, having written nothing, when another save
    moved the revision first (or created the row, for ``is_new``). ``now`` is the save's
    time (a renewed hold's ``claimed_at``); ``was_submitted`` whether the stored row (at
    ``base_revision``) is submitted, so that a change of that moves the label counts (see
    ``label_counts``) in the same write. On success the row's id, time spent and submission
    time are set on ``annotation`` as the database has them.
    """
    counted = 0
    if changed:
        counted = int(annotation.status == Annotation.Status.SUBMITTED) - int(was_submitted)
    args = (annotation, is_new, changed, base_revision, elapsed_ms, event, hold, now, counted)
    if connection.vendor == "postgresql":
        return _store_in_one_statement(*args)
    return _store_with_orm(*args)


# -- PostgreSQL: one statement ----------------------------------------------------------------

_CHANGED_FIELDS = (
    "scheme",
    "answers",
    "answered_under",
    "status",
    "skip_reason",
    "flagged",
    "note",
    "suggestions",
    "updated_at",
)
_INSERT_FIELDS = (
    "project",
    "comment",
    "annotator",
    *_CHANGED_FIELDS,
    "stale_answers",
    "time_spent_ms",
    "revision",
    "created_at",
    "submitted_at",
)
_JSON_FIELDS = {"answers", "answered_under", "stale_answers", "suggestions"}


def _column(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _placeholder(name: str) -> str:
    return "%s::jsonb" if name in _JSON_FIELDS else "%s"


@cache
def _statement(
    is_new: bool, changed: bool, end_hold: bool, renew_hold: bool, counted: int = 0
) -> str:
    """The SQL of one kind of save (built once per process)."""
    q = connection.ops.quote_name
    annotation = q(Annotation._meta.db_table)
    event = q(AnnotationEvent._meta.db_table)
    claim = q(Claim._meta.db_table)
    col = lambda name: _column(Annotation, name)  # noqa: E731
    returning = f"RETURNING {col('id')}, {col('time_spent_ms')}, {col('submitted_at')}"
    if is_new:
        names = ", ".join(col(name) for name in _INSERT_FIELDS)
        values = ", ".join(_placeholder(name) for name in _INSERT_FIELDS)
        conflict = f"{col('comment')}, {col('annotator')}"
        saved = (
            f"INSERT INTO {annotation} ({names}) VALUES ({values}) "
            f"ON CONFLICT ({conflict}) DO NOTHING {returning}"
        )
    else:
        sets = [f"{col('time_spent_ms')} = {col('time_spent_ms')} + %s"]
        if changed:
            sets += [f"{col(name)} = {_placeholder(name)}" for name in _CHANGED_FIELDS]
            sets += [
                f"{col('revision')} = {col('revision')} + 1",
                f"{col('submitted_at')} = COALESCE({col('submitted_at')}, %s)",
            ]
        saved = (
            f"UPDATE {annotation} SET {', '.join(sets)} "
            f"WHERE {col('id')} = %s AND {col('revision')} = %s {returning}"
        )
    parts = [f"saved AS ({saved})"]
    if changed:
        e = lambda name: _column(AnnotationEvent, name)  # noqa: E731
        parts.append(
            f"history AS (INSERT INTO {event} ({e('annotation')}, {e('actor')}, {e('at')}, "
            f"{e('kind')}, {e('revision')}, {e('before')}, {e('after')}) "
            f"SELECT saved.{col('id')}, %s, %s, %s, %s, %s::jsonb, %s::jsonb FROM saved)"
        )
    c = lambda name: _column(Claim, name)  # noqa: E731
    if end_hold:
        parts.append(
            f"hold AS (DELETE FROM {claim} WHERE {c('comment')} = %s AND {c('annotator')} = %s "
            f"AND EXISTS (SELECT 1 FROM saved))"
        )
    elif renew_hold:
        parts.append(
            f"hold AS (INSERT INTO {claim} ({c('project')}, {c('comment')}, {c('annotator')}, "
            f"{c('claimed_at')}, {c('expires_at')}) SELECT %s, %s, %s, %s, %s FROM saved "
            f"ON CONFLICT ({c('comment')}, {c('annotator')}) "
            f"DO UPDATE SET {c('expires_at')} = EXCLUDED.{c('expires_at')})"
        )
    if counted:
        # The comment's count moves by one; the project's full comments move with it when
        # the new count reaches the row's k (a rise) or falls just below it (a fall).
        count = q(CommentLabelCount._meta.db_table)
        full = q(ProjectLabelCounts._meta.db_table)
        n = lambda name: _column(CommentLabelCount, name)  # noqa: E731
        p = lambda name: _column(ProjectLabelCounts, name)  # noqa: E731
        parts.append(
            f"counted AS (INSERT INTO {count} ({n('comment')}, {n('project')}, {n('submitted')}) "
            f"SELECT %s, %s, %s FROM saved ON CONFLICT ({n('comment')}) "
            f"DO UPDATE SET {n('submitted')} = "
            f"{count}.{n('submitted')} + EXCLUDED.{n('submitted')} "
            f"RETURNING {n('submitted')})"
        )
        reached = f"(SELECT {n('submitted')} FROM counted)" + (" + 1" if counted < 0 else "")
        parts.append(
            f"crossed AS (UPDATE {full} SET {p('full_comments')} = {p('full_comments')} + %s "
            f"WHERE {p('project')} = %s AND {p('k')} = {reached})"
        )
    return f"WITH {', '.join(parts)} SELECT * FROM saved"


def _value(annotation: Annotation, name: str):
    if name in {"project", "comment", "annotator", "scheme"}:
        return getattr(annotation, f"{name}_id")
    value = getattr(annotation, name)
    return json.dumps(value) if name in _JSON_FIELDS else value


def _store_in_one_statement(
    annotation: Annotation,
    is_new: bool,
    changed: bool,
    base_revision: int,
    elapsed_ms: int,
    event: AnnotationEvent | None,
    hold: Hold,
    now: datetime,
    counted: int,
) -> bool:
    renew = hold.renew_until is not None
    sql = _statement(is_new, changed, hold.end, renew and not hold.end, counted)
    if is_new:
        params = [_value(annotation, name) for name in _INSERT_FIELDS]
    else:
        params = [elapsed_ms]
        if changed:
            params += [_value(annotation, name) for name in _CHANGED_FIELDS]
            submitted = annotation.status == Annotation.Status.SUBMITTED
            params.append(now if submitted else None)
        params += [annotation.pk, base_revision]
    if changed:
        params += [
            event.actor_id,
            event.at,
            event.kind,
            event.revision,
            None if event.before is None else json.dumps(event.before),  # SQL NULL, as the ORM
            json.dumps(event.after),
        ]
    if hold.end:
        params += [annotation.comment_id, annotation.annotator_id]
    elif renew:
        params += [
            annotation.project_id,
            annotation.comment_id,
            annotation.annotator_id,
            now,
            hold.renew_until,
        ]
    if counted:
        params += [annotation.comment_id, annotation.project_id, counted]
        params += [counted, annotation.project_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    annotation.pk, annotation.time_spent_ms, annotation.submitted_at = row
    return True


# -- Other databases: the ORM in one transaction ----------------------------------------------


def _store_with_orm(
    annotation: Annotation,
    is_new: bool,
    changed: bool,
    base_revision: int,
    elapsed_ms: int,
    event: AnnotationEvent | None,
    hold: Hold,
    now: datetime,
    counted: int,
) -> bool:
    with transaction.atomic():
        if is_new:
            try:
                with transaction.atomic():
                    annotation.save(force_insert=True)
            except IntegrityError:
                return False
        else:
            fields = (
                {name: getattr(annotation, name) for name in _CHANGED_FIELDS} if changed else {}
            )
            if changed:
                fields.update(revision=F("revision") + 1, submitted_at=annotation.submitted_at)
            stored = Annotation.objects.filter(pk=annotation.pk, revision=base_revision).update(
                time_spent_ms=F("time_spent_ms") + elapsed_ms, **fields
            )
            if not stored:
                return False
        if event is not None:
            event.annotation = annotation
            event.save(force_insert=True)
        if hold.end:
            Claim.objects.filter(
                comment_id=annotation.comment_id, annotator_id=annotation.annotator_id
            ).delete()
        elif hold.renew_until is not None:
            Claim.objects.bulk_create(
                [
                    Claim(
                        project_id=annotation.project_id,
                        comment_id=annotation.comment_id,
                        annotator_id=annotation.annotator_id,
                        claimed_at=now,
                        expires_at=hold.renew_until,
                    )
                ],
                update_conflicts=True,
                unique_fields=["comment", "annotator"],
                update_fields=["expires_at"],
            )
        add_submitted(annotation.project_id, annotation.comment_id, counted)
    return True
