"""The numbers behind the project dashboard, as plain data: one function per chart, and
``read_dashboard`` for the whole page.

Only *submitted* annotations count: drafts are work in progress and skips carry no answer.
Their answers live in JSON, so they are streamed and counted in Python (SQLite and
PostgreSQL agree). A page load reads them **once**: ``read_labels`` streams the submitted
annotations in comment order and feeds every chart's reader (progress per day, label
distribution, pace, the confusion matrix of one question and two annotators, and the
agreement tallies), each holding counts rather than rows, so memory stays flat whatever the
project's size. The agreement figures (bootstrap intervals: the expensive part) are cached
per project until a submitted label changes (``measures.cached_agreement``), so a reload
without new labels only counts; with a shared cache (``CACHE_URL``) one process computes them
per change and the others loading the page meanwhile wait for its figures. The other charts
are counts made during the one read the page needs anyway, so they are not cached. Every
function reads with a fixed number of queries.
"""

from __future__ import annotations

import statistics
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, Max, Q, Value
from django.utils import timezone

from annotator.corpus.models import Comment, Project, Role
from annotator.labelling.default_scheme import default_scheme
from annotator.labelling.models import Annotation, LabelScheme
from annotator.labelling.scheme import Kind, Scheme
from annotator.review.agreement import DEFAULT_RESAMPLES, confusion_matrix
from annotator.review.measures import (
    CHUNK_SIZE,
    AgreementTallies,
    Report,
    cached_agreement,
    cached_agreement_report,
    label_of,
    question_keys,
)

SUBMITTED = Annotation.Status.SUBMITTED
SKIPPED = Annotation.Status.SKIPPED
WORST_QUESTIONS = 5  # questions listed under "where annotators disagree most"
RELIABLE = 0.8  # Krippendorff's threshold for drawing conclusions from a coding


def scheme_of(project: Project) -> Scheme:
    """The project's current scheme, read without writing (the default if it has none yet)."""
    current = LabelScheme.objects.current_for(project)
    return current.scheme if current is not None else default_scheme()


# -- one read of the submitted labels ---------------------------------------------------------


class LabelRow(NamedTuple):
    """One submitted annotation as the charts read it; ``day`` is ``submitted_at``'s calendar
    day in the site's time zone (``None`` without a time)."""

    comment_id: int
    annotator_id: int
    answers: Any
    depth: int
    submitted_at: datetime | None
    day: date | None
    time_spent_ms: int
    suggestions: Any = None  # what models suggested (``Annotation.suggestions``)


# The columns a reader may need besides comment and annotator ids; the others are read as NULL.
COLUMNS = {
    "answers": "answers",
    "depth": "comment__depth",
    "submitted_at": "submitted_at",
    "time_spent_ms": "time_spent_ms",
    "suggestions": "suggestions",
}


class Reader:
    """A chart's share of the one read: ``add`` sees every row, ``end_comment`` runs after
    each comment's last row (rows come in comment order). ``columns`` names what it reads
    (of ``COLUMNS``), so a chart read alone does not decode answers it never looks at."""

    columns: frozenset[str] = frozenset(COLUMNS)

    def add(self, row: LabelRow) -> None:
        raise NotImplementedError

    def end_comment(self) -> None:
        """Nothing to do by default."""

    def finish(self) -> None:
        """After the last row (nothing to do by default)."""


