"""Model suggestions in the workspace, and the record of what an annotator was shown.

Per model, the admin chooses (``MachineLabeller.suggestions``):

* **hidden**: the annotator never sees it;
* **after**: the model's answer to a question is shown only once the annotator has saved
  their own answer to it (to calibrate themselves, without anchoring). The page never holds
  it before: it comes with the autosave's answer, and the server checks the saved answer;
* **preselect**: an unanswered question opens with the model's answer selected and marked
  "pre-selected" (for speed). The form says which questions it pre-selected.

One suggestion per question: the first model, by name, with an answer to it that the
current scheme still offers and that is not stale (about a former parent). Only the newest
version of each model suggests.

Every save records, in ``Annotation.suggestions``, for each question answered with a
suggestion in view: the model, its answer and confidence, the mode it was shown in, the
annotator's answer before they saw it (mode "after": the answer that revealed it), and
whether the saved answer ``equals`` the suggestion. The dashboard compares how often
annotators keep a pre-selected answer with how often they agree with the model unseen:
that difference is the anchoring.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from annotator.assist.answers import PredictionError, check_answer
from annotator.assist.models import Prediction, Suggestions, is_newest_version
from annotator.labelling.scheme import Question, Scheme

AFTER = Suggestions.AFTER.value
PRESELECT = Suggestions.PRESELECT.value


@dataclass(frozen=True)
class Suggestion:
    """What one model says about one question of the comment in view."""

    question: str
    labeller_id: int
    label: str
    answer: Any
    confidence: float | None
    mode: str  # "after" or "preselect", as the model is set

    @property
    def percent(self) -> int | None:
        return None if self.confidence is None else round(self.confidence * 100)

    @property
    def form_value(self) -> str:
        """The form's note that this question was pre-selected by this model."""
        return f"{self.question}:{self.labeller_id}"


def suggestions_for(comment_id: int, scheme: Scheme) -> dict[str, Suggestion]:
    """The suggestions to show for ``comment_id``, by question key (one query)."""
    found: dict[str, Suggestion] = {}
    for suggestion in _newest_answers(comment_id, scheme, hidden_too=False):
        found.setdefault(suggestion.question, suggestion)
    return found


@dataclass(frozen=True)
class ModelAnswers:
    """What one model said about a comment, for a reviewer: (question, suggestion, the
    answer as the choices name it) triples."""

    labeller_id: int
    label: str
    answers: list[tuple[Question, Suggestion, str]]

    def as_answers(self) -> dict[str, Any]:
        return {question.key: s.answer for question, s, _text in self.answers}


def model_answers(comment_id: int, scheme: Scheme) -> list[ModelAnswers]:
    """Every model's answers for ``comment_id`` (the newest version of each, hidden ones
    too: a reviewer may adopt them as gold), by model name (one query)."""
    by_model: dict[int, ModelAnswers] = {}
    for s in _newest_answers(comment_id, scheme, hidden_too=True):
        entry = by_model.setdefault(s.labeller_id, ModelAnswers(s.labeller_id, s.label, []))
        question = scheme.question(s.question)
        entry.answers.append((question, s, answer_text(question, s.answer)))
    return list(by_model.values())


def _newest_answers(comment_id: int, scheme: Scheme, *, hidden_too: bool):
    """The predictions for ``comment_id`` of the newest version of each model, not stale,
    whose answer the current scheme still offers, by model name then scheme order."""
    rows = Prediction.objects.filter(
        is_newest_version("labeller"), comment_id=comment_id, stale_since__isnull=True
    )
    if not hidden_too:
        rows = rows.exclude(labeller__suggestions=Suggestions.HIDDEN)
    rows = rows.order_by("labeller__name", "labeller_id").values_list(
        "question",
        "answer",
        "confidence",
        "labeller_id",
        "labeller__name",
        "labeller__version",
        "labeller__suggestions",
    )
    order = {q.key: i for i, q in enumerate(scheme.questions)}
    found = []
    for key, answer, confidence, labeller_id, name, version, mode in rows:
        question = scheme.question(key)
        if question is None:
            continue
        try:
            answer = check_answer(question, answer)  # still a choice of this version?
        except PredictionError:
            continue
        found.append(Suggestion(key, labeller_id, f"{name}@{version}", answer, confidence, mode))
    found.sort(key=lambda s: (s.label.split("@")[0], s.labeller_id, order[s.question]))
    return found


def preselected_answers(
    suggestions: Mapping[str, Suggestion], answers: Mapping[str, Any]
) -> dict[str, Suggestion]:
    """The suggestions a form pre-selects: mode "preselect", on questions not answered."""
    return {
        key: s
        for key, s in suggestions.items()
        if s.mode == PRESELECT and answers.get(key) in (None, "", [])
    }


def parse_preselected(values: Iterable[str], suggestions: Mapping[str, Suggestion]) -> set[str]:
    """The questions a posted form says it pre-selected (``question:model id`` values),
    kept only where that model still suggests that question: anything else is ignored."""
    keys = set()
    for value in values:
        key, _, labeller = str(value).partition(":")
        s = suggestions.get(key)
        if s is not None and str(s.labeller_id) == labeller:
            keys.add(key)
    return keys


def same_answer(a: Any, b: Any) -> bool:
    """Equal answers, a multiple choice in any order."""
    if isinstance(a, list) and isinstance(b, list):
        return sorted(a) == sorted(b)
    return a == b


def record(
    suggestions: Mapping[str, Suggestion],
    answers: Mapping[str, Any],
    previous: Mapping[str, Any],
    preselected: set[str],
) -> dict[str, dict]:
    """``Annotation.suggestions`` after a save of ``answers``.

    An entry is kept for every question answered with a suggestion in view: pre-selected
    ones (``preselected``, as the form said) in mode "preselect", the others in mode
    "after". An entry once made keeps its mode and the answer given before the suggestion
    was seen; ``equals`` follows the saved answer. Entries of questions no longer answered
    or suggested stay as they were (what was shown is history).
    """
    out = {key: dict(entry) for key, entry in previous.items()}
    for key, s in suggestions.items():
        if answers.get(key) in (None, "", []):
            continue
        entry = out.get(key)
        if entry is None or entry.get("model") != s.labeller_id:
            shown_first = key in preselected
            entry = {
                "model": s.labeller_id,
                "label": s.label,
                "answer": s.answer,
                "confidence": s.confidence,
                "mode": PRESELECT if shown_first else AFTER,
                # What the annotator chose before seeing the model's answer (mode "after").
                "before": None if shown_first else answers[key],
            }
        entry["equals"] = same_answer(answers[key], s.answer)
        out[key] = entry
    return out


def answer_text(question: Question, answer: Any) -> str:
    """An answer as the question's choices name it (a free text as it is)."""
    values = answer if isinstance(answer, list) else [answer]
    names = [(c.label if (c := question.choice(v)) else str(v)) for v in values]
    return ", ".join(names)


def revealed(suggestions: Mapping[str, Suggestion], answers: Mapping[str, Any]) -> list:
    """The suggestions the page may show now: every answered question's."""
    return [s for key, s in suggestions.items() if answers.get(key) not in (None, "", [])]
