"""Pages of the labelling app: the workspace, schemes and guidelines, parent reports."""

from django.urls import path

from annotator.labelling import (
    assignment_views,
    external_label_views,
    report_views,
    scheme_editor_views,
    scheme_views,
    views,
)

app_name = "labelling"
urlpatterns = [
    path("p/<slug:slug>/label/", views.label_start, name="start"),
    path("p/<slug:slug>/label/<int:comment_id>/", views.workspace, name="workspace"),
    path("p/<slug:slug>/label/<int:comment_id>/save/", views.annotation_save, name="save"),
    path("p/<slug:slug>/label/<int:comment_id>/release/", views.label_release, name="release"),
    path(
        "p/<slug:slug>/articles/<int:article_id>/labels/",
        views.thread_labels,
        name="thread_labels",
    ),
    path("p/<slug:slug>/guidelines/", scheme_views.guidelines, name="guidelines"),
    path("p/<slug:slug>/guidelines/edit/", scheme_views.guidelines_edit, name="guidelines_edit"),
    path("p/<slug:slug>/scheme/", scheme_views.scheme_edit, name="scheme_edit"),
    path("p/<slug:slug>/scheme/form/", scheme_editor_views.scheme_form, name="scheme_form"),
    path(
        "p/<slug:slug>/scheme/preview/",
        scheme_editor_views.scheme_preview,
        name="scheme_preview",
    ),
    path("p/<slug:slug>/scheme/export/", scheme_editor_views.scheme_export, name="scheme_export"),
    path(
        "p/<slug:slug>/label/<int:comment_id>/report/",
        report_views.report_form,
        name="report_form",
    ),
    path("p/<slug:slug>/reports/", report_views.report_list, name="report_list"),
    path(
        "p/<slug:slug>/labels/import/",
        external_label_views.labels_import,
        name="labels_import",
    ),
    path(
        "p/<slug:slug>/labels/import/<int:import_id>/",
        external_label_views.labels_import_detail,
        name="labels_import_detail",
    ),
    path("p/<slug:slug>/assignments/", assignment_views.assignments, name="assignments"),
    path(
        "p/<slug:slug>/assignments/release/",
        assignment_views.assignments_release,
        name="assignments_release",
    ),
    path(
        "p/<slug:slug>/assignments/reassign/",
        assignment_views.assignments_reassign,
        name="assignments_reassign",
    ),
    path(
        "p/<slug:slug>/reports/<int:report_id>/resolve/",
        report_views.report_resolve,
        name="report_resolve",
    ),
]
