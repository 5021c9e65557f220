"""The labelling app: label schemes, guidelines, annotations, history and the workspace."""

from django.apps import AppConfig


class LabellingConfig(AppConfig):
    name = "annotator.labelling"
    label = "labelling"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from annotator.corpus.models import Project
        from annotator.labelling.schemes import give_new_project_the_default_scheme

        # The corpus app knows nothing of labelling; a new project gets its scheme here.
        post_save.connect(
            give_new_project_the_default_scheme,
            sender=Project,
            dispatch_uid="labelling.default_scheme",
        )
