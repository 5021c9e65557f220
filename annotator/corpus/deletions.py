"""Taking things out of a project: discarding an upload that waits for review, deleting an
article with everything labelled on it. Both keep a history row of who did it and when.

The counts the admin confirms are recomputed inside the deleting transaction and compared:
if someone labelled a comment between the confirmation page and the click, the deletion
is refused with the new counts (``CountsChanged``) rather than taking more than was shown.
Labels live in the labelling and review apps, which depend on this one, so their models are
looked up through the app registry instead of imported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.apps import apps
from django.db import transaction
from django.db.models import Count

from annotator.corpus.models import Article, DeletedArticle, DiscardedImport, ImportJob


@dataclass(frozen=True)
class DeletionImpact:
    """What deleting an article takes with it."""

    comments: int = 0
    annotations: int = 0
    annotators: int = 0
    gold_labels: int = 0

    def describe(self) -> str:
        """The sentence of the confirmation, e.g. "Deletes 60 comments, 12 annotations by
        3 annotators, 2 gold labels"."""
        return (
            f"Deletes {_count(self.comments, 'comment')}, "
            f"{_count(self.annotations, 'annotation')} by "
            f"{_count(self.annotators, 'annotator')}, {_count(self.gold_labels, 'gold label')}"
        )

    def as_form_data(self) -> dict[str, int]:
        """The counts as the confirmation form sends them back."""
        return asdict(self)


class CountsChanged(Exception):
    """The article's labels changed since the admin read the counts; ``impact`` is now."""

    def __init__(self, impact: DeletionImpact):
        self.impact = impact
        super().__init__(impact.describe())


class NotAwaitingReview(Exception):
    """The import was confirmed, discarded or finished meanwhile: there is nothing to discard."""


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def impact_of_deleting(article: Article) -> DeletionImpact:
    """Count the article's comments, annotations (and their annotators) and gold labels."""
    annotation = apps.get_model("labelling", "Annotation")
    gold = apps.get_model("review", "GoldLabel")
    labels = annotation.objects.filter(comment__article=article).aggregate(
        annotations=Count("pk"), annotators=Count("annotator", distinct=True)
    )
    return DeletionImpact(
        comments=article.comments.count(),
        annotations=labels["annotations"],
        annotators=labels["annotators"],
        gold_labels=gold.objects.filter(comment__article=article).count(),
    )


def delete_article(article: Article, actor, confirmed: DeletionImpact) -> DeletedArticle:
    """Delete ``article`` with its comments and labels, in one transaction, and record it.

    ``confirmed`` is what the admin was shown; ``CountsChanged`` when it is no longer true.
    """
    with transaction.atomic():
        locked = Article.objects.select_for_update().get(pk=article.pk)
        impact = impact_of_deleting(locked)
        if impact != confirmed:
            raise CountsChanged(impact)
        record = DeletedArticle.objects.create(
            project_id=locked.project_id,
            title=locked.title,
            source_id=locked.source_id,
            deleted_by=actor,
            deleted_by_name=actor.get_username() if actor is not None else "",
            **asdict(impact),
        )
        locked.delete()
    return record


def discard_import(job: ImportJob, actor) -> DiscardedImport:
    """Throw away an upload waiting for review: its row and its stored file; keep who did it.

    ``NotAwaitingReview`` when it was confirmed (or discarded) in the meantime. The file is
    removed only once the transaction commits, so a rollback never leaves a job without it.
    """
    with transaction.atomic():
        locked = (
            ImportJob.objects.select_for_update()
            .filter(pk=job.pk, status=ImportJob.Status.PREVIEW)
            .first()
        )
        if locked is None:
            raise NotAwaitingReview
        record = DiscardedImport.objects.create(
            project_id=locked.project_id,
            original_name=locked.original_name,
            format=locked.format,
            total_bytes=locked.total_bytes,
            uploaded_by_id=locked.created_by_id,
            uploaded_at=locked.created_at,
            discarded_by=actor,
            discarded_by_name=actor.get_username() if actor is not None else "",
        )
        locked.delete()  # its file goes once this commits (stored_files.delete_stored_file)
    return record
