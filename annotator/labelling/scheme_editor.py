"""The scheme's form editor, as plain data with no database: a draft read from form fields,
the edits its buttons make, the messages next to its fields, and the definition it becomes.

The editor never shows JSON. Every question and choice in the draft has an id (``q3``,
``c12``) that stays put while the admin renames keys and values, so a "shown only when"
condition names the question and the answers it depends on by id, chosen from menus; the
definition written from the draft names them by key and value as ``parse_scheme`` expects.
Saving goes through ``parse_scheme`` (and ``schemes.save_scheme``) like the JSON editor, so
nothing here is a second set of scheme rules: ``field_errors`` only says *where* a problem
is, beside the field, while the admin types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from annotator.labelling.scheme import (
    FORM_FIELD_NAMES,
    KEY_PATTERN,
    RESERVED_KEYS,
    VALUE_PATTERN,
    Kind,
    Target,
    scheme_to_data,
)
from annotator.labelling.scheme import Scheme as ParsedScheme

MAX_QUESTIONS = 60
MAX_CHOICES = 60  # per question; larger schemes go through the JSON import
TEXT_LIMITS = {"key": 50, "title": 200, "help": 2000, "value": 50, "label": 100}
TEXT_LIMITS.update(description=2000, example=2000, choice_key=1)
ID_PATTERN = re.compile(r"^[qc][0-9]{1,6}$")
KIND_LABELS = {
    Kind.SINGLE: "One choice",
    Kind.MULTIPLE: "Several choices",
    Kind.YES_NO: "Yes or no",
    Kind.TEXT: "Free text",
}
TARGET_LABELS = {
    Target.COMMENT: "the comment",
    Target.ARTICLE: "the article",
    Target.PARENT: "the parent comment",
}


class DraftError(ValueError):
    """Form fields that cannot be a draft at all (forged ids, too many questions)."""


@dataclass
class ChoiceDraft:
    """One choice as the editor holds it."""

    id: str
    value: str = ""
    label: str = ""
    description: str = ""
    example: str = ""
    key: str = ""
    exclusive: bool = False


@dataclass
class QuestionDraft:
    """One question as the editor holds it; ``show_if`` and ``show_if_in`` are ids."""

    id: str
    key: str = ""
    title: str = ""
    kind: str = Kind.SINGLE.value
    help: str = ""
    required: bool = True
    target: str = Target.COMMENT.value
    replies_only: bool = False
    show_if: str = ""
    show_if_in: list[str] = field(default_factory=list)
    choices: list[ChoiceDraft] = field(default_factory=list)

    @property
    def has_choices(self) -> bool:
        return self.kind != Kind.TEXT.value


@dataclass
class Draft:
    """The questions in the editor, in order."""

    questions: list[QuestionDraft] = field(default_factory=list)

    def question(self, question_id: str) -> QuestionDraft | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def new_id(self, prefix: str) -> str:
        """An id no question or choice of the draft has."""
        used = [int(q.id[1:]) for q in self.questions]
        used += [int(c.id[1:]) for q in self.questions for c in q.choices]
        return f"{prefix}{max(used, default=0) + 1}"

    def conditions_for(self, question: QuestionDraft) -> list[QuestionDraft]:
        """The questions ``question`` may depend on: those above it that have choices."""
        above = self.questions[: self.questions.index(question)]
        return [q for q in above if q.has_choices]


# -- reading ------------------------------------------------------------------------------


def draft_from_definition(data: Mapping[str, Any] | ParsedScheme) -> Draft:
    """The editor's draft of a (valid) definition or parsed scheme, with fresh ids."""
    if isinstance(data, ParsedScheme):
        data = scheme_to_data(data)
    draft = Draft()
    counter = 0
    by_key: dict[str, QuestionDraft] = {}
    for item in data.get("questions", []):
        counter += 1
        question = QuestionDraft(
            id=f"q{counter}",
            key=item["key"],
            title=item.get("title", ""),
            kind=item["kind"],
            help=item.get("help", ""),
            required=item.get("required", True),
            target=item.get("target", Target.COMMENT.value),
        )
        question.replies_only = item.get("replies_only", question.target == Target.PARENT)
        for choice in item.get("choices", []):
            counter += 1
            question.choices.append(
                ChoiceDraft(
                    id=f"c{counter}",
                    **{k: choice.get(k, "") for k in ("value", "label", "description")},
                    example=choice.get("example", ""),
                    key=choice.get("key", ""),
                    exclusive=choice.get("exclusive", False),
                )
            )
        condition = item.get("show_if")
        if condition and condition["question"] in by_key:
            depends_on = by_key[condition["question"]]
            question.show_if = depends_on.id
            question.show_if_in = [c.id for c in depends_on.choices if c.value in condition["in"]]
        by_key[question.key] = question
        draft.questions.append(question)
    return draft


