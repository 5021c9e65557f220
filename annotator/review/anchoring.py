"""Anchoring: does showing a model's answer before an annotator answers pull them toward it?

Pure counting over each comment's evidence (``model_agreement.Evidence``), with Wilson
intervals for the two rates and Newcombe's for their difference; see ``AnchoringTallies``
for what is compared and the limits of the measure. ``model_agreement`` feeds it in the
same read as the agreement figures.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from annotator.assist.suggestions import same_answer
from annotator.labelling.scheme import Scheme
from annotator.review.label_units import readers_for

if TYPE_CHECKING:
    from annotator.review.model_agreement import Evidence

Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


def wilson_interval(kept: int, total: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson's score interval of a proportion (good for small counts and rates near 0
    or 1, unlike the normal approximation); None without observations."""
    if total <= 0:
        return None, None
    p = kept / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    spread = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total**2))
    return max(0.0, centre - spread), min(1.0, centre + spread)


@dataclass(frozen=True)
class Rate:
    """How many annotations equalled the model's answer, of how many."""

    kept: int
    total: int

    @property
    def value(self) -> float | None:
        return self.kept / self.total if self.total else None

    @property
    def interval(self) -> tuple[float | None, float | None]:
        return wilson_interval(self.kept, self.total)


def difference_interval(first: Rate, second: Rate) -> tuple[float | None, float | None]:
    """Newcombe's hybrid score interval (method 10, 1998) for ``first - second``, built from
    the two Wilson intervals."""
    if not first.total or not second.total:
        return None, None
    p1, p2 = first.kept / first.total, second.kept / second.total
    (l1, u1), (l2, u2) = first.interval, second.interval
    if l1 is None or u1 is None or l2 is None or u2 is None:
        return None, None
    low = p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return max(-1.0, low), min(1.0, high)


@dataclass(frozen=True)
class Anchoring:
    """One model and question: how often the submitted answer equals the model's answer
    when it was pre-selected, and when it was not shown before answering."""

    labeller_id: int
    question: str
    preselected: Rate
    not_shown: Rate

    @property
    def difference(self) -> float | None:
        if self.preselected.value is None or self.not_shown.value is None:
            return None
        return self.preselected.value - self.not_shown.value

    @property
    def difference_interval(self) -> tuple[float | None, float | None]:
        return difference_interval(self.preselected, self.not_shown)


def _answered(value: Any) -> bool:
    return value not in (None, "", [])


class AnchoringTallies:
    """Does pre-selecting a model's answer make annotators keep it?

    For each model and question two rates of "the submitted answer equals the model's":

    * **pre-selected**: annotations whose recorded suggestion for the question came from
      (any version of) the model in mode ``preselect``, i.e. the form opened with the
      model's answer already chosen; compared with the answer the suggestion showed;
    * **not shown first**: annotations with no suggestion recorded for the question, or one
      shown only after answering (mode ``after``); the answer given before any suggestion
      compared with the newest version's prediction (not stale) for that comment, which
      the annotator had not seen.

    Only annotations that answer the question count. If the two rates differ, and the
    model is no more right on one set of comments than on the other, the difference is
    what showing the answer first did: annotators kept a pre-selected answer they would not
    have given. Limits: the comments are not randomised between the two conditions (unless
    the admin switched the model's mode mid-project, the conditions are different periods
    of the project, with different comments, annotators further along, and perhaps another
    model version), so a difference can also come from easier comments or from the model
    being better on the pre-selected ones; compare against gold before concluding. In mode
    "after" the answer compared is the one given before the model's was seen (the entry's
    ``before``, recorded by the workspace), so changing it once the suggestion appeared does
    not count; an entry without it falls back on the saved answer, which can only pull the
    second rate up and hide anchoring, not invent it.
    """

    def __init__(self, scheme: Scheme, newest: Mapping[int, int], versions: Mapping[int, int]):
        """``newest``: newest labeller id per model (by its own id); ``versions``: every
        version's id -> the newest id of its model."""
        self.questions = [r.key for r in readers_for(scheme)]
        self.newest = dict(newest)
        self.versions = dict(versions)
        self.counts: Counter = Counter()  # (labeller, question, condition, kept) -> n

    def add(self, evidence: Evidence) -> None:
        for _annotator, answers, suggestions in evidence.annotations:
            if not isinstance(answers, dict):
                continue
            shown = suggestions if isinstance(suggestions, dict) else {}
            for question in self.questions:
                given = answers.get(question)
                if not _answered(given):
                    continue
                suggestion = shown.get(question)
                self._add_one(evidence, question, given, suggestion)

    def _add_one(self, evidence: Evidence, question: str, given: Any, suggestion: Any) -> None:
        mode = suggestion.get("mode") if isinstance(suggestion, dict) else None
        if mode == "preselect":
            model = self.versions.get(suggestion.get("model"))
            if model is not None:
                kept = same_answer(given, suggestion.get("answer"))
                self.counts[(model, question, "preselect", kept)] += 1
            return
        if suggestion is not None and mode != "after":
            return  # recorded in a way this measure cannot read
        if mode == "after" and _answered(suggestion.get("before")):
            given = suggestion["before"]  # the answer given before the model's was seen
        for model in self.newest:
            said = evidence.predictions.get(model, {}).get(question)
            if _answered(said):
                self.counts[(model, question, "not_shown", same_answer(given, said))] += 1

    def rates(self, labeller_id: int) -> list[Anchoring]:
        """Both rates for every question of the scheme (in order) for one model."""

        def rate(question: str, condition: str) -> Rate:
            kept = self.counts[(labeller_id, question, condition, True)]
            return Rate(kept, kept + self.counts[(labeller_id, question, condition, False)])

        return [
            Anchoring(labeller_id, q, rate(q, "preselect"), rate(q, "not_shown"))
            for q in self.questions
        ]
