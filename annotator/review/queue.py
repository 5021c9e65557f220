"""The reviewer's queue: comments whose annotators disagree, worst first.

Only *submitted* annotations count (drafts are unfinished, skips give no answer). A comment
enters review once it has at least two of them and no gold label yet (or only gold that a
move sent back to review: ``GoldLabel.needs_review``), or a single one that its annotator
flagged for review. Its answers are then
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

A flag is kept on every item (``QueueItem.flagged``, with the number of annotators' notes),
whatever its reason: a flagged comment that also disagrees is listed as a disagreement, but
the annotator asked for a look, so the page marks it and counts it among "flagged or
incomplete" (``ReviewState.needs_look_count``) as well as among the disagreements.

Spot checks: a share of the bulk-acceptable comments can be mixed in at the end. Whether a
comment is a spot check is a pure function of ``(seed, comment id)`` (a hash compared with the
share), so the sample stays the same while other comments are settled and the reviewer can
move through it page after page.

Scores are kept between requests, per process (``ScoredProject``): scoring a project reads
every submitted annotation (about a second at 20,000 comments), and the reviewer's Enter
must not pay that on every save. Each call first reads one aggregate query, the *version*:
the submitted annotations' count, sum of revisions and latest ``updated_at``, a fingerprint of
the reply trees (ids, parents, positions: a moved comment changes its order and whether it is
a reply) and the gold labels' count, last id and sums of their comment ids. Then:

* nothing changed: the kept scores are used as they are;
* only gold changed: only the new gold labels' comment ids are read (scores do not depend on
  gold; gold only takes comments out of the queue);
* labels changed: only the comments with an annotation saved since the last read (less a
  minute, for transactions that committed late) are read again and rescored. Every save
  bumps an annotation's revision, so the kept per-comment counts and revision sums must then
  add up to the version's: if they do not (a deleted annotation, a clock far off) the
  project is scored from scratch;
* a new scheme version, a moved comment, or a project not seen yet: scored from scratch.

Kept per process first (``_memo``): every call checks the version in the database, so scores
kept by one process are never used for labels another process changed since; they are caught
up as above. With a shared cache (``CACHE_URL``: Redis) a process that scores a project from
scratch also *publishes* the result (pickled, about 2 MB at 20,000 comments), and a process
without kept scores (a new gunicorn worker, one whose kept scores could not catch up) starts
from the published ones: as they are when they are of the current version, else caught up
the same way (and published again). Scoring from scratch is done by one process per version
(``computed_once``); the others wait for its result. A published state is only ever used for
the version it names or caught up from it with the same checks, so processes publishing
concurrently cannot make a queue wrong, only cost a catch-up. Catching up on one's own kept
scores (the reviewer's Enter) publishes nothing: that path stays as fast as before. Without
a shared cache nothing is published (a local-memory cache would only copy the memo).

Why not a score column: it would need every write path of annotations and comments to keep it
right. The kept state is a few megabytes for 20,000 comments; ``MEMO_PROJECTS`` projects are
kept. Queries stay constant: the version, then at most the changed annotations and the new
gold ids (the shared cache adds cache reads, no query).
"""

from __future__ import annotations

import hashlib
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from annotator.corpus.models import Project
from annotator.labelling.models import Annotation, LabelScheme
from annotator.labelling.scheme import Scheme, clean_answers, missing_answers
from annotator.review.computed_once import (
    cache_get,
    cache_is_shared,
    cache_set,
    computed_once,
    fingerprint_digest,
)

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
    notes: int = 0
    revisions: int = 0


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One comment in the reviewer's queue."""

    comment_id: int
    article_id: int
    path: str
    score: float
    annotators: int
    disagreeing: tuple[str, ...]
    reason: str
    # An annotator flagged it for review (also when the reason is a disagreement), and how
    # many of its submitted annotations carry a note: what the reviewer should read first.
    flagged: bool = False
    notes: int = 0

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
    unanimous: list[AgreedComment]
    gold_count: int

    @property
    def disagreeing_count(self) -> int:
        return sum(1 for item in self.queue if item.reason == DISAGREE)

    @property
    def needs_look_count(self) -> int:
        """Flagged comments (disagreeing ones included) and incomplete unanimous ones."""
        return sum(1 for item in self.queue if item.flagged or item.reason == INCOMPLETE)

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


