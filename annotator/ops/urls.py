"""The probes and the metrics endpoint, at the top level where probes and scrapers look."""

from django.urls import path

from annotator.ops import views

app_name = "ops"
urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
]
