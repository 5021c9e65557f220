"""The assist app: models as labellers (imported predictions, the built-in learner, an LLM
endpoint), the suggestions they make in the workspace, and how they compare with people."""

from django.apps import AppConfig


class AssistConfig(AppConfig):
    name = "annotator.assist"
    label = "assist"
    verbose_name = "model assistance"

    def ready(self) -> None:
        from django.db.models.signals import post_delete as file_row_deleted

        from annotator.assist.models import PredictionRun
        from annotator.corpus.stored_files import delete_stored_file

        # A deleted row (or a project's, by cascade) takes its stored file with it.
        file_row_deleted.connect(
            delete_stored_file, sender=PredictionRun, dispatch_uid="assist.predictions_file"
        )

        from annotator.assist.staleness import prediction_impact, set_aside_stale_predictions
        from annotator.corpus.models import Comment
        from annotator.corpus.moves import move_impact_asked, parent_changed

        # A prediction about a moved comment's parent no longer answers the new parent.
        parent_changed.connect(
            set_aside_stale_predictions, sender=Comment, dispatch_uid="assist.stale"
        )
        move_impact_asked.connect(
            prediction_impact, sender=Comment, dispatch_uid="assist.stale_impact"
        )
