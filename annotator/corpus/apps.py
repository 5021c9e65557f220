from django.apps import AppConfig


class CorpusConfig(AppConfig):
    name = "annotator.corpus"
    label = "corpus"
    verbose_name = "Corpus"

    def ready(self) -> None:
        from django.db.models.signals import post_delete as file_row_deleted

        from annotator.corpus.models import ImportJob
        from annotator.corpus.stored_files import delete_stored_file

        # A deleted row (or a project's, by cascade) takes its stored file with it.
        file_row_deleted.connect(
            delete_stored_file, sender=ImportJob, dispatch_uid="corpus.import_file"
        )
