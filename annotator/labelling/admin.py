"""Read-mostly Django admin for staff: schemes, annotations with their history, reports,
and the comments held for annotators.

Annotations are not editable here: every change must go through ``save_annotation`` so that
it is versioned and kept in history. Claims are not edited either (``claim_next`` decides who
holds what, under its lock); staff can only look them up and release them, which is what the
assignments page does for project admins. The admin is for looking things up.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from annotator.labelling.models import (
    Annotation,
    AnnotationEvent,
    Claim,
    Guidelines,
    LabelImport,
    LabelScheme,
    ParentReport,
)


@admin.register(LabelScheme)
class LabelSchemeAdmin(admin.ModelAdmin):
    list_display = ["project", "version", "created_at", "created_by"]
    list_filter = ["project"]
    readonly_fields = ["project", "version", "definition", "created_at", "created_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from the scheme editor, which applies the versioning rule


@admin.register(LabelImport)
class LabelImportAdmin(admin.ModelAdmin):
    """The log of label imports (Import labels): who imported which file, and its summary."""

    list_display = ("original_name", "project", "format", "status", "created_by", "created_at")
    list_filter = ("status", "format")
    list_select_related = ("project", "created_by")
    readonly_fields = ("summary",)


@admin.register(Guidelines)
class GuidelinesAdmin(admin.ModelAdmin):
    list_display = ["project", "updated_at", "updated_by"]


class AnnotationEventInline(admin.TabularInline):
    model = AnnotationEvent
    extra = 0
    can_delete = False
    fields = ["at", "actor", "kind", "revision", "before", "after"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["comment_id", "annotator", "project", "status", "flagged", "updated_at"]
    list_filter = ["project", "status", "flagged"]
    search_fields = ["annotator__username", "comment__text", "note"]
    list_select_related = ["annotator", "project"]
    inlines = [AnnotationEventInline]
    readonly_fields = [
        "project",
        "comment",
        "annotator",
        "scheme",
        "answers",
        "answered_under",
        "status",
        "skip_reason",
        "flagged",
        "note",
        "time_spent_ms",
        "revision",
        "created_at",
        "updated_at",
        "submitted_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ParentReport)
class ParentReportAdmin(admin.ModelAdmin):
    list_display = ["comment_id", "project", "status", "reported_by", "created_at"]
    list_filter = ["project", "status"]
    raw_id_fields = ["comment", "suggested_parent"]


class LiveFilter(admin.SimpleListFilter):
    """Live claims (still holding their comment) or expired ones (waiting to be cleared)."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("live", "Live"), ("expired", "Expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Claim]) -> QuerySet[Claim]:
        now = timezone.now()
        if self.value() == "live":
            return queryset.filter(expires_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=now)
        return queryset


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    """Comments held for annotators: who holds what, until when, and whether it still counts.

    Read-only; the one action (for staff who may delete claims) gives selected comments back
    to the queue, as *Release* on the assignments page does for a whole person. An expired
    claim no longer counts toward k and is cleared by the next claim in its project, so the
    list may show a few.
    """

    list_display = ["comment_number", "project", "annotator", "claimed_at", "expires_at", "is_live"]
    list_filter = ["project", LiveFilter]
    list_select_related = ["project", "annotator"]
    search_fields = ["annotator__username"]
    ordering = ["-claimed_at", "-pk"]
    readonly_fields = ["project", "comment", "annotator", "claimed_at", "expires_at"]
    actions = ["release_claims"]

    @admin.display(description="Comment", ordering="comment_id")
    def comment_number(self, claim: Claim) -> int:
        return claim.comment_id

    @admin.display(boolean=True, description="Live")
    def is_live(self, claim: Claim) -> bool:
        """Whether the claim still holds the comment (it counts toward k until it expires)."""
        return claim.expires_at > timezone.now()

    @admin.action(
        description="Release the selected claims (back to the queue)",
        permissions=["delete"],
    )
    def release_claims(self, request: HttpRequest, queryset: QuerySet[Claim]) -> None:
        # No lock needed: releasing only lowers a comment's takers (see assignment.py).
        count, _ = queryset.delete()
        self.message_user(
            request, f"Released {count} claim{'s' if count != 1 else ''}.", messages.SUCCESS
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # claims are made by the queue (claim_next), never by hand

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict:
        """Only the release action: it is the bulk delete, worded for what it does."""
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
