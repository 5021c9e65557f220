"""Discarding an upload in review and deleting an article with its labels (deletions.py)."""

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotator.corpus.deletions import (
    CountsChanged,
    DeletionImpact,
    NotAwaitingReview,
    delete_article,
    discard_import,
    impact_of_deleting,
)
from annotator.corpus.models import Article, Comment, DeletedArticle, DiscardedImport, ImportJob
from annotator.labelling.models import Annotation, AnnotationEvent
from annotator.review.models import GoldLabel
from tests.factories import (
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    UserFactory,
    make_comment,
    make_gold_label,
    make_label,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def labelled_article(project, reviewer):
    """An article with 3 comments, 3 annotations by 2 annotators and 1 gold label."""
    article = ArticleFactory(project=project, source_id="sf-aleppo", title="Aleppo ceasefire")
    first = make_comment(article)
    second = make_comment(article, parent=first)
    make_comment(article)
    zoe, adam = UserFactory(username="zoe"), UserFactory(username="adam")
    make_label(first, zoe, COMPLETE_TOP_LEVEL)
    make_label(first, adam, COMPLETE_TOP_LEVEL)
    make_label(second, zoe, {"stance_article": "deny"}, status="draft")
    make_gold_label(first, reviewer, COMPLETE_TOP_LEVEL)
    return article


def test_the_impact_counts_comments_annotations_annotators_and_gold(labelled_article):
    impact = impact_of_deleting(labelled_article)

    assert impact == DeletionImpact(comments=3, annotations=3, annotators=2, gold_labels=1)
    assert impact.describe() == ("Deletes 3 comments, 3 annotations by 2 annotators, 1 gold label")


def test_an_unlabelled_article_says_it_deletes_no_labels(project):
    article = ArticleFactory(project=project)
    make_comment(article)

    assert impact_of_deleting(article).describe() == (
        "Deletes 1 comment, 0 annotations by 0 annotators, 0 gold labels"
    )


def test_deleting_takes_comments_and_labels_and_keeps_a_record(
    labelled_article, project, project_admin
):
    other = ArticleFactory(project=project)
    kept = make_comment(other)
    make_label(kept, project_admin, COMPLETE_TOP_LEVEL)
    confirmed = impact_of_deleting(labelled_article)

    record = delete_article(labelled_article, project_admin, confirmed)

    assert not Article.objects.filter(pk=labelled_article.pk).exists()
    assert list(Comment.objects.all()) == [kept]
    assert Annotation.objects.count() == 1
    assert not GoldLabel.objects.exists()
    assert not AnnotationEvent.objects.exclude(annotation__comment=kept).exists()
    assert DeletedArticle.objects.get() == record
    assert (record.title, record.source_id, record.project) == (
        "Aleppo ceasefire",
        "sf-aleppo",
        project,
    )
    assert (record.comments, record.annotations, record.annotators, record.gold_labels) == (
        3,
        3,
        2,
        1,
    )
    assert (record.deleted_by, record.deleted_by_name) == (project_admin, "ada_admin")


def test_deleting_refuses_when_labels_came_after_the_counts_were_shown(
    labelled_article, project_admin
):
    confirmed = impact_of_deleting(labelled_article)
    make_label(labelled_article.comments.last(), UserFactory(username="late"), COMPLETE_TOP_LEVEL)

    with pytest.raises(CountsChanged) as changed:
        delete_article(labelled_article, project_admin, confirmed)

    assert changed.value.impact.annotations == 4
    assert changed.value.impact.annotators == 3
    assert Article.objects.filter(pk=labelled_article.pk).exists()
    assert not DeletedArticle.objects.exists()


@pytest.fixture
def pending_job(project, project_admin):
    return ImportJob.objects.create(
        project=project,
        created_by=project_admin,
        status=ImportJob.Status.PREVIEW,
        format="text",
        file=SimpleUploadedFile("thread.txt", b"Title\n\nBody.\n\n\nA comment.\n"),
        original_name="thread.txt",
        total_bytes=27,
    )


def test_discarding_removes_the_job_and_its_file_and_keeps_who_and_when(
    pending_job, project, project_admin, django_capture_on_commit_callbacks
):
    path = pending_job.file.path
    discarder = UserFactory(username="dora")

    with django_capture_on_commit_callbacks(execute=True):
        record = discard_import(pending_job, discarder)

    assert not ImportJob.objects.exists()
    assert not os.path.exists(path)
    assert DiscardedImport.objects.get() == record
    assert (record.original_name, record.format, record.total_bytes) == ("thread.txt", "text", 27)
    assert (record.uploaded_by, record.uploaded_at) == (project_admin, pending_job.created_at)
    assert (record.discarded_by, record.discarded_by_name) == (discarder, "dora")


@pytest.mark.parametrize("status", ["queued", "running", "succeeded", "failed"])
def test_only_an_upload_in_review_can_be_discarded(pending_job, project_admin, status):
    ImportJob.objects.filter(pk=pending_job.pk).update(status=status)

    with pytest.raises(NotAwaitingReview):
        discard_import(pending_job, project_admin)

    assert ImportJob.objects.exists()
    assert not DiscardedImport.objects.exists()
