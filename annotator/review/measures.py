"""The queries that feed ``agreement.py``: submitted labels as plain units, and the tables.

One read of the project's submitted annotations (streamed, whatever the project's size) is
turned into ``Units`` per question: comment id -> annotator id -> value. Drafts and skips are
left out, since an answer still being typed is no judgement to agree with. Free-text
questions have nothing to agree on and are skipped. A multiple-choice question becomes one
yes/no question per choice (``"source_cited=link"``), answered by every annotator who
answered the question at all, so that "did not tick it" counts as "no" only for people who
gave the question an answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from annotator.corpus.models import Project
from annotator.labelling.models import Annotation
from annotator.labelling.scheme import Kind, Question, Scheme
from annotator.labelling.schemes import current_scheme_for
from annotator.review.agreement import (
    DEFAULT_RESAMPLES,
    QuestionAgreement,
    Tally,
    Units,
    agreement_from_tally,
    tally_units,
)

SUBSETS = ("all", "top-level", "replies")
STANCE_QUESTIONS = ("stance_article", "stance_parent")
CHUNK_SIZE = 2000


def question_keys(scheme: Scheme) -> Iterator[tuple[str, Question, str | None]]:
    """Each key agreement is measured on, in scheme order: (key, question, choice or None)."""
    for question in scheme.questions:
        if question.kind == Kind.TEXT:
            continue
        if question.kind == Kind.MULTIPLE:
            for choice in question.choices:
                yield f"{question.key}={choice.value}", question, choice.value
        else:
            yield question.key, question, None


def _subsets_of(depth: int) -> tuple[str, str]:
    return ("all", "top-level") if depth == 0 else ("all", "replies")


def _collect_chunks(
    project: Project, scheme: Scheme, subsets: Iterable[str]
) -> Iterator[dict[str, dict]]:
    """Units per key for each wanted subset, ``CHUNK_SIZE`` comments at a time, from one
    streamed query in comment order: memory holds one chunk, whatever the project's size.
    Every comment's labels are in exactly one chunk."""
    wanted = set(subsets)
    readers = []
    for question in scheme.questions:
        if question.kind == Kind.TEXT:
            continue
        if question.kind == Kind.MULTIPLE:
            choices = [(f"{question.key}={c.value}", c.value) for c in question.choices]
            readers.append((question.key, True, choices))
        else:
            readers.append((question.key, False, question.key))
    keys = [key for key, _q, _c in question_keys(scheme)]

    def empty() -> dict[str, dict]:
        return {subset: {key: {} for key in keys} for subset in wanted}

    rows = (
        Annotation.objects.filter(project=project, status=Annotation.Status.SUBMITTED)
        .order_by("comment_id")
        .values_list("comment_id", "annotator_id", "answers", "comment__depth")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    tables = empty()
    comments = 0
    last_comment = None
    for comment_id, annotator_id, answers, depth in rows:
        if comment_id != last_comment:
            last_comment = comment_id
            comments += 1
            if comments > CHUNK_SIZE:
                yield tables
                tables, comments = empty(), 1
        if not isinstance(answers, dict):
            continue
        targets = [tables[s] for s in _subsets_of(depth) if s in wanted]
        if not targets:
            continue
        for key, multiple, where in readers:
            answer = answers.get(key)
            if multiple:
                if not isinstance(answer, list) or not answer:
                    continue
                for entry, value in where:
                    ticked = value in answer
                    for table in targets:
                        table[entry].setdefault(comment_id, {})[annotator_id] = ticked
            elif isinstance(answer, str) and answer:
                for table in targets:
                    table[where].setdefault(comment_id, {})[annotator_id] = answer
    yield tables


def _collect(project: Project, scheme: Scheme, subsets: Iterable[str]) -> dict[str, dict]:
    """Units per key for each wanted subset, all in memory (for callers that need units)."""
    wanted = list(subsets)
    merged: dict[str, dict] = {}
    for tables in _collect_chunks(project, scheme, wanted):
        if not merged:
            merged = tables
            continue
        for subset, by_key in tables.items():
            for key, units in by_key.items():
                merged[subset][key].update(units)
    return merged


def _check_subset(subset: str) -> None:
    if subset not in SUBSETS:
        raise ValueError(f"Unknown subset {subset!r}; use one of {', '.join(SUBSETS)}.")


def labels_by_question(project: Project, *, subset: str = "all") -> dict[str, Units]:
    """Submitted labels of ``project`` as units per question key (or "key=value"), in order.

    ``subset`` is "all", "top-level" (comments answering the article) or "replies". Every
    question of the current scheme except free text has an entry, empty when nobody answered.
    Two queries (the scheme and the annotations), whatever the project's size.
    """
    _check_subset(subset)
    scheme = current_scheme_for(project).scheme
    return _collect(project, scheme, [subset])[subset]


def agreement_table(
    project: Project, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> list[QuestionAgreement]:
    """Agreement for every question (scheme order) in each subset: all, top-level, replies.

    Rows without pairable comments are kept (their estimates are ``None``) so that every
    table has the same rows.
    """
    return agreement_report(project, resamples=resamples, seed=seed)[0]


def agreement_report(
    project: Project, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> tuple[list[QuestionAgreement], dict[str, QuestionAgreement]]:
    """``agreement_table`` and ``stance_comparison`` from one read of the labels."""
    scheme = current_scheme_for(project).scheme
    keys = [key for key, _q, _c in question_keys(scheme)]
    stance = _has_stance_questions(scheme)
    # Top-level comments and replies split the project in two: "all" is their sum. Each chunk
    # of comments is reduced to tallies at once, so memory does not grow with the project.
    tallies = {(key, subset): Tally() for key in keys for subset in ("top-level", "replies")}
    stance_tallies = {key: Tally() for key in STANCE_QUESTIONS}
    for tables in _collect_chunks(project, scheme, ["top-level", "replies"]):
        for (key, subset), tally in tallies.items():
            units = tables[subset][key]
            if units:
                tallies[(key, subset)] = tally + tally_units(units)
        if stance:
            _add_stance(stance_tallies, tables["replies"])
    rows = []
    for key in keys:
        top, replies = tallies[(key, "top-level")], tallies[(key, "replies")]
        for subset, tally in (("all", top + replies), ("top-level", top), ("replies", replies)):
            rows.append(agreement_from_tally(key, subset, tally, resamples=resamples, seed=seed))
    comparison = (
        {
            key: agreement_from_tally(
                key, "replies", stance_tallies[key], resamples=resamples, seed=seed
            )
            for key in STANCE_QUESTIONS
        }
        if stance
        else {}
    )
    return rows, comparison


def _has_stance_questions(scheme: Scheme) -> bool:
    questions = [scheme.question(key) for key in STANCE_QUESTIONS]
    return all(q is not None and q.kind in (Kind.SINGLE, Kind.YES_NO) for q in questions)


def _add_stance(tallies: dict[str, Tally], replies: dict[str, Units]) -> None:
    """Add one chunk's replies on which the same annotators answered both stance questions."""
    article, parent = (replies[key] for key in STANCE_QUESTIONS)
    both: dict[str, dict] = {key: {} for key in STANCE_QUESTIONS}
    for comment_id, on_article in article.items():
        on_parent = parent.get(comment_id, {})
        coders = [c for c in on_article if c in on_parent]
        if len(coders) < 2:
            continue
        both["stance_article"][comment_id] = {c: on_article[c] for c in coders}
        both["stance_parent"][comment_id] = {c: on_parent[c] for c in coders}
    for key in STANCE_QUESTIONS:
        if both[key]:
            tallies[key] = tallies[key] + tally_units(both[key])


def stance_comparison(
    project: Project, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> dict[str, QuestionAgreement]:
    """Stance toward the article vs toward the parent, on the same replies and annotators.

    Only replies count, and on each only the annotators who answered both questions, so the
    two rows differ by the question alone: does judging the parent make people agree less?
    Empty when the scheme lacks either question (or asks one as anything but one answer).
    """
    scheme = current_scheme_for(project).scheme
    if not _has_stance_questions(scheme):
        return {}
    tallies = {key: Tally() for key in STANCE_QUESTIONS}
    for tables in _collect_chunks(project, scheme, ["replies"]):
        _add_stance(tallies, tables["replies"])
    return {
        key: agreement_from_tally(key, "replies", tallies[key], resamples=resamples, seed=seed)
        for key in STANCE_QUESTIONS
    }
