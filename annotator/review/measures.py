"""The queries that feed ``agreement.py``: submitted labels as plain units, and the tables.

One read of the project's submitted annotations (streamed, whatever the project's size) is
turned into ``Units`` per question: comment id -> annotator id -> value. Drafts and skips are
left out, since an answer still being typed is no judgement to agree with. Answers become
labels by the rules in ``label_units.py`` (free text skipped; a multiple-choice question one
yes/no entry per choice, ``"source_cited=link"``), which exports share.

Reading never writes: a project without a label scheme has no questions here (it is not
given the default scheme on a GET). ``cached_agreement`` keeps the expensive figures (the
bootstrap intervals) per project until a submitted label changes; with a shared cache
(``CACHE_URL``) they are computed once per change for all processes (``computed_once``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from django.db.models import Count, Max, Q, Sum

from annotator.corpus.models import Project
from annotator.labelling.models import Annotation, LabelScheme
from annotator.labelling.scheme import Kind, Question, Scheme
from annotator.review.agreement import (
    DEFAULT_RESAMPLES,
    Label,
    QuestionAgreement,
    Tally,
    Units,
    agreement_from_tally,
    tally_units,
)
from annotator.review.computed_once import (
    ComputeLock,
    cache_get,
    cache_set,
    fingerprint_digest,
)
from annotator.review.label_units import (
    STANCE_QUESTIONS,
    entries_of,
    has_stance_questions,
    readers_for,
    stance_pair,
)

SUBSETS = ("all", "top-level", "replies")
CHUNK_SIZE = 2000


def question_keys(scheme: Scheme) -> Iterator[tuple[str, Question, str | None]]:
    """Each key agreement is measured on, in scheme order: (key, question, choice or None)."""
    for reader in readers_for(scheme):
        question = scheme.question(reader.key)
        if reader.multiple:
            for entry, value in reader.entries:
                yield entry, question, value
        else:
            yield reader.key, question, None


def _subsets_of(depth: int) -> tuple[str, str]:
    return ("all", "top-level") if depth == 0 else ("all", "replies")


class UnitChunks:
    """Units per key for each wanted subset, built from annotation rows fed in comment order
    and handed back ``CHUNK_SIZE`` comments at a time, so memory holds one chunk whatever
    the project's size. Every comment's labels are in exactly one chunk.

    ``add`` takes one submitted annotation and returns a finished chunk when the row starts
    comment ``CHUNK_SIZE + 1`` of the current one (else ``None``); ``finish`` returns the last.
    Feeding rows lets one streamed read serve agreement and other counts at once (the
    dashboard's single pass).
    """

    def __init__(self, scheme: Scheme, subsets: Iterable[str]) -> None:
        self.wanted = set(subsets)
        self.readers = readers_for(scheme)
        self.keys = [key for key, _q, _c in question_keys(scheme)]
        self.tables = self._empty()
        self.comments = 0
        self.last_comment: object = None

    def _empty(self) -> dict[str, dict]:
        return {subset: {key: {} for key in self.keys} for subset in self.wanted}

    def add(
        self, comment_id: object, annotator_id: object, answers: object, depth: int
    ) -> dict[str, dict] | None:
        done = None
        if comment_id != self.last_comment:
            self.last_comment = comment_id
            self.comments += 1
            if self.comments > CHUNK_SIZE:
                done, self.tables, self.comments = self.tables, self._empty(), 1
        if not isinstance(answers, dict):
            return done
        targets = [self.tables[s] for s in _subsets_of(depth) if s in self.wanted]
        if not targets:
            return done
        for entry, label in entries_of(self.readers, answers):
            for table in targets:
                table[entry].setdefault(comment_id, {})[annotator_id] = label
        return done

    def finish(self) -> dict[str, dict]:
        return self.tables


def label_of(scheme: Scheme, key: str, answers: object) -> Label | None:
    """One annotation's label for a measures key (``key`` or ``key=value``), read as
    ``UnitChunks`` reads it: ``None`` where the annotation gives it no label."""
    if not isinstance(answers, dict):
        return None
    readers = readers_for(scheme, [key.partition("=")[0]])
    return next((label for entry, label in entries_of(readers, answers) if entry == key), None)


def _submitted_rows(project: Project) -> Iterator[tuple]:
    """(comment id, annotator id, answers, depth) of every submitted annotation, streamed in
    comment order."""
    return (
        Annotation.objects.filter(project=project, status=Annotation.Status.SUBMITTED)
        .order_by("comment_id")
        .values_list("comment_id", "annotator_id", "answers", "comment__depth")
        .iterator(chunk_size=CHUNK_SIZE)
    )


def _collect_chunks(
    project: Project, scheme: Scheme, subsets: Iterable[str]
) -> Iterator[dict[str, dict]]:
    """Units per key for each wanted subset, ``CHUNK_SIZE`` comments at a time, from one
    streamed query in comment order (see ``UnitChunks``)."""
    chunks = UnitChunks(scheme, subsets)
    for row in _submitted_rows(project):
        done = chunks.add(*row)
        if done is not None:
            yield done
    yield chunks.finish()


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


def current_scheme(project: Project) -> Scheme:
    """The project's current scheme, read without writing anything: a project without a
    scheme has no questions (so nothing to measure), it is not given the default on a GET."""
    current = LabelScheme.objects.current_for(project)
    return current.scheme if current is not None else Scheme()


def labels_by_question(project: Project, *, subset: str = "all") -> dict[str, Units]:
    """Submitted labels of ``project`` as units per question key (or "key=value"), in order.

    ``subset`` is "all", "top-level" (comments answering the article) or "replies". Every
    question of the current scheme except free text has an entry, empty when nobody answered.
    Two queries (the scheme and the annotations), whatever the project's size.
    """
    _check_subset(subset)
    return _collect(project, current_scheme(project), [subset])[subset]


def agreement_table(
    project: Project, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> list[QuestionAgreement]:
    """Agreement for every question (scheme order) in each subset: all, top-level, replies.

    Rows without pairable comments are kept (their estimates are ``None``) so that every
    table has the same rows.
    """
    return agreement_report(project, resamples=resamples, seed=seed)[0]


Report = tuple[list[QuestionAgreement], dict[str, QuestionAgreement]]


class AgreementTallies:
    """What ``agreement_report`` needs, added up from annotation rows fed in comment order.

    Top-level comments and replies split the project in two: "all" is their sum. Each chunk
    of comments is reduced to tallies at once, so memory does not grow with the project.
    """

    def __init__(self, scheme: Scheme) -> None:
        self.keys = [key for key, _q, _c in question_keys(scheme)]
        self.stance = has_stance_questions(scheme)
        self.chunks = UnitChunks(scheme, ["top-level", "replies"])
        self.tallies = {
            (key, subset): Tally() for key in self.keys for subset in ("top-level", "replies")
        }
        self.stance_tallies = {key: Tally() for key in STANCE_QUESTIONS}
        self.finished = False

    def add(self, comment_id: object, annotator_id: object, answers: object, depth: int) -> None:
        done = self.chunks.add(comment_id, annotator_id, answers, depth)
        if done is not None:
            self._add_chunk(done)

    def _add_chunk(self, tables: dict[str, dict]) -> None:
        for (key, subset), tally in self.tallies.items():
            units = tables[subset][key]
            if units:
                self.tallies[(key, subset)] = tally + tally_units(units)
        if self.stance:
            _add_stance(self.stance_tallies, tables["replies"])

    def report(self, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> Report:
        """The table and the stance comparison, with their bootstrap intervals (the
        expensive part)."""
        if not self.finished:
            self._add_chunk(self.chunks.finish())
            self.finished = True
        rows = []
        for key in self.keys:
            top, replies = self.tallies[(key, "top-level")], self.tallies[(key, "replies")]
            for subset, tally in (
                ("all", top + replies),
                ("top-level", top),
                ("replies", replies),
            ):
                rows.append(
                    agreement_from_tally(key, subset, tally, resamples=resamples, seed=seed)
                )
        comparison = (
            {
                key: agreement_from_tally(
                    key, "replies", self.stance_tallies[key], resamples=resamples, seed=seed
                )
                for key in STANCE_QUESTIONS
            }
            if self.stance
            else {}
        )
        return rows, comparison


def agreement_report(
    project: Project, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> Report:
    """``agreement_table`` and ``stance_comparison`` from one read of the labels."""
    return _report(project, current_scheme(project), resamples=resamples, seed=seed)


def _report(project: Project, scheme: Scheme, *, resamples: int, seed: int) -> Report:
    tallies = AgreementTallies(scheme)
    for row in _submitted_rows(project):
        tallies.add(*row)
    return tallies.report(resamples=resamples, seed=seed)


def _add_stance(tallies: dict[str, Tally], replies: dict[str, Units]) -> None:
    """Add one chunk's replies on which the same annotators answered both stance questions."""
    article, parent = (replies[key] for key in STANCE_QUESTIONS)
    both: dict[str, dict] = {key: {} for key in STANCE_QUESTIONS}
    for comment_id, on_article in article.items():
        pair = stance_pair(
            {STANCE_QUESTIONS[0]: on_article, STANCE_QUESTIONS[1]: parent.get(comment_id, {})}
        )
        if pair is None:
            continue
        for key, by_annotator in zip(STANCE_QUESTIONS, pair, strict=True):
            both[key][comment_id] = by_annotator
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
    scheme = current_scheme(project)
    if not has_stance_questions(scheme):
        return {}
    tallies = {key: Tally() for key in STANCE_QUESTIONS}
    for tables in _collect_chunks(project, scheme, ["replies"]):
        _add_stance(tallies, tables["replies"])
    return {
        key: agreement_from_tally(key, "replies", tallies[key], resamples=resamples, seed=seed)
        for key in STANCE_QUESTIONS
    }


# -- the agreement figures, cached per labels version -------------------------------------------

CACHE_PREFIX = "review:agreement:"
CACHE_SECONDS = 7 * 24 * 3600  # an idle project's entry goes after a week


def labels_version(project: Project) -> tuple:
    """A cheap fingerprint of the submitted labels agreement is computed from: one aggregate
    query, no answers read.

    Every save of an annotation bumps its ``revision`` and ``updated_at``, so an added,
    removed, edited or un-submitted label changes the count, the latest ``updated_at`` or the
    sum of revisions; the sums of ids and annotator ids tell one label swapped for another,
    and the sum of top-level comment ids changes when a labelled comment moves between
    top-level and replies, which changes the subsets without touching an annotation.
    """
    row = Annotation.objects.filter(project=project, status=Annotation.Status.SUBMITTED).aggregate(
        count=Count("id"),
        last=Max("updated_at"),
        revisions=Sum("revision"),
        ids=Sum("id"),
        annotators=Sum("annotator_id"),
        top_level=Sum("comment_id", filter=Q(comment__depth=0)),
    )
    return tuple(
        row[name] for name in ("count", "last", "revisions", "ids", "annotators", "top_level")
    )


def _scheme_fingerprint(scheme: Scheme) -> tuple:
    """What of a scheme agreement depends on: keys, kinds and multiple-choice values (titles
    and help are looked up when the figures are shown, so editing them keeps the cache)."""
    return tuple(
        (q.key, str(q.kind), tuple(c.value for c in q.choices) if q.kind == Kind.MULTIPLE else ())
        for q in scheme.questions
    )


@dataclass(frozen=True)
class CachedAgreement:
    """The cached report of one project, if it is still current, and how to store a new one.

    Uses Django's cache framework (``caches["default"]``): with ``CACHE_URL`` a Redis that
    every process shares, so the figures of one labels version are computed once for all of
    them (``lock``, see ``computed_once``); without it Django's default ``LocMemCache``, per
    process and bounded (300 entries, least recently used out), which is enough since one
    entry per project is kept (the latest fingerprint and its report). Either way a report
    is only used for the exact fingerprint it was computed for: a process that stored an
    older version after a newer one only costs the next reader a computation.
    """

    key: str
    fingerprint: tuple
    report: Report | None

    def find(self) -> Report | None:
        """The stored report if it is this fingerprint's (read again: another process may
        have stored it since)."""
        found = cache_get(self.key)
        return found[1] if isinstance(found, tuple) and found[0] == self.fingerprint else None

    def store(self, report: Report) -> None:
        cache_set(self.key, (self.fingerprint, report), CACHE_SECONDS)

    def lock(self) -> ComputeLock:
        """The lock that lets one process compute this fingerprint's report."""
        return ComputeLock(f"{self.key}:computing:{fingerprint_digest(self.fingerprint)}")

    def report_of(self, tallies: AgreementTallies, lock: ComputeLock, **options) -> Report:
        """The report from ``tallies`` (its bootstrap: the expensive part) if this process
        holds ``lock``; else the holder's, once it is stored (computed here if it is not
        there by the time the lock goes or times out). Releases the lock."""
        try:
            if not lock.held:
                lock.wait()
                report = self.find()
                if report is not None:
                    return report
                lock.acquire()
            report = tallies.report(**options)
            self.store(report)
            return report
        finally:
            lock.release()


def cached_agreement(
    project: Project, scheme: Scheme, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> CachedAgreement:
    """The project's cached agreement report if no submitted label changed since it was
    computed (one aggregate query), else ``report=None`` and a ``store`` for the new one."""
    fingerprint = (
        project.created_at,  # a project deleted and made again under the same id starts afresh
        labels_version(project),
        _scheme_fingerprint(scheme),
        resamples,
        seed,
    )
    cached = CachedAgreement(f"{CACHE_PREFIX}{project.pk}", fingerprint, None)
    return replace(cached, report=cached.find())


def cached_agreement_report(
    project: Project,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    scheme: Scheme | None = None,
) -> Report:
    """``agreement_report``, recomputed only when the labels changed since the last call
    (see ``cached_agreement``), and then by one process at a time: the others wait for its
    report. ``scheme`` defaults to the current one (``current_scheme``)."""
    scheme = scheme if scheme is not None else current_scheme(project)
    # The version before the labels: what is stored is never older than its fingerprint.
    cached = cached_agreement(project, scheme, resamples=resamples, seed=seed)
    if cached.report is not None:
        return cached.report
    lock = cached.lock()
    if not lock.acquire():
        lock.wait()
        report = cached.find()
        if report is not None:
            return report
        lock.acquire()  # nothing current was stored: compute here
    tallies = AgreementTallies(scheme)
    try:
        for row in _submitted_rows(project):
            tallies.add(*row)
    except BaseException:
        lock.release()
        raise
    return cached.report_of(tallies, lock, resamples=resamples, seed=seed)
