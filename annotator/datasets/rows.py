"""The row stream every exporter writes from: articles and comments in tree order, each comment
with its submitted annotations and the majority answer per question.

One ``RowSource`` is one export's reading of the database. It streams comments as plain
tuples from a server-side cursor (``stream_rows``: no model instances) in chunks of
``chunk_size`` and fetches the submitted annotations of a whole chunk in one query, so the
number of queries grows with rows / chunk, never with rows, and memory stays at about two
chunks whatever the size of the project: the next chunk is read on a second thread while
this one is written (``readahead``). Label objects (answers, majorities) are shared by
every row with the same labels, so each is parsed and counted once (see "Building rows").
Exporters never see a real name when the export is pseudonymised: the stream applies the
pseudonyms, collects the counts the dataset card shows (``ExportStats``) and reports progress.
Rows and the label objects in them are read-only.

Decisions (the dataset card repeats them for the people who load the files):

* **Labels** are submitted annotations only; drafts and skips are left out. A comment is
  *labelled* when at least one annotator submitted an annotation for it. Answers are
  restricted to the chosen questions (every question of the current scheme by default; a key
  that only an older scheme version had may be asked for by name).
* **Majority** per question, over the annotators who answered it (``votes``). Single choice,
  yes/no and free text (exact text): the most frequent answer; ``agree`` is how many gave it
  and ``support = agree / votes``. A tie between the most frequent answers gives no value
  (``None``) and the tied answers in ``tied``. Multiple choice: each choice is a yes/no vote
  and the majority is the set of choices more than half of the voters picked; a choice picked
  by exactly half is a tie (no value, the undecided choices in ``tied``), and ``agree`` is how
  many annotators gave exactly the majority set. Answers are voted by value whichever scheme
  version they were given under (``answered_under`` says which).
* **Stale** answers (``AnnotationRow.stale``) were given toward a parent the comment no
  longer has (an admin re-parented it, see ``labelling/stale.py``). They are never in
  ``answers``, so no majority, final answer or figure counts them; each annotation carries
  them apart, per question: ``value``, ``answered_toward_parent`` (the source id of the
  parent it was given toward, None for the article) and ``marked_stale_at``.
* **Gold** answers are a reviewer's settled answers (``review.GoldLabel``), kept apart from
  the annotators': every row carries its comment's gold (``None`` where none was set), with
  who decided, how (adjudicated, or accepted because every annotator agreed) and when.
* **Final** answers (``labels=final``) come from ``final_answers``: the gold answer where a
  reviewer set one, otherwise the majority value. ``labels=gold`` exports the gold answers
  only (``None`` where there is no gold); with ``include_unlabelled=False`` it keeps only
  comments with gold.
* **Filters**: ``include_unlabelled=False`` keeps labelled comments; ``changed_since`` keeps
  comments with an annotation (in any state) saved since then. Tree-shaped formats
  (``with_context=True``) then also get the ancestors of every kept comment as *context*
  rows (``context=True``, no labels), so every ``parent_id`` still points at a comment in the
  file and the JSON Lines file re-imports; flat formats get exactly the kept comments.
* **Pseudonyms** (``pseudonymise``): annotators become ``annotator-1..n``, reviewers who set
  gold ``reviewer-1..n`` and comment authors ``author-1..n``, numbered in order of first
  appearance in the export (tree order; within a comment, annotations by annotator id), so
  they are stable within one export and say nothing about the people. An empty author stays
  empty. Comments' ``meta`` is exported as ``{}`` because importers keep source user names
  there; comment texts and annotators' notes are not rewritten.
* **Split** (``split``): whole threads go to train / dev / test (``assign_splits``), computed
  over every article of the project, so a filtered export gives each thread the same split as
  a full one with the same seed.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connection, connections
from django.db.backends.postgresql.psycopg_any import is_psycopg3
from django.db.models import Exists, OuterRef, Q, QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils.dateparse import parse_datetime

from annotator.corpus.models import Article, Comment, Project
from annotator.datasets.figures import AgreementCounter
from annotator.datasets.options import ExportOptions, ExportOptionsError, LabelSet
from annotator.datasets.readahead import read_ahead
from annotator.labelling.models import Annotation, LabelScheme
from annotator.labelling.scheme import Kind, Question
from annotator.labelling.schemes import current_scheme_for
from annotator.review.models import GoldLabel

CHUNK_SIZE = 2_000  # comments per fetch and per annotation query
INTERN_LIMIT = 10_000  # distinct label texts / combinations remembered (see _row)
SPLITS = ("train", "dev", "test")
MAX_SPLIT_SEARCH = 10_000  # thread counts tried when saying how many a split needs
SUBMITTED = Annotation.Status.SUBMITTED
_NO_STALE: dict[str, dict[str, Any]] = {}  # shared by every annotation without stale answers

Progress = Callable[[int, int], None]


# --- Rows -------------------------------------------------------------------------------------


@dataclass(slots=True)
class ArticleRow:
    """An article as exported. ``meta`` is the stored JSON text, passed through unparsed."""

    pk: int
    source_id: str
    title: str
    body: str
    url: str
    source: str
    published_at: datetime | None
    meta: str
    split: str | None


@dataclass(slots=True)
class AnnotationRow:
    """One annotator's submitted annotation of one comment, restricted to the chosen questions."""

    annotator: str
    answers: dict[str, Any]
    scheme_version: int
    answered_under: dict[str, int]
    time_spent_ms: int
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    flagged: bool
    note: str
    # Answers set aside when the comment was re-parented (module docstring, "Stale").
    stale: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class GoldRow:
    """A comment's gold answers (restricted to the chosen questions) and who settled them."""

    answers: dict[str, Any]
    method: str
    decided_by: str
    decided_at: datetime
    scheme_version: int


