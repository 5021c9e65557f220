"""Model predictions in an export: which models, their predictions chunk by chunk, the columns.

Predictions are what models (``assist.MachineLabeller``) answered; they never count as
labels, so an export carries them in fields of their own (``predictions`` in JSON,
``pred__<model>__<key>`` columns in CSV and Parquet) and nothing that reads annotations,
majorities or gold sees them.

* **Which models**: the newest version of each model name in the project, named by its
  ``label`` (``name@version``), in name order. One query when the export asks for
  predictions, none when it does not; a project without models then exports exactly as
  before (no field, no column).
* **Reading**: the predictions of each chunk of kept comments in one query, read with the
  chunk on the read-ahead thread, like the annotations (``rows.RowSource``).
* **Stale** predictions (``stale_since`` set: the comment moved to another parent after the
  model answered a question about its parent) are left out, as stale annotations are left out
  of the answers; the dataset card says how many per model. A prediction about a parent the
  comment no longer has would mislead anyone training on it.
* **Questions**: only the export's questions; predictions for other keys are not exported.
* **Columns** (CSV, Parquet): one answer and one confidence column per (model, question)
  pair that has any prediction in the project, models in name order and questions in the
  export's order, decided before writing with one query, so every chunk writes the same
  columns and a filtered export the same columns as a full one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import connection
from django.db.models import TextField
from django.db.models.functions import Cast

from annotator.assist.models import MachineLabeller, Prediction
from annotator.corpus.models import Project
from annotator.datasets.reading import fetch_rows, id_list
from annotator.datasets.records import INTERN_LIMIT

# Shared by every comment without predictions: never mutated.
NO_PREDICTIONS: dict[str, dict[str, dict[str, Any]]] = {}


@dataclass(frozen=True, slots=True)
class ExportedModel:
    """A model version whose predictions an export carries."""

    pk: int
    label: str  # name@version, as the output names it
    name: str
    version: str
    kind: str
    config: dict
    quality: dict


@dataclass(frozen=True, slots=True)
class PredictionColumn:
    """One (model, question) pair with predictions: its answer and confidence columns."""

    model: str  # the model's label, name@version
    question: str

    @property
    def answer_name(self) -> str:
        return f"pred__{self.model}__{self.question}"

    @property
    def confidence_name(self) -> str:
        return f"pred__{self.model}__{self.question}__confidence"


def exported_models(project: Project) -> list[ExportedModel]:
    """The newest version of each model of ``project``, in name order (one query)."""
    return [
        ExportedModel(m.pk, m.label, m.name, m.version, m.kind, m.config or {}, m.quality or {})
        for m in MachineLabeller.objects.filter(project=project)
        .newest()
        .only("pk", "name", "version", "kind", "config", "quality")
    ]


def project_has_models(project: Project) -> bool:
    """Whether ``project`` has any model, so an export by default carries predictions."""
    return MachineLabeller.objects.filter(project=project).exists()


def prediction_columns(
    models: Sequence[ExportedModel], question_keys: Sequence[str]
) -> list[PredictionColumn]:
    """The (model, question) pairs that have predictions, in a stable order (one query).

    Models in the order given (name order), questions in the export's order.
    """
    if not models:
        return []
    present = set(
        Prediction.objects.filter(
            labeller_id__in=[m.pk for m in models], question__in=question_keys
        )
        .values_list("labeller_id", "question")
        .distinct()
        .order_by()
    )
    return [
        PredictionColumn(model.label, key)
        for model in models
        for key in question_keys
        if (model.pk, key) in present
    ]


class PredictionReader:
    """Reads the predictions of chunks of comments for one export and shapes them per comment.

    ``fetch`` runs on the read-ahead thread (database work only); ``by_comment`` on the
    encoding thread. ``counts`` and ``stale`` (per model label) are what the card reports.
    """

    def __init__(self, models: Sequence[ExportedModel], question_keys: Sequence[str]):
        self.models = list(models)
        self.question_keys = tuple(question_keys)
        self._label_of = {m.pk: m.label for m in self.models}
        # (model id, question) -> (its place in the output order, model label, question).
        self._slots = {
            (model.pk, key): (index * len(self.question_keys) + position, model.label, key)
            for index, model in enumerate(self.models)
            for position, key in enumerate(self.question_keys)
        }
        self._answers: dict[str, Any] = {}  # answer JSON text -> value (answers repeat)
        self.counts: dict[str, int] = dict.fromkeys(self._label_of.values(), 0)
        self.stale: dict[str, int] = dict.fromkeys(self._label_of.values(), 0)

    def fetch(self, comment_ids: list[int]) -> list[tuple]:
        """The predictions of a chunk of comments as fetched (one query; none without ids)."""
        if not comment_ids or not self.models:
            return []
        rows = (
            Prediction.objects.filter(
                labeller_id__in=list(self._label_of),
                comment_id__in=id_list(comment_ids, connection.vendor),
                question__in=self.question_keys,
            )
            .order_by()
            .values_list(
                "comment_id",
                "labeller_id",
                "question",
                Cast("answer", TextField()),
                "confidence",
                "stale_since",
            )
        )
        return fetch_rows(rows)

    def by_comment(self, raw: list[tuple]) -> dict[int, dict[str, dict[str, dict[str, Any]]]]:
        """Fetched predictions by comment id: model label -> question -> answer, confidence.

        Models in name order and questions in the export's order, whatever order the
        database returned them in (sorted only where they came out of order); stale
        predictions are counted and left out.
        """
        answers = self._answers
        slots = self._slots
        counts = self.counts
        gathered: dict[int, list[tuple]] = {}
        for comment_id, labeller_id, key, answer_json, confidence, stale_since in raw:
            slot = slots[(labeller_id, key)]
            if stale_since is not None:
                self.stale[slot[1]] += 1
                continue
            answer = answers.get(answer_json)
            if answer is None:
                answer = orjson.loads(answer_json)
                if len(answers) < INTERN_LIMIT:
                    answers[answer_json] = answer
            counts[slot[1]] += 1
            entry = (slot, {"answer": answer, "confidence": confidence})
            entries = gathered.get(comment_id)
            if entries is None:
                gathered[comment_id] = [entry]
            else:
                entries.append(entry)
        shaped = {}
        for comment_id, entries in gathered.items():
            if len(entries) > 1:
                entries.sort(key=_place)  # linear when already in order, as usual
            comment: dict[str, dict[str, dict[str, Any]]] = {}
            for (_, label, key), entry in entries:
                per_model = comment.get(label)
                if per_model is None:
                    per_model = comment[label] = {}
                per_model[key] = entry
            shaped[comment_id] = comment
        return shaped


def _place(entry: tuple) -> int:
    return entry[0][0]
