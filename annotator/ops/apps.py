from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "annotator.ops"
    label = "ops"
    verbose_name = "Operations"
