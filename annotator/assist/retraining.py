"""When the built-in learner trains again: once ``settings.LEARNER_RETRAIN_AFTER`` labels
(submitted annotations and gold decisions) arrived since its newest version was trained.

The check costs two counts, so it runs where a few queries do not matter (the models page,
the end of a training run, ``manage.py retrain_learners`` from cron) and never on the
labelling path, whose query counts are fixed. A project trains once at a time: nothing is
queued while one of its training runs is queued or running.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils.dateparse import parse_datetime

from annotator.assist.models import MachineLabeller, PredictionRun
from annotator.assist.runs import start_run
from annotator.corpus.models import Project
from annotator.labelling.models import Annotation
from annotator.review.models import GoldLabel

UNFINISHED = [PredictionRun.Status.QUEUED, PredictionRun.Status.RUNNING]


def training_in_progress(project: Project) -> PredictionRun | None:
    """The project's training run that is queued or running, if any."""
    return (
        project.prediction_runs.filter(kind=PredictionRun.Kind.TRAIN, status__in=UNFINISHED)
        .order_by("-pk")
        .first()
    )


def queue_training(project: Project, user=None, **options) -> PredictionRun:
    """A new training run of ``project``'s learner, queued once the transaction commits."""
    run = PredictionRun.objects.create(
        project=project, kind=PredictionRun.Kind.TRAIN, created_by=user, options=options
    )
    start_run(run)
    return run


def new_labels_since(project: Project, since: datetime) -> int:
    """Labels submitted, and gold decided, after ``since``."""
    submitted = Annotation.objects.filter(
        project=project, status=Annotation.Status.SUBMITTED, submitted_at__gt=since
    ).count()
    return submitted + GoldLabel.objects.filter(project=project, decided_at__gt=since).count()


def labels_waiting(project: Project) -> int | None:
    """New labels since the newest learner trained (None when the project has no learner:
    the first one is trained by hand)."""
    newest = (
        MachineLabeller.objects.filter(project=project, kind=MachineLabeller.Kind.LEARNER)
        .order_by("-pk")
        .first()
    )
    if newest is None:
        return None
    since = parse_datetime(str(newest.config.get("trained_until", ""))) or newest.created_at
    return new_labels_since(project, since)


def queue_if_due(project: Project) -> PredictionRun | None:
    """Queue a training run when enough new labels arrived and none is under way."""
    waiting = labels_waiting(project)
    if waiting is None or waiting < settings.LEARNER_RETRAIN_AFTER:
        return None
    with transaction.atomic():
        # Two page loads at once queue one run: the project row is their lock.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        if training_in_progress(project) is not None:
            return None
        return queue_training(project, None, reason=f"{waiting} new labels")


def queue_due_projects() -> list[PredictionRun]:
    """Queue retraining in every project whose learner has enough new labels."""
    projects = Project.objects.filter(labellers__kind=MachineLabeller.Kind.LEARNER).distinct()
    return [run for project in projects if (run := queue_if_due(project)) is not None]