@dataclass(slots=True, frozen=True)
class Majority:
    """The majority answer to one question for one comment (see the module docstring).

    ``value`` is a string, a list of strings (multiple choice), or ``None`` when nobody
    answered (``votes == 0``) or the answers tie (``tied`` lists the tied answers).
    """

    value: Any
    agree: int
    votes: int
    tied: tuple[str, ...] = ()

    @property
    def support(self) -> float | None:
        """Share of the voters who gave the majority answer; None when nobody voted."""
        return round(self.agree / self.votes, 4) if self.votes else None

    @property
    def is_tie(self) -> bool:
        return bool(self.tied)


NO_VOTES = Majority(None, 0, 0)


@dataclass(slots=True)
class CommentRow:
    """A comment as exported, with its labels.

    ``meta`` is the stored JSON text (``"{}"`` when pseudonymised). ``context`` rows are
    ancestors of kept comments that a filter left out; they carry no labels.
    """

    pk: int
    article_pk: int
    article_id: str
    comment_id: str
    parent_id: str | None
    depth: int
    position: int
    author: str
    text: str
    posted_at: datetime | None
    meta: str
    split: str | None
    context: bool
    annotations: list[AnnotationRow]
    majority: dict[str, Majority]
    final: dict[str, Any] | None = None
    gold: GoldRow | None = None

    @property
    def labelled(self) -> bool:
        return bool(self.annotations)


# --- Pure rules: majority, final answers, splits, pseudonyms -----------------------------------


class Tally:
    """How one question is voted on: its key, whether answers are sets, its choice order.

    Built once per export, so that counting votes per comment costs no scheme lookups.
    """

    __slots__ = ("key", "multiple", "order")

    def __init__(self, question: Question):
        self.key = question.key
        self.multiple = question.kind == Kind.MULTIPLE
        self.order = {choice.value: index for index, choice in enumerate(question.choices)}

    def in_choice_order(self, values: Iterable[str]) -> list[str]:
        """Values in the order the scheme lists the choices (unknown values last, sorted)."""
        order = self.order
        last = len(order)
        return sorted(values, key=lambda v: (order.get(v, last), v))

    def majority(self, answers: Sequence[Any]) -> Majority:
        """The majority of ``answers``, one per annotator who answered the question."""
        votes = len(answers)
        if not votes:
            return NO_VOTES
        if self.multiple:
            return self._majority_set(answers)
        first = answers[0]
        if votes == 1 or all(answer == first for answer in answers):
            return Majority(first, votes, votes)
        counts = Counter(tuple(a) if isinstance(a, list) else a for a in answers)
        top = max(counts.values())
        leaders = [value for value, count in counts.items() if count == top]
        if len(leaders) > 1:
            return Majority(None, top, votes, tuple(sorted(map(str, leaders))))
        return Majority(leaders[0], top, votes)

    def _majority_set(self, answers: Sequence[Any]) -> Majority:
        """Each choice is a yes/no vote; more than half of the voters picks it."""
        votes = len(answers)
        sets = [frozenset(a) if isinstance(a, list) else frozenset([a]) for a in answers]
        first = sets[0]
        if all(chosen == first for chosen in sets):
            return Majority(self.in_choice_order(first), votes, votes)
        counts: Counter[str] = Counter()
        for chosen in sets:
            counts.update(chosen)
        tied = [v for v, n in counts.items() if 2 * n == votes]
        if tied:
            return Majority(None, 0, votes, tuple(self.in_choice_order(tied)))
        chosen = frozenset(v for v, n in counts.items() if 2 * n > votes)
        agree = sum(1 for s in sets if s == chosen)
        return Majority(self.in_choice_order(chosen), agree, votes)


def majority_answer(question: Question, answers: Sequence[Any]) -> Majority:
    """The majority of the given answers (one per annotator who answered) to ``question``."""
    return Tally(question).majority(answers)


def majority_answers(
    questions: Sequence[Question] | Sequence[Tally], annotations: Sequence[AnnotationRow]
) -> dict[str, Majority]:
    """The majority per question over the annotations of one comment."""
    tallies = [q if isinstance(q, Tally) else Tally(q) for q in questions]
    if len(annotations) == 1:
        answers = annotations[0].answers
        return {
            t.key: (
                NO_VOTES
                if t.key not in answers
                else t.majority([answers[t.key]])
                if t.multiple
                else Majority(answers[t.key], 1, 1)
            )
            for t in tallies
        }
    result = {}
    for tally in tallies:
        key = tally.key
        result[key] = tally.majority([a.answers[key] for a in annotations if key in a.answers])
    return result


