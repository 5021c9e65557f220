"""The counts an export collects as its rows stream by: the dataset card's numbers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from annotator.datasets.records import GoldRow, Majority


@dataclass
class ExportStats:
    """What the stream counted as it went: the dataset card's numbers."""

    articles: int = 0
    comments: int = 0
    labelled_comments: int = 0
    gold_comments: int = 0
    gold_methods: Counter[str] = field(default_factory=Counter)
    context_comments: int = 0
    annotations: int = 0
    annotators: set[str] = field(default_factory=set)
    scheme_versions: set[int] = field(default_factory=set)
    split_articles: Counter[str] = field(default_factory=Counter)
    split_comments: Counter[str] = field(default_factory=Counter)
    # Per question: every submitted answer by value (each choice of a multiple answer counts).
    answers: dict[str, dict[str, int]] = field(default_factory=dict)
    # Per question, over labelled comments: the majority (or final) value, ties, no answer.
    majority: dict[str, dict[str, int]] = field(default_factory=dict)
    ties: Counter[str] = field(default_factory=Counter)
    unanswered: Counter[str] = field(default_factory=Counter)
    # Per question, over comments with gold: each gold answer by value.
    gold: dict[str, dict[str, int]] = field(default_factory=dict)

    def add_gold(self, gold: GoldRow) -> None:
        """Count one comment's gold answers."""
        self.gold_comments += 1
        self.gold_methods[gold.method] += 1
        for key, answer in gold.answers.items():
            counts = self.gold.setdefault(key, {})
            for value in answer if isinstance(answer, list) else (answer,):
                counts[value] = counts.get(value, 0) + 1

    def add_answers(self, answers: Mapping[str, Any], times: int = 1) -> None:
        """Count one annotation's answers (``times`` annotations with these answers)."""
        by_key = self.answers
        for key, answer in answers.items():
            counts = by_key.get(key)
            if counts is None:
                counts = by_key[key] = {}
            for value in answer if isinstance(answer, list) else (answer,):
                counts[value] = counts.get(value, 0) + times

    def add_majority(
        self, majority: Mapping[str, Majority], final: Mapping[str, Any] | None, times: int = 1
    ) -> None:
        """Count one labelled comment's majority (or final) answers, ``times`` over."""
        by_key = self.majority
        for key, answer in majority.items():
            value = final[key] if final is not None else answer.value
            if value is None:
                if answer.tied:
                    self.ties[key] += times
                else:
                    self.unanswered[key] += times
                continue
            counts = by_key.get(key)
            if counts is None:
                counts = by_key[key] = {}
            for one in value if isinstance(value, list) else (value,):
                counts[one] = counts.get(one, 0) + times

    @property
    def annotator_count(self) -> int:
        return len(self.annotators)