def read_labels(
    project: Project, readers: Iterable[Reader], *, annotators: Iterable[Any] | None = None
) -> None:
    """Stream the project's submitted annotations once, in comment order, through ``readers``.

    One query (chunked: a server-side cursor on PostgreSQL), whatever the project's size.
    ``annotators`` limits the read to those people (the confusion matrix alone needs two).
    """
    readers = list(readers)
    closers = [r for r in readers if type(r).end_comment is not Reader.end_comment]
    wanted = frozenset().union(*(r.columns for r in readers))
    rows = Annotation.objects.filter(project=project, status=SUBMITTED)
    if annotators is not None:
        rows = rows.filter(annotator_id__in=list(annotators))
    rows = rows.order_by("comment_id").values_list(
        "comment_id",
        "annotator_id",
        *(
            field if name in wanted else Value(None, output_field=IntegerField())
            for name, field in COLUMNS.items()
        ),
    )
    zone = timezone.get_current_timezone()
    current: Any = None
    for comment_id, annotator_id, answers, depth, at, ms, shown in rows.iterator(
        chunk_size=CHUNK_SIZE
    ):
        if comment_id != current:
            if current is not None:
                for reader in closers:
                    reader.end_comment()
            current = comment_id
        day = at.astimezone(zone).date() if at is not None else None
        row = LabelRow(comment_id, annotator_id, answers, depth, at, day, ms, shown)
        for reader in readers:
            reader.add(row)
    if current is not None:
        for reader in closers:
            reader.end_comment()
    for reader in readers:
        reader.finish()


# -- progress over time ------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    """One calendar day: annotations submitted that day and in total, and comments with at
    least one (``labelled``) and at least the target number (``complete``) of labels."""

    day: date
    submitted: int
    cumulative: int
    labelled: int = 0
    complete: int = 0


@dataclass(frozen=True)
class Progress:
    """Submitted annotations per day (gaps filled with zero days) and coverage of comments."""

    days: list[Day]
    comments: int  # comments in the project
    labelled: int  # comments with at least one submitted annotation
    complete: int  # comments with at least ``target`` submitted annotations
    target: int

    @property
    def submitted(self) -> int:
        return self.days[-1].cumulative if self.days else 0

    @property
    def first_day(self) -> date | None:
        return self.days[0].day if self.days else None

    @property
    def last_day(self) -> date | None:
        return self.days[-1].day if self.days else None


class ProgressReader(Reader):
    """Submissions per day, and the day each comment got its first and its ``target``-th
    label; holds one comment's dates at a time."""

    columns = frozenset({"submitted_at"})

    def __init__(self, target: int) -> None:
        self.target = target
        self.submitted: Counter[date] = Counter()
        self.first_labelled: Counter[date] = Counter()  # day a comment got its first label
        self.completed: Counter[date] = Counter()  # day it got its ``target``-th
        self.labelled = self.complete = 0
        self.dates: list[date | None] = []

    def add(self, row: LabelRow) -> None:
        self.dates.append(row.day)
        if row.day is not None:
            self.submitted[row.day] += 1

    def end_comment(self) -> None:
        dates, target = self.dates, self.target
        self.dates = []
        self.labelled += 1
        self.complete += len(dates) >= target
        known = sorted(d for d in dates if d is not None)
        if known:
            self.first_labelled[known[0]] += 1
        if len(known) >= target:
            self.completed[known[target - 1]] += 1

    def progress(self, comments: int) -> Progress:
        """The days from the first submission to the last, gaps filled with zero days."""
        days: list[Day] = []
        if self.submitted:
            first, last = min(self.submitted), max(self.submitted)
            total = once = full = 0
            for offset in range((last - first).days + 1):
                day = first + timedelta(days=offset)
                total += self.submitted[day]
                once += self.first_labelled[day]
                full += self.completed[day]
                days.append(Day(day, self.submitted[day], total, once, full))
        return Progress(
            days=days,
            comments=comments,
            labelled=self.labelled,
            complete=self.complete,
            target=self.target,
        )


def comment_count(project: Project) -> int:
    """Comments in the project (one query)."""
    return Comment.objects.filter(article__project=project).count()


def progress_over_time(project: Project) -> Progress:
    """Submitted annotations per day and in total, and how many comments had at least one,
    and at least ``target``, submitted labels by the end of each day.

    Days are calendar days in the site's time zone (``TIME_ZONE``). Two queries: the
    submissions are streamed in comment order, so memory holds one comment's at a time.
    """
    reader = ProgressReader(project.annotators_per_comment)
    read_labels(project, [reader])
    return reader.progress(comment_count(project))


# -- label distribution ------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelCount:
    value: str
    label: str
    count: int
    share: float  # of the annotations that answered the question, 0..1


