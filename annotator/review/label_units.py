"""How one comment's submitted answers become the labels agreement is measured on.

Pure rules over a scheme and plain answers, shared by every reader of labels (the dashboard's
queries in ``measures.py`` and the export's row stream), so that the dashboard, the API and
every dataset card count agreement the same way:

* Free-text questions have nothing to agree on and are skipped.
* A single-choice or yes/no question is one entry, keyed by the question: the answer given.
* A multiple-choice question becomes one yes/no entry per choice (``"source_cited=link"``),
  answered by every annotator who answered the question at all, so "did not tick it" counts
  as "no" only for people who gave the question an answer.
* Anything else (an empty answer, a value of the wrong type) is left out.
* Stance toward the article and toward the parent are compared on the same replies and the
  same annotators: those who answered both (``stance_pair``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from annotator.labelling.scheme import Kind, Scheme

STANCE_QUESTIONS = ("stance_article", "stance_parent")


@dataclass(frozen=True)
class Reader:
    """How to read one question's answer: its key and, for multiple choice, its entries."""

    key: str
    multiple: bool
    entries: tuple[tuple[str, str], ...] = ()  # (entry key, choice value) for multiple choice


def readers_for(scheme: Scheme, keys: Iterable[str] | None = None) -> list[Reader]:
    """A reader per question agreement is measured on (scheme order), optionally only
    the questions named in ``keys``."""
    wanted = None if keys is None else set(keys)
    readers = []
    for question in scheme.questions:
        if question.kind == Kind.TEXT or (wanted is not None and question.key not in wanted):
            continue
        if question.kind == Kind.MULTIPLE:
            entries = tuple((f"{question.key}={c.value}", c.value) for c in question.choices)
            readers.append(Reader(question.key, True, entries))
        else:
            readers.append(Reader(question.key, False))
    return readers


def entry_keys(readers: Iterable[Reader]) -> list[str]:
    """Every key agreement is measured on, in order: questions, or ``key=value`` entries."""
    keys: list[str] = []
    for reader in readers:
        keys += [entry for entry, _value in reader.entries] if reader.multiple else [reader.key]
    return keys


def entries_of(readers: Iterable[Reader], answers: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """The ``(entry key, label)`` pairs one annotator's ``answers`` give."""
    for reader in readers:
        answer = answers.get(reader.key)
        if reader.multiple:
            if isinstance(answer, list) and answer:
                for entry, value in reader.entries:
                    yield entry, value in answer
        elif isinstance(answer, str) and answer:
            yield reader.key, answer


def comment_labels(
    readers: Iterable[Reader], annotations: Iterable[tuple[Hashable, Mapping[str, Any]]]
) -> dict[str, dict[Hashable, Any]]:
    """One comment's labels by entry key: ``{entry: {annotator: label}}``, from its
    ``(annotator, answers)`` pairs."""
    readers = list(readers)
    labels: dict[str, dict[Hashable, Any]] = {}
    for annotator, answers in annotations:
        for entry, label in entries_of(readers, answers):
            labels.setdefault(entry, {})[annotator] = label
    return labels


def stance_pair(
    labels: Mapping[str, Mapping[Hashable, Any]],
) -> tuple[dict[Hashable, Any], dict[Hashable, Any]] | None:
    """A reply's stance labels toward the article and toward the parent, restricted to the
    annotators who answered both; None when fewer than two did."""
    on_article = labels.get(STANCE_QUESTIONS[0], {})
    on_parent = labels.get(STANCE_QUESTIONS[1], {})
    coders = [coder for coder in on_article if coder in on_parent]
    if len(coders) < 2:
        return None
    return {c: on_article[c] for c in coders}, {c: on_parent[c] for c in coders}


def has_stance_questions(scheme: Scheme) -> bool:
    """Whether the scheme asks both stance questions with one answer each."""
    questions = [scheme.question(key) for key in STANCE_QUESTIONS]
    return all(q is not None and q.kind in (Kind.SINGLE, Kind.YES_NO) for q in questions)
