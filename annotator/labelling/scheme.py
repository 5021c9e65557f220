"""Label schemes: the questions asked about each comment, as plain data with no database.

A scheme is stored as JSON (``LabelScheme.definition``) and parsed here into frozen
dataclasses, so that views, validation, exports and the scheme editor share one reading of
it. ``parse_scheme`` refuses a definition with a clear message naming the question and the
field, which is what the browser editor shows.

Answers are a ``dict`` from question key to a value: a string for single choice, yes/no and
free text, a list of strings for multiple choice. A question can be shown only when another
answer holds (``show_if``) or only for replies (``replies_only``); hidden questions are
neither asked nor required, and their stale answers are dropped when a form is saved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """How a question is answered."""

    SINGLE = "single"  # one choice
    MULTIPLE = "multiple"  # any number of choices; an exclusive choice stands alone
    YES_NO = "yes_no"  # yes or no
    TEXT = "text"  # short free text


class Target(StrEnum):
    """What a question is judged against; the workspace puts the question next to it."""

    COMMENT = "comment"
    ARTICLE = "article"
    PARENT = "parent"


KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
VALUE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
# Keys the workspace keeps for itself: shortcuts, guidelines, flag, report, skip, note,
# article, previous and next comment (see static/answer_keys.js and static/workspace.js).
RESERVED_KEYS = frozenset("?gfrsta[]")
TEXT_MAX_LENGTH = 500
# Names the workspace form uses besides the question keys (answers are posted by key).
FORM_FIELD_NAMES = frozenset(
    {
        "revision",
        "action",
        "note",
        "flagged",
        "skip_reason",
        "elapsed_ms",
        "preselected",
        "suggested",
    }
)


class SchemeError(ValueError):
    """A scheme definition that cannot be used; the message names the question and field."""


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    description: str = ""
    example: str = ""
    key: str = ""
    exclusive: bool = False


@dataclass(frozen=True)
class Condition:
    """Show a question only when the answer to ``question`` is (or contains) one of ``values``."""

    question: str
    values: tuple[str, ...]

    def holds(self, answers: Mapping[str, Any]) -> bool:
        answer = answers.get(self.question)
        if isinstance(answer, list):
            return any(value in self.values for value in answer)
        return answer in self.values


@dataclass(frozen=True)
class Question:
    key: str
    title: str
    kind: Kind
    help: str = ""
    required: bool = True
    target: Target = Target.COMMENT
    replies_only: bool = False
    show_if: Condition | None = None
    choices: tuple[Choice, ...] = ()

    def choice(self, value: str) -> Choice | None:
        return next((c for c in self.choices if c.value == value), None)

    @property
    def values(self) -> frozenset[str]:
        return frozenset(c.value for c in self.choices)

    def is_shown(self, answers: Mapping[str, Any], is_reply: bool) -> bool:
        """Whether the question is asked, given the other answers and the comment's place."""
        if self.replies_only and not is_reply:
            return False
        return self.show_if is None or self.show_if.holds(answers)


@dataclass(frozen=True)
class Scheme:
    questions: tuple[Question, ...] = field(default_factory=tuple)

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)

    def shown_questions(self, answers: Mapping[str, Any], is_reply: bool) -> list[Question]:
        """The questions asked for a comment, in order."""
        return [q for q in self.questions if q.is_shown(answers, is_reply)]


YES_NO_CHOICES = (Choice("yes", "Yes", key="y"), Choice("no", "No", key="n"))


def _text(data: Mapping, name: str, where: str, *, required: bool = False, limit=2000) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise SchemeError(f"{where}: '{name}' must be text.")
    value = value.strip()
    if required and not value:
        raise SchemeError(f"{where}: '{name}' is required.")
    if len(value) > limit:
        raise SchemeError(f"{where}: '{name}' is longer than {limit} characters.")
    return value


