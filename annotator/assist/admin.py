"""The Django admin's read-mostly view of models and their runs (the app's pages are where
models are configured)."""

from django.contrib import admin

from annotator.assist.models import MachineLabeller, PredictionFailure, PredictionRun


@admin.register(MachineLabeller)
class MachineLabellerAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "kind", "project", "suggestions", "created_at")
    list_filter = ("kind", "suggestions")
    search_fields = ("name", "project__name")


@admin.register(PredictionRun)
class PredictionRunAdmin(admin.ModelAdmin):
    list_display = ("kind", "project", "labeller", "status", "done", "total", "created_at")
    list_filter = ("kind", "status")


@admin.register(PredictionFailure)
class PredictionFailureAdmin(admin.ModelAdmin):
    list_display = ("labeller", "comment", "reason", "created_at")
