"""The REST API: Django REST framework over the same domain code as the HTML views."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "annotator.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        # The token scheme's drf-spectacular extension registers when api/urls.py imports
        # it, not here: importing drf-spectacular and DRF took a fifth of every process's
        # start-up (manage.py commands, the worker) that serves no API request.
        from annotator.api import signals  # noqa: F401 - connects the receivers
