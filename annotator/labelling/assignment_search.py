"""The queue's search, as SQL built once per process: which comments to try to claim next.

``assignment._first_waiting`` and ``assignment._starting_point`` used to be ORM querysets
with nested correlated counts; Django compiled them afresh on every claim, which took about
half of a claim's time (some 30 ms of a 60 ms claim at 100,000 comments). Here the same
queries are plain SQL strings, formatted once per database vendor (table names, and the
work order's thread rank), with every value passed as a parameter, as ``claim_guard``'s
insert already was. tests/labelling/test_assignment_search.py checks them against
``assignment.waiting_for`` (the rule in ORM form, still used by the progress counts) on
random states.

A comment's *takers* (``_TAKERS``) are the rule of ``waiting_for``: the annotator's own
submitted or skipped annotation weighs k, another person's submitted label 1, another
person's live claim 1; a comment waits for the annotator while its takers are fewer than k,
and is *started* when they are above 0. Each count is a correlated subquery: one index probe
of the annotations (``one_annotation_per_person``) and one of the claims
(``claim_live_per_comment``) per comment looked at.

Every query stops at its first hit. The thread searches walk articles in work order (by id,
or by the shuffled rank, read from its expression index ``article_thread_rank``), and only
the threads the walk reaches are probed: a fence (``OFFSET 0``) keeps the planner from
testing the ``EXISTS`` on every article before sorting them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from annotator.corpus.models import (
    Article,
    Comment,
    WorkOrder,
    thread_rank_sql,
    uncertainty_rank_sql,
)
from annotator.labelling.models import Annotation, Claim

# How many candidates one search returns (the guard may find the first ones locked).
CANDIDATES = 8


@dataclass(frozen=True)
class Candidate:
    """A comment the search found waiting: what the guard and the next search need."""

    pk: int
    article_id: int
    path: str


# The number of takers of the comment ``c`` (see the module docstring).
_TAKERS = """(
    (SELECT COALESCE(SUM(CASE
        WHEN a.annotator_id = %(me)s THEN
            CASE WHEN a.status IN (%(submitted)s, %(skipped)s) THEN %(k)s ELSE 0 END
        WHEN a.status = %(submitted)s THEN 1 ELSE 0 END), 0)
     FROM {annotation} a WHERE a.comment_id = c.id)
    + (SELECT COUNT(*) FROM {claim} l
       WHERE l.comment_id = c.id AND l.expires_at > %(now)s AND l.annotator_id <> %(me)s)
)"""

# The candidates of one thread, started ones first when k is above 1, then in tree order.
# ``{thread}`` is the article id (a parameter, or the subquery of steps 2 and 3); ``{more}``
# narrows the comments (step 1: started, or after the current one).
_CANDIDATES = """
SELECT id, article_id, path, CASE WHEN %(overlap)s AND takers > 0 THEN 0 ELSE 1 END AS best
FROM (
    SELECT c.id, c.article_id, c.path, {takers} AS takers
    FROM {comment} c WHERE c.article_id = {thread} {fence}
) AS w
WHERE takers < %(k)s {more}
ORDER BY best, path
LIMIT %(candidates)s
"""

# Step 1, and steps 2 and 3 only when step 1 finds nothing: one round trip (on PostgreSQL
# the second part is skipped by a one-time filter once the first has a row).
_AFTER = """
WITH here AS ({in_thread})
SELECT id, article_id, path, 0 AS part, best FROM here
UNION ALL
SELECT id, article_id, path, 1 AS part, best FROM ({elsewhere}) AS e
WHERE NOT EXISTS (SELECT 1 FROM here)
ORDER BY part, best, path
"""

# The first thread in work order with a comment waiting, among the project's threads that
# ``{after}`` lets through: the walk goes down the index in work order and stops at the first
# thread that has one (the fence keeps the EXISTS out of the scan that feeds the sort).
_WALK = """
SELECT id FROM (
    SELECT t.id FROM {article} t WHERE t.project_id = %(project)s {after}
    ORDER BY {rank}, t.id {fence}
) AS o
WHERE EXISTS (SELECT 1 FROM {comment} c WHERE c.article_id = o.id AND {takers} < %(k)s)
LIMIT 1
"""

# The threads of a project with their rank in work order (the article id in thread order).
_THREADS = "SELECT t.id, {rank} AS rank FROM {article} t WHERE t.project_id = %(project)s"

# Step 2: among the threads others hold live claims in, the first after the current one in
# work order (wrapping round) with a started comment waiting for the annotator.
_STARTED_THREAD = """
SELECT id FROM (
    SELECT id, rank, CASE WHEN (rank > %(rank)s OR (rank = %(rank)s AND id > %(article)s))
        THEN 0 ELSE 1 END AS later
    FROM ({threads}) AS t
    WHERE t.id IN (
        SELECT wc.article_id FROM {claim} wl JOIN {comment} wc ON wc.id = wl.comment_id
        WHERE wl.project_id = %(project)s AND wl.expires_at > %(now)s
            AND wl.annotator_id <> %(me)s)
    ORDER BY later, rank, id {fence}
) AS o
WHERE EXISTS (SELECT 1 FROM {comment} c WHERE c.article_id = o.id
    AND {takers} BETWEEN 1 AND %(k)s - 1)