@dataclass(frozen=True)
class Distribution:
    """How often each answer of one question was given in submitted annotations.

    For a multiple-choice question each value is counted once per annotation that picked
    it, so the shares add up to more than 1.
    """

    key: str
    title: str
    kind: str
    answered: int  # submitted annotations that answer the question
    counts: list[LabelCount]

    @property
    def largest(self) -> int:
        return max((c.count for c in self.counts), default=0)


class DistributionReader(Reader):
    """How many annotations answered each choice question of the scheme, and gave each value.

    Annotations are first counted by their answers to those questions (few distinct
    combinations in practice), and each combination is counted into the totals once, which
    is several times faster than counting every annotation's values; past ``MAX_SHAPES``
    combinations they are folded into the totals, so memory stays bounded.
    """

    MAX_SHAPES = 10_000
    columns = frozenset({"answers"})

    def __init__(self, scheme: Scheme) -> None:
        self.scheme = scheme
        questions = [q for q in scheme.questions if q.kind != Kind.TEXT]
        self.keys = tuple(q.key for q in questions)
        self.multiple = [i for i, q in enumerate(questions) if q.kind == Kind.MULTIPLE]
        self.shapes: Counter[tuple] = Counter()
        self.answered: Counter[str] = Counter()
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)

    def add(self, row: LabelRow) -> None:
        answers = row.answers
        if not isinstance(answers, dict):
            return
        shape = list(map(answers.get, self.keys))
        for index in self.multiple:
            if isinstance(shape[index], list):
                shape[index] = tuple(shape[index])
        try:
            self.shapes[tuple(shape)] += 1
        except TypeError:  # an odd answer that cannot be a key (a list where one value
            self._count(shape, 1)  # belongs, a dict): counted on its own
        if len(self.shapes) > self.MAX_SHAPES:
            self._fold()

    def _count(self, shape: Iterable[Any], times: int) -> None:
        """Count one combination of answers ``times`` over: each non-empty text value once
        per annotation."""
        for key, answer in zip(self.keys, shape, strict=True):
            values = answer if isinstance(answer, list | tuple) else [answer]
            values = {v for v in values if isinstance(v, str) and v != ""}
            if values:
                self.answered[key] += times
                counts = self.counts[key]
                for value in values:
                    counts[value] += times

    def _fold(self) -> None:
        for shape, times in self.shapes.items():
            self._count(shape, times)
        self.shapes.clear()

    def distributions(self) -> list[Distribution]:
        """Counts per choice for every choice question of the scheme.

        Values no longer in the scheme (answered under an older version) are listed after
        the scheme's own choices, so nothing given is hidden. Free-text questions are left
        out.
        """
        self._fold()
        distributions = []
        for question in self.scheme.questions:
            if question.kind == Kind.TEXT:
                continue
            given = self.counts.get(question.key, Counter())
            total = self.answered[question.key]
            ordered = [(c.value, c.label) for c in question.choices]
            known = {value for value, _ in ordered}
            ordered += [(value, value) for value in sorted(given) if value not in known]
            distributions.append(
                Distribution(
                    key=question.key,
                    title=question.title,
                    kind=str(question.kind),
                    answered=total,
                    counts=[
                        LabelCount(
                            value, label, given[value], given[value] / total if total else 0.0
                        )
                        for value, label in ordered
                    ],
                )
            )
        return distributions


def label_distribution(project: Project, *, scheme: Scheme | None = None) -> list[Distribution]:
    """Counts per choice for every choice question of the current scheme (one pass)."""
    scheme = scheme or scheme_of(project)
    reader = DistributionReader(scheme)
    read_labels(project, [reader])
    return reader.distributions()


# -- per-annotator pace ------------------------------------------------------------------------


@dataclass(frozen=True)
class Pace:
    """One person's work on the project."""

    annotator_id: int
    username: str
    submitted: int
    skipped: int
    drafts: int
    median_seconds: float | None  # median time on one submitted comment
    active_days: int  # calendar days with at least one submission
    per_hour: float | None  # submitted comments per hour of their active days
    last_activity: datetime | None


