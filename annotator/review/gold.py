"""Writing gold labels: one reviewer's decision at a time, or unanimous comments in bulk.

``save_gold`` is the one write path for a reviewer's decision. Like ``save_annotation`` it
uses optimistic locking: the caller says which ``revision`` it started from (0: no gold
yet) and a save from any other revision raises ``GoldConflict`` and writes nothing, so two
reviewers never silently overwrite each other. Gold must be complete: every required
question the current scheme shows for the comment is answered, or ``GoldInvalid`` says
which are missing. Every change writes a ``GoldEvent`` with the state before and after.

``set_aside_stale_gold`` follows a re-parent: gold answers about the comment's old parent
move from ``answers`` to ``stale_answers`` (the rules are ``labelling.stale``'s), with a
``GoldEvent`` by the person who moved the comment. The label itself stays, so the comment
keeps the rest of its gold; a reviewer completes it on the adjudication page.

``accept_unanimous`` turns every comment whose annotators all gave the same answers (as
``queue`` defines it) into gold with method *accepted*, in a constant number of queries: the
candidates come from the queue's kept scores, and the rows go in one statement on PostgreSQL
and in batches as large as SQLite allows (``insert_batch_size``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from annotator.corpus.models import Comment, Project
from annotator.corpus.moves import MoveImpact
from annotator.labelling.models import LabelScheme
from annotator.labelling.scheme import clean_answers, missing_answers
from annotator.labelling.schemes import current_scheme_for
from annotator.labelling.stale import parent_dependent_keys, split_stale, stale_entry
from annotator.review.models import GoldEvent, GoldLabel
from annotator.review.queue import AgreedComment, review_state

ADJUDICATED = GoldLabel.Method.ADJUDICATED
ACCEPTED = GoldLabel.Method.ACCEPTED
NOTE_MAX_LENGTH = 10_000
SQLITE_MAX_PARAMETERS = 32_766  # SQLite's default limit of parameters a statement since 3.32


class GoldConflict(Exception):
    """The gold label changed since the reviewer's form was loaded (another reviewer, tab)."""

    def __init__(self, current: GoldLabel | None, base_revision: int) -> None:
        self.current = current
        self.base_revision = base_revision
        super().__init__(
            f"The gold label is at revision {current.revision if current else 0}, "
            f"the form was loaded at revision {base_revision}."
        )


class GoldInvalid(Exception):
    """Answers that cannot be gold: bad values (``errors`` by key) or ``missing`` questions."""

    def __init__(self, errors: dict[str, str], missing: list[str]) -> None:
        self.errors = errors
        self.missing = missing
        parts = [f"{key}: {error}" for key, error in errors.items()]
        if missing:
            parts.append(f"required answers missing: {', '.join(missing)}")
        super().__init__("; ".join(parts))


