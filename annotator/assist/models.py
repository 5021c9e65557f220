"""Models as labellers of a project, and their predictions, kept apart from people's labels.

A ``MachineLabeller`` ("a model" on every page) is a named, versioned labeller of one
project: predictions imported from a file, the built-in learner, or an LLM endpoint. Each
version is its own row, so a retrained learner or a new prompt never rewrites what an
older version said; pages, suggestions and exports use the newest version of each name
(``MachineLabellerQuerySet.newest``).

A ``Prediction`` is one model's answer to one question of one comment. Predictions never
count as annotations: they are not in progress, k, agreement between people or gold, and
nothing that reads ``Annotation`` sees them. An answer a model gave that does not fit the
scheme is never a prediction: it is a ``PredictionFailure`` with the raw text.

A ``PredictionRun`` is one background job of a model (an import, training the learner,
predicting, or an LLM run), with status, progress and a heartbeat like the import and
export jobs (corpus/heartbeats.py).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from annotator.corpus.heartbeats import StoppableJob
from annotator.corpus.models import Comment, Project

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,39}$")


class Suggestions(models.TextChoices):
    """When the workspace shows an annotator what a model answered (per model)."""

    HIDDEN = "hidden", "Don't show"
    AFTER = "after", "Show after the annotator has answered"
    PRESELECT = "preselect", "Pre-select the model's answer"


class MachineLabellerQuerySet(models.QuerySet):
    def newest(self) -> MachineLabellerQuerySet:
        """The newest version of each model name (one query; order by name)."""
        return self.filter(is_newest_version()).order_by("name")


def is_newest_version(labeller: str = "") -> models.Expression:
    """True where a model version is the newest of its name in its project: the row's own
    (a ``MachineLabeller``), or the one at the path ``labeller`` (``"labeller"`` from a
    ``Prediction``)."""
    prefix = f"{labeller}__" if labeller else ""
    newer = MachineLabeller.objects.filter(
        project=models.OuterRef(f"{prefix}project"),
        name=models.OuterRef(f"{prefix}name"),
        pk__gt=models.OuterRef(f"{labeller}_id" if labeller else "pk"),
    )
    return ~models.Exists(newer)


class MachineLabeller(models.Model):
    """One version of a model that labels a project's comments."""

    class Kind(models.TextChoices):
        IMPORTED = "imported", "Imported predictions"
        LEARNER = "learner", "Built-in learner"
        LLM = "llm", "LLM endpoint"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labellers")
    name = models.CharField(max_length=80, help_text="Letters, digits, '.', '_' and '-'.")
    version = models.CharField(max_length=40, default="1")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # What the model is: for an LLM the endpoint's base URL, model name, the *name* of the
    # environment variable holding the API key (never the key), temperature, concurrency,
    # request cap; for the learner its parameters and what it learned from; for an import
    # whatever the file said. Shown on the models page and in the dataset card.
    config = models.JSONField(default=dict, blank=True)
    suggestions = models.CharField(
        "suggestions in the workspace",
        max_length=10,
        choices=Suggestions.choices,
        default=Suggestions.AFTER,
    )
    # "Most uncertain first" orders the project's threads by this model's confidence; at
    # most one model of a project does (``orders_work_unique``).
    orders_work = models.BooleanField(default=False)
    # Quality as measured when the model was made (the learner's cross-validation):
    # {question: {"macro_f1", "accuracy", "labels", "classes", "folds", "cv_labels", "too_few"}}.
    quality = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = MachineLabellerQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name", "version"], name="one_model_version"
            ),
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(orders_work=True),
                name="orders_work_unique",
            ),
        ]
        ordering = ["project", "name", "-id"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """How exports and pages name this version: ``name@version``."""
        return f"{self.name}@{self.version}"


class Prediction(models.Model):
    """A model's answer to one question of one comment."""

    labeller = models.ForeignKey(
        MachineLabeller, on_delete=models.CASCADE, related_name="predictions"
    )
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="predictions")
    question = models.CharField(max_length=50, help_text="The scheme's question key.")
    # The same shape as an annotator's answer to that question (labelling/scheme.py).
    answer = models.JSONField()
    confidence = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    scheme_version = models.PositiveIntegerField()
    # For an LLM: the prompt template's version and the model's whole reply.
    prompt_version = models.CharField(max_length=40, blank=True)
    raw_response = models.TextField(blank=True)
    # Set when the comment moved to another parent after a prediction about its parent (a
    # question whose target is the parent): such a prediction is never suggested again.
    stale_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["labeller", "comment", "question"], name="one_prediction_per_question"
            )
        ]
        indexes = [
            # A comment's predictions, read by the workspace for its suggestions.
            models.Index(fields=["comment", "labeller"], name="prediction_per_comment"),
        ]

    def __str__(self) -> str:
        return f"{self.labeller_id} on comment {self.comment_id}: {self.question}"


class PredictionFailure(models.Model):
    """An answer a model gave for a comment that could not be used (invalid JSON, a choice
    the scheme does not have ...): kept with the raw text, never as a label."""

    labeller = models.ForeignKey(MachineLabeller, on_delete=models.CASCADE, related_name="failures")
    run = models.ForeignKey(
        "PredictionRun", on_delete=models.CASCADE, null=True, blank=True, related_name="failures"
    )
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=500)
    raw_response = models.TextField(blank=True)
    prompt_version = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"failure of {self.labeller_id} on comment {self.comment_id}"


class PredictionRunQuerySet(models.QuerySet):
    """Runs, with the reaper of those whose worker died (see corpus/heartbeats.py)."""

    def fail_stale(self, project: Project | None = None) -> list[int]:
        """Fail the running runs (of ``project``) whose heartbeat stopped; their ids."""
        from annotator.corpus.heartbeats import fail_stale

        runs = self if project is None else self.filter(project=project)
        return fail_stale(runs, PredictionRun.WORKER_STOPPED)


class PredictionRun(StoppableJob, models.Model):
    """One background job of a model: an import of predictions, training, predicting, or an
    LLM run over a chosen set of comments."""

    WORKER_STOPPED = "The worker stopped before the run finished. Run it again."
    TASK = "annotator.assist.tasks.prediction_run_task"

    class Kind(models.TextChoices):
        IMPORT = "import", "Import of predictions"
        TRAIN = "train", "Training and predicting"
        LLM = "llm", "LLM run"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prediction_runs")
    # Null until the run knows its model (an import learns it from the file).
    labeller = models.ForeignKey(
        MachineLabeller, on_delete=models.CASCADE, null=True, blank=True, related_name="runs"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    # What was asked: the comments chosen, the request cap, the uploaded file ...
    options = models.JSONField(default=dict, blank=True)
    file = models.FileField(upload_to="predictions/%Y/%m/", max_length=500, blank=True)
    prompt_version = models.CharField(max_length=40, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0, help_text="Requests sent (LLM runs).")
    # What the run found: per-question figures, the first refused lines of an import ...
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    objects = PredictionRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} in {self.project}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        return min(100, int(100 * self.done / self.total)) if self.total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}
