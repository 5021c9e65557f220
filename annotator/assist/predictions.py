"""Writing predictions in bulk: the one path by which an import, the learner and an LLM run
store what a model answered, so that every source is checked and stored alike.

Answers must have been checked against the scheme first (``answers.check_answers``). A
prediction for a (model version, comment, question) that exists already is replaced: a
model version answers each question of a comment once, and a re-run of the same version
means its newer answer. ``stale_since`` is cleared with it, since the new answer was made
about the comment as it is now.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from django.utils import timezone

from annotator.assist.answers import CheckedAnswer
from annotator.assist.models import MachineLabeller, Prediction

BATCH = 2000  # rows per INSERT ... ON CONFLICT


@dataclass(frozen=True)
class PredictionItem:
    """What a model said about one comment, checked."""

    comment_id: int
    answers: list[CheckedAnswer]
    prompt_version: str = ""
    raw_response: str = ""
    scheme_version: int | None = None  # the run's scheme version when None
    extra: dict = field(default_factory=dict)


def _rows(labeller: MachineLabeller, items: Iterable[PredictionItem], scheme_version: int):
    now = timezone.now()
    for item in items:
        for checked in item.answers:
            yield Prediction(
                labeller_id=labeller.pk,
                comment_id=item.comment_id,
                question=checked.question,
                answer=checked.answer,
                confidence=checked.confidence,
                scheme_version=item.scheme_version or scheme_version,
                prompt_version=item.prompt_version,
                raw_response=item.raw_response,
                stale_since=None,
                created_at=now,
            )


def _batches(rows: Iterator[Prediction], size: int) -> Iterator[list[Prediction]]:
    while batch := list(islice(rows, size)):
        yield batch


def write_predictions(
    labeller: MachineLabeller, items: Iterable[PredictionItem], *, scheme_version: int
) -> int:
    """Store ``items`` for ``labeller`` in batches, replacing earlier answers of the same
    version; returns the number of predictions written. Run it in the caller's
    transaction when the whole set must be all or nothing."""
    written = 0
    for batch in _batches(_rows(labeller, items, scheme_version), BATCH):
        Prediction.objects.bulk_create(
            batch,
            update_conflicts=True,
            unique_fields=["labeller", "comment", "question"],
            update_fields=[
                "answer",
                "confidence",
                "scheme_version",
                "prompt_version",
                "raw_response",
                "stale_since",
                "created_at",
            ],
        )
        written += len(batch)
    return written