def final_answers(
    majority: Mapping[str, Majority], gold: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The one answer per question that ``labels=final`` exports.

    A gold answer (set by a reviewer) wins; otherwise the majority value, which is ``None``
    on a tie or when nobody answered. This is the one place a gold model plugs in: fetch the
    gold answers of a chunk of comments and pass each comment's here.
    """
    gold = gold or {}
    return {
        key: gold[key] if gold.get(key) is not None else answer.value
        for key, answer in majority.items()
    }


def assign_splits(article_ids: Iterable[str], seed: int, ratios: Sequence[float]) -> dict[str, str]:
    """Give each article (thread) train, dev or test, deterministically from ``seed``.

    The ids are sorted, shuffled with ``random.Random(seed)`` and cut by ``ratios`` (rounded;
    test takes the rest), so the same articles and seed always give the same split, and no
    thread is ever in two splits. Adding articles to the project reshuffles.
    """
    ratios = _checked_ratios(ratios)
    ids = sorted(set(article_ids))
    random.Random(seed).shuffle(ids)
    total = sum(ratios)
    train = round(len(ids) * ratios[0] / total)
    dev = min(len(ids) - train, round(len(ids) * ratios[1] / total))
    names = ["train"] * train + ["dev"] * dev + ["test"] * (len(ids) - train - dev)
    return dict(zip(ids, names, strict=True))


def split_sizes(thread_count: int, ratios: Sequence[float]) -> dict[str, int]:
    """How many threads ``assign_splits`` gives train, dev and test out of ``thread_count``."""
    ratios = _checked_ratios(ratios)
    total = sum(ratios)
    train = round(thread_count * ratios[0] / total)
    dev = min(thread_count - train, round(thread_count * ratios[1] / total))
    return {"train": train, "dev": dev, "test": thread_count - train - dev}


def empty_splits(thread_count: int, ratios: Sequence[float]) -> list[str]:
    """The splits that were asked for (ratio above 0) but get no thread at all."""
    sizes = split_sizes(thread_count, ratios)
    names = ("train", "dev", "test")
    return [
        name for name, ratio in zip(names, ratios, strict=True) if ratio > 0 and not sizes[name]
    ]


def split_shortfall(thread_count: int, ratios: Sequence[float]) -> str | None:
    """Why a split of ``thread_count`` threads leaves dev or test empty, in a sentence.

    Splits go by whole thread, so a project with few threads cannot fill every split: with
    3 threads and 0.8 / 0.1 / 0.1 all three go to train. Such an export is still valid (the
    split column says train throughout), so the export's page says so rather than leave the
    researcher to find an empty dev set later. None when every split asked for has a thread.
    """
    empty = empty_splits(thread_count, ratios)
    if not empty:
        return None
    needed = next(
        (n for n in range(thread_count + 1, MAX_SPLIT_SEARCH) if not empty_splits(n, ratios)),
        None,
    )
    shares = " / ".join(f"{ratio:g}" for ratio in ratios)
    message = (
        f"This project has {thread_count} thread{'s' if thread_count != 1 else ''} and the "
        f"split goes by whole thread: with {shares}, {_and(empty)} "
        f"{'get' if len(empty) > 1 else 'gets'} no thread."
    )
    if needed is not None:
        message += f" These ratios need at least {needed} threads to fill every split."
    return message


def _and(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _checked_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    if len(ratios) != 3 or any(not isinstance(r, int | float) or r < 0 for r in ratios):
        raise ExportOptionsError("split_ratios needs three numbers >= 0 (train, dev, test).")
    if sum(ratios) <= 0:
        raise ExportOptionsError("split_ratios must not all be 0.")
    return (float(ratios[0]), float(ratios[1]), float(ratios[2]))


class Pseudonyms:
    """``prefix-1``, ``prefix-2``, ... handed out in order of first request."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self._names: dict[Any, str] = {}

    def __call__(self, key: Any) -> str:
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = f"{self.prefix}-{len(self._names) + 1}"
        return name

    def __len__(self) -> int:
        return len(self._names)


class IdentityMemo:
    """``convert(value)`` worked out once per object, for the label objects rows share.

    The row stream hands the same answers, majority and final dicts to every row with the
    same labels, so exporters convert each once (JSON, CSV cells, Arrow values). The memo
    keeps each object it remembers, so no other object can take its ``id``; it remembers at
    most ``limit`` of them and converts the rest every time.
    """

    def __init__(self, convert: Callable[[Any], Any], limit: int = INTERN_LIMIT):
        self._convert = convert
        self._limit = limit
        self._memo: dict[int, tuple[Any, Any]] = {}

    def __call__(self, value: Any) -> Any:
        known = self._memo.get(id(value))
        if known is not None:
            return known[1]
        converted = self._convert(value)
        if len(self._memo) < self._limit:
            self._memo[id(value)] = (value, converted)
        return converted


# --- Counts for the dataset card ---------------------------------------------------------------


@dataclass
class ExportStats:
    """What the stream counted as it went: the dataset card's numbers."""

    articles: int = 0
    comments: int = 0
    labelled_comments: int = 0
    gold_comments: int = 0
    gold_methods: Counter[str] = field(default_factory=Counter)
    context_comments: int = 0
    annotations: int = 0
    annotators: set[str] = field(default_factory=set)
    scheme_versions: set[int] = field(default_factory=set)
    split_articles: Counter[str] = field(default_factory=Counter)
    split_comments: Counter[str] = field(default_factory=Counter)
    # Per question: every submitted answer by value (each choice of a multiple answer counts).
    answers: dict[str, dict[str, int]] = field(default_factory=dict)
    # Per question, over labelled comments: the majority (or final) value, ties, no answer.
    majority: dict[str, dict[str, int]] = field(default_factory=dict)
    ties: Counter[str] = field(default_factory=Counter)
    unanswered: Counter[str] = field(default_factory=Counter)
    # Per question, over comments with gold: each gold answer by value.
    gold: dict[str, dict[str, int]] = field(default_factory=dict)

    def add_gold(self, gold: GoldRow) -> None:
        """Count one comment's gold answers."""
        self.gold_comments += 1
        self.gold_methods[gold.method] += 1
        for key, answer in gold.answers.items():
            counts = self.gold.setdefault(key, {})
            for value in answer if isinstance(answer, list) else (answer,):
                counts[value] = counts.get(value, 0) + 1

    def add_answers(self, answers: Mapping[str, Any], times: int = 1) -> None:
        """Count one annotation's answers (``times`` annotations with these answers)."""
        by_key = self.answers
        for key, answer in answers.items():
            counts = by_key.get(key)
            if counts is None:
                counts = by_key[key] = {}
            for value in answer if isinstance(answer, list) else (answer,):
                counts[value] = counts.get(value, 0) + times

    def add_majority(
        self, majority: Mapping[str, Majority], final: Mapping[str, Any] | None, times: int = 1
    ) -> None:
        """Count one labelled comment's majority (or final) answers, ``times`` over."""
        by_key = self.majority
        for key, answer in majority.items():
            value = final[key] if final is not None else answer.value
            if value is None:
                if answer.tied:
                    self.ties[key] += times
                else:
                    self.unanswered[key] += times
                continue
            counts = by_key.get(key)
            if counts is None:
                counts = by_key[key] = {}
            for one in value if isinstance(value, list) else (value,):
                counts[one] = counts.get(one, 0) + times

    @property
    def annotator_count(self) -> int:
        return len(self.annotators)


# --- The source -------------------------------------------------------------------------------


def export_questions(
    schemes: Sequence[LabelScheme], keys: Sequence[str] = ()
) -> tuple[Question, ...]:
    """The questions an export covers, each as its newest scheme version defines it.

    No keys: every question of the current (first) scheme. Otherwise the named ones in
    scheme order (current scheme first, then keys only older versions have);
    ``ExportOptionsError`` names keys no version has.
    """
    newest: dict[str, Question] = {}
    for scheme in schemes:  # newest version first
        for question in scheme.scheme.questions:
            newest.setdefault(question.key, question)
    if not keys:
        return tuple(schemes[0].scheme.questions)
    unknown = [key for key in keys if key not in newest]
    if unknown:
        raise ExportOptionsError(f"No question with the key {', '.join(unknown)} in this project.")
    wanted = set(keys)
    return tuple(q for key, q in newest.items() if key in wanted)


class RowSource:
    """One export's reading of a project: its questions, articles and comment rows.

    ``with_context`` asks for the ancestors of filtered-in comments (tree-shaped formats).
    ``progress(done, total)`` is called after every chunk with counts of kept comments.
    Iterate ``records()`` (or ``articles()`` and ``comments()``) once per source: the
    pseudonyms and ``stats`` are those of one pass.
    """

    def __init__(
        self,
        project: Project,
        options: ExportOptions,
        *,
        with_context: bool = False,
        chunk_size: int | None = None,
        progress: Progress | None = None,
    ):
        self.project = project
        self.options = options
        self.chunk_size = chunk_size or CHUNK_SIZE
        self.progress = progress
        self.pseudonymise = options.pseudonymise
        self.final = options.labels in (LabelSet.FINAL, LabelSet.GOLD)
        self.gold_only = options.labels == LabelSet.GOLD
        # One query up front spares one per chunk in the (usual) projects without gold yet.
        self.has_gold = GoldLabel.objects.filter(project=project).exists()
        self.schemes: list[LabelScheme] = list(
            LabelScheme.objects.filter(project=project).order_by("-version")
        ) or [current_scheme_for(project)]
        self.questions = export_questions(self.schemes, options.questions)
        self.question_keys = tuple(q.key for q in self.questions)
        self._tallies = [Tally(q) for q in self.questions]
        self._key_set = frozenset(self.question_keys)
        # The agreement figures of the exported comments, counted as they stream by.
        self.agreement = AgreementCounter(self.schemes[0].scheme, self.question_keys)
        self._no_votes = dict.fromkeys(self.question_keys, NO_VOTES)
        self._no_final = dict.fromkeys(self.question_keys)
        self._parsed_answers: dict[str, dict[str, Any]] = {}
        # (answers, answered_under, scheme id) -> the parsed labels (see _parse_labels).
        self._labels_of: dict[tuple[str, str, int], tuple[dict, int, dict]] = {}
        self._majorities: dict[tuple[str, ...], tuple[dict, dict | None]] = {}
        self._answer_tally: dict[str, int] = {}
        self._majority_tally: dict[tuple[str, ...], int] = {}
        self.filtered = not options.include_unlabelled or options.changed_since is not None
        self.with_context = with_context and self.filtered
        self.stats = ExportStats()
        self._scheme_versions = {s.pk: s.version for s in self.schemes}
        self._article_ids: dict[int, str] = dict(
            Article.objects.filter(project=project).values_list("pk", "source_id")
        )
        self._splits: dict[str, str] = (
            assign_splits(self._article_ids.values(), options.split_seed, options.split_ratios)
            if options.split
            else {}
        )
        self._annotator_names: dict[int, str] = {}
        self._articles_streamed = False
        self._annotator_pseudonyms = Pseudonyms("annotator")
        self._reviewer_pseudonyms = Pseudonyms("reviewer")
        self._author_pseudonyms = Pseudonyms("author")

    @property
    def scheme(self) -> LabelScheme:
        """The project's current scheme version."""
        return self.schemes[0]

    def annotator_label(self, annotator_id: int) -> str:
        """How this export names an annotator outside the rows (the agreement figures): the
        same pseudonym as in the rows when pseudonymised (call it after streaming them)."""
        if self.pseudonymise:
            return self._annotator_pseudonyms(annotator_id)
        self._learn_names([annotator_id])
        return self._annotator_names.get(annotator_id, str(annotator_id))

    def _learn_names(self, user_ids: Iterable[int]) -> None:
        """Remember the usernames of ``user_ids`` not known yet (one query when there are
        any; none when pseudonymised, where real names are never read)."""
        if self.pseudonymise:
            return
        missing = set(user_ids) - self._annotator_names.keys()
        if missing:
            User = get_user_model()
            self._annotator_names.update(
                User.objects.filter(pk__in=missing).values_list("pk", User.USERNAME_FIELD)
            )

    # --- Querysets

    def _selected(self) -> Q:
        """The filter a kept comment passes (on ``Comment``)."""
        condition = Q()
        if not self.options.include_unlabelled and self.gold_only:
            condition &= Q(Exists(GoldLabel.objects.filter(comment=OuterRef("pk"))))
        elif not self.options.include_unlabelled:
            condition &= Q(
                Exists(Annotation.objects.filter(comment=OuterRef("pk"), status=SUBMITTED))
            )
        if self.options.changed_since is not None:
            condition &= Q(
                Exists(
                    Annotation.objects.filter(
                        comment=OuterRef("pk"), updated_at__gte=self.options.changed_since
                    )
                )
            )
        return condition

    def _comments(self) -> QuerySet:
        return Comment.objects.filter(article__project=self.project)

    def count_comments(self) -> int:
        """How many comments the export keeps (context rows not counted): one query."""
        return self._comments().filter(self._selected()).count()

    def annotator_names(self) -> list[str]:
        """The annotator names rows will carry, for formats that need them up front (one query).

        Real names sorted; pseudonymised: ``annotator-1..n`` (numbered as rows appear).
        """
        annotations = Annotation.objects.filter(status=SUBMITTED)
        if self.filtered:
            annotations = annotations.filter(
                comment__in=self._comments().filter(self._selected()).values("pk")
            )
        else:
            annotations = annotations.filter(comment__article__project=self.project)
        User = get_user_model()
        users = (
            User.objects.filter(pk__in=annotations.values("annotator_id"))
            .order_by(User.USERNAME_FIELD)
            .values_list("pk", User.USERNAME_FIELD)
        )
        names = list(users)
        if self.pseudonymise:
            return [f"annotator-{n}" for n in range(1, len(names) + 1)]
        return [name for _, name in names]

    # --- Streams

    def articles(self) -> Iterator[ArticleRow]:
        """The exported articles in id order (the order of ``comments()``), streamed.

        Unfiltered: every article, also those without comments. Filtered: those with at least
        one kept comment.
        """
        articles = Article.objects.filter(project=self.project)
        if self.filtered:
            articles = articles.filter(
                Exists(self._comments().filter(self._selected(), article=OuterRef("pk")))
            )
        self._articles_streamed = True
        rows = articles.order_by("pk").values_list(
            "pk",
            "source_id",
            "title",
            "body",
            "url",
            "source",
            "published_at",
            Cast("meta", TextField()),
        )
        splits = self._splits
        stats = self.stats
        for chunk in stream_rows(rows, self.chunk_size):
            for pk, source_id, title, body, url, source, published_at, meta in chunk:
                split = splits.get(source_id)
                stats.articles += 1
                if split:
                    stats.split_articles[split] += 1
                yield ArticleRow(pk, source_id, title, body, url, source, published_at, meta, split)

    def comments(self) -> Iterator[CommentRow]:
        """Every exported comment in tree order, article by article, with its labels."""
        comments = self._comments()
        fields: list[Any] = [
            "pk",
            "article_id",
            "parent__source_id",
            "source_id",
            "depth",
            "position",
            "author",
            "text",
            "posted_at",
            Cast("meta", TextField()),
        ]
        if self.with_context:
            # Every comment of the articles concerned, each with whether it is kept.
            comments = comments.filter(
                article__in=Article.objects.filter(
                    Exists(self._comments().filter(self._selected(), article=OuterRef("pk")))
                )
            ).annotate(kept=Exists(Comment.objects.filter(self._selected(), pk=OuterRef("pk"))))
            fields.append("kept")
        elif self.filtered:
            comments = comments.filter(self._selected())
        rows = comments.order_by("article_id", "path").values_list(*fields)
        total = self.count_comments() if self.progress else 0
        done = 0
        covered: set[int] = set()  # articles of kept comments, when filtered
        stack: list[tuple | None] = []  # context mode: the open ancestors, None once emitted
        current_article = None
        for chunk, kept_ids, fetched, golds in read_ahead(
            lambda: self._labelled_chunks(rows), rows.db
        ):
            labels = self._annotations_by_comment(fetched)
            for raw in chunk:
                if not self.with_context:
                    yield self._row(raw, labels.get(raw[0], ()), golds.get(raw[0]))
                    continue
                if raw[1] != current_article:
                    current_article = raw[1]
                    stack.clear()
                del stack[raw[4] :]
                if not raw[10]:
                    stack.append(raw)
                    continue
                for index, ancestor in enumerate(stack):
                    if ancestor is not None:
                        yield self._row(ancestor, (), context=True)
                        stack[index] = None
                stack.append(None)
                yield self._row(raw, labels.get(raw[0], ()), golds.get(raw[0]))
            done += len(kept_ids)
            if self.progress:
                self.progress(done, total)
            if self.filtered:
                covered.update(self._article_ids_of(chunk))
            del chunk, labels, golds  # memory: this chunk and the one read ahead, no more
        self._fold_tallies()
        if not self._articles_streamed:
            self._count_articles(covered if self.filtered else self._article_ids)

    def _labelled_chunks(
        self, rows: QuerySet
    ) -> Iterator[tuple[list[tuple], list[int], list[tuple], dict[int, GoldRow]]]:
        """Each chunk of fetched comments with the ids of those kept, their annotations as
        fetched and their gold (run on ``read_ahead``'s reading thread, which does the
        database work; turning annotations into rows is left to the encoding thread, where
        it costs less CPU than handing the GIL back and forth for it)."""
        for chunk in stream_rows(rows, self.chunk_size):
            if self.with_context:
                kept_ids = [raw[0] for raw in chunk if raw[10]]
            else:
                kept_ids = [raw[0] for raw in chunk]
            annotations = self._fetch_annotations(kept_ids)
            golds = self._gold_of(kept_ids) if self.has_gold else {}
            yield chunk, kept_ids, annotations, golds

    def _article_ids_of(self, chunk: list[tuple]) -> set[int]:
        """Articles of the kept comments of a chunk."""
        if self.with_context:
            return {raw[1] for raw in chunk if raw[10]}
        return {raw[1] for raw in chunk}

    def _count_articles(self, article_pks: Iterable[int]) -> None:
        """Article counts for formats that write no article rows: those the comments cover
        (every article of the project when nothing is filtered), without another query."""
        stats = self.stats
        for pk in article_pks:
            stats.articles += 1
            split = self._splits.get(self._article_ids[pk])
            if split:
                stats.split_articles[split] += 1

    def records(self) -> Iterator[ArticleRow | CommentRow]:
        """Articles and comments merged: each article's row, then its comments in tree order."""
        articles = self.articles()
        pending = next(articles, None)
        current = None
        for row in self.comments():
            if row.article_pk != current:
                current = row.article_pk
                while pending is not None and pending.pk <= current:
                    yield pending
                    pending = next(articles, None)
            yield row
        while pending is not None:
            yield pending
            pending = next(articles, None)

    # --- Building rows
    #
    # Labels repeat: many annotations carry the same answers, many comments the same set of
    # answers. So answers are parsed once per distinct JSON text, the majority is counted
    # once per distinct combination of answers, and the card's distributions are tallied by
    # those texts and folded in at the end (``_fold_tallies``). Each table holds at most
    # ``INTERN_LIMIT`` entries, so memory stays flat; past it, rows are worked out one by one.

    def _fetch_annotations(self, comment_ids: list[int]) -> list[tuple]:
        """The submitted annotations of a chunk of comments as fetched, by comment and
        annotator (one query; another when annotators' names are new)."""
        if not comment_ids:
            return []
        rows = (
            Annotation.objects.filter(
                comment_id__in=_id_list(comment_ids, connection.vendor), status=SUBMITTED
            )
            .order_by("comment_id", "annotator_id")
            .values_list(
                "comment_id",
                "annotator_id",
                Cast("answers", TextField()),
                "scheme_id",
                Cast("answered_under", TextField()),
                "time_spent_ms",
                "created_at",
                "updated_at",
                "submitted_at",
                "flagged",
                "note",
                Cast("stale_answers", TextField()),
            )
        )
        raw = fetch_rows(rows)
        self._learn_names(row[1] for row in raw)
        return raw

    def _annotations_by_comment(self, raw: list[tuple]) -> dict[int, list[tuple]]:
        """Fetched annotations (``_fetch_annotations``) as rows, by comment id: each is
        ``(annotator id, AnnotationRow, answers JSON text)``."""
        labels_of = self._labels_of
        by_comment: dict[int, list[tuple]] = {}
        labels: list[tuple] = []
        current = None
        for (
            comment_id,
            annotator_id,
            answers_json,
            scheme_id,
            under_json,
            spent,
            created,
            updated,
            submitted,
            flagged,
            note,
            stale_json,
        ) in raw:
            known = labels_of.get((answers_json, under_json, scheme_id))
            if known is None:
                known = self._parse_labels(answers_json, under_json, scheme_id)
            answers, version, under = known
            annotation = AnnotationRow(
                "",  # named in tree order by _row, so pseudonyms number by first appearance
                answers,
                version,
                under,
                spent,
                created,
                updated,
                submitted,
                flagged,
                note,
                self._stale(stale_json),
            )
            if comment_id != current:  # rows come by comment: each comment's list once
                current = comment_id
                labels = by_comment[comment_id] = []
            labels.append((annotator_id, annotation, answers_json))
        return by_comment

    def _stale(self, text: str | None) -> dict[str, dict[str, Any]]:
        """An annotation's stale answers to the chosen questions, as exported (rare: most
        annotations have none, and share one empty dict)."""
        if not text or text == "{}":
            return _NO_STALE
        stale = {}
        for key, entry in orjson.loads(text).items():
            if key not in self._key_set:
                continue
            at = entry.get("marked_stale_at")
            stale[key] = {
                "value": entry.get("value"),
                "answered_toward_parent": entry.get("parent_source_id"),
                "marked_stale_at": parse_datetime(at) if isinstance(at, str) else None,
            }
        return stale or _NO_STALE

    def _gold_of(self, comment_ids: list[int]) -> dict[int, GoldRow]:
        """The gold labels of a chunk of comments, by comment id (one query, two when
        reviewers' names are new)."""
        if not comment_ids:
            return {}
        rows = GoldLabel.objects.filter(
            comment_id__in=_id_list(comment_ids, connection.vendor)
        ).values_list(
            "comment_id",
            Cast("answers", TextField()),
            "method",
            "decided_by_id",
            "decided_at",
            "scheme_id",
        )
        raw = fetch_rows(rows)
        self._learn_names(row[3] for row in raw if row[3] is not None)
        names = self._annotator_names
        versions = self._scheme_versions
        golds = {}
        for comment_id, answers_json, method, reviewer_id, decided_at, scheme_id in raw:
            answers = self._parsed_answers.get(answers_json)
            if answers is None:
                answers = self._parse_answers(answers_json)
            if reviewer_id is None:
                reviewer = ""
            elif self.pseudonymise:
                reviewer = self._reviewer_pseudonyms(reviewer_id)
            else:
                reviewer = names.get(reviewer_id, "")
            golds[comment_id] = GoldRow(
                answers, method, reviewer, decided_at, versions.get(scheme_id, 0)
            )
        return golds

    def _parse_answers(self, text: str) -> dict[str, Any]:
        """The answers in ``text`` to the chosen questions (shared: never mutate it)."""
        answers = orjson.loads(text)
        if not self._key_set.issuperset(answers):
            answers = {k: answers[k] for k in self.question_keys if k in answers}
        if len(self._parsed_answers) < INTERN_LIMIT:
            self._parsed_answers[text] = answers
        return answers

    def _parse_labels(
        self, answers_text: str, under_text: str, scheme_id: int
    ) -> tuple[dict[str, Any], int, dict[str, int]]:
        """An annotation's answers, scheme version and the version each answer was given
        under, restricted to the chosen questions (shared: never mutate them)."""
        answers = self._parsed_answers.get(answers_text)
        if answers is None:
            answers = self._parse_answers(answers_text)
        under = orjson.loads(under_text)
        if under.keys() != answers.keys():
            under = {k: under[k] for k in answers if k in under}
        version = self._scheme_versions.get(scheme_id, 0)
        self.stats.scheme_versions.update(under.values())
        self.stats.scheme_versions.add(version)
        labels = (answers, version, under)
        if len(self._labels_of) < INTERN_LIMIT:
            self._labels_of[(answers_text, under_text, scheme_id)] = labels
        return labels

    def _row(
        self,
        raw: tuple,
        labels: Sequence[tuple],
        gold: GoldRow | None = None,
        context: bool = False,
    ) -> CommentRow:
        """The exported row of one fetched comment, its annotations
        (``_annotations_by_comment``) and its gold (``_gold_of``)."""
        pk, article_pk, parent_id, source_id, depth, position, author, text, posted, meta = raw[:10]
        article_id = self._article_ids[article_pk]
        split = self._splits.get(article_id)
        if self.pseudonymise:
            author = self._author_pseudonyms(author) if author else ""
            meta = "{}"
        row = CommentRow(
            pk,
            article_pk,
            article_id,
            source_id,
            parent_id,
            depth,
            position,
            author,
            text,
            posted,
            meta,
            split,
            context,
            [],
            self._no_votes,  # shared by every unlabelled row: never mutated
        )
        stats = self.stats
        if context:
            stats.context_comments += 1
            row.majority = {}
            return row
        stats.comments += 1
        if split:
            stats.split_comments[split] += 1
        if gold is not None:
            row.gold = gold
            stats.add_gold(gold)
        if not labels:
            if self.gold_only and gold is not None:
                row.final = self._gold_answers(gold)
            elif self.final:
                row.final = final_answers(self._no_votes, gold.answers) if gold else self._no_final
            return row
        annotations = row.annotations
        name = self._annotator_pseudonyms if self.pseudonymise else self._annotator_names.get
        answer_tally = self._answer_tally
        annotators = stats.annotators
        for annotator_id, annotation, answers_json in labels:
            annotation.annotator = name(annotator_id)
            annotations.append(annotation)
            annotators.add(annotation.annotator)
            if answers_json in answer_tally:
                answer_tally[answers_json] += 1
            elif len(answer_tally) < INTERN_LIMIT and answers_json in self._parsed_answers:
                answer_tally[answers_json] = 1
            else:
                stats.add_answers(annotation.answers)
        stats.labelled_comments += 1
        if len(labels) > 1:
            self.agreement.add(depth, [(annotator_id, text) for annotator_id, _, text in labels])
        stats.annotations += len(annotations)
        # With labels=final, gold answers override the majority: such rows are worked out and
        # counted one by one; the rest share one memo entry per combination of answers. With
        # labels=gold the card counts gold answers (stats.gold), not majorities.
        overridden = gold is not None and self.final and not self.gold_only
        counted = not overridden and not self.gold_only
        key = tuple([answers_json for _, _, answers_json in labels])
        known = self._majorities.get(key)
        if known is None:
            majority = majority_answers(self._tallies, annotations)
            final = final_answers(majority) if self.final else None
            if len(self._majorities) < INTERN_LIMIT:
                self._majorities[key] = (majority, final)
                self._majority_tally[key] = 0
            elif counted:
                stats.add_majority(majority, final)
        else:
            majority, final = known
        if counted and key in self._majority_tally:
            self._majority_tally[key] += 1
        if self.gold_only:
            final = self._gold_answers(gold) if gold is not None else self._no_final
        elif overridden:
            final = final_answers(majority, gold.answers)
            stats.add_majority(majority, final)
        row.majority = majority
        row.final = final
        return row

    def _gold_answers(self, gold: GoldRow) -> dict[str, Any]:
        """Every chosen question's gold answer (``None`` where the reviewer gave none)."""
        return {key: gold.answers.get(key) for key in self.question_keys}

    def _fold_tallies(self) -> None:
        """Add the distributions tallied by label text to ``stats`` (end of the stream)."""
        stats = self.stats
        for answers_json, times in self._answer_tally.items():
            stats.add_answers(self._parsed_answers[answers_json], times)
        for key, times in self._majority_tally.items():
            majority, final = self._majorities[key]
            stats.add_majority(majority, final, times)
        self._answer_tally.clear()
        self._majority_tally.clear()


# --- Reading ------------------------------------------------------------------------------------


def stream_rows(queryset: QuerySet, chunk_size: int, *, server_side: bool = True) -> Iterator[list]:
    """The rows of a ``values_list`` queryset, ``chunk_size`` at a time, from a streaming
    cursor (server-side on PostgreSQL unless ``server_side`` is off), with the fastest value
    loaders.

    Why not ``queryset.iterator()``: Django loads PostgreSQL timestamps through its own
    subclass of psycopg's loader, which keeps them in pure Python; an export reads several per
    comment, and parsing them took a third of its time. This cursor gets psycopg's C loader
    instead (same values: aware, in the session's UTC). Django's converters still run where a
    backend needs them (SQLite keeps timestamps as text).
    """
    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return
    converters = compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])
    database = connections[queryset.db]
    with database.chunked_cursor() if server_side else database.cursor() as cursor:
        _use_c_loaders(database, cursor)
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            yield list(compiler.apply_converters(rows, converters)) if converters else rows


