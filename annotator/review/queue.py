"""The reviewer's queue: comments whose annotators disagree, worst first.

Only *submitted* annotations count (drafts are unfinished, skips give no answer). A comment
enters review once it has at least two of them and no gold label yet. Its answers are then
compared question by question:

* Two answers to a question agree when they are equal; a multiple-choice answer is compared
  as a set (the order the boxes were ticked in does not matter); a question one annotator
  answered and another did not (e.g. "check-worthy?", shown only for some claim types)
  counts as a disagreement on that question.
* The **disagreement score** is the share of the questions anyone answered on which the
  annotators do not all agree: 0 means unanimous, 1 means they agree on nothing.

The queue is ordered by score (highest first), then by the number of annotators (more people
disagreeing first: there is more evidence the comment is hard), then in tree order (article,
then path) so equal comments come in the order a reader meets them.

Unanimous comments are not in the queue but wait for ``gold.accept_unanimous``, except those
a reviewer should still see: one an annotator *flagged for review*, and one whose shared
answers would not make valid gold under the current scheme (a required question added since,
a choice removed). Those come after the disagreements, with score 0 and their reason.

Spot checks: a share of the bulk-acceptable comments can be mixed in at the end. Whether a
comment is a spot check is a pure function of ``(seed, comment id)`` (a hash compared with the
share), so the sample stays the same while other comments are settled and the reviewer can
move through it page after page.

Everything is read with one streamed query over the project's submitted annotations
(``values_list``) and scored in Python: constant queries, fine on tens of thousands of
comments.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, Q

from annotator.corpus.models import Project
from annotator.labelling.models import Annotation, LabelScheme
from annotator.labelling.scheme import Scheme, clean_answers, missing_answers

DISAGREE = "disagree"
FLAGGED = "flagged"
INCOMPLETE = "incomplete"
SPOT_CHECK = "spot_check"
REASON_LABELS = {
    DISAGREE: "annotators disagree",
    FLAGGED: "flagged for review",
    INCOMPLETE: "agreed answers are not complete under the current scheme",
    SPOT_CHECK: "spot check: all annotators agree",
}
# Among comments with the same score: disagreements, then what needs a look, then samples.
_REASON_RANK = {DISAGREE: 0, FLAGGED: 1, INCOMPLETE: 1, SPOT_CHECK: 2}
STREAM_CHUNK = 2000


@dataclass
class CommentLabels:
    """The submitted annotations of one comment, as the queue reads them."""

    comment_id: int
    article_id: int
    path: str
    is_reply: bool
    answers: list[dict] = field(default_factory=list)
    flagged: bool = False


@dataclass(frozen=True)
class QueueItem:
    """One comment in the reviewer's queue."""

    comment_id: int
    article_id: int
    path: str
    score: float
    annotators: int
    disagreeing: tuple[str, ...]
    reason: str

    @property
    def is_spot_check(self) -> bool:
        return self.reason == SPOT_CHECK

    @property
    def percent(self) -> int:
        return round(self.score * 100)

    @property
    def reason_label(self) -> str:
        return REASON_LABELS[self.reason]

    def sort_key(self) -> tuple:
        return (
            -self.score,
            _REASON_RANK[self.reason],
            -self.annotators,
            self.article_id,
            self.path,
        )


@dataclass
class ReviewState:
    """What the reviewer's queue page shows: the queue, what bulk accept would take, counts."""

    queue: list[QueueItem]
    unanimous: list[CommentLabels]
    gold_count: int

    @property
    def disagreeing_count(self) -> int:
        return sum(1 for item in self.queue if item.reason == DISAGREE)

    @property
    def needs_look_count(self) -> int:
        return sum(1 for item in self.queue if item.reason in (FLAGGED, INCOMPLETE))

    @property
    def spot_check_count(self) -> int:
        return sum(1 for item in self.queue if item.is_spot_check)