LIMIT 1
"""

# Steps 2 and 3 in one statement: the candidates of the first thread the COALESCE finds
# (PostgreSQL runs each uncorrelated subquery once, and only when it is reached).
_ELSEWHERE = "COALESCE(({started}), ({later}), ({first}))"

# Where a search without a current comment starts (``assignment._starting_point``).
_STARTING_POINT = """
SELECT c.id, c.article_id, c.path FROM {comment} c WHERE c.id = COALESCE(
    (SELECT comment_id FROM {annotation} WHERE project_id = %(project)s
        AND annotator_id = %(me)s AND status IN (%(submitted)s, %(skipped)s)
        ORDER BY id DESC LIMIT 1),
    (SELECT comment_id FROM {claim} WHERE project_id = %(project)s AND expires_at > %(now)s
        ORDER BY claimed_at DESC, id DESC LIMIT 1),
    (SELECT comment_id FROM {annotation} WHERE project_id = %(project)s
        AND status = %(submitted)s ORDER BY id DESC LIMIT 1))
"""

_built: dict[tuple[str, str], dict[str, str]] = {}


def _statements(order: str) -> dict[str, str]:
    """The search's SQL for this database and work order, formatted once per process."""
    key = (connection.vendor, order)
    if key not in _built:
        quote = connection.ops.quote_name
        tables = {
            "comment": quote(Comment._meta.db_table),
            "annotation": quote(Annotation._meta.db_table),
            "claim": quote(Claim._meta.db_table),
            "article": quote(Article._meta.db_table),
        }
        # PostgreSQL flattens a subquery into the outer query (evaluating the counts once
        # per use, or testing EXISTS before the sort) unless it has an OFFSET; SQLite needs
        # a LIMIT before one.
        fence = "OFFSET 0" if connection.vendor == "postgresql" else "LIMIT -1 OFFSET 0"
        rank = "t.id"
        # The current thread's rank: a parameter, or (most uncertain first, where it is the
        # article's stored confidence) read by the statement itself, saving a round trip.
        current_rank = "%(rank)s"
        if order == WorkOrder.SHUFFLED:  # its modulo signs escaped from the parameters'
            rank = thread_rank_sql("t.project_id", "t.id").replace("%", "%%")
        elif order == WorkOrder.UNCERTAIN:
            rank = uncertainty_rank_sql("t")
            current_rank = (
                f"(SELECT {uncertainty_rank_sql('r')} FROM {tables['article']} r"
                " WHERE r.id = %(article)s)"
            )
        takers = _TAKERS.format(**tables)
        threads = _THREADS.format(rank=rank, **tables)
        common = {"fence": fence, "takers": takers, "threads": threads, **tables}
        started = _STARTED_THREAD.replace("%(rank)s", current_rank).format(**common)
        later = "AND (t.id > %(article)s)"
        if order in (WorkOrder.SHUFFLED, WorkOrder.UNCERTAIN):
            later = f"AND ({rank}, t.id) > ({current_rank}, %(article)s)"
        walk = {"rank": rank, **common}
        elsewhere = _ELSEWHERE.format(
            started=started,
            later=_WALK.format(after=later, **walk),
            first=_WALK.format(after="", **walk),
        )
        in_thread = _CANDIDATES.format(
            thread="%(article)s",
            more="AND ((%(overlap)s AND takers > 0) OR path > %(path)s)",
            **common,
        )
        elsewhere = _CANDIDATES.format(thread=elsewhere, more="", **common)
        _built[key] = {
            "after": _AFTER.format(in_thread=in_thread, elsewhere=elsewhere),
            "elsewhere": elsewhere,
            "starting_point": _STARTING_POINT.format(**tables),
        }
    return _built[key]


def _parameters(project, annotator, now: datetime, k: int) -> dict:
    return {
        "project": project.pk,
        "me": annotator.pk,
        "k": k,
        "now": connection.ops.adapt_datetimefield_value(now),
        "submitted": Annotation.Status.SUBMITTED,
        "skipped": Annotation.Status.SKIPPED,
        "overlap": k > 1,
        "candidates": CANDIDATES,
    }


def _rows(sql: str, parameters: dict) -> list[Candidate]:
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        return [Candidate(*row[:3]) for row in cursor.fetchall()]


def first_waiting(
    annotator, project, now: datetime, after: Candidate | Comment | None, rank: int | None
) -> list[Candidate]:
    """The comments to hand ``annotator`` after ``after`` (whose thread ranks ``rank`` in
    the work order), best first, up to ``CANDIDATES``; empty when nothing waits (one
    query). The three steps are ``assignment._first_waiting``'s."""
    k = project.annotators_per_comment
    statements = _statements(project.work_order)
    parameters = _parameters(project, annotator, now, k)
    if after is None:
        # Every thread is "later" than no comment (ranks and ids are never negative).
        parameters.update(article=-1, rank=-1)
        return _rows(statements["elsewhere"], parameters)
    parameters.update(article=after.article_id, path=after.path, rank=rank)
    return _rows(statements["after"], parameters)


def starting_point(annotator, project, now: datetime) -> Candidate | None:
    """The comment a search without ``after`` starts after (one query; see
    ``assignment._starting_point``)."""
    k = project.annotators_per_comment
    parameters = _parameters(project, annotator, now, k)
    found = _rows(_statements(project.work_order)["starting_point"], parameters)
    return found[0] if found else None
