"""Label schemes (versioned), guidelines, annotations with their history, and reports of
comments attached to the wrong parent.

An ``Annotation`` is one person's answers for one comment. It carries a ``revision``
counter for optimistic locking: every save says which revision it started from, and a save
from a stale revision is refused (see ``annotations.save_annotation``), so two tabs never
silently overwrite each other. Every change is kept as an ``AnnotationEvent`` with the
state before and after.
"""

from __future__ import annotations

from functools import cached_property

from django.conf import settings
from django.db import models
from django.utils import timezone

from annotator.corpus.models import Comment, Project
from annotator.labelling.scheme import Scheme, parse_scheme


class LabelSchemeQuerySet(models.QuerySet):
    def current_for(self, project: Project | int) -> LabelScheme | None:
        """The project's newest scheme version (one query)."""
        return self.filter(project=project).order_by("-version").first()


class LabelScheme(models.Model):
    """One version of a project's scheme. Versions are never edited once answers use them."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="schemes")
    version = models.PositiveIntegerField()
    definition = models.JSONField(help_text="See labelling/scheme.py for the format.")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    objects = LabelSchemeQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="one_scheme_version")
        ]
        ordering = ["project", "-version"]

    def __str__(self) -> str:
        return f"{self.project} scheme v{self.version}"

    @cached_property
    def scheme(self) -> Scheme:
        return parse_scheme(self.definition)


class Guidelines(models.Model):
    """A project's annotation guidelines, in Markdown (rendered with raw HTML disabled)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="guidelines")
    text = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        verbose_name_plural = "guidelines"

    def __str__(self) -> str:
        return f"guidelines of {self.project}"


class Annotation(models.Model):
    """One annotator's answers for one comment, with the state of their work on it."""

    class Status(models.TextChoices):
        DRAFT = "draft", "In progress"
        SUBMITTED = "submitted", "Done"
        SKIPPED = "skipped", "Skipped"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations"
    )
    # The scheme version of the last save; each answer's own version is in answered_under.
    scheme = models.ForeignKey(LabelScheme, on_delete=models.PROTECT, related_name="annotations")
    answers = models.JSONField(default=dict, blank=True)
    answered_under = models.JSONField(
        default=dict, blank=True, help_text="Question key → scheme version it was answered in."
    )
    # Answers set aside because the comment's parent changed (see stale.py): question key →
    # {"value", "parent_id", "parent_source_id", "marked_stale_at", "scheme_version"}. Never
    # in ``answers``, so nothing that reads live answers counts them.
    stale_answers = models.JSONField(
        default=dict,
        blank=True,
        help_text="Question key → an answer given toward a former parent, kept apart.",
    )
    # What models suggested for this comment and how they were shown (assist/suggestions.py):
    # question key → {"model": labeller id, "label": "name@version", "answer", "confidence",
    # "mode": "after" | "preselect", "equals": whether the answer saved equals it}.
    suggestions = models.JSONField(
        default=dict,
        # Also the database's default: rows written by plain SQL (bench scripts, bulk loads)
        # that do not name the column get no suggestions rather than a NOT NULL error.
        db_default=models.Value({}, output_field=models.JSONField()),
        blank=True,
        help_text="Question key → the model suggestion shown.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    skip_reason = models.CharField(max_length=500, blank=True)
    flagged = models.BooleanField(default=False, help_text="Flagged for review.")
    note = models.TextField(blank=True)
    time_spent_ms = models.PositiveBigIntegerField(default=0)
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["comment", "annotator"], name="one_annotation_per_person"
            )
        ]
        indexes = [
            models.Index(fields=["project", "annotator", "status"]),
            # A person's newest labels first, where the queue resumes (assignment.py): the
            # columns never change, so saves stay HOT updates.
            models.Index(
                fields=["project", "annotator", "-id"], name="annotation_newest_per_person"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} on comment {self.comment_id}"

    def snapshot(self) -> dict:
        """The state kept in history: what a person can change."""
        return {
            "answers": self.answers,
            "status": self.status,
            "flagged": self.flagged,
            "note": self.note,
            "skip_reason": self.skip_reason,
            "scheme_version": self.scheme.version if self.scheme_id else None,
        }


class AnnotationEvent(models.Model):
    """One save of an annotation: who, when, what it was before and after."""

    class Kind(models.TextChoices):
        AUTOSAVE = "autosave", "Autosaved"
        SUBMIT = "submit", "Submitted"
        SKIP = "skip", "Skipped"
        # The comment was moved: answers about its parent set aside (see stale.py).
        REPARENT = "reparent", "Parent changed"
        # Labels from outside the tool (external_labels.py): the actor confirmed the import.
        IMPORT = "import", "Imported"

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    revision = models.PositiveIntegerField(help_text="The annotation's revision after this.")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField()

    class Meta:
        ordering = ["annotation", "at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} of {self.annotation_id} at {self.at:%Y-%m-%d %H:%M}"


class ParentReport(models.Model):
    """An annotator's report that a comment hangs under the wrong parent."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        FIXED = "fixed", "Re-parented"
        DISMISSED = "dismissed", "Dismissed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="parent_reports")
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="parent_reports")
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # What the reporter thinks it answers: a comment, the article itself, or unknown (both
    # empty/false).
    suggested_parent = models.ForeignKey(
        Comment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    suggests_article = models.BooleanField(default=False)
    note = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "status"])]

    def __str__(self) -> str:
        return f"wrong parent of comment {self.comment_id}"


class Claim(models.Model):
    """A comment handed to an annotator and held for them until ``expires_at``.

    While a claim is live it counts toward the comment's ``annotators_per_comment``, so the
    queue does not hand the last slot of a comment to two people at once. Submitting or
    skipping the comment deletes the claim; an expired claim is ignored (and cleared the
    next time anyone in the project claims). See ``assignment.py``.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="claims")
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="claims")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="claims"
    )
    claimed_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comment", "annotator"], name="one_claim_per_person")
        ]
        indexes = [
            # Live claims of a comment, counted for every candidate the queue looks at.
            models.Index(fields=["comment", "expires_at"], name="claim_live_per_comment"),
            # A person's held work, and the admin's per-person counts.
            models.Index(fields=["project", "annotator", "expires_at"], name="claim_per_person"),
        ]

    def __str__(self) -> str:
        return f"comment {self.comment_id} held for {self.annotator_id}"