class PaceReader(Reader):
    """Per person: how many submissions have a time, the time spent on each (kept as a
    compact array for the median) and the first and last submission of each day."""

    columns = frozenset({"submitted_at", "time_spent_ms"})

    def __init__(self) -> None:
        self.timed: Counter[Any] = Counter()
        self.spent: dict[Any, array] = defaultdict(lambda: array("q"))
        self.span: dict[tuple[Any, date], list[datetime]] = {}  # (person, day) -> [first, last]

    def add(self, row: LabelRow) -> None:
        at = row.submitted_at
        if at is None:
            return
        person = row.annotator_id
        self.timed[person] += 1
        if row.time_spent_ms > 0:
            self.spent[person].append(row.time_spent_ms)
        span = self.span.get((person, row.day))
        if span is None:
            self.span[(person, row.day)] = [at, at]
        elif at < span[0]:
            span[0] = at
        elif at > span[1]:
            span[1] = at

    def paces(self, people: list[Pace]) -> list[Pace]:
        """``people`` (from ``annotator_totals``) with their times, speed and active days.

        Hours worked: on each active day, from the first submission to the last, plus one
        median comment (the first one's own time, which the span misses).
        """
        days: dict[Any, list[tuple[datetime, datetime]]] = defaultdict(list)
        for (person, _day), (first, last) in self.span.items():
            days[person].append((first, last))
        paces = []
        for pace in people:
            person = pace.annotator_id
            spent = self.spent.get(person)
            median_ms = statistics.median(spent) if spent else None
            seconds = sum(
                (last - first).total_seconds() + (median_ms or 0) / 1000
                for first, last in days.get(person, [])
            )
            hours = seconds / 3600
            paces.append(
                replace(
                    pace,
                    median_seconds=median_ms / 1000 if median_ms is not None else None,
                    active_days=len(days.get(person, [])),
                    per_hour=self.timed[person] / hours if hours > 0 else None,
                )
            )
        return paces


def annotator_totals(project: Project) -> list[Pace]:
    """Everyone who saved an annotation, and annotators who have not started yet (with
    zeros), with their counts and last activity but no times yet (``PaceReader`` adds them),
    most submitted first. Two queries: enough for the confusion matrix's choices."""
    User = get_user_model()
    totals = {
        row["annotator_id"]: row
        for row in Annotation.objects.filter(project=project)
        .values("annotator_id")
        .annotate(
            submitted=Count("id", filter=Q(status=SUBMITTED)),
            skipped=Count("id", filter=Q(status=SKIPPED)),
            drafts=Count("id", filter=Q(status=Annotation.Status.DRAFT)),
            last=Max("updated_at"),
        )
        .order_by()
    }
    people = dict(
        User.objects.filter(
            Q(pk__in=totals.keys())
            | Q(memberships__project=project, memberships__role=Role.ANNOTATOR)
        )
        .distinct()
        .values_list("pk", User.USERNAME_FIELD)
    )
    paces = []
    for person_id, username in people.items():
        row = totals.get(person_id, {})
        paces.append(
            Pace(
                annotator_id=person_id,
                username=username,
                submitted=row.get("submitted", 0),
                skipped=row.get("skipped", 0),
                drafts=row.get("drafts", 0),
                median_seconds=None,
                active_days=0,
                per_hour=None,
                last_activity=row.get("last"),
            )
        )
    paces.sort(key=lambda p: (-p.submitted, p.username.lower()))
    return paces


def annotator_pace(project: Project) -> list[Pace]:
    """Submitted and skipped counts, median time per comment and speed, per person.

    Everyone who saved an annotation is listed, and annotators who have not started yet
    (with zeros), most submitted first. Three queries.
    """
    people = annotator_totals(project)
    reader = PaceReader()
    read_labels(project, [reader])
    return reader.paces(people)


def usernames(ids: Iterable[Any]) -> dict[Any, str]:
    """Usernames for annotator ids (one query); an unknown id keeps its number as name."""
    User = get_user_model()
    wanted = {i for i in ids if i is not None}
    found = dict(User.objects.filter(pk__in=wanted).values_list("pk", User.USERNAME_FIELD))
    return {i: found.get(i, f"#{i}") for i in wanted}


# -- questions as the agreement measures name them -------------------------------------------


