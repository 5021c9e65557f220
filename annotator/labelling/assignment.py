"""Sharing the labelling work out: which comment an annotator gets next, held for them.

Each comment should be labelled by ``project.annotators_per_comment`` people (k). When an
annotator asks for work, ``claim_next`` hands them a comment they have not submitted or
skipped and whose *takers* (other people's submitted annotations plus other people's live
claims) are fewer than k, and writes a ``Claim`` that holds it for them.

Holds are short until someone works. Opening the workspace (pressing "Start labelling" to
look, or the next comment swapped in after a submit) takes a *viewing* hold of
``VIEWING_HOLD``: long enough that two people arriving together are not handed the same last
slot, short enough that a look does not keep the comment from others for half an hour. The
first save of answers (autosave or submit, ``annotations.save_annotation``) makes it the full
hold of ``project.claim_minutes``, renewed by every later save; leaving the page releases a
hold with nothing saved at once (``release_unstarted``, the ``labelling:release`` endpoint).

Overlap comes early. With k above 1, a comment others have started (0 < takers < k) comes
before one nobody has taken: first in the current thread, in tree order (its article and
context are already read), then in a thread where someone else is at work now; only then
the next untouched comment in the project's work order. So a second annotator joining a
project labels, from their first comment, what the first one already did, and comments
reach k labels (agreement can be measured) from the start instead of when someone wraps
round. With k = 1 the queue is the work order alone. Submitting or skipping deletes the claim
(``annotations.save_annotation``); an expired claim no longer counts and is cleared by the next
claim in the project. Skips by others do not count toward k: a skipped comment still needs
k labels, so the queue hands it to someone else.

Concurrency. Claims run in parallel, also in one project: the k check is made per comment
(``claim_guard``). The search below picks a small batch of candidates on READ COMMITTED
snapshots that may be a few milliseconds old; each candidate is locked with a per-comment
advisory lock that others skip (as ``SKIP LOCKED`` does), then the claim is written by one
``INSERT ... SELECT ... WHERE`` that re-counts the takers on a snapshot taken after the lock, so
two claims never both take a comment's last slot. When every candidate is locked by others,
the claim waits for the first one's lock (only while it holds none, so no deadlock) or, if it
already holds one, searches again. Submitting turns a claim into a label in one transaction
(the count stays), releasing and expiry lower it, so none of them needs the guard. On SQLite,
transactions are ``IMMEDIATE`` (settings.py): the write lock is taken at ``BEGIN``, which
serialises claims. tests/labelling/test_assignment.py runs 8 and 32 annotators at once on
PostgreSQL; without the guard they take a comment more than k times.

Speed. Finding the candidates takes one query whatever the project's size, plain SQL built
once per process (``assignment_search``; Django compiling the nested correlated counts on
every claim was half of a claim's time): the current thread's started comments and the rest
of it, else (in the same statement) the first thread others hold claims in with a started comment
(only those few threads are probed), else the first later thread with work (articles in work
order, by id or down the shuffled rank's expression index, each probed with an ``EXISTS``
that stops at its first waiting comment), wrapping round. Each comment looked at costs two
index probes (annotations, claims), so the cost is the stretch of finished comments walked
over, plus one pass over the current thread and over the threads others work in when none
of their comments is started. A search starts after the annotator's last comment (or, for
someone new, where the others are working), so the finished part of a project is not walked
over: bench/next_comment.py measures a fresh claim at 100,000 and 1,000,000 comments, early
and late (bench/README.md has the figures). Only an annotator with nothing left walks the
whole project. A newcomer starts after the comment most recently handed out, else after the
newest label of anyone (an index probe each).

An annotator may still open any comment of the project by its address (a shared link, the
thread page, previous/next) and label it, even one that already has k labels: that adds an
extra label and breaks nothing; the queue simply never hands such a comment out.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import (
    Case,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotator.corpus.models import (
    Comment,
    Project,
    WorkOrder,
    thread_rank_expression,
    thread_rank_of,
    uncertainty_rank_expression,
    uncertainty_rank_of,
)
from annotator.labelling import assignment_search, claim_guard
from annotator.labelling.annotations import DONE_STATUSES
from annotator.labelling.assignment_search import Candidate
from annotator.labelling.models import Annotation, Claim

# Searches one claim makes at most when its candidates are all locked by others (each waits
# a little; in practice a second search finds what the first one's holders left).
MAX_SEARCHES = 50
SEARCH_PAUSE = 0.002
# How long a comment handed out on a page view is held before any answer is saved (see the
# module docstring); never longer than the project's own claim_minutes.
VIEWING_HOLD = timedelta(minutes=2)


class ReassignError(ValueError):
    """A reassignment that cannot be done: handing someone's work to themselves."""