def _one(post: Mapping, name: str, limit: int) -> str:
    value = post.get(name, "")
    if not isinstance(value, str):
        value = ""
    # One character over the limit is enough for the message; the rest is never kept.
    return value[: limit + 1].replace("\x00", "")


def _ids(post, name: str, prefix: str, limit: int) -> list[str]:
    values = post.getlist(name) if hasattr(post, "getlist") else list(post.get(name, []))
    if len(values) > limit:
        raise DraftError(f"At most {limit} {'questions' if prefix == 'q' else 'choices'} here; "
                         "use the JSON import for a larger scheme.")  # fmt: skip
    ids = list(dict.fromkeys(values))
    if len(ids) != len(values) or not all(ID_PATTERN.match(i) and i[0] == prefix for i in ids):
        raise DraftError("The form was changed outside the page; reload it and try again.")
    return ids


def draft_from_post(post: Mapping) -> Draft:
    """The draft the editor's fields describe, in the order they were sent.

    Texts are cut one character past their limit (so the message can say they are too
    long); ids that the page cannot have made raise ``DraftError``.
    """
    draft = Draft()
    seen_choices: set[str] = set()
    for qid in _ids(post, "question", "q", MAX_QUESTIONS):
        q = QuestionDraft(id=qid)
        for name in ("key", "title", "help"):
            setattr(q, name, _one(post, f"{qid}-{name}", TEXT_LIMITS[name]).strip())
        q.kind = _one(post, f"{qid}-kind", 20)
        q.target = _one(post, f"{qid}-target", 20)
        q.required = bool(post.get(f"{qid}-required"))
        q.replies_only = bool(post.get(f"{qid}-replies_only"))
        q.show_if = _one(post, f"{qid}-show_if", 10)
        q.show_if_in = [v for v in _ids_or_empty(post, f"{qid}-show_if_in")]
        for cid in _ids(post, f"{qid}-choice", "c", MAX_CHOICES):
            if cid in seen_choices:
                raise DraftError("The form was changed outside the page; reload it.")
            seen_choices.add(cid)
            choice = ChoiceDraft(id=cid, exclusive=bool(post.get(f"{cid}-exclusive")))
            for name in ("value", "label", "description", "example"):
                setattr(choice, name, _one(post, f"{cid}-{name}", TEXT_LIMITS[name]).strip())
            choice.key = _one(post, f"{cid}-key", 5).strip()
            q.choices.append(choice)
        draft.questions.append(q)
    return draft


def _ids_or_empty(post, name: str) -> list[str]:
    values = post.getlist(name) if hasattr(post, "getlist") else list(post.get(name, []))
    return [v for v in values[:MAX_CHOICES] if isinstance(v, str) and ID_PATTERN.match(v)]


# -- editing ------------------------------------------------------------------------------

YES_NO = (("yes", "Yes", "y"), ("no", "No", "n"))


def fit_choices_to_kind(draft: Draft) -> None:
    """A yes/no question gets the choices yes and no; a free-text question has none."""
    for q in draft.questions:
        if q.kind == Kind.YES_NO.value and sorted(c.value for c in q.choices) != ["no", "yes"]:
            q.choices = [
                ChoiceDraft(id=draft.new_id("c"), value=v, label=label, key=key)
                for v, label, key in YES_NO
            ]
        elif q.kind == Kind.TEXT.value:
            q.choices = []


