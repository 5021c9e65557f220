"""The numbers behind the project dashboard, as plain data: one function per chart.

Every function reads with a fixed number of queries whatever the project's size (counts are
grouped in the database; answers, which live in JSON, are streamed once and counted in
Python so SQLite and PostgreSQL agree). Only *submitted* annotations count: drafts are
work in progress and skips carry no answer. The agreement figures themselves come from
``measures.py`` and ``agreement.py``; this module arranges them for the page and its CSVs.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Max, Q
from django.utils import timezone

from annotator.corpus.models import Comment, Project, Role
from annotator.labelling.default_scheme import default_scheme
from annotator.labelling.models import Annotation, LabelScheme
from annotator.labelling.scheme import Kind, Scheme
from annotator.review.agreement import confusion_matrix
from annotator.review.measures import agreement_report, labels_by_question, question_keys

SUBMITTED = Annotation.Status.SUBMITTED
SKIPPED = Annotation.Status.SKIPPED
DEFAULT_ANNOTATORS_PER_COMMENT = 2
WORST_QUESTIONS = 5  # questions listed under "where annotators disagree most"
RELIABLE = 0.8  # Krippendorff's threshold for drawing conclusions from a coding


def scheme_of(project: Project) -> Scheme:
    """The project's current scheme, read without writing (the default if it has none yet)."""
    current = LabelScheme.objects.current_for(project)
    return current.scheme if current is not None else default_scheme()


def annotators_per_comment(project: Project) -> int:
    """How many people should label each comment (``Project.annotators_per_comment``)."""
    value = getattr(project, "annotators_per_comment", None)
    return value if isinstance(value, int) and value > 0 else DEFAULT_ANNOTATORS_PER_COMMENT


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


def progress_over_time(project: Project) -> Progress:
    """Submitted annotations per day and in total, and how many comments had at least one,
    and at least ``target``, submitted labels by the end of each day.

    Days are calendar days in the site's time zone (``TIME_ZONE``). Two queries: the
    submissions are streamed in comment order, so memory holds one comment's at a time.
    """
    target = annotators_per_comment(project)
    submitted: Counter[date] = Counter()
    first_labelled: Counter[date] = Counter()  # day a comment got its first label
    completed: Counter[date] = Counter()  # day it got its ``target``-th
    labelled = complete = 0

    def close(dates: list[date | None]) -> None:
        nonlocal labelled, complete
        labelled += 1
        complete += len(dates) >= target
        known = sorted(d for d in dates if d is not None)
        if known:
            first_labelled[known[0]] += 1
        if len(known) >= target:
            completed[known[target - 1]] += 1

    rows = (
        Annotation.objects.filter(project=project, status=SUBMITTED)
        .order_by("comment_id")
        .values_list("comment_id", "submitted_at")
        .iterator(chunk_size=5000)
    )
    current, dates = None, []
    for comment_id, at in rows:
        if comment_id != current:
            if dates:
                close(dates)
            current, dates = comment_id, []
        day = timezone.localtime(at).date() if at is not None else None
        dates.append(day)
        if day is not None:
            submitted[day] += 1
    if dates:
        close(dates)

    days: list[Day] = []
    if submitted:
        first, last = min(submitted), max(submitted)
        total = once = full = 0
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            total += submitted[day]
            once += first_labelled[day]
            full += completed[day]
            days.append(Day(day, submitted[day], total, once, full))
    return Progress(
        days=days,
        comments=Comment.objects.filter(article__project=project).count(),
        labelled=labelled,
        complete=complete,
        target=target,
    )


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


def label_distribution(project: Project, *, scheme: Scheme | None = None) -> list[Distribution]:
    """Counts per choice for every choice question of the current scheme (one pass).

    Values no longer in the scheme (answered under an older version) are listed after the
    scheme's own choices, so nothing given is hidden. Free-text questions are left out.
    """
    scheme = scheme or scheme_of(project)
    answered: Counter[str] = Counter()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    rows = (
        Annotation.objects.filter(project=project, status=SUBMITTED)
        .values_list("answers", flat=True)
        .order_by()
    )
    for answers in rows.iterator(chunk_size=2000):
        if not isinstance(answers, dict):
            continue
        for key, answer in answers.items():
            values = answer if isinstance(answer, list) else [answer]
            values = [v for v in values if isinstance(v, str) and v != ""]
            if not values:
                continue
            answered[key] += 1
            counts[key].update(set(values))
    distributions = []
    for question in scheme.questions:
        if question.kind == Kind.TEXT:
            continue
        given = counts.get(question.key, Counter())
        total = answered[question.key]
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
                    LabelCount(value, label, given[value], given[value] / total if total else 0.0)
                    for value, label in ordered
                ],
            )
        )
    return distributions


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


def _hours_worked(times: list[tuple[datetime, int]], median_ms: float) -> float:
    """Hours spent over a person's active days: on each day, from the first submission to
    the last, plus one median comment (the first one's own time, which the span misses)."""
    by_day: dict[date, list[datetime]] = defaultdict(list)
    for submitted_at, _ms in times:
        by_day[timezone.localtime(submitted_at).date()].append(submitted_at)
    seconds = 0.0
    for moments in by_day.values():
        seconds += (max(moments) - min(moments)).total_seconds() + median_ms / 1000
    return seconds / 3600


def annotator_pace(project: Project) -> list[Pace]:
    """Submitted and skipped counts, median time per comment and speed, per person.

    Everyone who saved an annotation is listed, and annotators who have not started yet
    (with zeros), most submitted first. Three queries.
    """
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
    times: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for annotator_id, submitted_at, ms in (
        Annotation.objects.filter(project=project, status=SUBMITTED, submitted_at__isnull=False)
        .values_list("annotator_id", "submitted_at", "time_spent_ms")
        .order_by()
        .iterator(chunk_size=5000)
    ):
        times[annotator_id].append((submitted_at, ms))
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
        mine = times.get(person_id, [])
        spent = [ms for _, ms in mine if ms > 0]
        median_ms = statistics.median(spent) if spent else None
        hours = _hours_worked(mine, median_ms or 0) if mine else 0.0
        paces.append(
            Pace(
                annotator_id=person_id,
                username=username,
                submitted=row.get("submitted", 0),
                skipped=row.get("skipped", 0),
                drafts=row.get("drafts", 0),
                median_seconds=median_ms / 1000 if median_ms is not None else None,
                active_days=len({timezone.localtime(at).date() for at, _ in mine}),
                per_hour=len(mine) / hours if hours > 0 else None,
                last_activity=row.get("last"),
            )
        )
    paces.sort(key=lambda p: (-p.submitted, p.username.lower()))
    return paces


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
    """The confusion matrix of two annotators on one question (``key`` or ``key=value``)."""
    scheme = scheme or scheme_of(project)
    if units_by_question is None:
        units_by_question = labels_by_question(project)
    units = units_by_question.get(question, {})
    matrix = confusion_matrix(units, a, b)
    if names is None:
        names = usernames([a, b])
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


def agreement_overview(
    project: Project, *, resamples: int = 1000, seed: int = 0, scheme: Scheme | None = None
) -> Agreement:
    """The agreement table with readable titles and names, the stance comparison, and the
    questions where annotators disagree most: the lowest Krippendorff's alpha over all
    comments, among those below ``RELIABLE``.
    """
    scheme = scheme or scheme_of(project)
    table, stance = agreement_report(project, resamples=resamples, seed=seed)
    ids = {p.a for qa in table for p in qa.pairs} | {p.b for qa in table for p in qa.pairs}
    names = usernames(ids)

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
