"""The majority answer per question and the final answers (the rules are in ``rows.py``'s
docstring, "Majority" and "Final"): pure functions of the answers, no database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from annotator.datasets.records import NO_VOTES, AnnotationRow, Majority
from annotator.labelling.scheme import Kind, Question


class Tally:
    """How one question is voted on: its key, whether answers are sets, its choice order.

    Built once per export, so that counting votes per comment costs no scheme lookups.
    """

    __slots__ = ("key", "multiple", "order")

    def __init__(self, question: Question):
        self.key = question.key
        self.multiple = question.kind == Kind.MULTIPLE
        self.order = {choice.value: index for index, choice in enumerate(question.choices)}

    def in_choice_order(self, values: Iterable[str]) -> list[str]:
        """Values in the order the scheme lists the choices (unknown values last, sorted)."""
        order = self.order
        last = len(order)
        return sorted(values, key=lambda v: (order.get(v, last), v))

    def majority(self, answers: Sequence[Any]) -> Majority:
        """The majority of ``answers``, one per annotator who answered the question."""
        votes = len(answers)
        if not votes:
            return NO_VOTES
        if self.multiple:
            return self._majority_set(answers)
        first = answers[0]
        if votes == 1 or all(answer == first for answer in answers):
            return Majority(first, votes, votes)
        counts = Counter(tuple(a) if isinstance(a, list) else a for a in answers)
        top = max(counts.values())
        leaders = [value for value, count in counts.items() if count == top]
        if len(leaders) > 1:
            return Majority(None, top, votes, tuple(sorted(map(str, leaders))))
        return Majority(leaders[0], top, votes)

    def _majority_set(self, answers: Sequence[Any]) -> Majority:
        """Each choice is a yes/no vote; more than half of the voters picks it."""
        votes = len(answers)
        sets = [frozenset(a) if isinstance(a, list) else frozenset([a]) for a in answers]
        first = sets[0]
        if all(chosen == first for chosen in sets):
            return Majority(self.in_choice_order(first), votes, votes)
        counts: Counter[str] = Counter()
        for chosen in sets:
            counts.update(chosen)
        tied = [v for v, n in counts.items() if 2 * n == votes]
        if tied:
            return Majority(None, 0, votes, tuple(self.in_choice_order(tied)))
        chosen = frozenset(v for v, n in counts.items() if 2 * n > votes)
        agree = sum(1 for s in sets if s == chosen)
        return Majority(self.in_choice_order(chosen), agree, votes)


def majority_answer(question: Question, answers: Sequence[Any]) -> Majority:
    """The majority of the given answers (one per annotator who answered) to ``question``."""
    return Tally(question).majority(answers)


def majority_answers(
    questions: Sequence[Question] | Sequence[Tally], annotations: Sequence[AnnotationRow]
) -> dict[str, Majority]:
    """The majority per question over the annotations of one comment."""
    tallies = [q if isinstance(q, Tally) else Tally(q) for q in questions]
    if len(annotations) == 1:
        answers = annotations[0].answers
        return {
            t.key: (
                NO_VOTES
                if t.key not in answers
                else t.majority([answers[t.key]])
                if t.multiple
                else Majority(answers[t.key], 1, 1)
            )
            for t in tallies
        }
    result = {}
    for tally in tallies:
        key = tally.key
        result[key] = tally.majority([a.answers[key] for a in annotations if key in a.answers])
    return result


def final_answers(
    majority: Mapping[str, Majority], gold: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The one answer per question that ``labels=final`` exports.

    A gold answer (set by a reviewer) wins; otherwise the majority value, which is ``None``
    on a tie or when nobody answered. This is the one place a gold model plugs in: fetch the
    gold answers of a chunk of comments and pass each comment's here.
    """
    gold = gold or {}
    return {
        key: gold[key] if gold.get(key) is not None else answer.value
        for key, answer in majority.items()
    }