def apply_edit(draft: Draft, op: str) -> str:
    """Make the edit a button asked for; return the id of the element to focus next.

    ``op`` is ``add-question``, ``add-choice:q1``, ``remove-question:q1``,
    ``remove-choice:c2``, ``up:q1``, ``down:q1``, ``choice-up:c2``, ``choice-down:c2`` or
    ``refresh``; an op naming an id the draft lacks does nothing.
    """
    name, _, target = op.partition(":")
    questions = draft.questions
    if name == "add-question":
        if len(questions) >= MAX_QUESTIONS:
            raise DraftError(f"At most {MAX_QUESTIONS} questions in the form editor.")
        question = QuestionDraft(id=draft.new_id("q"))
        questions.append(question)
        question.choices.append(ChoiceDraft(id=draft.new_id("c")))
        return f"{question.id}-key"
    question = draft.question(target)
    if name in ("add-choice", "remove-question", "up", "down") and question is None:
        return "add-question"
    if name == "add-choice":
        if len(question.choices) >= MAX_CHOICES:
            raise DraftError(f"At most {MAX_CHOICES} choices in one question here.")
        choice = ChoiceDraft(id=draft.new_id("c"))
        question.choices.append(choice)
        return f"{choice.id}-value"
    if name == "remove-question":
        index = questions.index(question)
        questions.remove(question)
        for other in questions:
            if other.show_if == question.id:
                other.show_if, other.show_if_in = "", []
        if questions:
            return f"{questions[min(index, len(questions) - 1)].id}-title"
        return "add-question"
    if name in ("up", "down"):
        index = questions.index(question)
        to = index - 1 if name == "up" else index + 1
        if 0 <= to < len(questions):
            questions[index], questions[to] = questions[to], questions[index]
        # Stay on the button pressed; at the top (bottom) the other one.
        if (name == "up" and to <= 0) or (name == "down" and to >= len(questions) - 1):
            name = "down" if name == "up" else "up"
        return f"{question.id}-{name}" if len(questions) > 1 else f"{question.id}-title"
    for question in questions:
        for index, choice in enumerate(question.choices):
            if choice.id != target:
                continue
            if name == "remove-choice":
                question.choices.remove(choice)
                question.show_if_in = [c for c in question.show_if_in if c != choice.id]
                for other in questions:
                    other.show_if_in = [c for c in other.show_if_in if c != choice.id]
                return f"{question.id}-add-choice"
            if name in ("choice-up", "choice-down"):
                to = index - 1 if name == "choice-up" else index + 1
                if 0 <= to < len(question.choices):
                    choices = question.choices
                    choices[index], choices[to] = choices[to], choices[index]
                return f"{choice.id}-{name.removeprefix('choice-')}"
    return ""


# -- checking -----------------------------------------------------------------------------


def field_errors(draft: Draft) -> dict[str, str]:
    """Messages by field name (``q1-key``, ``c2-key``...) for what ``parse_scheme`` refuses."""
    errors: dict[str, str] = {}
    position = {q.id: i for i, q in enumerate(draft.questions)}
    keys: dict[str, str] = {}
    for q in draft.questions:
        _check_lengths(errors, q.id, q, ("key", "title", "help"))
        if not q.key:
            errors[f"{q.id}-key"] = "Give the question a key."
        elif not KEY_PATTERN.match(q.key):
            errors[f"{q.id}-key"] = "Lower-case letters, digits and _, starting with a letter."
        elif q.key in FORM_FIELD_NAMES:
            errors[f"{q.id}-key"] = f"“{q.key}” is a name the workspace form uses."
        elif q.key in keys:
            errors[f"{q.id}-key"] = f"Question {position[keys[q.key]] + 1} has this key."
        keys.setdefault(q.key, q.id)
        if not q.title:
            errors.setdefault(f"{q.id}-title", "Give the question a title.")
        if q.kind not in {k.value for k in Kind}:
            errors[f"{q.id}-kind"] = "Pick a kind from the menu."
        if q.target not in {t.value for t in Target}:
            errors[f"{q.id}-target"] = "Pick what it is judged against from the menu."
        _check_choices(errors, q)
        _check_condition(errors, draft, q, position)
    return errors


def _check_lengths(errors: dict, prefix: str, item: Any, names: tuple[str, ...]) -> None:
    for name in names:
        if len(getattr(item, name)) > TEXT_LIMITS[name]:
            errors[f"{prefix}-{name}"] = f"At most {TEXT_LIMITS[name]} characters."


