"""Lenient trees (dumps that miss parents and articles): kept, attached, and reported."""

import threading

import pytest
from django.db import OperationalError, connection, connections, transaction

from annotator.corpus.importers.loader import load_records
from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Notice,
)
from annotator.corpus.importers.tree import queue_imports_of
from annotator.corpus.models import Article, Comment
from tests.factories import ArticleFactory, ProjectFactory, UserFactory, make_label, make_thread

pytestmark = pytest.mark.django_db


def load(project, records, *, lenient=True):
    return load_records(project, lambda _pass: iter(records), "dump.ndjson", lenient=lenient)


def reply(source_id, parent_id=None, article_id="t3_a", line=0):
    return CommentRecord(source_id, article_id, f"Text of {source_id}", parent_id, line=line)


def shape(article_id="t3_a"):
    return sorted(
        (c.source_id, c.parent.source_id if c.parent else None, c.depth, c.meta)
        for c in Comment.objects.filter(article__source_id=article_id).select_related("parent")
    )


SUBMISSION = ArticleRecord("t3_a", "The submission", body="Self text", line=9)


def test_a_comment_whose_parent_is_missing_is_attached_to_its_article_and_counted(project):
    records = [
        reply("t1_2", "t1_1", line=1),  # a reply before its parent
        reply("t1_1", line=2),
        reply("t1_9", "t1_gone", line=3),  # its parent is not in the dump
        reply("t1_10", "t1_9", line=4),
        SUBMISSION,  # the submission after its comments
    ]

    result = load(project, records)

    assert shape() == [
        ("t1_1", None, 0, {}),
        ("t1_10", "t1_9", 1, {}),
        ("t1_2", "t1_1", 1, {}),
        ("t1_9", None, 0, {"missing_parent_id": "t1_gone"}),
    ]
    assert result.comments_added == 4
    assert result.notice_lines() == [
        "1 comments answer a comment that is neither in the file nor in the project: they "
        "were attached to their article, with the missing parent's id in "
        "meta.missing_parent_id"
    ]
    assert Article.objects.get().title == "The submission"


def test_comments_of_an_article_not_in_the_file_get_a_placeholder_filled_in_later(project):
    first = load(project, [reply("t1_1", article_id="t3_b"), reply("t1_2", "t1_1", "t3_b")])

    placeholder = Article.objects.get(source_id="t3_b")
    assert placeholder.title == "[article t3_b: not in the imported file]"
    assert placeholder.meta == {"placeholder": True}
    assert [notice.key for notice in first.notices.values()] == ["placeholder_articles"]

    second = load(project, [ArticleRecord("t3_b", "Real title", url="https://example.org/b")])

    article = Article.objects.get(source_id="t3_b")
    assert (article.title, article.url, article.meta) == ("Real title", "https://example.org/b", {})
    assert second.notice_lines() == ["1 placeholder articles from earlier imports were filled in"]
    assert second.articles_added == second.articles_unchanged == 0
    assert Comment.objects.filter(article=article).count() == 2


def test_a_real_article_already_imported_is_never_overwritten(project):
    load(project, [SUBMISSION, reply("t1_1")])

    result = load(project, [ArticleRecord("t3_a", "Another title")])

    assert Article.objects.get().title == "The submission"
    assert result.articles_unchanged == 1
    assert result.notices == {}


def test_parsers_notices_are_summed_over_the_first_pass_only(project):
    notice = Notice("reddit_more", 5, "{count} comments were left out")
    submission = ArticleRecord("t3_a", "The submission", line=1)
    records = [submission, reply("t1_1", line=2), notice, Notice("reddit_more", 2, notice.text)]

    result = load(project, records, lenient=False)

    assert result.notice_lines() == ["7 comments were left out"]


def test_without_leniency_a_missing_parent_or_article_is_still_refused(project):
    with pytest.raises(ImportFileError, match='parent "t1_gone" not found'):
        load(
            project,
            [ArticleRecord("t3_a", "A", line=1), reply("t1_9", "t1_gone", line=2)],
            lenient=False,
        )
    with pytest.raises(ImportFileError, match='unknown article "t3_b"'):
        load(project, [reply("t1_1", article_id="t3_b")], lenient=False)

    assert Comment.objects.count() == Article.objects.count() == 0


def test_a_cycle_is_refused_even_in_a_lenient_tree(project):
    with pytest.raises(ImportFileError, match="cycle of parents"):
        load(project, [SUBMISSION, reply("t1_1", "t1_2"), reply("t1_2", "t1_1")])

    assert Comment.objects.count() == 0


ON_POSTGRESQL = connection.vendor == "postgresql"  # the PgBouncer backend too


def _in_another_connection(write) -> list:
    """Run ``write`` on a thread of its own (its own connection) with a 3 s lock timeout;
    what happened: ["written"] or the error."""
    outcome: list = []

    def run() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '3s'")
                write()
            outcome.append("written")
        except OperationalError as error:
            outcome.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return outcome


@pytest.mark.skipif(not ON_POSTGRESQL, reason="row locks are PostgreSQL's; SQLite locks the file")
@pytest.mark.django_db(transaction=True)
def test_an_import_waiting_on_its_project_lets_labelling_write_meanwhile():
    project = ProjectFactory()
    comment = make_thread(ArticleFactory(project=project), 1)[0]
    annotator = UserFactory()

    with transaction.atomic():
        queue_imports_of(project)  # held while the import writes
        outcome = _in_another_connection(
            lambda: make_label(comment, annotator, {"claim_type": "opinion"})
        )

    assert outcome == ["written"]


@pytest.mark.skipif(not ON_POSTGRESQL, reason="row locks are PostgreSQL's; SQLite locks the file")
@pytest.mark.django_db(transaction=True)
def test_a_second_import_into_the_project_still_waits_for_the_first():
    project = ProjectFactory()

    with transaction.atomic():
        queue_imports_of(project)
        outcome = _in_another_connection(lambda: queue_imports_of(project))

    assert len(outcome) == 1 and isinstance(outcome[0], OperationalError)
