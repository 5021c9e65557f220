"""Writing an import's new rows: primary keys reserved up front, then the comment rows
streamed to the database, all inside the loader's write transaction.

``_reserve`` hands out keys before anything is written, so that a reply can name a parent
that comes later in the file (the foreign keys are checked at commit). ``_RowWriter`` takes
the rows that ``tree._Skeleton.write`` builds: on PostgreSQL one ``COPY`` through psycopg 3,
fed by a writer thread with a short queue (``_bounded_queued_writer``) so that the server
inserts while the next records are parsed; elsewhere (SQLite) batched ``INSERT``s, bounded
by row count and by text size. New articles wait in a temporary file and go in after the
comments (no other statement can run on the connection while a COPY is open).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import orjson
from django.db import connection
from django.utils import timezone

from annotator.corpus.importers.records import ArticleRecord
from annotator.corpus.models import Article, Comment, Project

WRITE_BATCH = 5_000  # comment rows per INSERT batch (where there is no COPY)
WRITE_BATCH_CHARS = 2_000_000  # and at most this much comment text per batch
COPY_QUEUE_BUFFERS = 4  # buffers of about 1 MB waiting for the COPY writer thread
RESERVE_BATCH = 20_000  # primary keys reserved per query on PostgreSQL


def _no_beat() -> None:
    """The heartbeat of an import that reports no progress."""


def _reserve(
    model: type[Article] | type[Comment], count: int, beat: Callable[[], None] = _no_beat
) -> Iterator[int]:
    """``count`` fresh primary keys for ``model``, taken inside the write transaction
    (``beat()`` between the batches of a large reservation).

    PostgreSQL hands them out from the table's own sequence, so concurrent writers can
    never get the same ones. Elsewhere (SQLite) the transaction holds the database's write
    lock from its start (``transaction_mode`` IMMEDIATE), so the next keys after the highest
    ever used are ours alone.
    """
    if not count:
        return
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            sequence = cursor.fetchone()[0]
            done = 0
            while done < count:
                beat()
                size = min(RESERVE_BATCH, count - done)
                # The sequence named once: looking it up for every row is five times slower.
                cursor.execute(
                    "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, size]
                )
                for (key,) in cursor.fetchall():
                    yield key
                done += size
            return
        highest = 0
        if connection.vendor == "sqlite":
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            highest = row[0] if row else 0
        cursor.execute(f"SELECT MAX(id) FROM {connection.ops.quote_name(table)}")
        highest = max(highest, cursor.fetchone()[0] or 0)
    yield from range(highest + 1, highest + 1 + count)


COMMENT_COLUMNS = (
    "id",
    "article_id",
    "parent_id",
    "source_id",
    "author",
    "text",
    "posted_at",
    "position",
    "depth",
    "path",
    "meta",
    "created_at",
)


class _RowWriter:
    """Streams new comment rows to the database: one COPY on PostgreSQL, INSERTs elsewhere.

    On PostgreSQL the whole pass is one ``COPY`` so that the server inserts while we parse.
    Nothing else can run on the connection while it is open, so new articles wait in a
    temporary file (spilled to disk when large) and are inserted when the COPY ends; the
    foreign keys are checked at commit, so the order does not matter.
    """

    def __init__(self, project: Project, beat: Callable[[], None] = _no_beat):
        self.project = project
        self.beat = beat  # between the batches of articles inserted after the comments
        self.postgres = connection.vendor == "postgresql"
        self.empty_meta = "{}"
        self.rows: list[tuple] = []
        self.batch_chars = 0
        self.articles = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
        moment = timezone.now()
        if self.postgres:
            self.adapt_time: Callable[[Any], Any] = _same
            self.now: Any = moment
        else:
            self.adapt_time = connection.ops.adapt_datetimefield_value
            self.now = self.adapt_time(moment)
        table = connection.ops.quote_name(Comment._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(name) for name in COMMENT_COLUMNS)
        self.copy_sql = f"COPY {table} ({columns}) FROM STDIN"
        placeholders = ", ".join(["%s"] * len(COMMENT_COLUMNS))
        self.insert_sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
        self._stack = contextlib.ExitStack()
        self.add_row: Callable[[tuple], None] = self._add_insert_row

    def __enter__(self) -> _RowWriter:
        if self.postgres:
            connection.ensure_connection()
            cursor = self._stack.enter_context(connection.connection.cursor())
            # A writer thread sends while this one parses the next records.
            writer = _bounded_queued_writer(cursor)
            copy = self._stack.enter_context(cursor.copy(self.copy_sql, writer=writer))
            self.add_row = copy.write_row
        return self

    def __exit__(self, *error: object) -> None:
        self._stack.__exit__(*error)  # ends the COPY (or aborts it on an error)
        self.articles.close()

    def close(self) -> None:
        """End the comment rows, then insert the articles that waited."""
        self._stack.close()
        if self.rows:
            self._insert_rows()
        self.articles.seek(0)
        batch: list[Article] = []
        for line in self.articles:
            fields = orjson.loads(line)
            published = fields["published_at"]
            fields["published_at"] = datetime.fromisoformat(published) if published else None
            batch.append(Article(project=self.project, **fields))
            if len(batch) >= 500:
                Article.objects.bulk_create(batch)
                batch.clear()
                self.beat()
        if batch:
            Article.objects.bulk_create(batch)

    def add_article(self, pk: int, record: ArticleRecord) -> None:
        fields = {
            "pk": pk,
            "source_id": record.source_id,
            "title": record.title,
            "body": record.body,
            "url": record.url,
            "source": record.source,
            "published_at": record.published_at,
            "meta": record.meta,
        }
        self.articles.write(orjson.dumps(fields) + b"\n")

    def _add_insert_row(self, row: tuple) -> None:
        self.rows.append(row)
        self.batch_chars += len(row[5])
        # Bounded by count and by text size, so long comments cannot fill the memory.
        if len(self.rows) >= WRITE_BATCH or self.batch_chars >= WRITE_BATCH_CHARS:
            self._insert_rows()

    def _insert_rows(self) -> None:
        with connection.cursor() as cursor:
            cursor.executemany(self.insert_sql, self.rows)
        self.rows.clear()
        self.batch_chars = 0


def _bounded_queued_writer(cursor: Any) -> Any:
    """psycopg's queued COPY writer with a short queue.

    The writer thread lets parsing go on while the server digests the last rows (a quarter
    faster), but psycopg queues up to 1,024 buffers of up to 1 MB: with long comments and a
    busy server that is a gigabyte. Four buffers keep the server fed and the memory flat.
    """
    from queue import Queue

    from psycopg.copy import QueuedLibpqWriter

    writer = QueuedLibpqWriter(cursor)
    writer._queue = Queue(maxsize=COPY_QUEUE_BUFFERS)  # psycopg's attribute, see docstring
    return writer


def _same(value: Any) -> Any:
    return value