class CommentLabelCount(models.Model):
    """How many submitted annotations a comment has: kept by every write that changes an
    annotation's status (``label_counts``), so the progress bar never counts the project."""

    comment = models.OneToOneField(
        Comment, on_delete=models.CASCADE, primary_key=True, related_name="label_count"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    submitted = models.IntegerField(default=0)

    class Meta:
        indexes = [
            # The project's comments with k labels or more, for a recount.
            models.Index(fields=["project", "submitted"], name="label_count_per_project")
        ]

    def __str__(self) -> str:
        return f"{self.submitted} submitted labels on comment {self.comment_id}"


class ProjectLabelCounts(models.Model):
    """A project's comments and those with at least ``k`` submitted labels, as last counted
    for ``k`` and the import ``import_job_id`` (see ``label_counts``; recounted when either
    no longer matches the project, or when the row is missing)."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, primary_key=True, related_name="label_counts"
    )
    comments = models.IntegerField(default=0)
    full_comments = models.IntegerField(default=0)
    k = models.PositiveSmallIntegerField()
    # The newest successful import when counted: a later one added comments.
    import_job_id = models.BigIntegerField(null=True, blank=True)
    counted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "project label counts"

    def __str__(self) -> str:
        return f"label counts of {self.project}"


class LabelImport(models.Model):
    """An uploaded label file between its preview and the admin's confirmation, then the
    record of what it imported (see ``external_labels.py``).

    The file is kept only while the import awaits confirmation, so that the preview and the
    import read the same bytes; once imported (or discarded) it is deleted and the row keeps
    the summary as the project's log of label imports.
    """

    class Status(models.TextChoices):
        PREVIEW = "preview", "Awaiting confirmation"
        IMPORTED = "imported", "Imported"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="label_imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    file = models.FileField(upload_to="label-imports/%Y/%m/", max_length=500, blank=True)
    original_name = models.CharField(max_length=255)
    encoding = models.CharField(max_length=40, blank=True, help_text="Empty: UTF-8.")
    format = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEW)
    imported_at = models.DateTimeField(null=True, blank=True)
    # What the import wrote and left out (``LabelImportResult.as_data``).
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"labels from {self.original_name} into {self.project}"
