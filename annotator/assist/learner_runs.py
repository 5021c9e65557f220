"""A training run of the built-in learner, the database side of learner.py: read the project's
settled labels, train, store a new ``learner`` version, predict every comment of the project.

Memory stays flat in the size of the project: labels are read ordered by comment and
settled one comment at a time, and comments are predicted in keyset-paged batches
(``PREDICT_BATCH``) written with ``write_predictions`` between heartbeats. The new version
is created hidden from the workspace and takes over the previous version's suggestion mode
and "orders the work" only once all its predictions are written; a run that fails or is
stopped deletes it, so a half-predicted version is never left behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import groupby

import scipy.sparse as sp
from django.db import transaction
from django.utils import timezone

from annotator.assist import learner
from annotator.assist.answers import check_answers
from annotator.assist.models import MachineLabeller, PredictionRun, Suggestions
from annotator.assist.predictions import PredictionItem, write_predictions
from annotator.assist.runs import RunFailed, beat, finish
from annotator.corpus.models import Comment, Project
from annotator.labelling.models import Annotation
from annotator.labelling.scheme import Scheme, Target
from annotator.labelling.schemes import current_scheme_for
from annotator.review.models import GoldLabel

NAME = "learner"
PREDICT_BATCH = 2000
TEXT_BATCH = 5000


class Stopped(Exception):
    """The run was failed by the reaper meanwhile: stop quietly."""


def _settled(scheme: Scheme, gold: dict | None, given: list[dict]) -> dict:
    settled = {}
    for question in scheme.questions:
        answer = learner.settled_answer(
            question,
            (gold or {}).get(question.key),
            [a[question.key] for a in given if question.key in a],
        )
        if answer is not None:
            settled[question.key] = answer
    return settled


def settled_labels(project: Project, scheme: Scheme) -> Iterator[tuple[int, dict]]:
    """(comment id, {question: settled answer}) for every labelled comment of ``project``:
    gold where a reviewer set it, else the majority of the submitted annotations."""
    gold = dict(GoldLabel.objects.filter(project=project).values_list("comment_id", "answers"))
    annotations = (
        Annotation.objects.filter(project=project, status=Annotation.Status.SUBMITTED)
        .order_by("comment_id")
        .values_list("comment_id", "answers")
        .iterator(chunk_size=TEXT_BATCH)
    )
    for comment_id, rows in groupby(annotations, key=lambda row: row[0]):
        answers = _settled(scheme, gold.pop(comment_id, None), [a for _, a in rows])
        if answers:
            yield comment_id, answers
    for comment_id, answers in gold.items():  # gold on comments nobody submitted
        if settled := _settled(scheme, answers, []):
            yield comment_id, settled


def training_examples(project: Project, scheme: Scheme) -> tuple[dict, list[str], list[str]]:
    """The examples of each question, and the texts of the labelled comments and of their
    parents; each example's ``row`` is its comment's place in those lists."""
    labels = list(settled_labels(project, scheme))
    examples: dict[str, list[learner.Example]] = {q.key: [] for q in scheme.questions}
    texts: list[str] = []
    parents: list[str] = []
    for start in range(0, len(labels), TEXT_BATCH):
        chunk = labels[start : start + TEXT_BATCH]
        found = {
            pk: (text, parent_text or "")
            for pk, text, parent_text in Comment.objects.filter(
                article__project=project, pk__in=[pk for pk, _ in chunk]
            ).values_list("pk", "text", "parent__text")
        }
        for pk, answers in chunk:
            if pk not in found:
                continue
            text, parent_text = found[pk]
            row = len(texts)
            texts.append(text)
            parents.append(parent_text)
            for key, answer in answers.items():
                examples[key].append(learner.Example(text, parent_text, answer, row))
    return examples, texts, parents


class Rows:
    """Every labelled comment's features, computed once, picked by row for each question;
    the parents' block only when a question about the parent asks for it."""

    def __init__(self, features: learner.TextFeatures, texts: list[str], parents: list[str]):
        self.features, self.parents = features, parents
        self.own = features.fit_transform(texts)
        self.parent_block = None

    def matrix(self, question):
        def pick(found):
            rows = [e.row for e in found]
            if question.target != Target.PARENT:
                return self.own[rows]
            if self.parent_block is None:
                self.parent_block = self.features.transform(self.parents)
            return sp.hstack([self.own[rows], self.parent_block[rows]], format="csr")

        return pick


def next_version(project: Project) -> str:
    """One more than the highest version of the project's learner."""
    versions = MachineLabeller.objects.filter(project=project, name=NAME).values_list(
        "version", flat=True
    )
    return str(max((int(v) for v in versions if v.isdigit()), default=0) + 1)


