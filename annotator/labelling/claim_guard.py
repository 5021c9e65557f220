"""The guarantee that the queue never hands a comment to more than k people, per comment.

Claims in one project run in parallel; what must not happen is two of them both taking the
last slot of one comment. The guard works on the comment itself, in two statements:

1. ``try_lock`` (or ``lock``) takes a transaction-scoped advisory lock on the comment
   (``pg_try_advisory_xact_lock``): claims of *other* comments never wait for it, and a
   claim that finds its candidate locked moves on to the next one, as ``SKIP LOCKED`` does.
2. ``insert_if_waiting`` writes the claim with ``INSERT ... SELECT ... WHERE``: the
   count of takers is made by that statement, so under READ COMMITTED it reads a snapshot
   taken *after* the lock was granted, and sees the claim of whoever held the lock before
   (a lock is released after its transaction's commit is visible). A candidate chosen on an
   older snapshot is re-counted there, so the k check and the insert are one atomic step.

Submitting turns a claim into a label in one transaction and releasing or expiry lower the
count, so none of them needs the lock. A hold written by a save (``annotations``) is not
guarded: it only happens for someone already working on the comment.

Deadlocks cannot happen: a claim waits for a comment's lock (``lock``) only while it holds
none (``claim_next``), so nobody waiting can be holding what another waits for.

SQLite runs every write transaction alone (``IMMEDIATE``, settings.py), so there the locks
are no-ops and the conditional insert is the whole guard.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from annotator.labelling.models import Annotation, Claim

# First key of the per-comment advisory locks ("clc" in ASCII); the second is the comment id.
COMMENT_LOCK_NAMESPACE = 0x636C63


def _key(comment_id: int) -> list[int]:
    return [COMMENT_LOCK_NAMESPACE, comment_id % 2**31]


def start() -> None:
    """Per-transaction settings for the claim's queries (PostgreSQL; one query).

    JIT compiling the candidate queries (estimated as costly: correlated counts) takes longer
    than running them; ``set_config(..., true)`` lasts this transaction.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('jit', 'off', true)")


def try_lock(comment_id: int) -> bool:
    """Lock ``comment_id`` for this transaction unless someone holds it (one query on PG)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", _key(comment_id))
        return bool(cursor.fetchone()[0])


def lock(comment_id: int) -> None:
    """Wait for ``comment_id``'s lock, and hold it until this transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", _key(comment_id))


# The rule of ``assignment.waiting_for`` for one comment: not submitted or skipped by the
# annotator, and fewer than k takers among the others (submitted labels plus live claims).
# Plain SQL: built once, where the ORM would compile the correlated counts on every claim.
_INSERT_IF_WAITING = """
INSERT INTO {claim} (project_id, comment_id, annotator_id, claimed_at, expires_at)
SELECT %(project)s, %(comment)s, %(me)s, %(claimed_at)s, %(expires_at)s
WHERE NOT EXISTS (
    SELECT 1 FROM {annotation} WHERE comment_id = %(comment)s AND annotator_id = %(me)s
        AND status IN (%(submitted)s, %(skipped)s)
) AND (
    SELECT COUNT(*) FROM {annotation} WHERE comment_id = %(comment)s
        AND annotator_id <> %(me)s AND status = %(submitted)s
) + (
    SELECT COUNT(*) FROM {claim} WHERE comment_id = %(comment)s
        AND annotator_id <> %(me)s AND expires_at > %(now)s
) < %(k)s
"""


def insert_if_waiting(
    *,
    project_id: int,
    comment_id: int,
    annotator_id: int,
    k: int,
    claimed_at: datetime,
    expires_at: datetime,
) -> bool:
    """Write the claim if ``comment_id`` still waits for the annotator (not done by them,
    fewer than ``k`` takers among the others), counted by this statement; True when it was
    written (one query). tests/labelling/test_claim_guard.py checks it against
    ``assignment.waiting_for``."""
    sql = _INSERT_IF_WAITING.format(
        claim=connection.ops.quote_name(Claim._meta.db_table),
        annotation=connection.ops.quote_name(Annotation._meta.db_table),
    )
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "project": project_id,
                "comment": comment_id,
                "me": annotator_id,
                "k": k,
                "now": adapt(claimed_at),
                "claimed_at": adapt(claimed_at),
                "expires_at": adapt(expires_at),
                "submitted": Annotation.Status.SUBMITTED,
                "skipped": Annotation.Status.SKIPPED,
            },
        )
        return cursor.rowcount == 1
