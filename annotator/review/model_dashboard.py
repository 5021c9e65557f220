"""The dashboard's Models section: ``model_agreement``'s figures arranged for the page and
as CSV rows, with readable titles and names.

The page shows them only when the project has models. Their evidence is read in the
dashboard's one read of the labels (``models_reader`` goes to ``read_dashboard``), so a
project with models costs its page four queries more (the models, their versions, the
predictions, gold), whatever its size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from annotator.corpus.models import Project
from annotator.labelling.scheme import Scheme
from annotator.review import charts
from annotator.review.charts import number, shown
from annotator.review.dashboard import (
    Reader,
    confusion_from_matrix,
    label_text,
    question_title,
    usernames,
)
from annotator.review.model_agreement import (
    GOLD,
    MODEL,
    Anchoring,
    ModelEstimate,
    ModelFigures,
    ModelFiguresCollector,
    evidence_reader,
    model_figures,
    project_models,
)


@dataclass
class ModelsRead:
    """The models of a page load and the reader that collects their figures (None, with no
    reader, for a project without models)."""

    collector: ModelFiguresCollector | None
    readers: list[Reader]

    def figures(self, **options: Any) -> list[ModelFigures]:
        return self.collector.figures(**options) if self.collector is not None else []


def models_reader(project: Project, scheme: Scheme) -> ModelsRead:
    """What the page adds to its one read for the Models section: one query (the models)
    when the project has none."""
    models, versions = project_models(project)
    if not models:
        return ModelsRead(None, [])
    collector = ModelFiguresCollector(scheme, models, versions)
    reader = evidence_reader(project, [m.pk for m in models], collector.add)
    return ModelsRead(collector, [reader])


def _measures(estimate: ModelEstimate) -> dict[str, Any]:
    return {
        "alpha": shown(estimate.alpha),
        "kappa": shown(estimate.kappa),
        "percent": shown(estimate.percent, percent=True),
        "units": estimate.units,
        "bar": charts.interval_bar(estimate.kappa.value, estimate.kappa.low, estimate.kappa.high),
    }


SUBSET_NAMES = {"all": "all", "top-level": "top", "replies": "replies"}


def _by_subset(estimates: Mapping[str, ModelEstimate]) -> dict[str, dict[str, Any]]:
    """Keyed ``all``, ``top`` and ``replies`` for the template."""
    return {SUBSET_NAMES[subset]: _measures(e) for subset, e in estimates.items()}


def _rate_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _interval_text(low: float | None, high: float | None, *, signed: bool = False) -> str:
    if low is None or high is None:
        return ""
    form = "{:+.0%}" if signed else "{:.0%}"
    return f"{form.format(low)} to {form.format(high)}"


def _anchoring(scheme: Scheme, found: Anchoring) -> dict[str, Any]:
    return {
        "title": question_title(scheme, found.question),
        "preselected": _rate_text(found.preselected.value),
        "preselected_n": found.preselected.total,
        "preselected_interval": _interval_text(*found.preselected.interval),
        "not_shown": _rate_text(found.not_shown.value),
        "not_shown_n": found.not_shown.total,
        "not_shown_interval": _interval_text(*found.not_shown.interval),
        "difference": (
            "—" if found.difference is None else f"{found.difference * 100:+.0f} points"
        ),
        "difference_interval": _interval_text(*found.difference_interval, signed=True),
    }


def arrange_models(
    scheme: Scheme, figures: Iterable[ModelFigures], names: Mapping[Any, str]
) -> list[dict[str, Any]]:
    """Per model: per key its figures against gold and the majority (all, top-level,
    replies), against each annotator, and its confusion with gold; and its anchoring on
    the questions where it was measured."""
    arranged = []
    for found in figures:
        label = found.labeller.label
        questions = []
        for question in found.questions:
            gold, majority = _by_subset(question.gold), _by_subset(question.majority)
            questions.append(
                {
                    "key": question.key,
                    "title": question_title(scheme, question.key),
                    "gold": gold,
                    "majority": majority,
                    "depths": [gold, majority],
                    "annotators": [
                        {
                            "name": names.get(e.annotator_id, f"#{e.annotator_id}"),
                            **_measures(e),
                        }
                        for e in question.annotators
                    ],
                    "confusion": (
                        confusion_from_matrix(
                            scheme,
                            question.key,
                            MODEL,
                            GOLD,
                            question.confusion,
                            {MODEL: label, GOLD: "gold"},
                        )
                        if question.confusion
                        else None
                    ),
                }
            )
        arranged.append(
            {
                "labeller": found.labeller,
                "questions": questions,
                "anchoring": [
                    _anchoring(scheme, a)
                    for a in found.anchoring
                    if a.preselected.total or a.not_shown.total
                ],
            }
        )
    return arranged


# -- CSV -----------------------------------------------------------------------------------------

CSV_HEADER = [
    "table",
    "model",
    "question",
    "question_title",
    "against",
    "annotator",
    "subset",
    "measure",
    "model_label",
    "other_label",
    "value",
    "low_95",
    "high_95",
    "comments",
]


def _estimate_rows(base: list, estimate: ModelEstimate, annotator: str = "") -> Iterator[list]:
    for measure, value in (
        ("alpha", estimate.alpha),
        ("cohen_kappa", estimate.kappa),
        ("percent", estimate.percent),
    ):
        yield [
            "agreement",
            *base,
            estimate.against,
            annotator,
            estimate.subset,
            measure,
            "",
            "",
            number(value.value),
            number(value.low),
            number(value.high),
            value.units,
        ]


def model_csv_rows(project: Project, scheme: Scheme) -> Iterator[list]:
    """Every figure of the Models section, one measure a row (the header first)."""
    yield CSV_HEADER
    figures = model_figures(project, scheme)
    ids = {e.annotator_id for f in figures for q in f.questions for e in q.annotators}
    names = usernames(ids) if ids else {}
    for found in figures:
        label = found.labeller.label
        for question in found.questions:
            base = [label, question.key, question_title(scheme, question.key)]
            for estimates in (question.gold, question.majority):
                for estimate in estimates.values():
                    yield from _estimate_rows(base, estimate)
            for estimate in question.annotators:
                name = names.get(estimate.annotator_id, f"#{estimate.annotator_id}")
                yield from _estimate_rows(base, estimate, name)
            for (said, gold), count in question.confusion.items():
                yield ["confusion", *base, "gold", "", "all", "count",
                       label_text(scheme, question.key, said),
                       label_text(scheme, question.key, gold), count, "", "", count]  # fmt: skip
        for anchoring in found.anchoring:
            base = [label, anchoring.question, question_title(scheme, anchoring.question)]
            for against, rate in (
                ("preselected", anchoring.preselected),
                ("not_shown", anchoring.not_shown),
            ):
                low, high = rate.interval
                yield ["anchoring", *base, against, "", "all", "kept_rate", "", "",
                       number(rate.value), number(low), number(high), rate.total]  # fmt: skip
            low, high = anchoring.difference_interval
            yield ["anchoring", *base, "difference", "", "all", "kept_rate_difference", "", "",
                   number(anchoring.difference), number(low), number(high),
                   anchoring.preselected.total + anchoring.not_shown.total]  # fmt: skip
