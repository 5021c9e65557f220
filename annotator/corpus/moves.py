"""What a re-parent does to the labels of the moved comment, asked of the apps that keep them.

Answers such as "stance toward the parent" were given against one parent; once a comment
answers another one they no longer mean what they say. The corpus app knows nothing of
labels (the labelling and review apps depend on it, not the other way round), so it speaks
to them through two signals:

* ``move_impact_asked`` is sent before a move, by the views that ask the admin to confirm
  one; every receiver returns a ``MoveImpact`` (what the move would set aside) and
  ``impact_of_move`` adds them up. Nothing is written.
* ``parent_changed`` is sent by ``Comment.move_under`` inside its transaction, after the
  tree was rewritten; receivers set the parent-dependent answers aside there, so a move and
  its consequences commit (or roll back) together, whichever path moved the comment.

Only the moved comment is concerned: its replies still answer it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.dispatch import Signal

if TYPE_CHECKING:
    from annotator.corpus.models import Comment

# Sent with ``comment`` (not moved yet) and ``new_parent`` (None: the article); each receiver
# returns a MoveImpact.
move_impact_asked = Signal()
# Sent with ``comment`` (already moved), ``old_parent_id``, ``new_parent`` and ``actor`` (the
# person who moved it, or None for a script).
parent_changed = Signal()


@dataclass(frozen=True)
class MoveImpact:
    """How many labels a move sets aside: annotators' answers (and how many people gave
    them), gold labels losing answers, and finished annotations sent back to their queue."""

    answers: int = 0
    annotators: int = 0
    gold: int = 0
    reopened: int = 0
    # Models' predictions about the old parent (assist/staleness.py): never suggested again.
    predictions: int = 0

    def __add__(self, other: MoveImpact) -> MoveImpact:
        return MoveImpact(
            self.answers + other.answers,
            self.annotators + other.annotators,
            self.gold + other.gold,
            self.reopened + other.reopened,
            self.predictions + other.predictions,
        )

    @property
    def is_empty(self) -> bool:
        """Whether the move changes no label at all (then it needs no confirmation)."""
        return not (self.answers or self.gold or self.reopened or self.predictions)

    def describe(self, moved: str, target: str) -> str:
        """One sentence for the confirmation, e.g. "Moving #12 under #7 marks 3 answers by 2
        annotators and 1 gold label as stale; they will be asked again." ``moved`` and
        ``target`` name the comment and its new parent as the page shows them."""
        where = "to the article" if target == "the article" else f"under {target}"
        parts = []
        if self.answers:
            parts.append(
                f"{_count(self.answers, 'answer')} by {_count(self.annotators, 'annotator')}"
            )
        if self.gold:
            parts.append(_count(self.gold, "gold label"))
        sentence = f"Moving {moved} {where}"
        if parts:
            sentence += f" marks {' and '.join(parts)} as stale; they will be asked again"
        if self.predictions:
            predictions = _count(self.predictions, "model prediction")
            joiner = ", and sets aside" if parts else " sets aside"
            sentence += f"{joiner} {predictions} about its parent"
        if self.reopened:
            finished = _count(self.reopened, "finished annotation")
            joiner = ", and sends" if parts else " sends"
            sentence += f"{joiner} {finished} back to the annotators' queues"
        return sentence + "."


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def impact_of_move(comment: Comment, new_parent: Comment | None) -> MoveImpact:
    """What moving ``comment`` under ``new_parent`` (None: the article) would set aside."""
    total = MoveImpact()
    for _receiver, impact in move_impact_asked.send(
        sender=type(comment), comment=comment, new_parent=new_parent
    ):
        if isinstance(impact, MoveImpact):
            total += impact
    return total
