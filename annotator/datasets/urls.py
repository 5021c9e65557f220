"""Pages of the datasets app: the export page, export jobs and downloads."""

from django.urls import path

from annotator.datasets import views

app_name = "datasets"
urlpatterns = [
    path("p/<slug:slug>/exports/", views.export_list, name="export_list"),
    path("p/<slug:slug>/exports/<int:job_id>/", views.export_detail, name="export_detail"),
    path("p/<slug:slug>/exports/<int:job_id>/retry/", views.export_retry, name="export_retry"),
    path(
        "p/<slug:slug>/exports/<int:job_id>/download/",
        views.export_download,
        name="export_download",
    ),
]