@dataclass(frozen=True, slots=True)
class AgreedComment:
    """A unanimous comment ``gold.accept_unanimous`` would take, with its agreed answers."""

    comment_id: int
    answers: dict[str, Any]


@dataclass(frozen=True)
class Version:
    """What the kept scores of a project were computed from (see the module docstring)."""

    scheme_id: int
    submitted: int
    revisions: int
    latest: datetime | None
    tree: tuple[int, int]
    gold: tuple[int, int | None, int, int]

    @property
    def labels(self) -> tuple:
        """Everything scores depend on (gold does not change a comment's score)."""
        return (self.scheme_id, self.submitted, self.revisions, self.latest, self.tree)


@dataclass
class ScoredProject:
    """Every comment of a project with two or more submitted labels, scored, gold or not.

    ``ordered`` holds one ``QueueItem`` per comment in queue order (a unanimous comment that
    could be accepted has the reason ``SPOT_CHECK``: it is shown only when sampled), with
    ``keys`` its sort keys; ``agreed`` the answers of those unanimous ones; ``tallies`` the
    submitted annotations and the sum of their revisions of every comment with one or more.
    Never changed once kept (but for ``samples``, derived data built on first use: the spot
    checks of a seed, the unanimous list): an update builds a new one.
    """

    version: Version
    read_at: datetime
    items: dict[int, QueueItem]
    agreed: dict[int, dict[str, Any]]
    tallies: dict[int, tuple[int, int]]
    ordered: list[QueueItem]
    keys: list[tuple]
    verdicts: dict
    gold_ids: frozenset[int] = frozenset()
    gold: tuple[int, int | None, int, int] = (0, None, 0, 0)
    samples: dict = field(default_factory=dict)

    def unanimous(self) -> list[AgreedComment]:
        """The agreed comments in comment order, gold or not (built once)."""
        if "unanimous" not in self.samples:
            self.samples["unanimous"] = [
                AgreedComment(comment_id, answers)
                for comment_id, answers in sorted(self.agreed.items())
            ]
        return self.samples["unanimous"]

    def spot_sample(self, seed: int | str, share: float) -> frozenset[int]:
        """The unanimous comments in the spot-check sample of ``(seed, share)``."""
        key = (seed, share)
        if key not in self.samples:
            self.samples[key] = frozenset(
                comment_id for comment_id in self.agreed if is_spot_check(comment_id, seed, share)
            )
        return self.samples[key]


MEMO_PROJECTS = 8
# Annotations saved this long before the last read are read again: a transaction that took
# its updated_at before that read may have committed after it (and app servers' clocks differ).
SINCE_MARGIN = timedelta(seconds=60)
# Past this many changed comments, sorting again is cheaper than moving items one by one.
RESORT_AFTER = 1000
_memo: OrderedDict[tuple, ScoredProject] = OrderedDict()
# The scores published in Django's cache for the other processes (see the module docstring).
SHARED_PREFIX = "review:queue:"
SHARED_SECONDS = 24 * 3600
_memo_lock = threading.Lock()
_ROW_FIELDS = (
    "comment_id",
    "comment__article_id",
    "comment__path",
    "comment__parent_id",
    "status",
    "answers",
    "flagged",
    "note",
    "revision",
)


def forget_scores() -> None:
    """Drop every kept score (tests and benchmarks start cold with it)."""
    with _memo_lock:
        _memo.clear()