def normalised(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Answers in a form where equal means agreeing: multiple choice as a sorted tuple."""
    return {
        key: tuple(sorted(value)) if isinstance(value, list) else value
        for key, value in answers.items()
        if value not in (None, "", [])
    }


def disagreement(answer_dicts: Iterable[Mapping[str, Any]]) -> tuple[float, tuple[str, ...]]:
    """(score, keys of the questions in disagreement) for several annotators' answers."""
    answer_sets = [normalised(a) for a in answer_dicts]
    if not answer_sets or all(a == answer_sets[0] for a in answer_sets[1:]):
        return 0.0, ()
    keys = sorted(set().union(*answer_sets))
    missing = object()
    split = tuple(key for key in keys if len({repr(a.get(key, missing)) for a in answer_sets}) > 1)
    return len(split) / len(keys), split


def agreed_answers(
    scheme: Scheme, labels: CommentLabels, cache: dict | None = None
) -> dict[str, Any] | None:
    """The shared answers of a unanimous comment if they make valid gold now, else None.

    Valid means: the current scheme accepts every value, drops no answer, and no required
    question it shows for the comment is left unanswered. ``cache`` remembers the verdict
    for answers seen before (most unanimous comments share a handful of answer sets).
    """
    answers = labels.answers[0]
    key = (labels.is_reply, repr(sorted(normalised(answers).items())))
    if cache is not None and key in cache:
        return cache[key]
    cleaned, errors = clean_answers(scheme, answers, is_reply=labels.is_reply, kept=answers)
    valid = not errors and normalised(cleaned) == normalised(answers)
    valid = valid and not missing_answers(scheme, cleaned, is_reply=labels.is_reply)
    verdict = cleaned if valid else None
    if cache is not None:
        cache[key] = verdict
    return verdict


def is_spot_check(comment_id: int, seed: int | str, share: float) -> bool:
    """Whether a unanimous comment is in the spot-check sample (stable for a given seed)."""
    if share <= 0:
        return False
    digest = hashlib.blake2b(f"{seed}:{comment_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share


def submitted_labels(project: Project, *, keep: int | None = None) -> Iterator[CommentLabels]:
    """Comments of ``project`` without gold and with two or more submitted annotations.

    One query, streamed in comment order; each comment is yielded once complete. ``keep`` is
    a comment id read even if it has gold (see ``next_in_queue``).
    """
    from annotator.review.models import GoldLabel

    has_gold = Exists(GoldLabel.objects.filter(comment_id=OuterRef("comment_id")))
    rows = Annotation.objects.filter(project=project, status=Annotation.Status.SUBMITTED).filter(
        ~has_gold | Q(comment_id=keep) if keep is not None else ~has_gold
    )
    rows = rows.order_by("comment_id", "annotator_id").values_list(
        "comment_id",
        "comment__article_id",
        "comment__path",
        "comment__parent_id",
        "answers",
        "flagged",
    )
    current: CommentLabels | None = None
    for comment_id, article_id, path, parent_id, answers, flagged in rows.iterator(
        chunk_size=STREAM_CHUNK
    ):
        if current is None or current.comment_id != comment_id:
            if current is not None and len(current.answers) >= 2:
                yield current
            current = CommentLabels(comment_id, article_id, path, parent_id is not None)
        current.answers.append(answers or {})
        current.flagged = current.flagged or flagged
    if current is not None and len(current.answers) >= 2:
        yield current


def review_state(
    project: Project,
    *,
    scheme: LabelScheme | None = None,
    include_spot_checks: bool = False,
    spot_check_share: float = 0.1,
    seed: int | str | None = None,
    keep: int | None = None,
) -> ReviewState:
    """The queue (worst first), the bulk-acceptable comments and the gold count (3 queries).

    ``keep``: a comment id left in the queue even if it has gold (see ``next_in_queue``).
    """
    from annotator.labelling.schemes import current_scheme_for
    from annotator.review.models import GoldLabel

    scheme = scheme or current_scheme_for(project)
    seed = project.pk if seed is None else seed
    queue: list[QueueItem] = []
    unanimous: list[CommentLabels] = []
    verdicts: dict = {}
    for labels in submitted_labels(project, keep=keep):
        score, split = disagreement(labels.answers)
        reason = None
        if split:
            reason = DISAGREE
        elif labels.flagged:
            reason = FLAGGED
        elif agreed_answers(scheme.scheme, labels, verdicts) is None:
            reason = INCOMPLETE
        else:
            unanimous.append(labels)
            if include_spot_checks and is_spot_check(labels.comment_id, seed, spot_check_share):
                reason = SPOT_CHECK
        if reason is not None:
            queue.append(
                QueueItem(
                    comment_id=labels.comment_id,
                    article_id=labels.article_id,
                    path=labels.path,
                    score=score,
                    annotators=len(labels.answers),
                    disagreeing=split,
                    reason=reason,
                )
            )
    queue.sort(key=QueueItem.sort_key)
    gold_count = GoldLabel.objects.filter(project=project).count()
    return ReviewState(queue=queue, unanimous=unanimous, gold_count=gold_count)


def disagreement_queue(
    project: Project,
    *,
    include_spot_checks: bool = False,
    spot_check_share: float = 0.1,
    seed: int | str | None = None,
) -> list[QueueItem]:
    """Comments without gold whose annotators disagree (or need a look), worst first.

    With ``include_spot_checks`` a seeded sample (``spot_check_share``) of the unanimous
    ones follows, marked as spot checks. See the module docstring for the exact rules.
    """
    return review_state(
        project,
        include_spot_checks=include_spot_checks,
        spot_check_share=spot_check_share,
        seed=seed,
    ).queue


def next_in_queue(queue: list[QueueItem], after_comment_id: int | None) -> QueueItem | None:
    """The item following ``after_comment_id`` in ``queue``, wrapping round; else the first.

    To move on from a comment just settled, build the queue with ``keep`` set to it, so its
    place is known and the reviewer goes forward rather than back to the top.
    """
    others = [item for item in queue if item.comment_id != after_comment_id]
    if not others:
        return None
    for index, item in enumerate(queue):
        if item.comment_id == after_comment_id:
            following = queue[index + 1 :] + queue[:index]
            return following[0]
    return others[0]
