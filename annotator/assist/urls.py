"""Pages of the assist app: the models page, a model's settings, and runs."""

from django.urls import path

from annotator.assist import import_views, learner_views, llm_views, views

app_name = "assist"
urlpatterns = [
    path("p/<slug:slug>/models/", views.model_list, name="model_list"),
    path(
        "p/<slug:slug>/models/<int:model_id>/settings/",
        views.model_settings,
        name="model_settings",
    ),
    path("p/<slug:slug>/models/runs/<int:run_id>/", views.run_detail, name="run_detail"),
    path("p/<slug:slug>/models/llm/", llm_views.llm_model_save, name="llm_model_save"),
    path("p/<slug:slug>/models/llm/runs/", llm_views.llm_run_start, name="llm_run_start"),
    path("p/<slug:slug>/models/import/", import_views.import_upload, name="predictions_import"),
    path("p/<slug:slug>/models/learner/train/", learner_views.train_learner, name="train_learner"),
]