def read_version(project: Project, scheme: LabelScheme) -> Version:
    """The version of ``project``'s labels, reply trees and gold, in one aggregate query."""
    from annotator.corpus.models import Article, Comment
    from annotator.review.models import GoldLabel

    quote = connection.ops.quote_name
    annotations = quote(Annotation._meta.db_table)
    gold = quote(GoldLabel._meta.db_table)
    comments = quote(Comment._meta.db_table)
    articles = quote(Article._meta.db_table)
    # Each comment adds a number mixing its id with its parent and position (kept small so
    # the sum never overflows): moving a comment changes it.
    sql = f"""
        SELECT a.n, a.revisions, a.latest, t.n, t.fingerprint, g.n, g.last, g.ids, g.squares
        FROM (SELECT COUNT(*) AS n, SUM(revision) AS revisions, MAX(updated_at) AS latest
              FROM {annotations} WHERE project_id = %s AND status = %s) a,
             (SELECT COUNT(*) AS n, SUM(
                 ((c.id %% 1000003) * ((COALESCE(c.parent_id, 0) %% 1000003) * 131 + c.position))
                 %% 2147483647) AS fingerprint
              FROM {comments} c JOIN {articles} ar ON ar.id = c.article_id
              WHERE ar.project_id = %s) t,
             (SELECT COUNT(*) AS n, MAX(id) AS last, SUM(comment_id) AS ids,
                     SUM((comment_id %% 1000003) * (comment_id %% 1000003) %% 2147483647) AS squares
              FROM {gold} WHERE project_id = %s AND NOT needs_review) g
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [project.pk, Annotation.Status.SUBMITTED, project.pk, project.pk])
        submitted, revisions, latest, comment_count, fingerprint, *gold = cursor.fetchone()
    if isinstance(latest, str):  # SQLite returns the stored text
        latest = parse_datetime(latest)
    if latest is not None and timezone.is_naive(latest):
        latest = timezone.make_aware(latest, UTC)
    return Version(
        scheme_id=scheme.pk,
        submitted=submitted,
        revisions=int(revisions or 0),
        latest=latest,
        tree=(comment_count, int(fingerprint or 0)),
        gold=(gold[0], gold[1], int(gold[2] or 0), int(gold[3] or 0)),
    )


def _grouped(rows: Iterable[tuple]) -> Iterator[CommentLabels]:
    """Rows in comment order (``_ROW_FIELDS``) as one ``CommentLabels`` per comment.

    Every comment in the rows is yielded, also one without submitted annotations (its
    ``answers`` is empty): an incremental update must forget it.
    """
    current: CommentLabels | None = None
    for comment_id, article_id, path, parent_id, status, answers, flagged, note, revision in rows:
        if current is None or current.comment_id != comment_id:
            if current is not None:
                yield current
            current = CommentLabels(comment_id, article_id, path, parent_id is not None)
        if status != Annotation.Status.SUBMITTED:
            continue
        current.answers.append(answers or {})
        current.flagged = current.flagged or flagged
        current.notes += bool(note and note.strip())
        current.revisions += revision
    if current is not None:
        yield current


def _in_review(labels: CommentLabels) -> bool:
    """Two labels or more can be compared; a single one comes only if its annotator flagged
    it (with one annotator per comment the flag is the only way to ask for a reviewer)."""
    return len(labels.answers) >= 2 or (labels.flagged and len(labels.answers) == 1)


def _scored(
    labels: CommentLabels, scheme: LabelScheme, verdicts: dict
) -> tuple[QueueItem, dict[str, Any] | None]:
    """The queue item of a comment in review (``_in_review``), and its agreed answers if any."""
    score, split = disagreement(labels.answers)
    agreed = None
    if split:
        reason = DISAGREE
    elif labels.flagged:
        reason = FLAGGED
    else:
        agreed = agreed_answers(scheme.scheme, labels, verdicts)
        reason = INCOMPLETE if agreed is None else SPOT_CHECK
    item = QueueItem(
        comment_id=labels.comment_id,
        article_id=labels.article_id,
        path=labels.path,
        score=score,
        annotators=len(labels.answers),
        disagreeing=split,
        reason=reason,
        flagged=labels.flagged,
        notes=labels.notes,
    )
    return item, agreed


def _key(item: QueueItem) -> tuple:
    return (*item.sort_key(), item.comment_id)


def _score_all(
    project: Project, scheme: LabelScheme, version: Version, read_at: datetime
) -> ScoredProject:
    """Score every comment of the project from its submitted annotations (one query)."""
    rows = (
        Annotation.objects.filter(project=project, status=Annotation.Status.SUBMITTED)
        .order_by("comment_id", "annotator_id")
        .values_list(*_ROW_FIELDS)
    )
    items: dict[int, QueueItem] = {}
    agreed: dict[int, dict] = {}
    tallies: dict[int, tuple[int, int]] = {}
    verdicts: dict = {}
    for labels in _grouped(rows.iterator(chunk_size=STREAM_CHUNK)):
        tallies[labels.comment_id] = (len(labels.answers), labels.revisions)
        if _in_review(labels):
            item, answers = _scored(labels, scheme, verdicts)
            items[labels.comment_id] = item
            if answers is not None:
                agreed[labels.comment_id] = answers
    ordered = sorted(items.values(), key=_key)
    return ScoredProject(
        version=version,
        read_at=read_at,
        items=items,
        agreed=agreed,
        tallies=tallies,
        ordered=ordered,
        keys=[_key(item) for item in ordered],
        verdicts=verdicts,
    )


def _score_changes(
    project: Project,
    scheme: LabelScheme,
    version: Version,
    read_at: datetime,
    kept: ScoredProject,
) -> ScoredProject | None:
    """``kept`` with the comments whose annotations changed since it was read, rescored.

    One query. None when the result does not add up to ``version`` (see the module
    docstring): the caller then scores the project from scratch.
    """
    changed = Annotation.objects.filter(
        project=project, updated_at__gte=kept.read_at - SINCE_MARGIN
    ).values("comment_id")
    rows = (
        Annotation.objects.filter(project=project, comment_id__in=changed)
        .order_by("comment_id", "annotator_id")
        .values_list(*_ROW_FIELDS)
    )
    items, agreed, tallies = dict(kept.items), dict(kept.agreed), dict(kept.tallies)
    submitted = sum(count for count, _ in tallies.values())
    revisions = sum(revision for _, revision in tallies.values())
    rescored: list[QueueItem] = []
    changed_ids: set[int] = set()
    for labels in _grouped(rows.iterator(chunk_size=STREAM_CHUNK)):
        changed_ids.add(labels.comment_id)
        count, revision = tallies.pop(labels.comment_id, (0, 0))
        submitted -= count
        revisions -= revision
        items.pop(labels.comment_id, None)
        agreed.pop(labels.comment_id, None)
        if labels.answers:
            tallies[labels.comment_id] = (len(labels.answers), labels.revisions)
            submitted += len(labels.answers)
            revisions += labels.revisions
        if _in_review(labels):
            item, answers = _scored(labels, scheme, kept.verdicts)
            items[labels.comment_id] = item
            rescored.append(item)
            if answers is not None:
                agreed[labels.comment_id] = answers
    if (submitted, revisions) != (version.submitted, version.revisions):
        return None
    if len(changed_ids) > RESORT_AFTER:
        ordered = sorted(items.values(), key=_key)
        keys = [_key(item) for item in ordered]
    else:
        ordered, keys = list(kept.ordered), list(kept.keys)
        for comment_id in changed_ids:
            old = kept.items.get(comment_id)
            if old is not None:
                index = bisect_left(keys, _key(old))
                del keys[index], ordered[index]
        for item in rescored:
            key = _key(item)
            index = bisect_left(keys, key)
            keys.insert(index, key)
            ordered.insert(index, item)
    return ScoredProject(
        version=version,
        read_at=read_at,
        items=items,
        agreed=agreed,
        tallies=tallies,
        ordered=ordered,
        keys=keys,
        verdicts=kept.verdicts,
        gold_ids=kept.gold_ids,
        gold=kept.gold,
    )


def _gold_tally(ids: frozenset[int]) -> tuple[int, int, int]:
    """What the version's gold part says of a set of comment ids (count and two sums)."""
    return (
        len(ids),
        sum(ids),
        sum((i % 1000003) * (i % 1000003) % 2147483647 for i in ids),
    )