def save_gold(
    comment: Comment,
    answers: Mapping[str, Any],
    reviewer,
    *,
    revision: int,
    note: str = "",
    method: str = ADJUDICATED,
    scheme: LabelScheme | None = None,
) -> GoldLabel:
    """Set the gold answers of ``comment`` as ``reviewer`` decided them.

    ``revision`` is the gold label's revision the reviewer saw (0: none yet). Raises
    ``GoldConflict`` for a stale revision and ``GoldInvalid`` for answers the current scheme
    refuses or that leave a required question open. A save that changes nothing returns the
    stored label untouched (no new revision, no history row). ``scheme`` is the project's
    current scheme when the caller has it already.
    """
    if method not in GoldLabel.Method.values:
        raise ValueError(f"unknown method {method!r}")
    scheme = scheme or current_scheme_for(comment.article.project)
    is_reply = comment.parent_id is not None
    note = (note or "").strip()[:NOTE_MAX_LENGTH]
    try:
        with transaction.atomic():
            gold = (
                GoldLabel.objects.select_for_update(of=("self",))
                .select_related("scheme")
                .filter(comment=comment)
                .first()
            )
            current_revision = gold.revision if gold else 0
            if current_revision != revision:
                raise GoldConflict(gold, revision)
            kept = gold.answers if gold else {}
            cleaned, errors = clean_answers(scheme.scheme, answers, is_reply=is_reply, kept=kept)
            missing = missing_answers(scheme.scheme, cleaned, is_reply=is_reply)
            if errors or missing:
                raise GoldInvalid(errors, missing)
            if gold is None:
                gold = GoldLabel(project_id=comment.article.project_id, comment=comment, revision=0)
                before = None
            else:
                if (
                    gold.answers == cleaned
                    and gold.note == note
                    and gold.method == method
                    and gold.scheme_id == scheme.pk
                    and not gold.needs_review
                ):
                    return gold
                before = gold.snapshot()
            now = timezone.now()
            gold.answers = cleaned
            gold.note = note
            gold.method = method
            gold.scheme = scheme
            gold.decided_by = reviewer
            gold.decided_at = now
            gold.revision += 1
            gold.needs_review = False
            gold.save()
            GoldEvent.objects.create(
                gold=gold,
                actor=reviewer,
                at=now,
                revision=gold.revision,
                before=before,
                after=gold.snapshot(),
            )
    except IntegrityError:
        # Two first saves raced: the other one created the row. Same as a stale revision.
        raise GoldConflict(GoldLabel.objects.filter(comment=comment).first(), revision) from None
    return gold


