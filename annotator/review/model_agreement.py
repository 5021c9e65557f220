"""How far a model agrees with people: per model and question, its agreement with each
annotator, with the human majority and with gold, by depth, its confusion with gold, and
whether showing its answer first pulls annotators toward it (anchoring).

The figures are the people's figures: each comparison is two coders (the model and one
other) over the comments both labelled, reduced to a ``Tally`` and measured by
``agreement.agreement_from_tally``, the same Krippendorff's alpha, Cohen's kappa, percent
agreement and bootstrap intervals as between annotators. Labels are read by the people's
rules (``label_units``: free text skipped, a multiple-choice question one yes/no entry per
choice of the current scheme), on every side alike:

* the model's answer comes from ``Prediction`` rows of the newest version of each model
  (``MachineLabeller.objects.newest()``); stale ones (``stale_since`` set: about a former
  parent) never count;
* the **human majority** of a comment is the label most of its submitted annotations gave,
  among two or more; a tie gives no majority and the comment is dropped from that figure;
* **gold** is the reviewers' settled label (``GoldLabel``), except gold a move sent back to
  review (``needs_review``), which is not settled.

Scheme versions: a single-choice answer whose value the current scheme no longer has (a
prediction or a label given under an older version) is left out on every side, and a
multiple-choice answer is read only for the current scheme's choices, so a renamed choice
never counts as a disagreement.

Memory: one comment's evidence at a time. The annotations stream through the dashboard's
one read (``dashboard.read_labels``, with ``ModelReader`` as one of its readers) while the
predictions and gold stream beside them in comment order (a merge); what is kept are counts
of label pairs, whose number depends on the scheme and the people, not on the comments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from annotator.assist.models import MachineLabeller, Prediction
from annotator.corpus.models import Project
from annotator.labelling.scheme import Kind, Scheme
from annotator.review.agreement import (
    DEFAULT_RESAMPLES,
    Estimate,
    Label,
    agreement_from_tally,
    tally_shapes,
)
from annotator.review.anchoring import Anchoring, AnchoringTallies
from annotator.review.dashboard import LabelRow, Reader, read_labels
from annotator.review.label_units import comment_labels, readers_for
from annotator.review.measures import CHUNK_SIZE, question_keys

MODEL = "model"  # the model's coder id in every tally
GOLD = "gold"
MAJORITY = "majority"
ANNOTATOR = "annotator"
DEPTHS = ("top-level", "replies")
SUBSETS = ("all", *DEPTHS)


# -- one comment's evidence ----------------------------------------------------------------------


@dataclass
class Evidence:
    """Everything said about one comment: the models' predictions (labeller id -> question
    -> answer), its settled gold answers, and its submitted annotations as
    (annotator id, answers, suggestions)."""

    comment_id: int
    depth: int
    article_id: int | None = None
    path: str = ""
    predictions: dict[int, dict[str, Any]] = field(default_factory=dict)
    gold: dict[str, Any] | None = None
    annotations: list[tuple[int, Any, Any]] = field(default_factory=list)

    @property
    def subset(self) -> str:
        return "top-level" if self.depth == 0 else "replies"


class LabelReading:
    """The current scheme's reading of answers into labels per measures key (``key`` or
    ``key=value``), with single-choice values the scheme no longer has left out."""

    def __init__(self, scheme: Scheme) -> None:
        self.scheme = scheme
        self.readers = readers_for(scheme)
        self.keys = [key for key, _q, _c in question_keys(scheme)]
        self.values = {
            q.key: set(q.values) for q in scheme.questions if q.kind in (Kind.SINGLE, Kind.YES_NO)
        }
        self._some: dict[frozenset[str], list] = {}

    def labels(
        self, coded: Iterable[tuple[Hashable, Any]], questions: Iterable[str] | None = None
    ) -> dict[str, dict[Hashable, Label]]:
        """``{key: {coder: label}}`` from ``(coder, answers)`` pairs, for every question or
        only ``questions`` (those a model answered: nothing else can be compared)."""
        readers = self.readers if questions is None else self._readers(frozenset(questions))
        pairs = [(coder, answers) for coder, answers in coded if isinstance(answers, dict)]
        labels = comment_labels(readers, pairs)
        for key, allowed in self.values.items():
            by_coder = labels.get(key)
            if by_coder:
                labels[key] = {c: v for c, v in by_coder.items() if v in allowed}
        return labels

    def _readers(self, questions: frozenset[str]) -> list:
        """The readers of some questions, kept per set (models answer the same few)."""
        found = self._some.get(questions)
        if found is None:
            found = self._some[questions] = [r for r in self.readers if r.key in questions]
        return found


def majority(labels: Mapping[Hashable, Label]) -> Label | None:
    """The label most of two or more people gave; None for fewer people or a tie."""
    if len(labels) < 2:
        return None
    values = list(labels.values())
    first = values[0]
    if all(value == first for value in values):  # the usual case, without counting
        return first
    counts = Counter(values).most_common(2)
    if counts[0][1] == counts[1][1]:
        return None
    return counts[0][0]


@dataclass(frozen=True)
class CommentView:
    """One comment's labels per key as a model is compared on them."""

    model: dict[str, Label]
    people: dict[str, dict[Hashable, Label]]
    majority: dict[str, Label]
    gold: dict[str, Label]