def _with_gold(project: Project, scored: ScoredProject, gold: tuple[int, int | None, int, int]):
    """``scored`` with the comment ids of the project's gold labels as of ``gold``.

    Gold labels are only added (and removed with their comment): reads the ones after the
    last id seen, or all of them when the ids then do not add up to the version's count
    and sums (a removed label; gold sent back to review by a move, or settled again; on
    PostgreSQL a label whose id was taken before the last one seen but that committed after
    it).
    """
    from annotator.review.models import GoldLabel

    count, _last, id_sum, square_sum = gold
    # Gold a move sent back to review does not settle its comment (see gold.py).
    labels = GoldLabel.objects.filter(project=project, needs_review=False)
    if count == 0:
        ids = frozenset()
    else:
        ids = None
        if scored.gold[1] is not None:
            added = labels.filter(pk__gt=scored.gold[1]).values_list("comment_id", flat=True)
            ids = scored.gold_ids.union(added)
        if ids is None or _gold_tally(ids) != (count, id_sum, square_sum):
            ids = frozenset(labels.values_list("comment_id", flat=True))
    return replace(scored, gold_ids=ids, gold=gold)


def _same_basis(scored: ScoredProject | None, version: Version) -> bool:
    """Whether ``scored`` can be brought up to ``version`` by rescoring changed comments."""
    return scored is not None and (
        scored.version.scheme_id == version.scheme_id and scored.version.tree == version.tree
    )


