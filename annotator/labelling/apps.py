"""The labelling app: label schemes, guidelines, annotations, history and the workspace."""

from django.apps import AppConfig


class LabellingConfig(AppConfig):
    name = "annotator.labelling"
    label = "labelling"

    def ready(self) -> None:
        from django.db.models.signals import post_delete as file_row_deleted

        from annotator.corpus.stored_files import delete_stored_file
        from annotator.labelling.models import LabelImport

        # A deleted row (or a project's, by cascade) takes its stored file with it.
        file_row_deleted.connect(
            delete_stored_file, sender=LabelImport, dispatch_uid="labelling.label_import_file"
        )

        from django.db.models.signals import post_delete, post_save

        from annotator.corpus.models import Article, Comment, Project
        from annotator.corpus.moves import move_impact_asked, parent_changed
        from annotator.labelling.label_counts import (
            forget_on_deleted_article,
            forget_on_new_comment,
        )
        from annotator.labelling.schemes import give_new_project_the_default_scheme
        from annotator.labelling.stale import annotation_impact, set_aside_stale_answers

        # The corpus app knows nothing of labelling; a new project gets its scheme here.
        post_save.connect(
            give_new_project_the_default_scheme,
            sender=Project,
            dispatch_uid="labelling.default_scheme",
        )
        # A moved comment's answers about its parent are set aside (see stale.py).
        parent_changed.connect(
            set_aside_stale_answers, sender=Comment, dispatch_uid="labelling.stale_answers"
        )
        move_impact_asked.connect(
            annotation_impact, sender=Comment, dispatch_uid="labelling.stale_impact"
        )
        # The project's kept comment count is recounted after comments come or go (bulk
        # imports are seen by their job; see label_counts.py).
        post_save.connect(
            forget_on_new_comment, sender=Comment, dispatch_uid="labelling.counts_new_comment"
        )
        post_delete.connect(
            forget_on_deleted_article, sender=Article, dispatch_uid="labelling.counts_deleted"
        )
