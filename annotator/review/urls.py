"""Pages of the review app: the project dashboard and the adjudication queue."""

from django.urls import path

from annotator.review import adjudication_views, dashboard_views

app_name = "review"
urlpatterns = [
    # -- dashboard (dashboard_views.py) --
    path("p/<slug:slug>/dashboard/", dashboard_views.dashboard, name="dashboard"),
    path(
        "p/<slug:slug>/dashboard/<slug:chart>.csv",
        dashboard_views.dashboard_csv,
        name="dashboard_csv",
    ),
    # -- adjudication (adjudication_views.py) --
    path("p/<slug:slug>/review/", adjudication_views.review_queue, name="queue"),
    path(
        "p/<slug:slug>/review/accept/",
        adjudication_views.accept_unanimous_view,
        name="accept_unanimous",
    ),
    path("p/<slug:slug>/review/next/", adjudication_views.review_next, name="next"),
    path(
        "p/<slug:slug>/review/<int:comment_id>/",
        adjudication_views.adjudicate,
        name="adjudicate",
    ),
    path(
        "p/<slug:slug>/review/<int:comment_id>/save/",
        adjudication_views.gold_save,
        name="save",
    ),
]
