"""Checking a model's answers against the scheme: shared by every way predictions arrive
(an imported file, the built-in learner, an LLM's reply), so one rule decides what a
prediction may say.

A model answers the same questions as people, in the same shape (labelling/scheme.py): a
choice's value for single choice and yes/no, a list of values for multiple choice, a
string for free text. Unlike a person's form, a model's answer is refused whole, with a
reason naming the question, when any part of it does not fit: a wrong prediction is worse
than none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from annotator.labelling.scheme import TEXT_MAX_LENGTH, Kind, Question, Scheme


class PredictionError(ValueError):
    """A model's answer that cannot be stored as a prediction; the message says why."""


@dataclass(frozen=True)
class CheckedAnswer:
    """One question's answer as it will be stored."""

    question: str
    answer: Any
    confidence: float | None


def check_answer(question: Question, answer: Any) -> Any:
    """``answer`` to ``question`` as stored, or ``PredictionError``."""
    where = f"'{question.key}'"
    if question.kind == Kind.TEXT:
        if not isinstance(answer, str) or not answer.strip():
            raise PredictionError(f"{where} takes a non-empty text.")
        if len(answer.strip()) > TEXT_MAX_LENGTH:
            raise PredictionError(f"{where}: at most {TEXT_MAX_LENGTH} characters.")
        return answer.strip()
    if question.kind == Kind.MULTIPLE:
        values = [answer] if isinstance(answer, str) else answer
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) for v in values)
        ):
            raise PredictionError(f"{where} takes a list of choices.")
        values = list(dict.fromkeys(values))
        unknown = [v for v in values if v not in question.values]
        if unknown:
            raise PredictionError(f"{where}: not a choice: {', '.join(unknown)}.")
        exclusive = [v for v in values if (c := question.choice(v)) and c.exclusive]
        if exclusive and len(values) > 1:
            raise PredictionError(f"{where}: '{exclusive[0]}' cannot be combined with others.")
        return values
    if not isinstance(answer, str):
        raise PredictionError(f"{where} takes one choice, as a string.")
    if answer not in question.values:
        raise PredictionError(f"{where}: not a choice: {answer}.")
    return answer


def check_confidence(key: str, value: Any) -> float | None:
    """A confidence between 0 and 1, or None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PredictionError(f"The confidence of '{key}' must be a number from 0 to 1.")
    if not 0 <= value <= 1:
        raise PredictionError(f"The confidence of '{key}' must be from 0 to 1, not {value}.")
    return float(value)


def check_answers(
    scheme: Scheme,
    answers: Any,
    confidences: Any = None,
    *,
    is_reply: bool | None = None,
) -> list[CheckedAnswer]:
    """Every answer of one comment's prediction, checked against ``scheme``.

    Questions the scheme does not have, a confidence for a question not answered, and a
    question asked only of replies answered for a top-level comment (when ``is_reply`` is
    known) are refused. At least one answer is needed.
    """
    if not isinstance(answers, Mapping) or not answers:
        raise PredictionError("'answers' must be an object with at least one answer.")
    if confidences is None:
        confidences = {}
    if not isinstance(confidences, Mapping):
        raise PredictionError("'confidences' must be an object of question → number.")
    stray = [key for key in confidences if key not in answers]
    if stray:
        raise PredictionError(f"A confidence for a question not answered: {', '.join(stray)}.")
    checked = []
    for key, answer in answers.items():
        question = scheme.question(key) if isinstance(key, str) else None
        if question is None:
            raise PredictionError(f"The scheme has no question '{key}'.")
        if is_reply is False and question.replies_only:
            raise PredictionError(f"'{key}' is asked only of replies; this comment is not one.")
        checked.append(
            CheckedAnswer(
                key, check_answer(question, answer), check_confidence(key, confidences.get(key))
            )
        )
    return checked
