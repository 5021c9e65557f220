from django.apps import AppConfig


class ArchivesConfig(AppConfig):
    name = "annotator.archives"
    verbose_name = "Project archives"
