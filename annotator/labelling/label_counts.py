"""Counters of submitted labels, so that nothing on the per-comment path counts the project.

The workspace's progress bar needs the project's comments and "the comments no longer for
this annotator" (k submitted labels by others; see ``navigation.progress_for``). Counting
those is a pass over the whole project (0.2 s at 100,000 comments), so they are kept here:

* ``CommentLabelCount.submitted``: a comment's submitted annotations. Every write that
  moves an annotation into or out of *submitted* changes it in the same transaction: a save
  (``annotation_writes.store_save``: a part of its one statement on PostgreSQL, ``add_submitted``
  through the ORM elsewhere) and stale marking after a move (``stale.py``). Deleting comments
  deletes their counts with them.
* ``ProjectLabelCounts``: the project's comments and its *full* comments, those with at least
  k submitted labels. The same write that takes a comment's count across k moves ``full``
  by one (the comparison is made with the ``k`` the row was counted for, in the statement, so
  concurrent saves of one comment each see the count the other left). The row remembers k
  and the newest successful import it was counted after; when the project's k or its newest
  import differs (or the row is missing: a new project, a deleted article, a comment added
  one at a time, ``forget``), the next reader recounts it from the comment counts, once
  (``recount_project``). Those are rare, bulk changes.

Then for one annotator: not for them = full comments minus the full comments they submitted
or skipped themselves (a count over their own labels), because a comment they have not done
has k takers among the others exactly when it has k submitted labels. Live claims are not
counted: a comment held by others but short of k labels stays in their share until the labels
arrive. ``recount_label_counts`` (a management command) recounts everything from the
annotations; tests/labelling/test_label_counts.py checks every path against that recount.
"""

from __future__ import annotations

from functools import cache

from django.db import connection, transaction
from django.db.models import Count, F, Max
from django.utils import timezone

from annotator.corpus.models import Comment, ImportJob, Project
from annotator.labelling.models import Annotation, CommentLabelCount, ProjectLabelCounts


def latest_import_id(project_id: int) -> int | None:
    """The project's newest successful import (a handful of rows per project)."""
    return ImportJob.objects.filter(
        project_id=project_id, status=ImportJob.Status.SUCCEEDED
    ).aggregate(newest=Max("pk"))["newest"]


def is_current(counts: ProjectLabelCounts | None, project: Project, import_id: int | None) -> bool:
    """Whether ``counts`` still describe ``project``: same k, no import since."""
    return (
        counts is not None
        and counts.k == project.annotators_per_comment
        and counts.import_job_id == import_id
    )


def recount_project(project: Project, *, force: bool = False) -> ProjectLabelCounts:
    """Count the project's comments and full comments again, from the comment counts.

    The row is locked first (created if missing), then counted in a statement that starts
    after the lock: a save still writing waits on the row and adds its step to the recount,
    a save already written is in it, so none is lost or counted twice. Readers arriving
    together after an import or a change of k wait for the first one's count and use it
    (unless ``force``: then it is counted again even when it looks current).
    """
    k = project.annotators_per_comment
    with transaction.atomic():
        # A placeholder (k 0 is never a project's) until it is counted.
        ProjectLabelCounts.objects.bulk_create(
            [ProjectLabelCounts(project=project, k=0)], ignore_conflicts=True
        )
        counts = ProjectLabelCounts.objects.select_for_update().get(project=project)
        import_id = latest_import_id(project.pk)
        if not force and is_current(counts, project, import_id):
            return counts  # counted by another reader while this one waited for the lock
        counts.import_job_id = import_id
        counts.comments = Comment.objects.filter(article__project=project).count()
        counts.full_comments = CommentLabelCount.objects.filter(
            project=project, submitted__gte=k
        ).count()
        counts.k = k
        counts.counted_at = timezone.now()
        counts.save()
    return counts


def recount_everything(project: Project) -> ProjectLabelCounts:
    """Recount the project's comment counts from its annotations, then the project's row.

    For the management command: on PostgreSQL the annotations are locked against writes
    (``SHARE`` mode, readers go on) while they are counted, so the counts are exact even
    while people label.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                table = connection.ops.quote_name(Annotation._meta.db_table)
                cursor.execute(f"LOCK TABLE {table} IN SHARE MODE")
        CommentLabelCount.objects.filter(project=project).delete()
        rows = (
            Annotation.objects.filter(project=project, status=Annotation.Status.SUBMITTED)
            .order_by()
            .values("comment_id")
            .annotate(n=Count("pk"))
            .values_list("comment_id", "n")
        )
        CommentLabelCount.objects.bulk_create(
            (CommentLabelCount(comment_id=pk, project=project, submitted=n) for pk, n in rows),
            batch_size=2000,
        )
        return recount_project(project, force=True)


def add_submitted(project_id: int, comment_id: int, delta: int) -> None:
    """Move a comment's submitted count by ``delta``, and the project's full comments with it
    when the count crosses the row's k (two queries; call it in the write's transaction).

    The count is an upsert that returns the new value (SQLite 3.35 or later, PostgreSQL);
    the project's row moves only when k lies between the old count and the new one.
    """
    if not delta:
        return
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(), [comment_id, project_id, delta])
        (new,) = cursor.fetchone()
    old = new - delta
    low, high = min(old, new), max(old, new)
    # Full comments change when k is in (low, high]: up for a rise, down for a fall.
    ProjectLabelCounts.objects.filter(project_id=project_id, k__gt=low, k__lte=high).update(
        full_comments=F("full_comments") + (1 if delta > 0 else -1)
    )


@cache
def _upsert_sql() -> str:
    q = connection.ops.quote_name
    table = q(CommentLabelCount._meta.db_table)
    return (
        f"INSERT INTO {table} (comment_id, project_id, submitted) VALUES (%s, %s, %s) "
        f"ON CONFLICT (comment_id) DO UPDATE SET submitted = {table}.submitted + "
        f"excluded.submitted RETURNING submitted"
    )


def forget(project_id: int) -> None:
    """Drop the project's counts: the next reader recounts them (comments added or deleted)."""
    ProjectLabelCounts.objects.filter(project_id=project_id).delete()


def forget_on_new_comment(sender, instance: Comment, created: bool, **kwargs) -> None:
    """``post_save`` receiver: a comment created one at a time changes the project's count.

    Imports (bulk) are seen by their job (``ProjectLabelCounts.import_job_id``).
    """
    if created:
        ProjectLabelCounts.objects.filter(project__articles=instance.article_id).delete()


def forget_on_deleted_article(sender, instance, **kwargs) -> None:
    """``post_delete`` receiver: an article's comments went with it (their counts too)."""
    forget(instance.project_id)
