"""What an export's rows are: articles, comments, their annotations, gold and majorities.

Plain slotted dataclasses, built by ``building.RowBuilder`` and read by every exporter. Rows
and the label objects in them are read-only: the row stream hands the same answers,
majority and final dicts to every row with the same labels (see ``building.py``), so an
exporter that converts a label object may convert each once (``IdentityMemo``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

INTERN_LIMIT = 10_000  # distinct label texts / combinations / objects remembered


@dataclass(slots=True)
class ArticleRow:
    """An article as exported. ``meta`` is the stored JSON text, passed through unparsed."""

    pk: int
    source_id: str
    title: str
    body: str
    url: str
    source: str
    published_at: datetime | None
    meta: str
    split: str | None


@dataclass(slots=True)
class AnnotationRow:
    """One annotator's submitted annotation of one comment, restricted to the chosen questions."""

    annotator: str
    answers: dict[str, Any]
    scheme_version: int
    answered_under: dict[str, int]
    time_spent_ms: int
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    flagged: bool
    note: str
    # Answers set aside when the comment was re-parented (module docstring, "Stale").
    stale: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class GoldRow:
    """A comment's gold answers (restricted to the chosen questions) and who settled them."""

    answers: dict[str, Any]
    method: str
    decided_by: str
    decided_at: datetime
    scheme_version: int


@dataclass(slots=True, frozen=True)
class Majority:
    """The majority answer to one question for one comment (see the module docstring).

    ``value`` is a string, a list of strings (multiple choice), or ``None`` when nobody
    answered (``votes == 0``) or the answers tie (``tied`` lists the tied answers).
    """

    value: Any
    agree: int
    votes: int
    tied: tuple[str, ...] = ()

    @property
    def support(self) -> float | None:
        """Share of the voters who gave the majority answer; None when nobody voted."""
        return round(self.agree / self.votes, 4) if self.votes else None

    @property
    def is_tie(self) -> bool:
        return bool(self.tied)


NO_VOTES = Majority(None, 0, 0)


@dataclass(slots=True)
class CommentRow:
    """A comment as exported, with its labels.

    ``meta`` is the stored JSON text (``"{}"`` when pseudonymised). ``context`` rows are
    ancestors of kept comments that a filter left out; they carry no labels.
    """

    pk: int
    article_pk: int
    article_id: str
    comment_id: str
    parent_id: str | None
    depth: int
    position: int
    author: str
    text: str
    posted_at: datetime | None
    meta: str
    split: str | None
    context: bool
    annotations: list[AnnotationRow]
    majority: dict[str, Majority]
    final: dict[str, Any] | None = None
    gold: GoldRow | None = None
    # Model label -> question -> {"answer", "confidence"} (rows.py, "Predictions"); None
    # where the comment has none (or the export carries none).
    predictions: dict[str, dict[str, dict[str, Any]]] | None = None

    @property
    def labelled(self) -> bool:
        return bool(self.annotations)


class IdentityMemo:
    """``convert(value)`` worked out once per object, for the label objects rows share.

    The row stream hands the same answers, majority and final dicts to every row with the
    same labels, so exporters convert each once (JSON, CSV cells, Arrow values). The memo
    keeps each object it remembers, so no other object can take its ``id``; it remembers at
    most ``limit`` of them and converts the rest every time.
    """

    def __init__(self, convert: Callable[[Any], Any], limit: int = INTERN_LIMIT):
        self._convert = convert
        self._limit = limit
        self._kept: list[Any] = []
        # id -> converted value: ``known.get(id(value))`` in a hot loop spares a call (the
        # converted value must be truthy for ``known.get(id(v)) or memo(v)`` to be right).
        self.known: dict[int, Any] = {}

    def __call__(self, value: Any) -> Any:
        converted = self.known.get(id(value))
        if converted is not None:
            return converted
        converted = self._convert(value)
        if len(self.known) < self._limit:
            self._kept.append(value)
            self.known[id(value)] = converted
        return converted