def _check_choices(errors: dict, q: QuestionDraft) -> None:
    if not q.has_choices:
        return
    if not q.choices:
        errors[f"{q.id}-choices"] = "Add at least one choice."
    values: dict[str, int] = {}
    keys: dict[str, int] = {}
    for number, c in enumerate(q.choices, start=1):
        _check_lengths(errors, c.id, c, ("value", "label", "description", "example"))
        if not c.value:
            errors[f"{c.id}-value"] = "Give the choice a value."
        elif not VALUE_PATTERN.match(c.value):
            errors[f"{c.id}-value"] = "Lower-case letters, digits, _ and -."
        elif c.value in values:
            errors[f"{c.id}-value"] = f"Choice {values[c.value]} has this value."
        values.setdefault(c.value, number)
        message = key_problem(c.key, keys)
        if message:
            errors[f"{c.id}-key"] = message
        if c.key:
            keys.setdefault(c.key, number)
        if c.exclusive and q.kind != Kind.MULTIPLE.value:
            errors[f"{c.id}-exclusive"] = "Only a several-choices question has these."
    if q.kind == Kind.YES_NO.value and set(values) != {"yes", "no"}:
        errors[f"{q.id}-kind"] = "A yes-or-no question has the choices yes and no."


def key_problem(key: str, taken: Mapping[str, int]) -> str:
    """Why ``key`` cannot be a choice's key (``taken``: keys of the choices above), or ""."""
    if not key:
        return ""
    if len(key) > 1:
        return "One character."
    if key.isspace() or key in RESERVED_KEYS:
        return f"“{key}” is a workspace shortcut."
    if key in taken:
        return f"Choice {taken[key]} has this key."
    return ""


def _check_condition(errors: dict, draft: Draft, q: QuestionDraft, position: dict) -> None:
    if not q.show_if:
        return
    name = f"{q.id}-show_if"
    depends_on = draft.question(q.show_if)
    if depends_on is None:
        errors[name] = "That question was removed; pick another."
    elif depends_on is q:
        errors[name] = "A question cannot depend on itself."
    elif position[depends_on.id] > position[q.id]:
        errors[name] = "Move this question below the one it depends on."
    elif not depends_on.has_choices:
        errors[name] = "Pick a question with choices."
    elif not q.show_if_in:
        errors[f"{q.id}-show_if_in"] = "Tick the answers that show this question."
    elif set(q.show_if_in) - {c.id for c in depends_on.choices}:
        errors[f"{q.id}-show_if_in"] = "Pick answers of that question."


# -- writing ------------------------------------------------------------------------------


def definition_from_draft(draft: Draft) -> dict:
    """The definition the draft describes, for ``parse_scheme`` (which has the last word)."""
    questions = []
    for q in draft.questions:
        item: dict[str, Any] = {"key": q.key, "title": q.title, "kind": q.kind}
        if q.help:
            item["help"] = q.help
        item["required"] = q.required
        item["target"] = q.target
        item["replies_only"] = q.replies_only
        depends_on = draft.question(q.show_if) if q.show_if else None
        if depends_on is not None:
            by_id = {c.id: c.value for c in depends_on.choices}
            values = [by_id.get(cid, cid) for cid in q.show_if_in]
            item["show_if"] = {"question": depends_on.key, "in": values}
        elif q.show_if:
            item["show_if"] = {"question": q.show_if, "in": []}
        if q.has_choices:
            item["choices"] = [
                {
                    "value": c.value,
                    "label": c.label,
                    "description": c.description,
                    "example": c.example,
                    "key": c.key,
                    **({"exclusive": True} if c.exclusive else {}),
                }
                for c in q.choices
            ]
        questions.append(item)
    return {"questions": questions}


def prepare_for_display(draft: Draft, errors: Mapping[str, str]) -> None:
    """Give each question and choice its ``errors`` (by field), and each question the menu
    of questions it may depend on (``options``) and the one it does (``depends_on``)."""
    for q in draft.questions:
        q.errors = _errors_of(q.id, errors)
        q.options = draft.conditions_for(q)
        depends_on = draft.question(q.show_if) if q.show_if else None
        if depends_on is not None and depends_on is not q and depends_on not in q.options:
            q.options.append(depends_on)  # still chosen: its error says what to do
        q.depends_on = depends_on if depends_on in q.options else None
        for c in q.choices:
            c.errors = _errors_of(c.id, errors)


def _errors_of(item_id: str, errors: Mapping[str, str]) -> dict[str, str]:
    prefix = f"{item_id}-"
    return {
        name.removeprefix(prefix).replace("-", "_"): message
        for name, message in errors.items()
        if name.startswith(prefix)
    }
