"""Read-only Django admin for gold labels and their history.

Gold labels are not editable here: every change must go through ``gold.save_gold`` so that it
is checked against the scheme, locked against concurrent reviewers and kept in history.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from annotator.review.models import GoldEvent, GoldLabel


class GoldEventInline(admin.TabularInline):
    model = GoldEvent
    extra = 0
    can_delete = False
    fields = ["at", "actor", "revision", "before", "after"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(GoldLabel)
class GoldLabelAdmin(admin.ModelAdmin):
    list_display = ["comment_id", "project", "method", "decided_by", "decided_at", "revision"]
    list_filter = ["project", "method"]
    search_fields = ["comment__text", "decided_by__username", "note"]
    list_select_related = ["project", "decided_by"]
    inlines = [GoldEventInline]
    readonly_fields = [
        "project",
        "comment",
        "scheme",
        "answers",
        "method",
        "note",
        "decided_by",
        "decided_at",
        "revision",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