@dataclass(frozen=True)
class QuestionOption:
    """A question as ``measures.labels_by_question`` keys it: ``key`` or ``key=value``."""

    key: str
    title: str


def agreement_questions(scheme: Scheme) -> list[QuestionOption]:
    """The units agreement is measured on: each single-choice and yes/no question, and each
    value of a multiple-choice question (picked or not), in scheme order."""
    return [
        QuestionOption(key, question_title(scheme, key)) for key, _q, _c in question_keys(scheme)
    ]


def question_title(scheme: Scheme, key: str) -> str:
    """A readable title for a measures key (``key`` or ``key=value``)."""
    base, _, value = key.partition("=")
    question = scheme.question(base)
    if question is None:
        return key
    if value:
        choice = question.choice(value)
        return f"{question.title}: {choice.label if choice else value}"
    return question.title


def label_text(scheme: Scheme, key: str, label: Any) -> str:
    """A label as a person reads it: the choice's label, yes/no for picked values."""
    base, _, value = key.partition("=")
    if isinstance(label, bool):
        return "picked" if label else "not picked"
    question = scheme.question(base)
    if question is not None and not value and isinstance(label, str):
        choice = question.choice(label)
        if choice is not None:
            return choice.label
    return str(label)


# -- confusion matrix --------------------------------------------------------------------------

SHADES = 6  # CSS classes shade-0 .. shade-5


@dataclass(frozen=True)
class ConfusionCell:
    count: int
    shade: int  # 0 (none) .. SHADES - 1 (the largest cell)
    agree: bool  # on the diagonal


@dataclass(frozen=True)
class ConfusionRow:
    label: str
    cells: list[ConfusionCell]
    total: int


@dataclass(frozen=True)
class Confusion:
    """How annotator A's labels (rows) meet annotator B's (columns) on shared comments."""

    question: str
    title: str
    a: Any
    b: Any
    a_name: str
    b_name: str
    columns: list[str]
    rows: list[ConfusionRow]
    column_totals: list[int]
    shared: int  # comments both labelled
    agreed: int

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.shared if self.shared else None


def _same(x: Any, y: Any) -> bool:
    """Equal labels, telling True and False apart from 1 and 0."""
    if isinstance(x, bool) or isinstance(y, bool):
        return x is y
    return x == y


def _label_order(scheme: Scheme, key: str, labels: Iterable[Any]) -> list[Any]:
    """Labels in the scheme's choice order, unknown ones after (sorted as text)."""
    base, _, value = key.partition("=")
    present = set(labels)
    question = scheme.question(base)
    order: list[Any] = []
    if question is not None and not value:
        order = [c.value for c in question.choices if c.value in present]
    elif value:
        # Picked before not picked (compared by identity: True == 1 in Python).
        order = [v for v in (True, False) if any(_same(x, v) for x in present)]
    rest = sorted((x for x in present if not any(_same(x, o) for o in order)), key=str)
    return order + rest


def shade_of(count: int, largest: int) -> int:
    """The CSS shade step for a cell: 0 for none, then 1..SHADES-1 by share of the largest."""
    if count <= 0 or largest <= 0:
        return 0
    return max(1, round(count / largest * (SHADES - 1)))


@dataclass(frozen=True)
class PairChoice:
    """Which confusion matrix to draw: one measures key and two annotators."""

    question: str
    a: Any
    b: Any


class ConfusionReader(Reader):
    """The confusion matrix of one question and two annotators, counted comment by comment
    (no units are kept: only the two labels of the current comment)."""

    columns = frozenset({"answers"})

    def __init__(self, scheme: Scheme, choice: PairChoice) -> None:
        self.scheme, self.choice = scheme, choice
        self.matrix: dict[tuple[Any, Any], int] = {}
        self.first: Any = None
        self.second: Any = None

    def add(self, row: LabelRow) -> None:
        if row.annotator_id == self.choice.a:
            self.first = label_of(self.scheme, self.choice.question, row.answers)
        if row.annotator_id == self.choice.b:
            self.second = label_of(self.scheme, self.choice.question, row.answers)

    def end_comment(self) -> None:
        if self.first is not None and self.second is not None:
            pair = (self.first, self.second)
            self.matrix[pair] = self.matrix.get(pair, 0) + 1
        self.first = self.second = None


