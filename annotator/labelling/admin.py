"""Read-mostly Django admin for staff: schemes, annotations with their history, reports.

Annotations are not editable here: every change must go through ``save_annotation`` so that
it is versioned and kept in history. The admin is for looking things up.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from annotator.labelling.models import (
    Annotation,
    AnnotationEvent,
    Guidelines,
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
