"""The datasets app: exports of a project's labelled corpus (files, dataset card, jobs)."""

from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "annotator.datasets"
    label = "datasets"