def confusion(
    project: Project,
    question: str,
    a: Any,
    b: Any,
    *,
    units_by_question: Mapping[str, Mapping[Any, Mapping[Any, Any]]] | None = None,
    names: Mapping[Any, str] | None = None,
    scheme: Scheme | None = None,
) -> Confusion:
    """The confusion matrix of two annotators on one question (``key`` or ``key=value``).

    Without ``units_by_question`` it reads only those two people's submitted labels.
    """
    scheme = scheme or scheme_of(project)
    if units_by_question is not None:
        matrix = confusion_matrix(units_by_question.get(question, {}), a, b)
    else:
        reader = ConfusionReader(scheme, PairChoice(question, a, b))
        read_labels(project, [reader], annotators=[a, b])
        matrix = reader.matrix
    if names is None:
        names = usernames([a, b])
    return confusion_from_matrix(scheme, question, a, b, matrix, names)


def confusion_from_matrix(
    scheme: Scheme,
    question: str,
    a: Any,
    b: Any,
    matrix: Mapping[tuple[Any, Any], int],
    names: Mapping[Any, str],
) -> Confusion:
    """The matrix as the page draws it: labels in scheme order, shades, totals."""
    order = _label_order(scheme, question, [la for la, _ in matrix] + [lb for _, lb in matrix])
    largest = max(matrix.values(), default=0)
    rows = []
    for row_label in order:
        cells = [
            ConfusionCell(
                count=matrix.get((row_label, column), 0),
                shade=shade_of(matrix.get((row_label, column), 0), largest),
                agree=row_label == column,
            )
            for column in order
        ]
        rows.append(
            ConfusionRow(
                label=label_text(scheme, question, row_label),
                cells=cells,
                total=sum(c.count for c in cells),
            )
        )
    column_totals = [sum(matrix.get((r, c), 0) for r in order) for c in order]
    return Confusion(
        question=question,
        title=question_title(scheme, question),
        a=a,
        b=b,
        a_name=names.get(a, f"#{a}"),
        b_name=names.get(b, f"#{b}"),
        columns=[label_text(scheme, question, c) for c in order],
        rows=rows,
        column_totals=column_totals,
        shared=sum(matrix.values()),
        agreed=sum(n for (la, lb), n in matrix.items() if la == lb),
    )


def busiest_pair(paces: list[Pace]) -> tuple[Any, Any] | None:
    """The two people with the most submitted annotations: the matrix shown first."""
    active = [p for p in paces if p.submitted > 0]
    if len(active) < 2:
        return None
    return active[0].annotator_id, active[1].annotator_id


# -- agreement, arranged for the page ---------------------------------------------------------


@dataclass(frozen=True)
class AgreementRow:
    """One row of the agreement table: a question (or value) in one subset of comments."""

    question: str
    title: str
    subset: str
    result: Any  # agreement.QuestionAgreement
    pairs: list[tuple[str, str, Any]] = field(default_factory=list)  # (name a, name b, pair)


@dataclass(frozen=True)
class Agreement:
    rows: list[AgreementRow]
    stance: list[AgreementRow]  # stance_article vs stance_parent on the same replies
    worst: list[AgreementRow]  # subset "all", alpha below RELIABLE, lowest first


def _alpha_value(row: AgreementRow) -> float:
    value = row.result.alpha.value
    return value if value is not None else float("inf")


class AgreementReader(Reader):
    """Feeds the agreement tallies (``measures.AgreementTallies``): chunked units, reduced to
    counts a chunk at a time."""

    columns = frozenset({"answers", "depth"})

    def __init__(self, scheme: Scheme) -> None:
        self.tallies = AgreementTallies(scheme)

    def add(self, row: LabelRow) -> None:
        self.tallies.add(row.comment_id, row.annotator_id, row.answers, row.depth)