def insert_batch_size(model: type[models.Model]) -> int | None:
    """Rows per ``INSERT`` when ``model`` is written with ``bulk_create`` here (None: all).

    SQLite takes as many rows as its limit of parameters per statement allows (read from the
    connection, at most the default 32,766 of SQLite 3.32 and later), where Django 5.2
    assumes the 999 of older SQLite: a batch of 111 gold labels. PostgreSQL does not use
    ``bulk_create`` here (see ``accept_unanimous``).
    """
    if connection.vendor != "sqlite":
        return None
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    return max(_sqlite_parameter_limit() // len(fields), 1)


def _sqlite_parameter_limit() -> int:
    """The connection's limit, at most SQLite's default (some builds allow far more)."""
    connection.ensure_connection()
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return min(limit, SQLITE_MAX_PARAMETERS)


@contextmanager
def _sqlite_parameters_allowed() -> Iterator[None]:
    """Let Django's bulk inserts use SQLite's real parameter limit, not 999, meanwhile.

    Django 5.2 caps every ``bulk_create`` batch at 999 parameters on SQLite (Django 6 reads
    the limit from the connection, as this does). Only this thread's connection is changed.
    """
    if connection.vendor != "sqlite":
        yield
        return
    features = connection.features
    before = features.__dict__.get("max_query_params")
    features.max_query_params = _sqlite_parameter_limit()
    try:
        yield
    finally:
        if before is None:
            del features.max_query_params
        else:
            features.max_query_params = before


def _accept_with_bulk_create(candidates: list[AgreedComment], scheme, reviewer, now) -> None:
    """Gold labels, then their events, with ``bulk_create`` (SQLite: no round trips to save)."""
    golds = [
        GoldLabel(
            project_id=scheme.project_id,
            comment_id=agreed.comment_id,
            scheme=scheme,
            # A copy: the queue shares one dict between comments with the same answers.
            answers=dict(agreed.answers),
            method=ACCEPTED,
            decided_by=reviewer,
            decided_at=now,
            revision=1,
        )
        for agreed in candidates
    ]
    with _sqlite_parameters_allowed():
        GoldLabel.objects.bulk_create(golds, batch_size=insert_batch_size(GoldLabel))
        GoldEvent.objects.bulk_create(
            [
                GoldEvent(
                    gold=gold,
                    actor=reviewer,
                    at=now,
                    revision=1,
                    before=None,
                    after=gold.snapshot(),
                )
                for gold in golds
            ],
            batch_size=insert_batch_size(GoldEvent),
        )


def _accept_on_postgres(candidates: list[AgreedComment], scheme, reviewer, now) -> None:
    """Gold labels and their events in one statement: comment ids and a few answer sets.

    Building 2 model instances a comment and quoting every answer twice took most of the
    time (seconds at 13,000 comments, whatever the batch size); unanimous comments share a
    handful of answer sets, so only those travel, with each comment's index into them. The
    event's ``after`` is ``GoldLabel.snapshot()`` built in SQL (tests compare the two).
    """
    texts: list[str] = []
    index_of: dict[str, int] = {}
    comment_ids, answer_indexes = [], []
    for agreed in candidates:
        text = json.dumps(agreed.answers)
        if text not in index_of:
            texts.append(text)
            index_of[text] = len(texts)  # PostgreSQL arrays count from 1
        comment_ids.append(agreed.comment_id)
        answer_indexes.append(index_of[text])
    quote = connection.ops.quote_name

    def columns(model: type[models.Model], *names: str) -> str:
        return ", ".join(quote(model._meta.get_field(name).column) for name in names)

    gold_table, event_table = quote(GoldLabel._meta.db_table), quote(GoldEvent._meta.db_table)
    gold_columns = columns(
        GoldLabel, "project", "comment", "scheme", "answers", "stale_answers", "needs_review",
        "method", "note", "decided_by", "decided_at", "revision",
    )  # fmt: skip
    event_columns = columns(GoldEvent, "gold", "actor", "at", "revision", "before", "after")
    sql = f"""
        WITH rows AS (
            SELECT u.comment_id, (%s::jsonb[])[u.answers] AS answers
            FROM unnest(%s::bigint[], %s::int[]) AS u(comment_id, answers)
        ), added AS (
            INSERT INTO {gold_table} ({gold_columns})
            SELECT %s, comment_id, %s, answers, '{{}}'::jsonb, false, %s, '', %s, %s, 1 FROM rows
            RETURNING id, answers
        )
        INSERT INTO {event_table} ({event_columns})
        SELECT id, %s, %s, 1, NULL, jsonb_build_object(
            'answers', answers, 'method', %s, 'note', '', 'scheme_version', %s)
        FROM added
    """
    params = [
        texts,
        comment_ids,
        answer_indexes,
        scheme.project_id,
        scheme.pk,
        ACCEPTED.value,
        reviewer.pk,
        now,
        reviewer.pk,
        now,
        ACCEPTED.value,
        scheme.version,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def accept_unanimous(project: Project, reviewer) -> int:
    """Make gold of every comment whose annotators all agree; return how many were accepted.

    A comment qualifies when it has no gold, two or more submitted annotations with the same
    answers on every question (``queue.disagreement`` is 0: equal keys, equal values,
    multiple choice compared as sets), nobody flagged it for review, and the shared answers
    are valid and complete under the current scheme (``queue.agreed_answers``). Those are
    the comments the queue page counts as "unanimous". Running it again accepts nothing new.
    Comments whose gold a move sent back to review (``needs_review``) are settled again one
    by one with ``save_gold``. Queries: scheme, the queue's (one when the reviewer's queue
    page has just read it), the reopened gold among the candidates, then in one transaction
    one statement on PostgreSQL, or on SQLite the gold labels and their history events in
    batches of ``insert_batch_size``.
    """
    scheme = current_scheme_for(project)
    for _attempt in range(3):
        candidates = review_state(project, scheme=scheme).unanimous
        if not candidates:
            return 0
        # Comments whose gold a move sent back to review have a row already: settled again
        # one by one (there are few), the others in bulk.
        reopened = dict(
            GoldLabel.objects.filter(
                project=project,
                needs_review=True,
                comment_id__in=[c.comment_id for c in candidates],
            ).values_list("comment_id", "revision")
        )
        if reopened:
            _accept_reopened(
                [c for c in candidates if c.comment_id in reopened], reopened, scheme, reviewer
            )
            candidates = [c for c in candidates if c.comment_id not in reopened]
            if not candidates:
                return len(reopened)
        now = timezone.now()
        accept = (
            _accept_on_postgres if connection.vendor == "postgresql" else _accept_with_bulk_create
        )
        try:
            with transaction.atomic():
                accept(candidates, scheme, reviewer, now)
        except IntegrityError:
            # A reviewer settled one of these comments meanwhile: read the state again.
            continue
        return len(candidates) + len(reopened)
    raise GoldConflict(None, 0)


def _accept_reopened(
    candidates: list[AgreedComment], revisions: dict[int, int], scheme, reviewer
) -> None:
    """Settle again, as accepted, the unanimous comments whose gold a move reopened."""
    comments = Comment.objects.select_related("article").in_bulk([c.comment_id for c in candidates])
    for agreed in candidates:
        save_gold(
            comments[agreed.comment_id],
            agreed.answers,
            reviewer,
            revision=revisions[agreed.comment_id],
            method=ACCEPTED,
            scheme=scheme,
        )


# -- a re-parented comment -------------------------------------------------------------------


def _stale_gold_keys(gold: GoldLabel, is_reply: bool) -> set[str]:
    current = current_scheme_for(gold.comment.article.project)
    return parent_dependent_keys([current.scheme, gold.scheme.scheme], is_reply=is_reply)


def gold_impact(
    sender: type, comment: Comment, new_parent: Comment | None, **kwargs: Any
) -> MoveImpact:
    """``move_impact_asked`` receiver: 1 when the comment's gold would lose answers or go
    back to review."""
    gold = GoldLabel.objects.select_related("scheme").filter(comment=comment).first()
    if gold is None:
        return MoveImpact()
    gold.comment = comment
    is_reply = new_parent is not None
    live, gone = split_stale(gold.answers, _stale_gold_keys(gold, is_reply))
    current = current_scheme_for(comment.article.project)
    incomplete = missing_answers(current.scheme, live, is_reply=is_reply)
    return MoveImpact(gold=1 if gone or incomplete else 0)


def set_aside_stale_gold(
    sender: type,
    comment: Comment,
    old_parent_id: int | None,
    new_parent: Comment | None,
    actor=None,
    **kwargs: Any,
) -> bool:
    """``parent_changed`` receiver: set aside the moved comment's parent-dependent gold
    answers, bumping the revision (a reviewer's open form gets a conflict), and send gold
    that now lacks a required answer back to review (``needs_review``: also a top-level
    comment made a reply, which loses nothing but is now asked its stance toward the
    parent); True if the gold changed."""
    with transaction.atomic():
        gold = (
            GoldLabel.objects.select_for_update(of=("self",))
            .select_related("scheme")
            .filter(comment=comment)
            .first()
        )
        if gold is None:
            return False
        gold.comment = comment
        is_reply = new_parent is not None
        live, gone = split_stale(gold.answers, _stale_gold_keys(gold, is_reply))
        current = current_scheme_for(comment.article.project)
        incomplete = bool(missing_answers(current.scheme, live, is_reply=is_reply))
        if not gone and not incomplete:
            return False
        old_parent = (
            Comment.objects.only("pk", "source_id").filter(pk=old_parent_id).order_by("pk").first()
            if old_parent_id
            else None
        )
        now = timezone.now()
        before = gold.snapshot()
        stale = dict(gold.stale_answers)
        for key, value in gone.items():
            stale[key] = stale_entry(
                value, parent=old_parent, at=now, scheme_version=gold.scheme.version
            )
        gold.answers = live
        gold.stale_answers = stale
        gold.revision += 1
        # Gold that now lacks an answer it needs (the stance toward the new parent) goes
        # back to the reviewers; gold still complete (a reply made top-level) stays settled.
        gold.needs_review = incomplete
        gold.save(update_fields=["answers", "stale_answers", "revision", "needs_review"])
        after = gold.snapshot()
        after["parent_change"] = {
            "from": old_parent_id,
            "to": new_parent.pk if new_parent else None,
            "stale": sorted(gone),
        }
        GoldEvent.objects.create(
            gold=gold, actor=actor, at=now, revision=gold.revision, before=before, after=after
        )
    return True