def view_of(reading: LabelReading, evidence: Evidence, labeller_id: int) -> CommentView:
    """The labels of one model, the people, their majority and gold on one comment, on the
    questions the model answered."""
    predicted = evidence.predictions.get(labeller_id, {})
    model = reading.labels([(MODEL, predicted)], predicted)
    people = reading.labels(((a, answers) for a, answers, _s in evidence.annotations), predicted)
    gold = reading.labels([(GOLD, evidence.gold)], predicted) if evidence.gold is not None else {}
    majorities = {key: m for key, by in people.items() if (m := majority(by)) is not None}
    return CommentView(
        model={k: v[MODEL] for k, v in model.items() if MODEL in v},
        people=people,
        majority=majorities,
        gold={k: v[GOLD] for k, v in gold.items() if GOLD in v},
    )


# -- agreement ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelEstimate:
    """The model against one other coder on one key and subset: alpha, Cohen's kappa and
    percent agreement (with their intervals and the comments both labelled)."""

    against: str  # GOLD, MAJORITY or ANNOTATOR
    annotator_id: int | None
    subset: str
    alpha: Estimate
    kappa: Estimate
    percent: Estimate

    @property
    def units(self) -> int:
        return self.alpha.units


@dataclass(frozen=True)
class ModelQuestion:
    """Every figure of one model on one measures key."""

    labeller_id: int
    key: str
    gold: dict[str, ModelEstimate]  # by subset
    majority: dict[str, ModelEstimate]
    annotators: list[ModelEstimate]  # subset "all", one per annotator, by id
    confusion: dict[tuple[Label, Label], int]  # (model label, gold label) -> comments


