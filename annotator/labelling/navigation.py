"""What the workspace shows around one comment: previous/next, and the progress bar.

Both are read for every comment an annotator sees, so neither may grow with the project:

* ``neighbours_of`` finds the comment before and after in labelling order (articles by id,
  each thread in tree order) with index probes: the rest of the thread by its path, else
  the last (first) comment of the nearest article before (after) that has comments. The
  ``(article_id, path) < (a, p)`` written with ``OR`` it replaces is not an index range on
  PostgreSQL: it scanned backwards over the whole project (31 ms at 100,000 comments).
* ``progress_for`` counts the annotator's own work on every call; the project's comment
  count and the comments no longer for them are counted together every ``SHARE_RECOUNT``
  (views.py) and passed in between, so a submit reads only the person's own labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotator.corpus.models import Article, Comment, Project
from annotator.labelling.annotations import DONE_STATUSES
from annotator.labelling.models import Annotation, Claim


def neighbours_of(comment: Comment, project: Project) -> tuple[int | None, int | None]:
    """Ids of the comments before and after ``comment`` in labelling order (one query).

    Four single-row index probes in one statement: the previous (next) comment of the
    thread by path, else the last (first) comment of the nearest article before (after) it
    with comments, found by article id.
    """
    thread = Comment.objects.filter(article_id=comment.article_id)
    articles = Article.objects.filter(project=project).filter(
        Exists(Comment.objects.filter(article=OuterRef("pk")))
    )
    previous_article = articles.filter(pk__lt=comment.article_id).order_by("-pk").values("pk")[:1]
    next_article = articles.filter(pk__gt=comment.article_id).order_by("pk").values("pk")[:1]

    def first(rows, *order):
        return Subquery(rows.order_by(*order).values("pk")[:1])

    in_other = Comment.objects.filter
    row = (
        Article.objects.filter(pk=comment.article_id)
        .annotate(
            before=Coalesce(
                first(thread.filter(path__lt=comment.path), "-path"),
                first(in_other(article_id=Subquery(previous_article)), "-path"),
            ),
            after=Coalesce(
                first(thread.filter(path__gt=comment.path), "path"),
                first(in_other(article_id=Subquery(next_article)), "path"),
            ),
        )
        .values_list("before", "after")
        .get()
    )
    return row[0], row[1]


@dataclass(frozen=True)
class Progress:
    """An annotator's progress in a project, and their pace since ``session_start``.

    ``done`` counts the comments they submitted or skipped, ``total`` every comment of the
    project, and ``waiting`` the comments the queue may still hand them
    (``assignment.waiting_for``: not done by them, fewer than k takers among the others).
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
    # Comments not done by them that have their k takers among the others (total - share).
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


# Comments of a project that are not for one annotator any more: k takers among the others
# (submitted labels plus live claims), not submitted or skipped by them. The same rule as
# ``assignment.waiting_for``, counted from the labels and claims rather than per comment.
_COUNTS_SQL = """
SELECT
    (SELECT COUNT(*) FROM {comment} JOIN {article} ON {article}.id = {comment}.article_id
     WHERE {article}.project_id = %(project)s),
    (SELECT COUNT(*) FROM (
        SELECT taken.comment_id FROM (
            SELECT comment_id FROM {annotation}
            WHERE project_id = %(project)s AND status = %(submitted)s AND annotator_id <> %(me)s
            UNION ALL
            SELECT comment_id FROM {claim}
            WHERE project_id = %(project)s AND expires_at > %(now)s AND annotator_id <> %(me)s
        ) AS taken
        GROUP BY taken.comment_id
        HAVING COUNT(*) >= %(k)s
    ) AS full_comment
    WHERE NOT EXISTS (
        SELECT 1 FROM {annotation} AS mine
        WHERE mine.comment_id = full_comment.comment_id AND mine.annotator_id = %(me)s
            AND mine.status IN (%(submitted)s, %(skipped)s)
    ))
"""


def progress_for(
    annotator,
    project: Project,
    session_start: datetime,
    not_for_them: int | None = None,
    total: int | None = None,
) -> Progress:
    """Done, total, still waiting for them, and this session's count (one to two queries).

    ``waiting`` is what ``assignment.waiting_for(annotator, project).count()`` would say:
    the comments not done by them minus ``not_for_them``, those with k takers among the
    others. Counting that is one pass over the project's labels (grouped by comment), about
    0.2 s at 100,000 comments: the workspace counts it every 30 s (``views._progress``) and
    passes it in between, with ``total`` (counted with it), when this is one query over the
    person's own labels: nothing on the per-comment path reads the project. The share moves
    only with other people's work (a comment of the share they label moves from waiting to
    done), so a count 30 s old is at most 30 s of others' progress behind.
    tests/labelling/test_annotations.py checks it against ``waiting_for``.
    """
    counts = Annotation.objects.filter(
        project=project, annotator=annotator, status__in=DONE_STATUSES
    ).aggregate(
        done=Count("pk"),
        session=Count("pk", filter=Q(updated_at__gte=session_start)),
    )
    if not_for_them is None:
        total, not_for_them = _count_comments_not_for(annotator, project)
    elif total is None:
        total = Comment.objects.filter(article__project=project).count()
    # Never below zero: a count passed in may predate comments they labelled by address.
    waiting = max(0, total - counts["done"] - not_for_them)
    return Progress(counts["done"], total, counts["session"], session_start, waiting, not_for_them)


def _count_comments_not_for(annotator, project: Project) -> tuple[int, int]:
    """The project's comments, and those not for ``annotator`` any more (one query)."""
    sql = _COUNTS_SQL.format(
        comment=Comment._meta.db_table,
        article=Comment._meta.get_field("article").related_model._meta.db_table,
        annotation=Annotation._meta.db_table,
        claim=Claim._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "project": project.pk,
                "me": annotator.pk,
                "now": connection.ops.adapt_datetimefield_value(timezone.now()),
                "k": project.annotators_per_comment,
                "submitted": Annotation.Status.SUBMITTED,
                "skipped": Annotation.Status.SKIPPED,
            },
        )
        total, not_for_them = cursor.fetchone()
    return total, not_for_them
