"""What a researcher asks of an export: plain data shared by the page, the API, the command
line and the exporters, stored on the export job as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum


class ExportOptionsError(ValueError):
    """Options an export cannot honour (an unknown question, impossible split ratios)."""


class ExportFormat(StrEnum):
    JSONL = "jsonl"  # one line per article and per comment; re-imports as a project
    JSON = "json"  # nested: each article with its comment tree
    CSV = "csv"  # flat: one row per comment, one column per question and annotator view
    PARQUET = "parquet"
    CONVOKIT = "convokit"  # a ConvoKit corpus folder: utterances.jsonl and its companions
    RUMOUREVAL = "rumoureval"  # SemEval RumourEval / PHEME thread folders and a stance key


class LabelSet(StrEnum):
    ALL = "all"  # every annotator's answers, plus the majority per question
    FINAL = "final"  # one final answer per question (gold when set, else the majority)
    GOLD = "gold"  # the reviewers' gold answers only (none where no gold was set)


@dataclass(frozen=True)
class ExportOptions:
    format: ExportFormat = ExportFormat.JSONL
    questions: tuple[str, ...] = ()  # empty: every question of the current scheme
    labels: LabelSet = LabelSet.ALL
    include_unlabelled: bool = True
    pseudonymise: bool = False  # annotators and comment authors get stable per-export names
    split: bool = False  # train / dev / test by thread
    split_seed: int = 13
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    changed_since: datetime | None = None  # only comments whose labels changed since then
    # CSV only: cells a spreadsheet would run as a formula get a leading ' (exporters/csv.py)
    spreadsheet_safe: bool = False
    # The newest version of each model's predictions, in fields of their own
    # (datasets/predictions.py). None: the default, included when the project has models.
    # ``jobs.create_export_job`` records True or False when the project has models and
    # None when it has none (nothing to carry: its options stay as they always were).
    predictions: bool | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        data["changed_since"] = self.changed_since.isoformat() if self.changed_since else None
        # Left out when None: a project without models (and every export made before models
        # existed) keeps the options it always had, byte for byte, in the nested JSON
        # header and in the job's row.
        if data["predictions"] is None:
            del data["predictions"]
        return data

    @classmethod
    def from_json(cls, data: dict) -> ExportOptions:
        data = dict(data)
        if data.get("changed_since"):
            data["changed_since"] = datetime.fromisoformat(data["changed_since"])
        data["format"] = ExportFormat(data.get("format", ExportFormat.JSONL))
        data["labels"] = LabelSet(data.get("labels", LabelSet.ALL))
        data["questions"] = tuple(data.get("questions") or ())
        data["split_ratios"] = tuple(data.get("split_ratios") or (0.8, 0.1, 0.1))
        predictions = data.get("predictions")
        data["predictions"] = predictions if isinstance(predictions, bool) else None
        return cls(**data)
