"""Writing predictions in bulk: the one path by which an import, the learner and an LLM run
store what a model answered, so that every source is checked and stored alike.

Answers must have been checked against the scheme first (``answers.check_answers``). A
prediction for a (model version, comment, question) that exists already is replaced: a
model version answers each question of a comment once, and a re-run of the same version
means its newer answer. ``stale_since`` is cleared with it, since the new answer was made
about the comment as it is now.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from django.db import connection, transaction
from django.utils import timezone

from annotator.assist.answers import CheckedAnswer
from annotator.assist.models import MachineLabeller, Prediction

BATCH = 2000  # rows per INSERT ... ON CONFLICT (SQLite)
COPY_BATCH = 50_000  # rows per COPY into the temporary table (PostgreSQL)


@dataclass(frozen=True)
class PredictionItem:
    """What a model said about one comment, checked."""

    comment_id: int
    answers: list[CheckedAnswer]
    prompt_version: str = ""
    raw_response: str = ""
    scheme_version: int | None = None  # the run's scheme version when None
    extra: dict = field(default_factory=dict)


def _rows(labeller: MachineLabeller, items: Iterable[PredictionItem], scheme_version: int):
    """One tuple a prediction, in ``_COLUMNS`` order (plain tuples: building 20,000 model
    instances took as long as the whole write)."""
    now = timezone.now()
    for item in items:
        version = item.scheme_version or scheme_version
        for checked in item.answers:
            yield (
                labeller.pk,
                item.comment_id,
                checked.question,
                checked.answer,
                checked.confidence,
                version,
                item.prompt_version,
                item.raw_response,
                None,  # stale_since: the answer is about the comment as it is now
                now,
            )


def _batches(rows: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    while batch := list(islice(rows, size)):
        yield batch


_UPDATED = (
    "answer",
    "confidence",
    "scheme_version",
    "prompt_version",
    "raw_response",
    "stale_since",
    "created_at",
)
_COLUMNS = ("labeller_id", "comment_id", "question", *_UPDATED)


def write_predictions(
    labeller: MachineLabeller, items: Iterable[PredictionItem], *, scheme_version: int
) -> int:
    """Store ``items`` for ``labeller`` in batches, replacing earlier answers of the same
    version; returns the number of predictions written. Run it in the caller's
    transaction when the whole set must be all or nothing.

    On PostgreSQL each batch is copied into a temporary table and upserted from there in
    one statement: the ORM's multi-row ``INSERT ... ON CONFLICT`` with ten parameters a row
    ran at about 5,000 rows a second, most of it binding and parsing parameters.
    """
    rows = _rows(labeller, items, scheme_version)
    if connection.vendor == "postgresql":
        return _write_postgresql(rows)
    written = 0
    for batch in _batches(rows, BATCH):
        Prediction.objects.bulk_create(
            [Prediction(**dict(zip(_COLUMNS, row, strict=True))) for row in batch],
            update_conflicts=True,
            unique_fields=["labeller", "comment", "question"],
            update_fields=list(_UPDATED),
        )
        written += len(batch)
    return written


def _write_postgresql(rows: Iterator[tuple]) -> int:
    table = connection.ops.quote_name(Prediction._meta.db_table)
    columns = ", ".join(_COLUMNS)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in _UPDATED)
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS assist_prediction_incoming "
            f"(LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY) ON COMMIT DROP"
        )
        for batch in _batches(rows, COPY_BATCH):
            cursor.execute("TRUNCATE assist_prediction_incoming")
            with cursor.copy(f"COPY assist_prediction_incoming ({columns}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row((*row[:3], json.dumps(row[3]), *row[4:]))
            # DISTINCT ON: a batch naming one question twice keeps its last answer, as the
            # row-by-row upsert would (ON CONFLICT refuses to touch a row twice).
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "
                f"SELECT DISTINCT ON (labeller_id, comment_id, question) {columns} "
                "FROM assist_prediction_incoming "
                "ORDER BY labeller_id, comment_id, question, id DESC "
                f"ON CONFLICT (labeller_id, comment_id, question) DO UPDATE SET {updates}"
            )
            written += len(batch)
    return written