# -- the work order --------------------------------------------------------------------------


def thread_rank(project: Project, article_id: int) -> int:
    """Where an article's thread comes in the project's shuffled order (lower is earlier);
    ``corpus.models.thread_rank_of``, an arithmetic function the database indexes."""
    return thread_rank_of(project.pk, article_id)


def _rank_expression(project: Project, article_field: str) -> ExpressionWrapper:
    """``thread_rank`` as SQL (the expression of the index ``article_thread_rank``)."""
    return thread_rank_expression(Value(project.pk), F(article_field))


def in_work_order(comments: QuerySet[Comment], project: Project) -> QuerySet[Comment]:
    """``comments`` in the project's work order: threads one after another, each in tree order.

    Thread order follows article ids; shuffled order sorts threads by their rank, an
    arithmetic function of the project and article ids (``thread_rank``; the same project
    always gets the same order). Inside a thread, comments follow their path.
    """
    if project.work_order == WorkOrder.SHUFFLED:
        return comments.annotate(thread_rank=_rank_expression(project, "article_id")).order_by(
            "thread_rank", "article_id", "path"
        )
    if project.work_order == WorkOrder.UNCERTAIN:
        return comments.annotate(thread_rank=uncertainty_rank_expression("article")).order_by(
            "thread_rank", "article_id", "path"
        )
    return comments.order_by("article_id", "path")


def work_order_key(project: Project, comment: Comment) -> tuple:
    """A comment's position in the work order, as a sortable tuple (no query)."""
    if project.work_order == WorkOrder.SHUFFLED:
        return (thread_rank(project, comment.article_id), comment.article_id, comment.path)
    if project.work_order == WorkOrder.UNCERTAIN:  # the comment's article is loaded
        return (uncertainty_rank_of(comment.article), comment.article_id, comment.path)
    return (comment.article_id, comment.path)


# -- claiming --------------------------------------------------------------------------------


def _taker_count(rows: QuerySet, weight) -> Coalesce:
    """A correlated ``SUM(weight)`` over ``rows`` of the outer comment, 0 when there are none.

    A scalar subquery, not ``EXISTS``: PostgreSQL runs it as one index probe per comment it
    looks at, and cannot turn it into a hash join that reads all of a person's annotations
    (which, nested in the per-thread search, took seconds with stale statistics).
    """
    summed = rows.order_by().values("comment").annotate(n=Sum(weight)).values("n")
    return Coalesce(Subquery(summed, output_field=IntegerField()), Value(0))


def waiting_for(annotator, project: Project, now: datetime | None = None) -> QuerySet[Comment]:
    """Comments the queue may hand ``annotator``, in work order.

    Not submitted or skipped by them, and fewer than k takers among the others: submitted
    annotations plus live claims. Their own live claims are not excluded here. Their own
    finished annotation weighs k, so one probe of the annotations answers both questions.
    """
    now = now or timezone.now()
    k = project.annotators_per_comment
    annotations = Annotation.objects.filter(comment=OuterRef("pk"))
    annotation_weight = Case(
        When(annotator=annotator, status__in=DONE_STATUSES, then=Value(k)),
        When(Q(status=Annotation.Status.SUBMITTED) & ~Q(annotator=annotator), then=Value(1)),
        default=Value(0),
    )
    claims = Claim.objects.filter(comment=OuterRef("pk"), expires_at__gt=now).exclude(
        annotator=annotator
    )
    comments = (
        Comment.objects.filter(article__project=project)
        .alias(takers=_taker_count(annotations, annotation_weight) + _taker_count(claims, 1))
        .filter(takers__lt=k)
    )
    return in_work_order(comments, project).select_related("article")