def arrange_agreement(scheme: Scheme, report: Report, names: Mapping[Any, str]) -> Agreement:
    """The agreement table with readable titles and names, the stance comparison, and the
    questions where annotators disagree most: the lowest Krippendorff's alpha over all
    comments, among those below ``RELIABLE``."""
    table, stance = report

    def arrange(qa) -> AgreementRow:
        return AgreementRow(
            question=qa.question,
            title=question_title(scheme, qa.question),
            subset=qa.subset,
            result=qa,
            pairs=[(names.get(p.a, f"#{p.a}"), names.get(p.b, f"#{p.b}"), p) for p in qa.pairs],
        )

    rows = [arrange(qa) for qa in table]
    stance_rows = [
        AgreementRow(
            question=name,
            title=question_title(scheme, name) if scheme.question(name) else name,
            subset=qa.subset,
            result=qa,
        )
        for name, qa in stance.items()
    ]
    # Only questions short of "reliable" are worth a reviewer's attention here.
    shaky = [
        r
        for r in rows
        if r.subset == "all" and r.result.alpha.value is not None and _alpha_value(r) < RELIABLE
    ]
    worst = sorted(shaky, key=lambda r: (_alpha_value(r), r.question))[:WORST_QUESTIONS]
    return Agreement(rows=rows, stance=stance_rows, worst=worst)


def agreement_overview(
    project: Project,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    scheme: Scheme | None = None,
) -> Agreement:
    """``arrange_agreement`` of the project's figures, from the cache while no submitted
    label changed (see ``measures.cached_agreement``), else from one read of the labels."""
    scheme = scheme or scheme_of(project)
    report = cached_agreement_report(project, resamples=resamples, seed=seed, scheme=scheme)
    table = report[0]
    ids = {p.a for qa in table for p in qa.pairs} | {p.b for qa in table for p in qa.pairs}
    return arrange_agreement(scheme, report, usernames(ids))


# -- the whole page, from one read ---------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    progress: Progress
    distributions: list[Distribution]
    paces: list[Pace]
    agreement: Agreement
    matrix: Confusion | None


def read_dashboard(
    project: Project,
    *,
    scheme: Scheme,
    people: list[Pace],
    pair: PairChoice | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    extra: Iterable[Reader] = (),
) -> Dashboard:
    """Every chart of the page from one streamed read of the submitted labels.

    ``people`` is ``annotator_totals(project)`` (the view needs it first, for the confusion
    matrix's form); ``pair`` the matrix to draw, if any. Three queries besides: the labels
    version (for the agreement cache), the labels themselves and the comment count. On a
    cache hit the agreement tallies are not even built. ``extra`` readers (the models'
    figures, ``model_agreement.ModelReader``) share the same read.
    """
    # The version is read before the labels: figures stored under it can only be newer than
    # it says (then the next load recomputes), never older.
    cached = cached_agreement(project, scheme, resamples=resamples, seed=seed)
    progress = ProgressReader(project.annotators_per_comment)
    distribution = DistributionReader(scheme)
    pace = PaceReader()
    readers: list[Reader] = [progress, distribution, pace]
    matrix = ConfusionReader(scheme, pair) if pair is not None else None
    if matrix is not None:
        readers.append(matrix)
    agreement = AgreementReader(scheme) if cached.report is None else None
    lock = cached.lock() if agreement is not None else None
    if agreement is not None and lock is not None:
        readers.append(agreement)
        # Taken before the read: another process loading the page now waits for this one's
        # bootstrap instead of running its own (the tallies are cheap, they are kept anyway).
        lock.acquire()
    readers.extend(extra)
    try:
        read_labels(project, readers)
    except BaseException:
        if lock is not None:
            lock.release()
        raise

    report = cached.report
    if agreement is not None and lock is not None:
        report = cached.report_of(agreement.tallies, lock, resamples=resamples, seed=seed)
    names = {p.annotator_id: p.username for p in people}
    return Dashboard(
        progress=progress.progress(comment_count(project)),
        distributions=distribution.distributions(),
        paces=pace.paces(people),
        agreement=arrange_agreement(scheme, report, names),
        matrix=(
            confusion_from_matrix(scheme, pair.question, pair.a, pair.b, matrix.matrix, names)
            if matrix is not None and pair is not None
            else None
        ),
    )
