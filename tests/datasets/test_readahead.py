"""Reading one chunk ahead on a second thread, on the caller's own connection."""

import io
import sys
import threading

import pytest
from django.db import DEFAULT_DB_ALIAS, connections

from annotator.corpus.models import Article
from annotator.datasets import rows
from annotator.datasets.options import ExportOptions
from annotator.datasets.package import build_export
from annotator.datasets.readahead import SWITCH_INTERVAL, read_ahead
from annotator.datasets.rows import RowSource
from tests.factories import ArticleFactory, UserFactory, label_in_bulk, make_thread


def sharing_count() -> int:
    """How many threads besides its own may use the default connection (a session's live
    server may share it too, so tests compare before and after)."""
    return connections[DEFAULT_DB_ALIAS]._thread_sharing_count


def ANSWERS(index, comment, annotator):
    return {"stance_article": "support"}


def test_items_arrive_in_order_from_another_thread():
    threads = []

    def chunks():
        for n in range(5):
            threads.append(threading.get_ident())
            yield n

    assert list(read_ahead(chunks, DEFAULT_DB_ALIAS)) == [0, 1, 2, 3, 4]
    assert set(threads) == {threads[0]}
    assert threads[0] != threading.get_ident()


def test_an_error_while_reading_is_raised_to_the_consumer_after_what_was_read():
    sharing_before = sharing_count()

    def chunks():
        yield "first"
        raise ValueError("the database went away")

    received = []
    with pytest.raises(ValueError, match="the database went away"):
        for item in read_ahead(chunks, DEFAULT_DB_ALIAS):
            received.append(item)
    assert received == ["first"]
    assert sharing_count() == sharing_before


def test_stopping_early_closes_the_reader_on_its_thread_and_gives_the_connection_back():
    sharing_before = sharing_count()
    closed_on = []
    produced = []

    def chunks():
        try:
            for n in range(1_000):
                produced.append(n)
                yield n
        finally:
            closed_on.append(threading.get_ident())

    stream = read_ahead(chunks, DEFAULT_DB_ALIAS, depth=1)
    assert next(stream) == 0
    stream.close()
    assert closed_on and closed_on[0] != threading.get_ident()
    assert len(produced) <= 3  # one handed over, one queued, one waiting: never the rest
    assert sharing_count() == sharing_before
    assert not any(thread.name == "export-reader" for thread in threading.enumerate())


@pytest.mark.django_db
def test_the_reader_queries_on_the_callers_connection_and_sees_its_uncommitted_rows(project):
    # A test's rows are never committed: a reader on a connection of its own would not see it.
    ArticleFactory(project=project, source_id="only-in-this-transaction")
    caller = connections[DEFAULT_DB_ALIAS]

    def chunks():
        yield connections[DEFAULT_DB_ALIAS] is caller
        yield list(Article.objects.filter(project=project).values_list("source_id", flat=True))

    same_connection, source_ids = read_ahead(chunks, DEFAULT_DB_ALIAS)
    assert same_connection is True
    assert source_ids == ["only-in-this-transaction"]
    assert Article.objects.filter(project=project).count() == 1  # still usable here


@pytest.mark.django_db
def test_an_export_stopped_early_leaves_the_connection_usable(project):
    sharing_before = sharing_count()
    article = ArticleFactory(project=project)
    comments = make_thread(article, 30)
    label_in_bulk(comments, [UserFactory()], ANSWERS)
    stream = RowSource(project, ExportOptions(), chunk_size=4).comments()
    assert next(stream).labelled
    stream.close()
    assert sharing_count() == sharing_before
    assert Article.objects.filter(project=project).count() == 1


@pytest.mark.django_db
def test_an_error_reading_annotations_reaches_the_exporter(project, monkeypatch):
    sharing_before = sharing_count()
    article = ArticleFactory(project=project)
    label_in_bulk(make_thread(article, 10), [UserFactory()], ANSWERS)

    def broken(self, comment_ids):
        raise RuntimeError("annotations unreadable")

    monkeypatch.setattr(rows.RowSource, "_fetch_annotations", broken)
    with pytest.raises(RuntimeError, match="annotations unreadable"):
        list(RowSource(project, ExportOptions()).comments())
    assert sharing_count() == sharing_before


def test_the_switch_interval_is_short_while_reading_and_restored_after_the_last_reader():
    before = sys.getswitchinterval()
    seen = []

    def chunks():
        yield 1
        yield 2

    outer = read_ahead(chunks, DEFAULT_DB_ALIAS)
    next(outer)
    seen.append(sys.getswitchinterval())
    inner = read_ahead(chunks, DEFAULT_DB_ALIAS)
    assert list(inner) == [1, 2]
    seen.append(sys.getswitchinterval())  # the outer reader still runs
    assert list(outer) == [2]

    assert seen == [SWITCH_INTERVAL, SWITCH_INTERVAL]
    assert sys.getswitchinterval() == before


class FullDisk(io.RawIOBase):
    """A destination that takes ``room`` bytes and then fails like a full disk."""

    def __init__(self, room: int):
        self.room = room

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.room -= len(data)
        if self.room < 0:
            raise OSError(28, "No space left on device")
        return len(data)


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_write_failing_mid_export_stops_the_reader_and_leaves_the_connection_usable(project, fmt):
    sharing_before = sharing_count()
    article = ArticleFactory(project=project)
    label_in_bulk(make_thread(article, 3_000), [UserFactory()], ANSWERS)

    with pytest.raises(OSError, match="No space left"):
        build_export(project, ExportOptions(format=fmt), FullDisk(room=20_000))

    assert not any(thread.name == "export-reader" for thread in threading.enumerate())
    assert sharing_count() == sharing_before
    assert Article.objects.filter(project=project).count() == 1
