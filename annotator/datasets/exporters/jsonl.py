"""JSON Lines: the canonical import format (docs/formats.md) plus the labels.

An article's record, then its comments in tree order, one JSON object per line. Every field
of the import format is there (``type``, ``id``, ``article_id``, ``parent_id``, ``author``,
``text``, ``posted_at``, ``meta``), so the file imports back with ``import_threads`` into
a project with the same articles and reply trees; importers ignore the extra fields:

* articles: ``split``;
* comments: ``depth``, ``position``, ``split``, ``context`` (an ancestor that a filter left
  out, present so the tree stays whole; it has no labels), ``n_annotations``, and either
  ``annotations`` (one object per submitted annotation: ``annotator``, ``answers``,
  ``scheme_version``, ``answered_under``, ``time_spent_ms``, ``created_at``, ``updated_at``,
  ``submitted_at``, ``flagged``, ``note``, ``stale``: per question set aside by a re-parent,
  ``value``, ``answered_toward_parent`` and ``marked_stale_at``; ``{}`` for most) and
  ``majority`` (per question: ``value``,
  ``support``, ``agree``, ``votes``, ``tied``) with ``labels=all``, or ``final`` (per
  question: the answer: gold where set, else the majority) with ``labels=final``, or
  ``final`` holding the gold answers only with ``labels=gold``; and always ``gold``: the
  reviewer's settled answers (``answers``, ``method`` adjudicated or accepted,
  ``decided_by``, ``decided_at``, ``scheme_version``), or null where none was set;
  and, when the export carries model predictions, ``predictions``: per model
  (``name@version``) and question, ``answer`` and ``confidence`` (``{}`` where the models
  said nothing), apart from every human label (``datasets/predictions.py``). A project
  without models gets no such field.

Times are ISO 8601 in UTC with a ``Z``. ``meta`` is written as stored, without re-parsing.
"""

from __future__ import annotations

from typing import Any, BinaryIO

import orjson

from annotator.datasets.rows import (
    ArticleRow,
    CommentRow,
    GoldRow,
    IdentityMemo,
    Majority,
    RowSource,
)

FILENAME = "comments.jsonl"
KEEPS_TREES = True
COMPRESS = True
FLUSH_BYTES = 1 << 20

_OPTIONS = orjson.OPT_UTC_Z


def dumps(value: Any) -> bytes:
    """JSON bytes as every JSON exporter writes them (UTC times with ``Z``)."""
    return orjson.dumps(value, option=_OPTIONS)


def article_record(row: ArticleRow) -> dict[str, Any]:
    """The import format's article object, plus ``split``."""
    return {
        "type": "article",
        "id": row.source_id,
        "title": row.title,
        "body": row.body,
        "url": row.url,
        "source": row.source,
        "published_at": row.published_at,
        "meta": orjson.Fragment(row.meta),
        "split": row.split,
    }


def majority_record(majority: Majority) -> dict[str, Any]:
    """One question's majority as JSON Lines writes it."""
    return {
        "value": majority.value,
        "support": majority.support,
        "agree": majority.agree,
        "votes": majority.votes,
        "tied": majority.tied,
    }


class CommentRecords:
    """Builds comment records for one export (JSON Lines and nested JSON share it)."""

    def __init__(self, final: bool, predictions: bool = False):
        self.final = final
        self.predictions = predictions
        # Labels are shared between rows: each is encoded once (see rows.IdentityMemo).
        self._majority = IdentityMemo(
            lambda majority: orjson.Fragment(
                dumps({key: majority_record(m) for key, m in majority.items()})
            )
        )
        self._plain = IdentityMemo(lambda value: orjson.Fragment(dumps(value)))

    def _gold(self, gold: GoldRow | None) -> dict[str, Any] | None:
        if gold is None:
            return None
        return {
            "answers": self._plain(gold.answers),
            "method": gold.method,
            "decided_by": gold.decided_by,
            "decided_at": gold.decided_at,
            "scheme_version": gold.scheme_version,
        }

    def __call__(self, row: CommentRow) -> dict[str, Any]:
        """The import format's comment object, plus tree position, split and labels."""
        record: dict[str, Any] = {
            "type": "comment",
            "id": row.comment_id,
            "article_id": row.article_id,
            "parent_id": row.parent_id,
            "author": row.author,
            "text": row.text,
            "posted_at": row.posted_at,
            "meta": orjson.Fragment(row.meta),
            "depth": row.depth,
            "position": row.position,
            "split": row.split,
            "context": row.context,
            "n_annotations": len(row.annotations),
            "gold": self._gold(row.gold),
        }
        if self.predictions:
            record["predictions"] = row.predictions or {}
        if self.final:
            record["final"] = self._plain(row.final) if row.final is not None else {}
            return record
        plain = self._plain
        known = plain.known.get  # Fragments are truthy: a miss falls through to plain()
        record["annotations"] = [
            {
                "annotator": a.annotator,
                "answers": known(id(a.answers)) or plain(a.answers),
                "scheme_version": a.scheme_version,
                "answered_under": known(id(a.answered_under)) or plain(a.answered_under),
                "time_spent_ms": a.time_spent_ms,
                "created_at": a.created_at,
                "updated_at": a.updated_at,
                "submitted_at": a.submitted_at,
                "flagged": a.flagged,
                "note": a.note,
                "stale": a.stale,
            }
            for a in row.annotations
        ]
        record["majority"] = self._majority(row.majority)
        return record


class Lines:
    """Lines written to ``out`` about a megabyte at a time (one write per line is slow)."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.buffer: list[bytes] = []
        self.size = 0

    def write(self, line: bytes) -> None:
        self.buffer.append(line)
        self.size += len(line) + 1
        if self.size >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.buffer.append(b"")
            self.out.write(b"\n".join(self.buffer))
            self.buffer.clear()
            self.size = 0


def write(source: RowSource, out: BinaryIO) -> None:
    """Write every record of ``source`` to ``out`` as JSON Lines, about a megabyte at a time."""
    comment_record = CommentRecords(source.final, source.carries_predictions)
    lines = Lines(out)
    for row in source.records():
        if isinstance(row, CommentRow):
            lines.write(dumps(comment_record(row)))
        else:
            lines.write(dumps(article_record(row)))
    lines.flush()
