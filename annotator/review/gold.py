"""Writing gold labels: one reviewer's decision at a time, or unanimous comments in bulk.

``save_gold`` is the one write path for a reviewer's decision. Like ``save_annotation`` it
uses optimistic locking: the caller says which ``revision`` it started from (0: no gold
yet) and a save from any other revision raises ``GoldConflict`` and writes nothing, so two
reviewers never silently overwrite each other. Gold must be complete: every required
question the current scheme shows for the comment is answered, or ``GoldInvalid`` says
which are missing. Every change writes a ``GoldEvent`` with the state before and after.

``accept_unanimous`` turns every comment whose annotators all gave the same answers (as
``queue`` defines it) into gold with method *accepted*, in a constant number of queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from annotator.corpus.models import Comment, Project
from annotator.labelling.models import LabelScheme
from annotator.labelling.scheme import clean_answers, missing_answers
from annotator.labelling.schemes import current_scheme_for
from annotator.review.models import GoldEvent, GoldLabel
from annotator.review.queue import agreed_answers, review_state

ADJUDICATED = GoldLabel.Method.ADJUDICATED
ACCEPTED = GoldLabel.Method.ACCEPTED
NOTE_MAX_LENGTH = 10_000
BULK_BATCH = 500


class GoldConflict(Exception):
    """The gold label changed since the reviewer's form was loaded (another reviewer, tab)."""

    def __init__(self, current: GoldLabel | None, base_revision: int) -> None:
        self.current = current
        self.base_revision = base_revision
        super().__init__(
            f"The gold label is at revision {current.revision if current else 0}, "
            f"the form was loaded at revision {base_revision}."
        )


class GoldInvalid(Exception):
    """Answers that cannot be gold: bad values (``errors`` by key) or ``missing`` questions."""

    def __init__(self, errors: dict[str, str], missing: list[str]) -> None:
        self.errors = errors
        self.missing = missing
        parts = [f"{key}: {error}" for key, error in errors.items()]
        if missing:
            parts.append(f"required answers missing: {', '.join(missing)}")
        super().__init__("; ".join(parts))


def save_gold(
    comment: Comment,
    answers: Mapping[str, Any],
    reviewer,
    *,
    revision: int,
    note: str = "",
    method: str = ADJUDICATED,
    scheme: LabelScheme | None = None,
) -> GoldLabel:
    """Set the gold answers of ``comment`` as ``reviewer`` decided them.

    ``revision`` is the gold label's revision the reviewer saw (0: none yet). Raises
    ``GoldConflict`` for a stale revision and ``GoldInvalid`` for answers the current scheme
    refuses or that leave a required question open. A save that changes nothing returns the
    stored label untouched (no new revision, no history row). ``scheme`` is the project's
    current scheme when the caller has it already.
    """
    if method not in GoldLabel.Method.values:
        raise ValueError(f"unknown method {method!r}")
    scheme = scheme or current_scheme_for(comment.article.project)
    is_reply = comment.parent_id is not None
    note = (note or "").strip()[:NOTE_MAX_LENGTH]
    try:
        with transaction.atomic():
            gold = (
                GoldLabel.objects.select_for_update(of=("self",))
                .select_related("scheme")
                .filter(comment=comment)
                .first()
            )
            current_revision = gold.revision if gold else 0
            if current_revision != revision:
                raise GoldConflict(gold, revision)
            kept = gold.answers if gold else {}
            cleaned, errors = clean_answers(scheme.scheme, answers, is_reply=is_reply, kept=kept)
            missing = missing_answers(scheme.scheme, cleaned, is_reply=is_reply)
            if errors or missing:
                raise GoldInvalid(errors, missing)
            if gold is None:
                gold = GoldLabel(project_id=comment.article.project_id, comment=comment, revision=0)
                before = None
            else:
                if (
                    gold.answers == cleaned
                    and gold.note == note
                    and gold.method == method
                    and gold.scheme_id == scheme.pk
                ):
                    return gold
                before = gold.snapshot()
            now = timezone.now()
            gold.answers = cleaned
            gold.note = note
            gold.method = method
            gold.scheme = scheme
            gold.decided_by = reviewer
            gold.decided_at = now
            gold.revision += 1
            gold.save()
            GoldEvent.objects.create(
                gold=gold,
                actor=reviewer,
                at=now,
                revision=gold.revision,
                before=before,
                after=gold.snapshot(),
            )
    except IntegrityError:
        # Two first saves raced: the other one created the row. Same as a stale revision.
        raise GoldConflict(GoldLabel.objects.filter(comment=comment).first(), revision) from None
    return gold


def accept_unanimous(project: Project, reviewer) -> int:
    """Make gold of every comment whose annotators all agree; return how many were accepted.

    A comment qualifies when it has no gold, two or more submitted annotations with the same
    answers on every question (``queue.disagreement`` is 0: equal keys, equal values,
    multiple choice compared as sets), nobody flagged it for review, and the shared answers
    are valid and complete under the current scheme (``queue.agreed_answers``). Those are
    the comments the queue page counts as "unanimous". Running it again accepts nothing new.
    Queries: scheme, annotations, gold count, then one insert per ``BULK_BATCH`` gold labels
    and events, all in one transaction.
    """
    scheme = current_scheme_for(project)
    for _attempt in range(3):
        candidates = review_state(project, scheme=scheme).unanimous
        if not candidates:
            return 0
        now = timezone.now()
        verdicts: dict = {}
        golds = [
            GoldLabel(
                project=project,
                comment_id=labels.comment_id,
                scheme=scheme,
                answers=agreed_answers(scheme.scheme, labels, verdicts),
                method=ACCEPTED,
                decided_by=reviewer,
                decided_at=now,
                revision=1,
            )
            for labels in candidates
        ]
        try:
            with transaction.atomic():
                GoldLabel.objects.bulk_create(golds, batch_size=BULK_BATCH)
                GoldEvent.objects.bulk_create(
                    [
                        GoldEvent(
                            gold=gold,
                            actor=reviewer,
                            at=now,
                            revision=1,
                            before=None,
                            after=gold.snapshot(),
                        )
                        for gold in golds
                    ],
                    batch_size=BULK_BATCH,
                )
        except IntegrityError:
            # A reviewer settled one of these comments meanwhile: read the state again.
            continue
        return len(golds)
    raise GoldConflict(None, 0)
