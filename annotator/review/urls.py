"""Pages of the review app: the project dashboard and the adjudication queue."""

from django.urls import path  # noqa: F401  (the paths below are added as the pages land)

app_name = "review"
urlpatterns = [
    # -- dashboard (dashboard_views.py) --
    # -- adjudication (adjudication_views.py) --
]
