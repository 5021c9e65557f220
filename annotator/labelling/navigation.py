"""What the workspace shows around one comment: previous/next, and the progress bar.

Both are read for every comment an annotator sees, so neither may grow with the project:

* ``neighbours_of`` finds the comment before and after in labelling order (articles by id,
  each thread in tree order) with index probes: the rest of the thread by its path, else
  the last (first) comment of the nearest article before (after) that has comments. The
  ``(article_id, path) < (a, p)`` written with ``OR`` it replaces is not an index range on
  PostgreSQL: it scanned backwards over the whole project (31 ms at 100,000 comments).
* ``progress_for`` counts the annotator's own work on every call and reads the project's
  kept counts (``label_counts``): the comments, and those with k submitted labels. So a
  submit reads only the person's own labels, and the figures are exact on every request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.db import connection
from django.utils import timezone

from annotator.corpus.models import Article, Comment, ImportJob, Project
from annotator.labelling import label_counts
from annotator.labelling.models import Annotation, CommentLabelCount, ProjectLabelCounts


def neighbours_of(comment: Comment, project: Project) -> tuple[int | None, int | None]:
    """Ids of the comments before and after ``comment`` in labelling order (one query).

    Four single-row index probes in one statement: the previous (next) comment of the
    thread by path, else the last (first) comment of the nearest article before (after) it
    with comments, found by article id. The statement's text is built once per process
    (``_neighbours_sql``): composing it with the ORM on every comment shown cost more CPU
    than the database's work.
    """
    params = {"article": comment.article_id, "path": comment.path, "project": project.pk}
    with connection.cursor() as cursor:
        cursor.execute(_neighbours_sql(), params)
        before, after = cursor.fetchone()
    return before, after


@cache
def _neighbours_sql() -> str:
    q = connection.ops.quote_name
    comments, articles = q(Comment._meta.db_table), q(Article._meta.db_table)

    def nearest(compare: str, order: str) -> str:
        in_thread = (
            f"(SELECT c.id FROM {comments} c WHERE c.article_id = %(article)s "
            f"AND c.path {compare} %(path)s ORDER BY c.path {order} LIMIT 1)"
        )
        article = (
            f"(SELECT a.id FROM {articles} a WHERE a.project_id = %(project)s "
            f"AND a.id {compare} %(article)s "
            f"AND EXISTS (SELECT 1 FROM {comments} e WHERE e.article_id = a.id) "
            f"ORDER BY a.id {order} LIMIT 1)"
        )
        in_other = (
            f"(SELECT c.id FROM {comments} c WHERE c.article_id = {article} "
            f"ORDER BY c.path {order} LIMIT 1)"
        )
        return f"COALESCE({in_thread}, {in_other})"

    return f"SELECT {nearest('<', 'DESC')}, {nearest('>', 'ASC')}"


@dataclass(frozen=True)
class Progress:
    """An annotator's progress in a project, and their pace since ``session_start``.

    ``done`` counts the comments they submitted or skipped, ``total`` every comment of the
    project, and ``waiting`` the comments the queue may still hand them
    (``assignment.waiting_for``: not done by them, fewer than k submitted labels among the
    others; live claims are not counted, see ``progress_for``).
    Their *share* is ``done + waiting``: with k annotators per comment and more people than
    k, nobody labels the whole project, so "12 / 2,000 done" would never reach the end while
    "12 / 700" does. With k at least the number of people labelling, every comment not done
    by them is waiting, and the share is the whole project.
    """

    done: int
    total: int
    session_done: int
    session_start: datetime
    waiting: int = 0
    # Comments not done by them that have k submitted labels among the others (total - share).
    not_for_them: int = 0

    @property
    def share(self) -> int:
        """The comments that are theirs to label: what they did plus what still waits for them.

        It shrinks as others take comments to k labels, and is never above ``total`` (a
        comment they did is not waiting for them).
        """
        return self.done + self.waiting

    @property
    def percent(self) -> int:
        """What they did, in percent of their share (100 once nothing waits for them)."""
        return round(100 * self.done / self.share) if self.share else 0

    @property
    def per_hour(self) -> int | None:
        """Comments per hour this session, once there is something to measure."""
        minutes = (timezone.now() - self.session_start).total_seconds() / 60
        if self.session_done == 0 or minutes < 1:
            return None
        return round(self.session_done * 60 / minutes)


# The project's counts (``label_counts``: a primary-key probe each), its newest import (a
# handful of rows), and one pass over the annotator's own finished labels with the comment
# count of each: all of their work, none of anyone else's.
_PROGRESS_SQL = """
SELECT
    (SELECT comments FROM {counts} WHERE project_id = %(project)s),
    (SELECT full_comments FROM {counts} WHERE project_id = %(project)s),
    (SELECT k FROM {counts} WHERE project_id = %(project)s),
    (SELECT import_job_id FROM {counts} WHERE project_id = %(project)s),
    (SELECT MAX(id) FROM {import_job} WHERE project_id = %(project)s AND status = %(succeeded)s),
    COUNT(mine.id),
    COALESCE(SUM(CASE WHEN mine.updated_at >= %(session)s THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN labels.submitted >= %(k)s THEN 1 ELSE 0 END), 0)
FROM {annotation} AS mine
LEFT JOIN {comment_count} AS labels ON labels.comment_id = mine.comment_id
WHERE mine.project_id = %(project)s AND mine.annotator_id = %(me)s
    AND mine.status IN (%(submitted)s, %(skipped)s)
"""


@cache
def _progress_sql() -> str:
    return _PROGRESS_SQL.format(
        counts=ProjectLabelCounts._meta.db_table,
        import_job=ImportJob._meta.db_table,
        annotation=Annotation._meta.db_table,
        comment_count=CommentLabelCount._meta.db_table,
    )


def progress_for(annotator, project: Project, session_start: datetime) -> Progress:
    """Done, total, still waiting for them, and this session's count (one query).

    ``waiting`` is the comments not done by them minus ``not_for_them``: the project's full
    comments (k submitted labels, kept by ``label_counts``) that they did not do themselves.
    That is what ``assignment.waiting_for(annotator, project).count()`` says when nobody else
    holds a live claim: claims are left out of the share (a held comment stays in it until
    its labels arrive). Nothing here reads other people's work row by row, so the cost is
    the person's own labels, whatever the project's size; only after a change of k, an
    import or a deletion does the first reader recount the project's row (once).
    tests/labelling/test_label_counts.py checks it against ``waiting_for`` and a recount.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _progress_sql(),
            {
                "project": project.pk,
                "me": annotator.pk,
                "session": connection.ops.adapt_datetimefield_value(session_start),
                "k": project.annotators_per_comment,
                "submitted": Annotation.Status.SUBMITTED,
                "skipped": Annotation.Status.SKIPPED,
                "succeeded": ImportJob.Status.SUCCEEDED,
            },
        )
        total, full, k, import_id, newest_import, done, session, mine_full = cursor.fetchone()
    kept = None
    if total is not None:
        kept = ProjectLabelCounts(k=k, import_job_id=import_id)
    if not label_counts.is_current(kept, project, newest_import):
        counts = label_counts.recount_project(project)
        total, full = counts.comments, counts.full_comments
    not_for_them = full - mine_full
    # Never below zero, should a count be off (``recount_label_counts`` puts it right).
    waiting = max(0, total - done - not_for_them)
    return Progress(done, total, session, session_start, waiting, not_for_them)
