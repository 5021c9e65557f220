"""Predictions about a comment's parent, set aside when the comment moves.

A question whose target is the parent (the stance toward the comment answered, say) was
answered by a model about the old parent; after a move it says nothing about the new one.
Such predictions are marked ``stale_since`` in the move's transaction, never shown as
suggestions again and left out of the model's agreement figures; they stay in the database
(and in exports, marked stale) as the record of what the model said.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from annotator.assist.models import Prediction
from annotator.corpus.models import Comment
from annotator.labelling.scheme import Target


def parent_dependent_questions(project_id: int) -> set[str]:
    """Keys of every question, in any scheme version of the project, judged against the
    parent (a prediction may answer an older version)."""
    from annotator.labelling.models import LabelScheme

    keys: set[str] = set()
    for scheme in LabelScheme.objects.filter(project_id=project_id):
        keys.update(q.key for q in scheme.scheme.questions if q.target == Target.PARENT)
    return keys


def prediction_impact(sender: Any, comment: Comment, new_parent, **kwargs: Any):
    """``move_impact_asked`` receiver: how many of the comment's predictions a move to
    another parent would set aside (so the confirmation says so)."""
    from annotator.corpus.moves import MoveImpact

    if new_parent is not None and new_parent.pk == comment.parent_id:
        return MoveImpact()
    questions = _live_questions(comment)
    if not questions:
        return MoveImpact()
    keys = parent_dependent_questions(comment.article.project_id)
    return MoveImpact(predictions=sum(1 for question in questions if question in keys))


def _live_questions(comment: Comment) -> list[str]:
    """The questions of the comment's predictions not yet set aside (one query: a comment
    without predictions costs a move nothing more)."""
    return list(
        Prediction.objects.filter(comment=comment, stale_since__isnull=True).values_list(
            "question", flat=True
        )
    )


def set_aside_stale_predictions(sender: Any, comment: Comment, **kwargs: Any) -> int:
    """Receiver of ``corpus.moves.parent_changed``: mark the moved comment's predictions
    about its parent stale. Returns how many were marked."""
    if not _live_questions(comment):
        return 0
    keys = parent_dependent_questions(comment.article.project_id)
    if not keys:
        return 0
    return Prediction.objects.filter(
        comment=comment, question__in=keys, stale_since__isnull=True
    ).update(stale_since=timezone.now())
