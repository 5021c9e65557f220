"""The "most uncertain first" order: each thread ranked by the lowest confidence its
project's ordering model has in any answer about its comments.

``Article.lowest_confidence`` is recomputed for a whole project in one UPDATE whenever the
ordering model changes or writes predictions (an import, a learner or LLM run), so the
queue reads it down an index (``article_uncertainty``) and never aggregates predictions
per claim. Stale predictions (about a former parent) do not count.
"""

from __future__ import annotations

from django.db import models

from annotator.assist.models import MachineLabeller, Prediction
from annotator.corpus.models import Article, Project


def refresh_thread_confidence(project: Project | int) -> int:
    """Recompute every thread's lowest confidence under the project's ordering model (none
    when no model orders the work); returns the number of threads updated."""
    project_id = project.pk if isinstance(project, Project) else project
    ordering = MachineLabeller.objects.filter(project_id=project_id, orders_work=True).first()
    threads = Article.objects.filter(project_id=project_id)
    if ordering is None:
        return threads.update(lowest_confidence=None)
    lowest = (
        Prediction.objects.filter(
            labeller=ordering,
            comment__article=models.OuterRef("pk"),
            confidence__isnull=False,
            stale_since__isnull=True,
        )
        .order_by()
        .values("comment__article")
        .annotate(low=models.Min("confidence"))
        .values("low")
    )
    return threads.update(lowest_confidence=models.Subquery(lowest[:1]))


def refresh_after_predictions(labeller: MachineLabeller) -> None:
    """Call after ``labeller`` wrote predictions: the order follows if it is the ordering
    model."""
    if labeller.orders_work:
        refresh_thread_confidence(labeller.project_id)
