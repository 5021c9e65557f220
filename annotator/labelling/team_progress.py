"""How far each person and the whole project are, for the admins' assignments page.

Read on demand by an admin, never on the labelling path: a few grouped queries whatever the
number of people or comments (``annotator_progress``, ``project_coverage``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from annotator.corpus.models import Comment, Membership, Project, Role
from annotator.labelling.annotations import DONE_STATUSES
from annotator.labelling.models import Annotation, Claim

PACE_WINDOW = timedelta(days=7)


@dataclass
class AnnotatorProgress:
    """One person's work in a project, as the assignments page shows it."""

    user: object
    role: str  # the role's label, or "" for someone who has left the project
    submitted: int = 0
    skipped: int = 0
    drafts: int = 0
    held: int = 0
    last_activity: datetime | None = None
    recent_done: int = 0
    recent_ms: int = 0
    median_ms: int | None = None

    @property
    def per_hour(self) -> int | None:
        """Comments per hour of labelling time over the last 7 days."""
        if not self.recent_done or not self.recent_ms:
            return None
        return round(self.recent_done * 3_600_000 / self.recent_ms)

    @property
    def median_seconds(self) -> int | None:
        return None if self.median_ms is None else round(self.median_ms / 1000)


@dataclass(frozen=True)
class ProjectCoverage:
    """How far the whole project is: comments with their k labels, comments held now."""

    total: int
    complete: int
    held: int
    per_comment: int

    @property
    def percent(self) -> int:
        return round(100 * self.complete / self.total) if self.total else 0


def annotator_progress(project: Project, now: datetime | None = None) -> list[AnnotatorProgress]:
    """Every person who labels (or labelled) in ``project`` with counts and pace.

    Four or five queries whatever the number of people or comments; the median reads only
    the last 7 days' time per comment.
    """
    now = now or timezone.now()
    since = now - PACE_WINDOW
    members = {
        m.user_id: m
        for m in Membership.objects.filter(project=project, role__in=[Role.ADMIN, Role.ANNOTATOR])
        .select_related("user")
        .order_by("user__username")
    }
    annotations = Annotation.objects.filter(project=project)
    counts = {
        row["annotator"]: row
        for row in annotations.order_by()
        .values("annotator")
        .annotate(
            submitted=Count("pk", filter=Q(status=Annotation.Status.SUBMITTED)),
            skipped=Count("pk", filter=Q(status=Annotation.Status.SKIPPED)),
            drafts=Count("pk", filter=Q(status=Annotation.Status.DRAFT)),
            last_activity=Max("updated_at"),
            recent_done=Count("pk", filter=Q(status__in=DONE_STATUSES, updated_at__gte=since)),
            recent_ms=Sum(
                "time_spent_ms", filter=Q(status__in=DONE_STATUSES, updated_at__gte=since)
            ),
        )
    }
    held = dict(
        Claim.objects.filter(project=project, expires_at__gt=now)
        .order_by()
        .values("annotator")
        .annotate(n=Count("pk"))
        .values_list("annotator", "n")
    )
    recent_times: dict[int, list[int]] = {}
    for user_id, ms in annotations.filter(
        status=Annotation.Status.SUBMITTED, updated_at__gte=since
    ).values_list("annotator", "time_spent_ms"):
        recent_times.setdefault(user_id, []).append(ms)
    # People who labelled and have since left the project (or changed role) still count.
    former_ids = (set(counts) | set(held)) - set(members)
    former = get_user_model().objects.filter(pk__in=former_ids) if former_ids else []
    rows = [AnnotatorProgress(m.user, Role(m.role).label) for m in members.values()]
    rows += [AnnotatorProgress(user, "") for user in sorted(former, key=lambda u: u.username)]
    for row in rows:
        found = counts.get(row.user.pk, {})
        row.submitted = found.get("submitted", 0)
        row.skipped = found.get("skipped", 0)
        row.drafts = found.get("drafts", 0)
        row.last_activity = found.get("last_activity")
        row.recent_done = found.get("recent_done", 0)
        row.recent_ms = found.get("recent_ms") or 0
        row.held = held.get(row.user.pk, 0)
        times = recent_times.get(row.user.pk)
        row.median_ms = round(statistics.median(times)) if times else None
    return rows


def project_coverage(project: Project, now: datetime | None = None) -> ProjectCoverage:
    """Comments in the project, those with k submitted labels, and those held now (3 queries)."""
    now = now or timezone.now()
    k = project.annotators_per_comment
    total = Comment.objects.filter(article__project=project).count()
    complete = (
        Annotation.objects.filter(project=project, status=Annotation.Status.SUBMITTED)
        .order_by()
        .values("comment")
        .annotate(n=Count("pk"))
        .filter(n__gte=k)
        .count()
    )
    held = (
        Claim.objects.filter(project=project, expires_at__gt=now)
        .values("comment")
        .distinct()
        .count()
    )
    return ProjectCoverage(total=total, complete=complete, held=held, per_comment=k)