def fetch_rows(queryset: QuerySet) -> list:
    """All rows of a small ``values_list`` queryset (one query, no server-side cursor)."""
    return [row for chunk in stream_rows(queryset, 100_000, server_side=False) for row in chunk]


def _use_c_loaders(database: Any, cursor: Any) -> None:
    if database.vendor == "postgresql" and is_psycopg3:
        from psycopg.types.datetime import TimestamptzLoader

        # Registering psycopg's own class makes psycopg pick its C version.
        cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)


def _id_list(ids: list[int], vendor: str) -> RawSQL:
    """``ids`` as a subquery with one parameter (an ``IN`` of 2,000 placeholders costs more
    to build and parse than to run)."""
    if vendor == "postgresql":  # an array literal: psycopg would check every element
        return RawSQL("SELECT unnest(%s::bigint[])", ("{" + ",".join(map(str, ids)) + "}",))
    return RawSQL("SELECT value FROM json_each(%s)", (orjson.dumps(ids).decode(),))


def iter_comment_rows(project: Project, options: ExportOptions) -> Iterator[CommentRow]:
    """The comments an export of ``project`` with ``options`` keeps, in tree order."""
    return RowSource(project, options).comments()


def iter_articles(project: Project, options: ExportOptions) -> Iterator[ArticleRow]:
    """The articles an export of ``project`` with ``options`` covers, in id order."""
    return RowSource(project, options).articles()