def _flag(data: Mapping, name: str, where: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise SchemeError(f"{where}: '{name}' must be true or false.")
    return value


def _parse_choice(data: Any, where: str) -> Choice:
    if not isinstance(data, Mapping):
        raise SchemeError(f"{where}: a choice must be an object.")
    value = _text(data, "value", where, required=True, limit=50)
    where = f"{where} '{value}'"
    if not VALUE_PATTERN.match(value):
        raise SchemeError(
            f"{where}: a value uses lower-case letters, digits, '_' and '-' (at most 50)."
        )
    key = _text(data, "key", where, limit=1)
    if key and (key.isspace() or key in RESERVED_KEYS):
        raise SchemeError(f"{where}: key '{key}' is kept for the workspace; pick another.")
    return Choice(
        value=value,
        label=_text(data, "label", where, limit=100) or value.replace("_", " ").capitalize(),
        description=_text(data, "description", where),
        example=_text(data, "example", where),
        key=key,
        exclusive=_flag(data, "exclusive", where, False),
    )


def _parse_question(data: Any, index: int) -> Question:
    where = f"Question {index}"
    if not isinstance(data, Mapping):
        raise SchemeError(f"{where}: must be an object.")
    key = _text(data, "key", where, required=True, limit=50)
    where = f"Question '{key}'"
    if not KEY_PATTERN.match(key):
        raise SchemeError(
            f"{where}: a key starts with a letter and uses lower-case letters, digits and '_'."
        )
    if key in FORM_FIELD_NAMES:
        raise SchemeError(f"{where}: '{key}' is a name the workspace form uses; pick another.")
    try:
        kind = Kind(data.get("kind"))
    except ValueError:
        kinds = ", ".join(k.value for k in Kind)
        raise SchemeError(f"{where}: 'kind' must be one of {kinds}.") from None
    try:
        target = Target(data.get("target", Target.COMMENT))
    except ValueError:
        targets = ", ".join(t.value for t in Target)
        raise SchemeError(f"{where}: 'target' must be one of {targets}.") from None
    raw_choices = data.get("choices", [])
    if kind == Kind.YES_NO and not raw_choices:
        choices = YES_NO_CHOICES
    elif kind == Kind.TEXT:
        if raw_choices:
            raise SchemeError(f"{where}: a free-text question has no choices.")
        choices = ()
    else:
        if not isinstance(raw_choices, list) or not raw_choices:
            raise SchemeError(f"{where}: needs a list of choices.")
        choices = tuple(_parse_choice(c, f"{where}, choice") for c in raw_choices)
        if kind == Kind.YES_NO and {c.value for c in choices} != {"yes", "no"}:
            raise SchemeError(f"{where}: a yes/no question has the choices 'yes' and 'no'.")
    values = [c.value for c in choices]
    if len(set(values)) != len(values):
        raise SchemeError(f"{where}: two choices share a value.")
    keys = [c.key for c in choices if c.key]
    if len(set(keys)) != len(keys):
        raise SchemeError(f"{where}: two choices share a keyboard key.")
    if kind != Kind.MULTIPLE and any(c.exclusive for c in choices):
        raise SchemeError(f"{where}: only a multiple-choice question has exclusive choices.")
    # Give every choice a key: digits in order, for the ones the author left without.
    free = [k for k in "123456789" if k not in keys]
    choices = tuple(c if c.key else _with_key(c, free.pop(0) if free else "") for c in choices)
    show_if = data.get("show_if")
    condition = None
    if show_if is not None:
        if not isinstance(show_if, Mapping) or not isinstance(show_if.get("question"), str):
            raise SchemeError(f"{where}: 'show_if' needs a 'question' and a list 'in'.")
        shown_for = show_if.get("in")
        if not isinstance(shown_for, list) or not all(isinstance(v, str) for v in shown_for):
            raise SchemeError(f"{where}: 'show_if' needs a list of values in 'in'.")
        condition = Condition(show_if["question"], tuple(shown_for))
    return Question(
        key=key,
        title=_text(data, "title", where, required=True, limit=200),
        kind=kind,
        help=_text(data, "help", where),
        required=_flag(data, "required", where, True),
        target=target,
        replies_only=_flag(data, "replies_only", where, target == Target.PARENT),
        show_if=condition,
        choices=choices,
    )


def _with_key(choice: Choice, key: str) -> Choice:
    return Choice(
        choice.value, choice.label, choice.description, choice.example, key, choice.exclusive
    )


def parse_scheme(data: Any) -> Scheme:
    """Check a scheme definition and turn it into a ``Scheme``; raise ``SchemeError``."""
    if not isinstance(data, Mapping) or not isinstance(data.get("questions"), list):
        raise SchemeError("A scheme is an object with a list of 'questions'.")
    if not data["questions"]:
        raise SchemeError("A scheme needs at least one question.")
    questions = tuple(_parse_question(q, i) for i, q in enumerate(data["questions"], start=1))
    seen: dict[str, Question] = {}
    for question in questions:
        if question.key in seen:
            raise SchemeError(f"Question '{question.key}': two questions share this key.")
        condition = question.show_if
        if condition is not None:
            depends_on = seen.get(condition.question)
            if depends_on is None:
                raise SchemeError(
                    f"Question '{question.key}': 'show_if' must name a question above it."
                )
            unknown = set(condition.values) - depends_on.values
            if unknown:
                raise SchemeError(
                    f"Question '{question.key}': '{condition.question}' has no choice "
                    f"{', '.join(sorted(unknown))}."
                )
        seen[question.key] = question
    return Scheme(questions)


def scheme_to_data(scheme: Scheme) -> dict:
    """The JSON definition of ``scheme`` (what ``parse_scheme`` reads back)."""
    questions = []
    for q in scheme.questions:
        item: dict[str, Any] = {"key": q.key, "title": q.title, "kind": q.kind.value}
        if q.help:
            item["help"] = q.help
        if not q.required:
            item["required"] = False
        if q.target != Target.COMMENT:
            item["target"] = q.target.value
        if q.replies_only != (q.target == Target.PARENT):
            item["replies_only"] = q.replies_only
        if q.show_if:
            item["show_if"] = {"question": q.show_if.question, "in": list(q.show_if.values)}
        if q.kind != Kind.TEXT:
            item["choices"] = [
                {
                    k: v
                    for k, v in (
                        ("value", c.value),
                        ("label", c.label),
                        ("description", c.description),
                        ("example", c.example),
                        ("key", c.key),
                        ("exclusive", c.exclusive),
                    )
                    if v or k in ("value", "label")
                }
                for c in q.choices
            ]
        questions.append(item)
    return {"questions": questions}


# -- answers ---------------------------------------------------------------------------------


def clean_answers(
    scheme: Scheme,
    raw: Mapping[str, Any],
    *,
    is_reply: bool,
    kept: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Check answers from a form against ``scheme``; return (answers, errors by key).

    ``raw`` maps keys to a string or a list of strings (the form's values). Answers to
    hidden questions are dropped. A value that the current scheme no longer offers is
    accepted only when it equals the stored answer in ``kept``: an answer given under an
    earlier scheme version is kept as it was, never silently changed or lost.
    Required questions are not checked here (see ``missing_answers``), so that partial
    answers can be autosaved.
    """
    kept = kept or {}
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for question in scheme.questions:
        value = raw.get(question.key)
        if value in (None, "", []):
            continue
        if question.kind == Kind.TEXT:
            text = value if isinstance(value, str) else str(value)
            text = text.strip()
            if len(text) > TEXT_MAX_LENGTH:
                errors[question.key] = f"At most {TEXT_MAX_LENGTH} characters."
            elif text:
                answers[question.key] = text
            continue
        if question.kind == Kind.MULTIPLE:
            values = [value] if isinstance(value, str) else list(value)
            values = list(dict.fromkeys(v for v in values if v))
            old = kept.get(question.key)
            allowed = question.values | set(old if isinstance(old, list) else [])
            unknown = [v for v in values if v not in allowed]
            if unknown:
                errors[question.key] = f"Not a choice: {', '.join(unknown)}."
                continue
            exclusive = [v for v in values if (c := question.choice(v)) and c.exclusive]
            if exclusive and len(values) > 1:
                label = question.choice(exclusive[0]).label
                errors[question.key] = f"“{label}” cannot be combined with other choices."
                continue
            if values:
                answers[question.key] = values
            continue
        if not isinstance(value, str):
            errors[question.key] = "Pick one choice."
            continue
        if value not in question.values and value != kept.get(question.key):
            errors[question.key] = f"Not a choice: {value}."
            continue
        answers[question.key] = value
    shown = {q.key for q in scheme.shown_questions(answers, is_reply)}
    answers = {key: value for key, value in answers.items() if key in shown}
    return answers, {key: e for key, e in errors.items() if key in shown or key not in answers}


def missing_answers(scheme: Scheme, answers: Mapping[str, Any], *, is_reply: bool) -> list[str]:
    """Keys of the required questions that are shown but not answered."""
    return [
        q.key
        for q in scheme.shown_questions(answers, is_reply)
        if q.required and answers.get(q.key) in (None, "", [])
    ]