def train(run: PredictionRun, scheme: Scheme, params: learner.LearnerParams):
    """The trained questions, their quality figures and label counts; ``RunFailed`` when no
    question can be learned."""
    examples, texts, parents = training_examples(run.project, scheme)
    if not texts:
        raise RunFailed(
            "Nothing to learn from: the project has no submitted or gold labels yet. "
            "Label some comments first."
        )
    features = learner.TextFeatures(params)
    rows = Rows(features, texts, parents)
    models, quality = [], {}
    for question in scheme.questions:
        if not beat(run, done=0):
            raise Stopped
        model, quality[question.key] = learner.train_question(
            params, question, examples[question.key], rows.matrix(question)
        )
        if model is not None:
            models.append(model)
    if not models:
        reasons = "; ".join(f"{key}: {q['skipped']}" for key, q in quality.items())
        raise RunFailed(f"No question has enough labels to learn from ({reasons}).")
    return features, models, quality


def _predict_batch(scheme, features, models, rows) -> list[PredictionItem]:
    texts = [text for _, text, _, _ in rows]
    parents = [parent_text or "" for _, _, _, parent_text in rows]
    own = features.transform(texts)
    parent_block = None
    answers: list[dict] = [{} for _ in rows]
    confidences: list[dict] = [{} for _ in rows]
    for model in models:
        if model.uses_parent:
            if parent_block is None:
                parent_block = features.transform(parents)
            X = sp.hstack([own, parent_block], format="csr")
        else:
            X = own
        labels, sure = learner.predict_labels(model, X)
        key = model.question.key
        for index, (label, confidence) in enumerate(zip(labels, sure, strict=True)):
            if model.uses_parent and rows[index][2] is None:
                continue  # a top-level comment has no parent to judge
            answers[index][key] = label if isinstance(label, list) else str(label)
            confidences[index][key] = float(confidence)
    return [
        PredictionItem(
            comment_id=row[0],
            answers=check_answers(scheme, answers[i], confidences[i], is_reply=row[2] is not None),
        )
        for i, row in enumerate(rows)
        if answers[i]
    ]


def predict_project(run, labeller, scheme_row, features, models) -> int:
    """Predict every comment of the project in keyset-paged batches; the predictions
    written."""
    scheme = scheme_row.scheme
    comments = Comment.objects.filter(article__project=run.project)
    total, done, written, last = comments.count(), 0, 0, 0
    if not beat(run, done=0, total=total):
        raise Stopped
    while rows := list(
        comments.filter(pk__gt=last)
        .order_by("pk")
        .values_list("pk", "text", "parent_id", "parent__text")[:PREDICT_BATCH]
    ):
        last = rows[-1][0]
        items = _predict_batch(scheme, features, models, rows)
        written += write_predictions(labeller, items, scheme_version=scheme_row.version)
        done += len(rows)
        if not beat(run, done=done, total=max(total, done)):
            raise Stopped
    return written


def _take_over(labeller: MachineLabeller, previous: MachineLabeller | None) -> None:
    """The new version shows its suggestions as the previous one did, and orders the work
    if it did (one model orders a project's work: ``orders_work_unique``)."""
    labeller.suggestions = previous.suggestions if previous else Suggestions.AFTER
    with transaction.atomic():
        if previous is not None and previous.orders_work:
            MachineLabeller.objects.filter(pk=previous.pk).update(orders_work=False)
            labeller.orders_work = True
        labeller.save(update_fields=["suggestions", "orders_work"])


def train_and_predict(run: PredictionRun) -> None:
    """The whole training run: see the module's docstring."""
    from annotator.assist.retraining import queue_if_due
    from annotator.assist.uncertainty import refresh_after_predictions

    project = run.project
    params = learner.LearnerParams()
    scheme_row = current_scheme_for(project)
    started, clock = timezone.now(), time.monotonic()
    try:
        features, models, quality = train(run, scheme_row.scheme, params)
    except Stopped:
        return
    trained = time.monotonic() - clock
    previous = MachineLabeller.objects.filter(project=project, name=NAME).order_by("-pk").first()
    labeller = MachineLabeller.objects.create(
        project=project,
        name=NAME,
        version=next_version(project),
        kind=MachineLabeller.Kind.LEARNER,
        suggestions=Suggestions.HIDDEN,  # until every comment is predicted (_take_over)
        quality=quality,
        created_by=run.created_by,
        config={
            **params.as_config(),
            "labels": {key: q["labels"] for key, q in quality.items()},
            "features": features.size,
            "scheme_version": scheme_row.version,
            "trained_until": started.isoformat(),
            "train_seconds": round(trained, 2),
        },
    )
    PredictionRun.objects.filter(pk=run.pk).update(labeller=labeller)
    run.labeller = labeller
    try:
        written = predict_project(run, labeller, scheme_row, features, models)
    except BaseException as stop:
        PredictionRun.objects.filter(pk=run.pk).update(labeller=None)
        labeller.delete()
        if isinstance(stop, Stopped):
            return
        raise
    _take_over(labeller, previous)
    seconds = {"train": round(trained, 2), "predict": round(time.monotonic() - clock - trained, 2)}
    finish(run, report={"quality": quality, "predictions": written, "seconds": seconds})
    refresh_after_predictions(labeller)
    queue_if_due(project)  # labels that arrived while it trained
