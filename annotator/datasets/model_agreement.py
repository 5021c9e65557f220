"""How well each exported model agrees with the gold labels, for the dataset card.

Counted from the rows the export streams anyway (each kept comment's gold and predictions),
so the card costs no further query. ``model_agreement_for_card`` is the one function that
turns the counts into figures: a shared helper of the review app may replace it later.

Per model and question, over the exported comments that have both a gold answer and a
(non-stale) prediction: accuracy (exact answer; a multiple-choice answer is right only as
the whole set of choices) and Cohen's kappa between the model and gold, each answer a
category. Free-text questions get accuracy only (exact text): kappa over free texts means
nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from annotator.labelling.scheme import Kind, Question

PAIR_LIMIT = 10_000  # distinct (gold, prediction) pairs kept per model and question


@dataclass(frozen=True, slots=True)
class ModelAgreement:
    """A model's agreement with gold on one question."""

    model: str
    question: str
    comments: int  # comments with both a gold answer and a prediction
    accuracy: float | None
    kappa: float | None


def _category(answer: Any) -> Hashable:
    """An answer as a category: a multiple-choice answer as its sorted choices."""
    if isinstance(answer, list):
        return tuple(sorted(answer))
    return answer


class ModelGoldCounter:
    """Tallies (gold answer, predicted answer) pairs per model and question as rows stream."""

    def __init__(self, questions: Iterable[Question]):
        self.questions = tuple(questions)
        self._free_text = {q.key for q in self.questions if q.kind == Kind.TEXT}
        self.pairs: dict[tuple[str, str], Counter] = {}
        self.matches: dict[tuple[str, str], list[int]] = {}  # [equal, compared]

    def add(
        self, gold: Mapping[str, Any], predictions: Mapping[str, Mapping[str, Mapping[str, Any]]]
    ) -> None:
        """One comment's gold answers and predictions (model -> question -> answer)."""
        for model, answers in predictions.items():
            for key, predicted in answers.items():
                expected = gold.get(key)
                if expected is None:
                    continue
                expected, answer = _category(expected), _category(predicted["answer"])
                tally = self.matches.setdefault((model, key), [0, 0])
                tally[0] += expected == answer
                tally[1] += 1
                if key in self._free_text:
                    continue
                pairs = self.pairs.setdefault((model, key), Counter())
                if (expected, answer) in pairs or len(pairs) < PAIR_LIMIT:
                    pairs[(expected, answer)] += 1


def cohens_kappa(pairs: Mapping[tuple[Hashable, Hashable], int]) -> float | None:
    """Cohen's kappa of two raters from the counts of their (first, second) answers.

    None when there is nothing to compare or chance agreement is certain (both gave one and
    the same category every time): kappa is undefined there.
    """
    total = sum(pairs.values())
    if not total:
        return None
    first: Counter = Counter()
    second: Counter = Counter()
    observed = 0
    for (a, b), times in pairs.items():
        first[a] += times
        second[b] += times
        if a == b:
            observed += times
    expected = sum(first[c] * second.get(c, 0) for c in first) / (total * total)
    if expected >= 1:
        return None
    return round((observed / total - expected) / (1 - expected), 4)


def model_agreement_for_card(counter: ModelGoldCounter) -> list[ModelAgreement]:
    """Each model's accuracy and Cohen's kappa against gold per question: models by label,
    questions in the export's order."""
    order = {q.key: index for index, q in enumerate(counter.questions)}
    figures = []
    for (model, key), (equal, compared) in sorted(
        counter.matches.items(), key=lambda item: (item[0][0], order.get(item[0][1], 0))
    ):
        pairs = counter.pairs.get((model, key))
        figures.append(
            ModelAgreement(
                model,
                key,
                compared,
                round(equal / compared, 4) if compared else None,
                cohens_kappa(pairs) if pairs is not None else None,
            )
        )
    return figures
