"""The REST API: Django REST framework over the same domain code as the HTML views."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "annotator.api"
    label = "api"
