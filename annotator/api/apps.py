"""The REST API: Django REST framework over the same domain code as the HTML views."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "annotator.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        # Registers the token scheme with drf-spectacular (extensions register on import).
        from annotator.api import (
            authentication,  # noqa: F401
            signals,  # noqa: F401 - connects the receivers
        )