def estimate_of(
    key: str,
    against: str,
    subset: str,
    shapes: Mapping[tuple, int],
    *,
    annotator_id: int | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> ModelEstimate:
    """The people's measures (``agreement_from_tally``) over two coders' label pairs."""
    result = agreement_from_tally(key, subset, tally_shapes(shapes), resamples=resamples, seed=seed)
    empty = Estimate(None, None, None, result.alpha.units)
    pair = result.pairs[0] if result.pairs else None
    return ModelEstimate(
        against=against,
        annotator_id=annotator_id,
        subset=subset,
        alpha=result.alpha,
        kappa=pair.kappa if pair else empty,
        percent=pair.percent if pair else empty,
    )


def _pair_shape(model_label: Label, other: Hashable, label: Label) -> tuple:
    return ((MODEL, model_label), (other, label))


class ModelTallies:
    """Counts of (model label, other label) pairs per model, key, comparison and depth,
    added up one comment at a time (``add``); ``questions`` measures them."""

    def __init__(self, scheme: Scheme, labeller_ids: Iterable[int]) -> None:
        self.reading = LabelReading(scheme)
        self.labeller_ids = list(labeller_ids)
        # (labeller, key, against, annotator or None, depth) -> {pair shape: comments}
        self.shapes: dict[tuple, Counter] = {}

    def _count(self, where: tuple, shape: tuple) -> None:
        table = self.shapes.get(where)
        if table is None:
            table = self.shapes[where] = Counter()
        table[shape] += 1

    def add(self, evidence: Evidence) -> None:
        depth = evidence.subset
        for labeller_id in self.labeller_ids:
            if labeller_id not in evidence.predictions:
                continue
            view = view_of(self.reading, evidence, labeller_id)
            for key, said in view.model.items():
                if key in view.gold:
                    where = (labeller_id, key, GOLD, None, depth)
                    self._count(where, _pair_shape(said, GOLD, view.gold[key]))
                if key in view.majority:
                    where = (labeller_id, key, MAJORITY, None, depth)
                    self._count(where, _pair_shape(said, MAJORITY, view.majority[key]))
                for person, label in view.people.get(key, {}).items():
                    where = (labeller_id, key, ANNOTATOR, person, depth)
                    self._count(where, _pair_shape(said, ANNOTATOR, label))

    def _shapes(self, labeller_id: int, key: str, against: str, person, subset: str) -> Counter:
        depths = DEPTHS if subset == "all" else (subset,)
        total: Counter = Counter()
        for depth in depths:
            total.update(self.shapes.get((labeller_id, key, against, person, depth), {}))
        return total

    def people(self, labeller_id: int, key: str) -> list[int]:
        return sorted({w[3] for w in self.shapes if w[:3] == (labeller_id, key, ANNOTATOR)})

    def measured(
        self, labeller_id: int, key: str, against: str, subset: str, person=None, **options
    ) -> ModelEstimate:
        """The model against ``against`` (one ``person`` for ANNOTATOR) on ``subset``."""
        shapes = self._shapes(labeller_id, key, against, person, subset)
        return estimate_of(key, against, subset, shapes, annotator_id=person, **options)

    def question(self, labeller_id: int, key: str, **options) -> ModelQuestion:
        """Every figure of one model on one key."""
        vs_gold = self._shapes(labeller_id, key, GOLD, None, "all")
        return ModelQuestion(
            labeller_id=labeller_id,
            key=key,
            gold={s: self.measured(labeller_id, key, GOLD, s, **options) for s in SUBSETS},
            majority={s: self.measured(labeller_id, key, MAJORITY, s, **options) for s in SUBSETS},
            annotators=[
                self.measured(labeller_id, key, ANNOTATOR, "all", person, **options)
                for person in self.people(labeller_id, key)
            ],
            confusion={(shape[0][1], shape[1][1]): n for shape, n in vs_gold.items()},
        )

    def questions(
        self, labeller_id: int, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
    ) -> list[ModelQuestion]:
        """Every key of the current scheme (in order) for one model, measured."""
        return [
            self.question(labeller_id, key, resamples=resamples, seed=seed)
            for key in self.reading.keys
        ]


# -- the one read -----------------------------------------------------------------------------


class _Stream:
    """Rows in comment order, grouped per comment, read ahead by one group."""

    def __init__(self, rows: Iterable[tuple]) -> None:
        self.groups = groupby(rows, key=lambda row: row[0])
        self.head: tuple[int, list[tuple]] | None = None
        self._advance()

    def _advance(self) -> None:
        found = next(self.groups, None)
        self.head = (found[0], list(found[1])) if found is not None else None

    def take(self, comment_id: int) -> list[tuple]:
        """This comment's rows (none if the stream has none), once it reached it."""
        if self.head is not None and self.head[0] == comment_id:
            rows = self.head[1]
            self._advance()
            return rows
        return []

    @property
    def next_id(self) -> int | None:
        return self.head[0] if self.head is not None else None


def prediction_rows(labeller_ids: Iterable[int]) -> Iterator[tuple]:
    """(comment, labeller, question, answer, depth, article, path) of the models' predictions
    that are not stale, streamed in comment order."""
    return (
        Prediction.objects.filter(labeller_id__in=list(labeller_ids), stale_since__isnull=True)
        .order_by("comment_id", "labeller_id")
        .values_list(
            "comment_id",
            "labeller_id",
            "question",
            "answer",
            "comment__depth",
            "comment__article_id",
            "comment__path",
        )
        .iterator(chunk_size=CHUNK_SIZE)
    )


def gold_rows(project: Project) -> Iterator[tuple]:
    """(comment, answers, depth) of the project's settled gold labels, in comment order."""
    from annotator.review.models import GoldLabel

    return (
        GoldLabel.objects.filter(project=project, needs_review=False)
        .order_by("comment_id")
        .values_list("comment_id", "answers", "comment__depth")
        .iterator(chunk_size=CHUNK_SIZE)
    )


class EvidenceMerge:
    """Joins the annotations (pushed one comment at a time, in comment order) with the
    predictions and gold (pulled from their own streams in comment order) into one
    ``Evidence`` per comment that any of them mentions, handed to ``consume``."""

    def __init__(
        self,
        consume: Callable[[Evidence], None],
        predictions: Iterable[tuple],
        gold: Iterable[tuple],
    ) -> None:
        self.consume = consume
        self.predictions = _Stream(predictions)
        self.gold = _Stream(gold)

    def _evidence(self, comment_id: int, depth: int | None) -> Evidence:
        evidence = Evidence(comment_id, depth or 0)
        for _c, labeller, question, answer, p_depth, article, path in self.predictions.take(
            comment_id
        ):
            evidence.predictions.setdefault(labeller, {})[question] = answer
            evidence.depth, evidence.article_id, evidence.path = p_depth, article, path
        for _c, answers, g_depth in self.gold.take(comment_id):
            evidence.gold = answers if isinstance(answers, dict) else {}
            evidence.depth = g_depth
        return evidence

    def _flush_before(self, comment_id: int | None) -> None:
        """Comments with predictions or gold but no submitted annotation, up to
        ``comment_id`` (all of them when None)."""
        while True:
            ids = [i for i in (self.predictions.next_id, self.gold.next_id) if i is not None]
            first = min(ids, default=None)
            if first is None or (comment_id is not None and first >= comment_id):
                return
            self.consume(self._evidence(first, None))

    def comment(self, comment_id: int, depth: int, annotations: list[tuple[int, Any, Any]]):
        """One comment's submitted annotations as (annotator, answers, suggestions)."""
        self._flush_before(comment_id)
        evidence = self._evidence(comment_id, depth)
        evidence.depth = depth
        evidence.annotations = annotations
        self.consume(evidence)

    def finish(self) -> None:
        self._flush_before(None)


# -- for the page -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFigures:
    """One model's figures: per key of the scheme, and its anchoring per question."""

    labeller: MachineLabeller
    questions: list[ModelQuestion]
    anchoring: list[Anchoring]


def project_models(project: Project) -> tuple[list[MachineLabeller], dict[int, int]]:
    """The newest version of each model (one query), and every version's id -> its
    model's newest id (one more query, only when there are models)."""
    newest = list(MachineLabeller.objects.filter(project=project).newest())
    if not newest:
        return [], {}
    by_name = {m.name: m.pk for m in newest}
    versions = {
        pk: by_name[name]
        for pk, name in MachineLabeller.objects.filter(project=project).values_list("pk", "name")
        if name in by_name
    }
    return newest, versions


class ModelFiguresCollector:
    """The agreement and anchoring tallies of a project's models, fed by ``EvidenceMerge``."""

    def __init__(self, scheme: Scheme, models: list[MachineLabeller], versions: Mapping) -> None:
        self.models = models
        ids = [m.pk for m in models]
        self.agreement = ModelTallies(scheme, ids)
        self.anchoring = AnchoringTallies(scheme, {i: i for i in ids}, versions)

    def add(self, evidence: Evidence) -> None:
        self.agreement.add(evidence)
        self.anchoring.add(evidence)

    def figures(self, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> list[ModelFigures]:
        return [
            ModelFigures(
                labeller=model,
                questions=self.agreement.questions(model.pk, resamples=resamples, seed=seed),
                anchoring=self.anchoring.rates(model.pk),
            )
            for model in self.models
        ]


class ModelReader(Reader):
    """The models' share of the dashboard's one read of the submitted labels: each comment's
    rows go to an ``EvidenceMerge``, and what is left of its streams at the end."""

    columns = frozenset({"answers", "depth", "suggestions"})

    def __init__(self, merge: EvidenceMerge) -> None:
        self.merge = merge
        self.rows: list[LabelRow] = []

    def add(self, row: LabelRow) -> None:
        self.rows.append(row)

    def end_comment(self) -> None:
        rows, self.rows = self.rows, []
        self.merge.comment(
            rows[0].comment_id,
            rows[0].depth,
            [(row.annotator_id, row.answers, row.suggestions) for row in rows],
        )

    def finish(self) -> None:
        self.merge.finish()


def evidence_reader(
    project: Project, labeller_ids: Iterable[int], consume: Callable[[Evidence], None]
) -> ModelReader:
    """A reader that hands ``consume`` every comment's evidence about these models: give it
    to ``read_labels`` (or ``read_dashboard``). Two queries of its own (predictions, gold),
    streamed beside the labels."""
    ids = list(labeller_ids)
    return ModelReader(EvidenceMerge(consume, prediction_rows(ids), gold_rows(project)))


def read_evidence(
    project: Project, labeller_ids: Iterable[int], consume: Callable[[Evidence], None]
) -> None:
    """Every comment's evidence about these models, in comment order, to ``consume``: three
    streamed queries (labels, predictions, gold) whatever the project's size."""
    read_labels(project, [evidence_reader(project, labeller_ids, consume)])


def model_figures(
    project: Project,
    scheme: Scheme,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> list[ModelFigures]:
    """Every model's figures, read alone (the CSV and tests; the page shares its read):
    five queries when the project has models, one when it has none."""
    models, versions = project_models(project)
    if not models:
        return []
    collector = ModelFiguresCollector(scheme, models, versions)
    read_evidence(project, [m.pk for m in models], collector.add)
    return collector.figures(resamples=resamples, seed=seed)
