"""The datasets app: exports of a project's labelled corpus (files, dataset card, jobs)."""

from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "annotator.datasets"
    label = "datasets"

    def ready(self) -> None:
        from django.db.models.signals import post_delete as file_row_deleted

        from annotator.corpus.stored_files import delete_stored_file
        from annotator.datasets.models import ExportJob

        # A deleted row (or a project's, by cascade) takes its stored file with it.
        file_row_deleted.connect(
            delete_stored_file, sender=ExportJob, dispatch_uid="datasets.export_file"
        )
