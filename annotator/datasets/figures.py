"""Agreement figures as flat records: one per measure, question, subset and annotator pair.

The export's ``agreement.csv``, its dataset card and the API's agreement endpoint all give
the same records, computed by ``review.measures`` over the whole project's submitted labels
(not only the exported comments: agreement describes how the labels were made).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass

from annotator.corpus.models import Project
from annotator.review.agreement import Estimate, QuestionAgreement
from annotator.review.measures import agreement_report

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
    """Every agreement figure of ``project`` (one streamed read of its submitted labels)."""
    return AgreementFigures(*agreement_report(project, resamples=resamples, seed=seed))


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