def _first_waiting(
    annotator, project: Project, now: datetime, after: Comment | Candidate | None
) -> list[Candidate]:
    """The comments to hand out after ``after``, best first (up to
    ``assignment_search.CANDIDATES``): overlap first, then work order (one query, SQL
    built once in ``assignment_search``); empty when nothing waits.

    With k above 1, comments others have started (``0 < takers < k``) come first, so that
    each comment reaches k labels, and agreement can be measured, as early as possible:

    1. in ``after``'s thread (its context is already read), the first started comment in
       tree order, else the first waiting one after ``after``;
    2. else the first thread in work order after it (wrapping round) among those where
       someone else holds a live claim, with a started comment waiting: its first one;
    3. else the first waiting comment of the next thread with work, wrapping round.

    Step 2 looks only at the threads of others' live claims (one per person at work), so
    it never walks untouched threads; a started comment elsewhere is found by step 1 when
    the search reaches its thread. With k = 1 no comment is ever "started", and the search
    is the work order alone.

    Each query is an index range scan that stops at its first hit (the rest of one thread
    by path; articles by id, or by their shuffled rank's expression index). A single
    ``ORDER BY`` over every comment would evaluate the counts of all 100,000 of them.
    """
    rank = None
    if after is not None:
        rank = after.article_id
        if project.work_order == WorkOrder.SHUFFLED:
            rank = thread_rank(project, after.article_id)
    return assignment_search.first_waiting(annotator, project, now, after, rank)


def _starting_point(annotator, project: Project, now: datetime) -> Candidate | None:
    """Where a search without ``after`` starts: after the newest comment ``annotator``
    finished, or, for someone new, after the comment most recently handed to anyone, else
    after the newest submitted label of anyone (one query: three index probes).

    Either way the finished part of the project is not re-read on every visit, and what
    was left behind before that point comes round when the search wraps. "Newest" is by
    the annotation's id (when they first saved it), which an index of a person's labels
    keeps in order; ordering by the time of the last save would sort all of them.
    """
    return assignment_search.starting_point(annotator, project, now)


def _clear_expired(project: Project, now: datetime) -> None:
    Claim.objects.filter(project=project, expires_at__lte=now).delete()


def _first_after(items: list, key, project: Project, after: Comment | None, wrap: bool = True):
    """The first item after ``after`` in work order, wrapping round unless ``wrap`` is off;
    None for an empty list (or nothing after ``after`` without wrapping)."""
    if not items:
        return None
    items = sorted(items, key=key)
    if after is not None:
        position = work_order_key(project, after)
        for item in items:
            if key(item) > position:
                return item
        if not wrap:
            return None
    return items[0]


def held_by(annotator, project: Project, now: datetime | None = None) -> QuerySet[Claim]:
    """``annotator``'s live claims in ``project``."""
    now = now or timezone.now()
    return Claim.objects.filter(project=project, annotator=annotator, expires_at__gt=now)


def claim_next(annotator, project: Project, after: Comment | None = None) -> Comment | None:
    """The comment ``annotator`` should label now, held for them; None when none is waiting.

    Their own live claim comes first (a reload, or work an admin reassigned to them), and is
    renewed; otherwise the first waiting comment after ``after`` is claimed, comments others
    started first (``_first_waiting``), else in work order, wrapping round to the start, so
    submitting moves forward. Without ``after`` the search
    starts after the comment they last finished (a new session carries on where the last
    one stopped) or, for a newcomer, where the others are working. A constant number of
    queries, whatever the size of the project.

    The hold is a viewing hold (``viewing_hold``): this is called for a page view, and
    saving answers turns it into the full one. Renewing their own claim never shortens it.
    """
    now = timezone.now()
    expires_at = now + viewing_hold(project)
    with transaction.atomic():
        claim_guard.start()
        own = list(held_by(annotator, project, now).select_related("comment__article"))
        # Moving on from a comment goes forward: a comment of their own left behind (opened,
        # then skipped past) comes round again when the search wraps, as any waiting one does.
        claim = _first_after(
            own, lambda c: work_order_key(project, c.comment), project, after, wrap=after is None
        )
        if claim is not None:
            _renew(claim, expires_at)
            return claim.comment
        _clear_expired(project, now)
        if after is None:
            after = _starting_point(annotator, project, now)
        return _take_first_waiting(annotator, project, now, after, own, expires_at)


