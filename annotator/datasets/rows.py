"""The row stream every exporter writes from: articles and comments in tree order, each comment
with its submitted annotations and the majority answer per question.

One ``RowSource`` is one export's reading of the database. It streams comments as plain
tuples from a server-side cursor (``stream_rows``: no model instances) in chunks of
``chunk_size`` and fetches the submitted annotations of a whole chunk in one query, so the
number of queries grows with rows / chunk, never with rows, and memory stays at about two
chunks whatever the size of the project: the next chunk is read on a second thread while
this one is written (``readahead``). Label objects (answers, majorities) are shared by
every row with the same labels, so each is parsed and counted once (``building.py``).
Exporters never see a real name when the export is pseudonymised: the stream applies the
pseudonyms, collects the counts the dataset card shows (``ExportStats``) and reports progress.
Rows and the label objects in them are read-only.

The stream is cut by what changes together; every name stays importable from here:

* ``records.py``: the row dataclasses (``ArticleRow``, ``CommentRow``, ``AnnotationRow``,
  ``GoldRow``, ``Majority``) and ``IdentityMemo`` for exporters converting shared labels;
* ``majority.py``: majority and final answers, pure; ``splits.py``: train / dev / test;
* ``building.py``: fetched tuples to rows (labels, pseudonyms, the card's counts);
  ``stats.py``: those counts (``ExportStats``);
* ``reading.py``: streaming cursors with psycopg's C loaders; this module: the querysets,
  the filters and the order of the stream (``RowSource``).

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
* **Predictions** (``predictions``, see ``predictions.py``): the newest version of each
  model's answers, per comment ``CommentRow.predictions`` (model label -> question ->
  ``answer``, ``confidence``), never in annotations, majorities, final answers or figures;
  stale predictions are left out. Context rows carry none.
* **Split** (``split``): whole threads go to train / dev / test (``assign_splits``), computed
  over every article of the project, so a filtered export gives each thread the same split as
  a full one with the same seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet, TextField, Value
from django.db.models.functions import Cast

from annotator.assist.models import MachineLabeller
from annotator.corpus.models import Article, Comment, Project
from annotator.datasets.building import SUBMITTED, Pseudonyms, RowBuilder
from annotator.datasets.figures import AgreementCounter
from annotator.datasets.majority import Tally, final_answers, majority_answer, majority_answers
from annotator.datasets.model_agreement import ModelGoldCounter
from annotator.datasets.options import ExportOptions, ExportOptionsError, LabelSet
from annotator.datasets.predictions import (
    NO_PREDICTIONS,
    PredictionColumn,
    PredictionReader,
    exported_models,
    prediction_columns,
)
from annotator.datasets.readahead import read_ahead
from annotator.datasets.reading import fetch_rows, stream_rows
from annotator.datasets.records import (
    INTERN_LIMIT,
    NO_VOTES,
    AnnotationRow,
    ArticleRow,
    CommentRow,
    GoldRow,
    IdentityMemo,
    Majority,
)
from annotator.datasets.splits import (
    assign_splits,
    empty_splits,
    split_shortfall,
    split_sizes,
)
from annotator.datasets.stats import ExportStats
from annotator.labelling.models import Annotation, LabelScheme
from annotator.labelling.scheme import Question
from annotator.labelling.schemes import current_scheme_for
from annotator.review.models import GoldLabel

# The row stream's names, importable from here whichever module defines them.
__all__ = [
    "CHUNK_SIZE",
    "INTERN_LIMIT",
    "NO_VOTES",
    "AnnotationRow",
    "ArticleRow",
    "CommentRow",
    "ExportStats",
    "GoldRow",
    "IdentityMemo",
    "Majority",
    "Pseudonyms",
    "RowSource",
    "Tally",
    "assign_splits",
    "empty_splits",
    "export_questions",
    "fetch_rows",
    "final_answers",
    "iter_articles",
    "iter_comment_rows",
    "majority_answer",
    "majority_answers",
    "split_shortfall",
    "split_sizes",
    "stream_rows",
]

CHUNK_SIZE = 2_000  # comments per fetch and per annotation query

Progress = Callable[[int, int], None]


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


class RowSource(RowBuilder):
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
        # One query up front spares one per chunk in the (usual) projects without gold yet;
        # it also says whether there are models, so a project without any pays no query
        # for predictions.
        self.has_gold, has_models = (
            Project.objects.filter(pk=project.pk)
            .values_list(
                Exists(GoldLabel.objects.filter(project=project)),
                Exists(MachineLabeller.objects.filter(project=project))
                if options.predictions is not False
                else Value(False),
            )
            .get()
        )
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
        # One query when the project has models and predictions are not off; no models:
        # the export is as before.
        self.models = exported_models(project) if has_models else []
        self.predictions = PredictionReader(self.models, self.question_keys)
        self.model_gold = ModelGoldCounter(self.questions)
        self._annotator_names: dict[int, str] = {}
        self._articles_streamed = False
        self._annotator_pseudonyms = Pseudonyms("annotator")
        self._reviewer_pseudonyms = Pseudonyms("reviewer")
        self._author_pseudonyms = Pseudonyms("author")

    @property
    def carries_predictions(self) -> bool:
        """Whether rows carry model predictions (the export asks for them and there are
        models): formats add their prediction fields only then."""
        return bool(self.models)

    def prediction_columns(self) -> list[PredictionColumn]:
        """The (model, question) pairs flat formats write columns for (one query; none
        without models)."""
        return prediction_columns(self.models, self.question_keys)

    @property
    def scheme(self) -> LabelScheme:
        """The project's current scheme version."""
        return self.schemes[0]

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
        predicted = self.carries_predictions
        for chunk, kept_ids, fetched, golds, fetched_predictions in read_ahead(
            lambda: self._labelled_chunks(rows), rows.db
        ):
            labels = self._annotations_by_comment(fetched)
            if predicted:
                predictions = self.predictions.by_comment(fetched_predictions)
            for raw in chunk:
                if not self.with_context:
                    row = self._row(raw, labels.get(raw[0], ()), golds.get(raw[0]))
                    if predicted:
                        self._add_predictions(row, predictions)
                    yield row
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
                row = self._row(raw, labels.get(raw[0], ()), golds.get(raw[0]))
                if predicted:
                    self._add_predictions(row, predictions)
                yield row
            done += len(kept_ids)
            if self.progress:
                self.progress(done, total)
            if self.filtered:
                covered.update(self._article_ids_of(chunk))
            # memory: this chunk and the one read ahead, no more
            del chunk, labels, golds, fetched_predictions
            predictions = NO_PREDICTIONS
        self._fold_tallies()
        if not self._articles_streamed:
            self._count_articles(covered if self.filtered else self._article_ids)

    def _add_predictions(self, row: CommentRow, predictions: dict[int, dict]) -> None:
        """Give a kept comment's row its predictions, and count them against its gold."""
        found = predictions.get(row.pk)
        if found:
            row.predictions = found
            if row.gold is not None:
                self.model_gold.add(row.gold.answers, found)

    def _labelled_chunks(
        self, rows: QuerySet
    ) -> Iterator[tuple[list[tuple], list[int], list[tuple], dict[int, GoldRow], list[tuple]]]:
        """Each chunk of fetched comments with the ids of those kept, their annotations as
        fetched, their gold and their predictions as fetched (run on ``read_ahead``'s reading
        thread, which does the database work; turning annotations into rows is left to the
        encoding thread, where it costs less CPU than handing the GIL back and forth for it)."""
        for chunk in stream_rows(rows, self.chunk_size):
            if self.with_context:
                kept_ids = [raw[0] for raw in chunk if raw[10]]
            else:
                kept_ids = [raw[0] for raw in chunk]
            annotations = self._fetch_annotations(kept_ids)
            golds = self._gold_of(kept_ids) if self.has_gold else {}
            predictions = self.predictions.fetch(kept_ids) if self.models else []
            yield chunk, kept_ids, annotations, golds, predictions

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


def iter_comment_rows(project: Project, options: ExportOptions) -> Iterator[CommentRow]:
    """The comments an export of ``project`` with ``options`` keeps, in tree order."""
    return RowSource(project, options).comments()


def iter_articles(project: Project, options: ExportOptions) -> Iterator[ArticleRow]:
    """The articles an export of ``project`` with ``options`` covers, in id order."""
    return RowSource(project, options).articles()
