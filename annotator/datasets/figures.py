"""Agreement figures as flat records: one per measure, question, subset and annotator pair.

An export's ``agreement.csv`` and its dataset card give the figures of the comments in that
export, counted as the rows stream by (``AgreementCounter``: no second read of the labels);
the API's agreement endpoint gives the whole project's, from ``review.measures``. Both read
answers with the same rules (``review.label_units``) and give the same records.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import orjson

from annotator.corpus.models import Project
from annotator.labelling.scheme import Scheme
from annotator.review.agreement import (
    Estimate,
    QuestionAgreement,
    agreement_from_tally,
    tally_shapes,
)
from annotator.review.label_units import (
    STANCE_QUESTIONS,
    comment_labels,
    entry_keys,
    has_stance_questions,
    readers_for,
    stance_pair,
)
from annotator.review.measures import cached_agreement_report

SUBSETS = ("top-level", "replies")
COMBO_LIMIT = 50_000  # distinct label combinations held before they are folded into shapes

COLUMNS = (
    "question",
    "subset",
    "measure",
    "annotator_a",
    "annotator_b",
    "value",
    "ci_low",
    "ci_high",
    "comments",
)


@dataclass(frozen=True)
class AgreementFigures:
    """The project's agreement table and the stance_article vs stance_parent comparison."""

    table: list[QuestionAgreement]
    stance: dict[str, QuestionAgreement]


def agreement_figures(
    project: Project, *, resamples: int = 1000, seed: int = 0
) -> AgreementFigures:
    """Every agreement figure of ``project``: one streamed read of its submitted labels, or
    none when they have not changed since the dashboard or the API last asked."""
    return AgreementFigures(*cached_agreement_report(project, resamples=resamples, seed=seed))


class AgreementCounter:
    """The agreement figures of the comments an export streams, counted on the way.

    Each labelled comment with two or more submitted annotations is remembered only as its
    combination of (annotator, answers JSON), counted; combinations repeat a great deal, so
    each distinct one is read (parsed and turned into labels) once, when the counts are
    folded into per-question shapes (``tally_shapes``) at the end, or whenever
    ``COMBO_LIMIT`` of them are held, which keeps memory flat.
    """

    def __init__(self, scheme: Scheme, question_keys: Iterable[str]):
        keys = list(question_keys)
        self.readers = readers_for(scheme, keys)
        self.entries = entry_keys(self.readers)
        self.stance = has_stance_questions(scheme) and all(k in keys for k in STANCE_QUESTIONS)
        self._combos: Counter = Counter()
        self._shapes: dict[tuple[str, str], Counter] = {
            (entry, subset): Counter() for entry in self.entries for subset in SUBSETS
        }
        self._stance_shapes: dict[str, Counter] = {key: Counter() for key in STANCE_QUESTIONS}

    def add(self, depth: int, labels: Sequence[tuple[Hashable, str]]) -> None:
        """Count one comment: its depth and its ``(annotator id, answers JSON)`` pairs."""
        if len(labels) < 2:
            return
        self._combos[(depth == 0, tuple(labels))] += 1
        if len(self._combos) >= COMBO_LIMIT:
            self._fold()

    def _fold(self) -> None:
        for (top_level, combo), count in self._combos.items():
            labels = comment_labels(
                self.readers, ((annotator, orjson.loads(text)) for annotator, text in combo)
            )
            subset = "top-level" if top_level else "replies"
            for entry, by_annotator in labels.items():
                if len(by_annotator) >= 2:
                    self._shapes[(entry, subset)][tuple(by_annotator.items())] += count
            if self.stance and not top_level:
                pair = stance_pair(labels)
                if pair is not None:
                    for key, by_annotator in zip(STANCE_QUESTIONS, pair, strict=True):
                        self._stance_shapes[key][tuple(by_annotator.items())] += count
        self._combos.clear()

    def figures(self, *, resamples: int = 1000, seed: int = 0) -> AgreementFigures:
        """The figures of everything counted so far."""
        self._fold()
        rows = []
        for entry in self.entries:
            top = tally_shapes(self._shapes[(entry, "top-level")])
            replies = tally_shapes(self._shapes[(entry, "replies")])
            for subset, tally in (("all", top + replies), ("top-level", top), ("replies", replies)):
                rows.append(
                    agreement_from_tally(entry, subset, tally, resamples=resamples, seed=seed)
                )
        stance = {}
        if self.stance:
            stance = {
                key: agreement_from_tally(
                    key, "replies", tally_shapes(shapes), resamples=resamples, seed=seed
                )
                for key, shapes in self._stance_shapes.items()
            }
        return AgreementFigures(rows, stance)


def agreement_records(figures: AgreementFigures, name: Callable[[Hashable], str]) -> Iterator[dict]:
    """Flat records of ``figures``; ``name`` turns an annotator id into the name to show."""
    rows = [*figures.table]
    rows += [
        QuestionAgreement(
            row.question, "stance-comparison", row.alpha, row.fleiss, row.percent, row.pairs
        )
        for row in figures.stance.values()
    ]
    for row in rows:
        for measure, estimate in (
            ("krippendorff_alpha", row.alpha),
            ("fleiss_kappa", row.fleiss),
            ("percent_agreement", row.percent),
        ):
            yield _record(row, measure, "", "", estimate)
        for pair in row.pairs:
            a, b = name(pair.a), name(pair.b)
            yield _record(row, "cohen_kappa", a, b, pair.kappa)
            yield _record(row, "pair_percent_agreement", a, b, pair.percent)


def _record(row: QuestionAgreement, measure: str, a: str, b: str, estimate: Estimate) -> dict:
    return {
        "question": row.question,
        "subset": row.subset,
        "measure": measure,
        "annotator_a": a,
        "annotator_b": b,
        "value": _round(estimate.value),
        "ci_low": _round(estimate.low),
        "ci_high": _round(estimate.high),
        "comments": estimate.units,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def agreement_csv(records: Iterator[dict]) -> str:
    """The records as CSV text (empty cells where a figure cannot be computed)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _cell(v) for k, v in record.items()})
    return text.getvalue()


def _cell(value: object) -> object:
    """Empty for None; text that a spreadsheet would run as a formula (a username may start
    with ``+``, ``-``, ``=`` or ``@``) gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