def _take_first_waiting(
    annotator,
    project: Project,
    now: datetime,
    after: Comment | Candidate | None,
    own: list[Claim],
    expires_at: datetime,
) -> Comment | None:
    """Search, then claim the first candidate the guard lets through (``claim_guard``).

    Uncontended: one search, one lock, one conditional insert. A candidate locked by someone
    else is passed over; one whose slot went while it was being locked fails the insert.
    With none taken, the claim waits for the first candidate's lock if it holds no lock yet
    (so waiting never closes a cycle), else pauses and searches again on a fresh snapshot.
    """
    holding = False
    for _ in range(MAX_SEARCHES):
        candidates = _first_waiting(annotator, project, now, after)
        if not candidates:
            return None
        for candidate in candidates:
            mine = next((c for c in own if c.comment_id == candidate.pk), None)
            if mine is not None:  # one of their own, reached again by wrapping round
                _renew(mine, expires_at)
                return mine.comment
            if not claim_guard.try_lock(candidate.pk):
                continue
            holding = True
            if _guarded_insert(project, candidate, annotator, now, expires_at):
                return _claimed(candidate)
        if not holding:
            claim_guard.lock(candidates[0].pk)
            holding = True
            if _guarded_insert(project, candidates[0], annotator, now, expires_at):
                return _claimed(candidates[0])
        else:
            time.sleep(SEARCH_PAUSE)
    return None


def _claimed(candidate: Candidate) -> Comment:
    """The comment just claimed, with its article, as the workspace shows it (one query)."""
    return Comment.objects.select_related("article").get(pk=candidate.pk)


def _guarded_insert(
    project: Project, comment: Candidate, annotator, now: datetime, expires_at: datetime
) -> bool:
    """The claim of a locked candidate, written only if it still waits (one query)."""
    return claim_guard.insert_if_waiting(
        project_id=project.pk,
        comment_id=comment.pk,
        annotator_id=annotator.pk,
        k=project.annotators_per_comment,
        claimed_at=now,
        expires_at=expires_at,
    )


def viewing_hold(project: Project) -> timedelta:
    """How long a comment is held on a page view, before any answer is saved."""
    return min(VIEWING_HOLD, timedelta(minutes=project.claim_minutes))


def _renew(claim: Claim, expires_at: datetime) -> None:
    """Hold ``claim`` until at least ``expires_at``: a page view never shortens the full hold
    of someone who has started working (one query, whatever it finds)."""
    Claim.objects.filter(pk=claim.pk, expires_at__lt=expires_at).update(expires_at=expires_at)


def release_unstarted(annotator, comment: Comment) -> bool:
    """Give back ``annotator``'s hold on ``comment`` if they saved nothing for it (one query).

    For a page left without working on it: the comment goes back to the queue at once
    instead of after ``VIEWING_HOLD``. A hold with a saved annotation (a draft, answers, a
    note) is kept: they started, and may come back to it within ``claim_minutes``. Lowering
    a count needs no lock (see the module docstring). True when a hold was released.
    """
    saved = Annotation.objects.filter(comment=OuterRef("comment"), annotator=OuterRef("annotator"))
    deleted, _ = (
        Claim.objects.filter(comment=comment, annotator=annotator).filter(~Exists(saved)).delete()
    )
    return deleted > 0


def release(annotator, project: Project) -> int:
    """Give back everything ``annotator`` holds in ``project``; returns how many comments.

    If they still submit a comment they had open, that label is one more than k at worst:
    releasing is for people who have stopped working, not for a live session.
    """
    deleted, _ = Claim.objects.filter(project=project, annotator=annotator).delete()
    return deleted


def reassign(from_user, to_user, project: Project) -> int:
    """Hand ``from_user``'s held comments to ``to_user``, held afresh; returns how many moved.

    A comment ``to_user`` already holds, submitted or skipped is released instead of moved
    (they would not label it twice), so the number of takers of a comment never grows.
    """
    if from_user.pk == to_user.pk:
        raise ReassignError("Choose someone else to hand the work to.")
    now = timezone.now()
    with transaction.atomic():
        # Moving claims never raises a comment's count of takers: no guard needed.
        _clear_expired(project, now)
        theirs = Claim.objects.filter(project=project, annotator=from_user)
        already_taken = Exists(
            Annotation.objects.filter(
                comment=OuterRef("comment"), annotator=to_user, status__in=DONE_STATUSES
            )
        ) | Exists(Claim.objects.filter(comment=OuterRef("comment"), annotator=to_user))
        theirs.filter(already_taken).delete()
        return theirs.update(
            annotator=to_user,
            claimed_at=now,
            expires_at=now + timedelta(minutes=project.claim_minutes),
        )
