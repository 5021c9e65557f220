"""The review app: agreement between annotators, the project dashboard, adjudication and gold."""

from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "annotator.review"
    label = "review"

    def ready(self) -> None:
        from annotator.corpus.models import Comment
        from annotator.corpus.moves import move_impact_asked, parent_changed
        from annotator.review.gold import gold_impact, set_aside_stale_gold

        # Gold answers about a moved comment's parent are set aside like annotators' answers.
        parent_changed.connect(set_aside_stale_gold, sender=Comment, dispatch_uid="review.stale")
        move_impact_asked.connect(gold_impact, sender=Comment, dispatch_uid="review.stale_impact")
