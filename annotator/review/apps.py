"""The review app: agreement between annotators, the project dashboard, adjudication and gold."""

from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "annotator.review"
    label = "review"
