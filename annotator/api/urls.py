"""The REST API under /api/, its OpenAPI schema and docs, and the token page."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from annotator.api import (
    authentication,  # noqa: F401 - registers the token scheme with drf-spectacular
    prediction_views,
    token_views,
    views,
)

app_name = "api"
urlpatterns = [
    path("tokens/", token_views.token_list, name="token_list"),
    path("tokens/<int:token_id>/revoke/", token_views.token_revoke, name="token_revoke"),
    path("tokens/revoke-all/", token_views.token_revoke_all, name="token_revoke_all"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", views.ApiDocsView.as_view(), name="docs"),
    path("projects/", views.ProjectList.as_view(), name="project_list"),
    path("projects/<slug:slug>/", views.ProjectDetail.as_view(), name="project_detail"),
    path("projects/<slug:slug>/articles/", views.ArticleList.as_view(), name="article_list"),
    path(
        "projects/<slug:slug>/articles/<int:article_id>/",
        views.ArticleDetail.as_view(),
        name="article_detail",
    ),
    path(
        "projects/<slug:slug>/articles/<int:article_id>/thread/",
        views.ArticleThread.as_view(),
        name="article_thread",
    ),
    path("projects/<slug:slug>/comments/", views.CommentList.as_view(), name="comment_list"),
    path(
        "projects/<slug:slug>/annotations/",
        views.AnnotationList.as_view(),
        name="annotation_list",
    ),
    path("projects/<slug:slug>/gold/", views.GoldLabelList.as_view(), name="gold_list"),
    path("projects/<slug:slug>/agreement/", views.Agreement.as_view(), name="agreement"),
    path("projects/<slug:slug>/imports/", views.ImportList.as_view(), name="import_list"),
    path(
        "projects/<slug:slug>/imports/<int:job_id>/",
        views.ImportDetail.as_view(),
        name="import_detail",
    ),
    path("projects/<slug:slug>/exports/", views.ExportList.as_view(), name="export_list"),
    path(
        "projects/<slug:slug>/exports/<int:job_id>/",
        views.ExportDetail.as_view(),
        name="export_detail",
    ),
    path(
        "projects/<slug:slug>/exports/<int:job_id>/download/",
        views.ExportDownload.as_view(),
        name="export_download",
    ),
    path(
        "projects/<slug:slug>/predictions/",
        prediction_views.PredictionImport.as_view(),
        name="prediction_import",
    ),
    path(
        "projects/<slug:slug>/predictions/runs/<int:run_id>/",
        prediction_views.PredictionRunDetail.as_view(),
        name="prediction_run_detail",
    ),
    path("projects/<slug:slug>/models/", prediction_views.ModelList.as_view(), name="model_list"),
]
