"""The review queue's "model and humans disagree" filter: comments on which a model's answer
differs from the human majority or from gold, worst first, with the answers side by side.

Labels are read as for the model's agreement figures (``model_agreement``): the newest
version's predictions that are not stale, the majority of two or more submitted labels
(ties give none), settled gold, values of the current scheme only, a multiple-choice
question compared choice by choice. A comment is listed when, on at least one key, the
model's label differs from the majority's or from gold's. Unlike the disagreement queue
this list keeps comments that have gold: a model that contradicts settled gold is what a
reviewer wants to see (a wrong model, or a gold label worth a second look).

Order: the share of the keys compared on which the model differs (highest first), then the
number of such keys, then thread order (article, path), as the disagreement queue orders
its comments. One streamed read of labels, predictions and gold (three queries).
"""

from __future__ import annotations

from dataclasses import dataclass

from annotator.assist.models import MachineLabeller
from annotator.corpus.models import Project
from annotator.labelling.scheme import Scheme
from annotator.review.agreement import Label
from annotator.review.model_agreement import Evidence, LabelReading, read_evidence, view_of


@dataclass(frozen=True, slots=True)
class ModelDisagreement:
    """One comment on which the model and the people (or gold) part ways."""

    comment_id: int
    article_id: int | None
    path: str
    keys: tuple[str, ...]  # where the model differs, in scheme order
    compared: int  # keys on which the model could be compared with the majority or gold
    model: dict[str, Label]
    majority: dict[str, Label]
    gold: dict[str, Label]

    @property
    def score(self) -> float:
        return len(self.keys) / self.compared if self.compared else 0.0

    @property
    def percent(self) -> int:
        return round(self.score * 100)

    def sort_key(self) -> tuple:
        return (-self.score, -len(self.keys), self.article_id or 0, self.path, self.comment_id)


def disagreement_with(reading: LabelReading, evidence: Evidence, labeller_id: int):
    """The comment's ``ModelDisagreement`` with ``labeller_id``, or None when the model
    agrees with the majority and gold wherever it can be compared."""
    if labeller_id not in evidence.predictions:
        return None
    view = view_of(reading, evidence, labeller_id)
    compared, split = 0, []
    for key in reading.keys:
        said = view.model.get(key)
        if said is None:
            continue
        others = [view.majority.get(key), view.gold.get(key)]
        others = [label for label in others if label is not None]
        if not others:
            continue
        compared += 1
        if any(label != said for label in others):
            split.append(key)
    if not split:
        return None
    return ModelDisagreement(
        comment_id=evidence.comment_id,
        article_id=evidence.article_id,
        path=evidence.path,
        keys=tuple(split),
        compared=compared,
        model={key: view.model[key] for key in split},
        majority={key: view.majority[key] for key in split if key in view.majority},
        gold={key: view.gold[key] for key in split if key in view.gold},
    )


def model_disagreements(
    project: Project, labeller: MachineLabeller, scheme: Scheme
) -> list[ModelDisagreement]:
    """Every comment of ``project`` on which ``labeller`` differs from the human majority
    or from gold, worst first (see the module docstring)."""
    reading = LabelReading(scheme)
    found: list[ModelDisagreement] = []

    def consume(evidence: Evidence) -> None:
        item = disagreement_with(reading, evidence, labeller.pk)
        if item is not None:
            found.append(item)

    read_evidence(project, [labeller.pk], consume)
    found.sort(key=ModelDisagreement.sort_key)
    return found
