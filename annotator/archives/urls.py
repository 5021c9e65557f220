from django.urls import path

from annotator.archives import views

app_name = "archives"

urlpatterns = [
    path("p/<slug:slug>/archives/", views.archive_list, name="archive_list"),
    path("archives/restore/", views.restore, name="restore"),
    path("archives/<int:job_id>/", views.job_detail, name="job_detail"),
    path("archives/<int:job_id>/download/", views.job_download, name="job_download"),
]
