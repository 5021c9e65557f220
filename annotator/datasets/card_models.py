"""The dataset card's "Models" section: which models' predictions an export carries, with
their settings, counts, cross-validated quality and agreement with gold.

Kept apart from ``card.py`` because it changes with the models (``assist``), not with the
export of human labels. Every value a model's row holds (its settings, its quality) is
rendered as it is, escaped for Markdown tables as the rest of the card is.
"""

from __future__ import annotations

from typing import Any

import orjson

from annotator.datasets.model_agreement import model_agreement_for_card
from annotator.datasets.predictions import ExportedModel
from annotator.datasets.rows import RowSource

KIND_NAMES = {
    "imported": "imported predictions",
    "learner": "built-in learner",
    "llm": "LLM endpoint",
}

NOTE = (
    "Predictions are what models answered, never labels: they are in fields of their own "
    "(`predictions` in JSON, `pred__MODEL__KEY` columns in CSV and Parquet) and count in no "
    "annotation, majority, final answer, gold label, agreement figure or label distribution "
    "of this card. Each model is its newest version, named `name@version`."
)


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell (as ``card._cell``)."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _value(value: Any) -> str:
    """A setting's value as shown: text as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "n/a" if value is None else str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return cell(_value(value))


def models_section(source: RowSource) -> list[str]:
    """The Markdown lines of the "Models" section (call once the rows have streamed)."""
    reader = source.predictions
    stale = sum(reader.stale.values())
    lines = [NOTE, ""]
    lines += [
        "| model | kind | predictions exported | stale, left out |",
        "|---|---|---:|---:|",
    ]
    for model in source.models:
        lines.append(
            f"| `{cell(model.label)}` | {KIND_NAMES.get(model.kind, cell(model.kind))} | "
            f"{reader.counts[model.label]:,} | {reader.stale[model.label]:,} |"
        )
    if stale:
        lines += [
            "",
            "A *stale* prediction answered a question about a comment's parent before the "
            "comment was moved to another parent; such predictions are left out of the files.",
        ]
    for model in source.models:
        lines += ["", f"### `{cell(model.label)}`", "", *_settings(model), *_quality(model)]
    lines += ["", *_agreement_with_gold(source)]
    return lines


def _settings(model: ExportedModel) -> list[str]:
    if not model.config:
        return ["No settings recorded."]
    lines = ["| setting | value |", "|---|---|"]
    for key, value in model.config.items():
        lines.append(f"| {cell(key)} | {cell(_value(value))} |")
    return lines


def _quality(model: ExportedModel) -> list[str]:
    """The learner's cross-validated quality per question, as the model recorded it."""
    if not model.quality:
        return []
    lines = [
        "",
        "Quality measured when the model was made (cross-validation over the labels it "
        "learned from):",
        "",
        "| question | macro F1 | accuracy | labels | too few labels |",
        "|---|---:|---:|---:|---|",
    ]
    for key, figures in model.quality.items():
        if not isinstance(figures, dict):
            figures = {}
        lines.append(
            f"| `{cell(key)}` | {_number(figures.get('macro_f1'))} | "
            f"{_number(figures.get('accuracy'))} | {_number(figures.get('labels'))} | "
            f"{_number(figures.get('too_few', False))} |"
        )
    return lines


def _agreement_with_gold(source: RowSource) -> list[str]:
    figures = model_agreement_for_card(source.model_gold)
    if not figures:
        return [
            "Agreement with gold: not measured (no exported comment has both a gold answer "
            "and a prediction)."
        ]
    lines = [
        "Agreement with gold, per model and question, over the exported comments with both a "
        "gold answer and a prediction: accuracy (the exact answer; for multiple choice the "
        "whole set of choices) and Cohen's kappa (n/a for free text, or where both gave one "
        "and the same answer every time).",
        "",
        "| model | question | comments | accuracy | Cohen's kappa |",
        "|---|---|---:|---:|---:|",
    ]
    for figure in figures:
        lines.append(
            f"| `{cell(figure.model)}` | `{cell(figure.question)}` | {figure.comments:,} | "
            f"{_number(figure.accuracy)} | {_number(figure.kappa)} |"
        )
    return lines


def prediction_fields(source: RowSource, flat: bool) -> list[str]:
    """The card's field descriptions of the predictions (``card._fields``)."""
    if not flat:
        return [
            "- `predictions`: per model (`name@version`) and question, the model's `answer` "
            "(a list for multiple choice) and `confidence` (0 to 1, null: not given); `{}` "
            "where no model answered. Never labels (see Models)."
        ]
    return [
        "- `pred__MODEL__KEY`: model MODEL's (`name@version`) answer to question KEY; "
        "`pred__MODEL__KEY__confidence`: its confidence (0 to 1); empty where the model "
        "said nothing. One pair per model and question with predictions. Never labels "
        "(see Models)."
    ]