def _shared_key(project: Project) -> str:
    # The database and the project's creation time too: test databases (and a project made
    # again under a reused id) must not meet another's scores.
    created = project.created_at.timestamp() if project.created_at else 0
    return f"{SHARED_PREFIX}{connection.settings_dict['NAME']}:{project.pk}:{created}"


def _published(project: Project) -> ScoredProject | None:
    """The scores another process published for ``project`` (any version), if any."""
    found = cache_get(_shared_key(project))
    return found if isinstance(found, ScoredProject) else None


def _publish(project: Project, scored: ScoredProject) -> ScoredProject:
    """Share ``scored`` with the other processes (without the derived samples)."""
    cache_set(_shared_key(project), replace(scored, samples={}), SHARED_SECONDS)
    return scored


def _up_to_date(
    project: Project,
    scheme: LabelScheme,
    version: Version,
    read_at: datetime,
    kept: ScoredProject | None,
) -> ScoredProject:
    """Scores for ``version``'s labels: the kept ones caught up (cheap, not published), else
    the published ones (as they are when they are of this version, else caught up), else
    scored from scratch by one process, which publishes them (``computed_once``)."""
    if _same_basis(kept, version):
        updated = _score_changes(project, scheme, version, read_at, kept)
        if updated is not None:
            return updated
    if not cache_is_shared():  # a local-memory cache: the memo above is all there is
        return _score_all(project, scheme, version, read_at)
    shared = _published(project)
    if shared is not None and kept is not None and shared.read_at <= kept.read_at:
        shared = None  # no newer than what just failed to catch up
    if shared is not None and shared.version.labels == version.labels:
        return shared
    if _same_basis(shared, version):
        updated = _score_changes(project, scheme, version, read_at, shared)
        if updated is not None:
            return _publish(project, updated)

    def find() -> ScoredProject | None:
        found = _published(project)
        return found if found is not None and found.version.labels == version.labels else None

    def compute() -> ScoredProject:
        return _publish(project, _score_all(project, scheme, version, read_at))

    lock = f"{_shared_key(project)}:scoring:{fingerprint_digest(version.labels)}"
    return computed_once(lock, find, compute, checked=True)


def scored_project(project: Project, scheme: LabelScheme) -> ScoredProject:
    """The kept scores of ``project``, brought up to date (see the module docstring).

    Queries: the version; then the changed annotations (or all of them) if labels changed,
    and the new gold ids if gold changed.
    """
    key = (connection.settings_dict["NAME"], project.pk)
    read_at = timezone.now()
    version = read_version(project, scheme)
    with _memo_lock:
        scored = _memo.get(key)
    if scored is None or scored.version.labels != version.labels:
        scored = _up_to_date(project, scheme, version, read_at, scored)
    if scored.gold != version.gold:
        scored = _with_gold(project, scored, version.gold)
    with _memo_lock:
        _memo[key] = scored
        _memo.move_to_end(key)
        while len(_memo) > MEMO_PROJECTS:
            _memo.popitem(last=False)
    return scored


def review_state(
    project: Project,
    *,
    scheme: LabelScheme | None = None,
    include_spot_checks: bool = False,
    spot_check_share: float = 0.1,
    seed: int | str | None = None,
    keep: int | None = None,
) -> ReviewState:
    """The queue (worst first), the bulk-acceptable comments and the gold count.

    ``keep``: a comment id left in the queue even if it has gold (see ``next_in_queue``).
    Queries: the scheme (unless given), then ``scored_project``'s: 1 when nothing changed.
    """
    from annotator.labelling.schemes import current_scheme_for

    scheme = scheme or current_scheme_for(project)
    seed = project.pk if seed is None else seed
    scored = scored_project(project, scheme)
    gold = scored.gold_ids
    sample = scored.spot_sample(seed, spot_check_share) if include_spot_checks else frozenset()
    queue = [
        item
        for item in scored.ordered
        if (item.reason != SPOT_CHECK or item.comment_id in sample)
        and (item.comment_id not in gold or item.comment_id == keep)
    ]
    unanimous = [agreed for agreed in scored.unanimous() if agreed.comment_id not in gold]
    return ReviewState(queue=queue, unanimous=unanimous, gold_count=scored.gold[0])


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
