"""Gold labels: a reviewer's settled answers for a comment, kept apart from annotators' labels.

A ``GoldLabel`` is one per comment. Like an ``Annotation`` it carries a ``revision`` for
optimistic locking (two reviewers never silently overwrite each other) and every change is
kept as a ``GoldEvent`` with the state before and after.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from annotator.corpus.models import Comment, Project
from annotator.labelling.models import LabelScheme


class GoldLabel(models.Model):
    """The settled answers for one comment, with who decided them and how."""

    class Method(models.TextChoices):
        ADJUDICATED = "adjudicated", "Adjudicated by a reviewer"
        ACCEPTED = "accepted", "Accepted where all annotators agreed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="gold_labels")
    comment = models.OneToOneField(Comment, on_delete=models.CASCADE, related_name="gold")
    # The scheme version the gold answers were given under.
    scheme = models.ForeignKey(LabelScheme, on_delete=models.PROTECT, related_name="gold_labels")
    answers = models.JSONField(default=dict, blank=True)
    # Gold answers set aside because the comment's parent changed; same shape as
    # ``Annotation.stale_answers`` (see labelling/stale.py).
    stale_answers = models.JSONField(default=dict, blank=True)
    # A move set aside answers this gold needs (the stance toward a new parent): the comment
    # is back in the review queue until a reviewer settles it again (``gold.save_gold``).
    needs_review = models.BooleanField(default=False)
    method = models.CharField(max_length=12, choices=Method.choices, default=Method.ADJUDICATED)
    note = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)
    revision = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [models.Index(fields=["project", "decided_at"])]

    def __str__(self) -> str:
        return f"gold for comment {self.comment_id}"

    def snapshot(self) -> dict:
        """The state kept in history."""
        return {
            "answers": self.answers,
            "method": self.method,
            "note": self.note,
            "scheme_version": self.scheme.version if self.scheme_id else None,
        }


class GoldEvent(models.Model):
    """One change of a gold label: who, when, what it was before and after."""

    gold = models.ForeignKey(GoldLabel, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    revision = models.PositiveIntegerField(help_text="The gold label's revision after this.")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField()

    class Meta:
        ordering = ["gold", "at", "id"]

    def __str__(self) -> str:
        return f"gold change of comment {self.gold.comment_id} at {self.at:%Y-%m-%d %H:%M}"
