"""The one loader behind every import format: validate the records, build the reply trees,
write them in bulk, all or nothing.

A file is read twice, so that memory does not grow with the texts:

1. **Scan** (no database): parse every record and keep only a skeleton of the comments
   in compact arrays (line, parent, position, depth; never the texts), catching what the
   file alone shows (duplicate ids, empty or oversized texts).
2. **Resolve** (inside the write transaction): match articles and comments already in
   the project, resolve parent ids against the file and the database, refuse unknown
   articles, missing parents, cycles and trees too deep for the path column, and work out
   each new comment's position (after its existing siblings), depth and primary key.
   It reads no bytes, so it reports the same progress again as it goes: a job's heartbeat
   goes on (heartbeats.py), and the reaper never takes a long resolve for a dead worker.
3. **Write**: parse the file again and stream the new rows to the database: PostgreSQL's
   ``COPY`` through psycopg 3, batched ``INSERT`` elsewhere (SQLite). Parents may come after
   their replies in the file because primary keys are reserved up front and foreign keys are
   checked at commit.

Existing articles and comments are never modified: the same file twice adds nothing, and
an updated thread adds only its new comments (which may answer old ones).

Memory: the scan keeps each comment's id (about 100 bytes) until the tree is built, then
about 40 bytes per comment; a million comments peak near 200 MB of RSS, Django included
(bench/import_speed.py). Imports into one project queue behind each other (a row lock on
the project). On SQLite the transaction holds the database's only write lock while it
writes, so other writers wait for it (the busy timeout).

``run_import_job`` runs an ``ImportJob`` row (the browser's progress bar) through the same
path and records its outcome; ``tasks.py`` runs it in the background worker.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from annotator.corpus.importers import detect_format, parse, refuse_unsupported
from annotator.corpus.importers.records import ArticleRecord, ImportFileError, Record
from annotator.corpus.models import (
    MAX_SIBLINGS,
    PATH_SEGMENT_WIDTH,
    Article,
    Comment,
    ImportJob,
    PreviewComment,
    Project,
    path_segment,
)
from annotator.corpus.uploads import NO_SPACE_MESSAGE, is_disk_full

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
Opener = Callable[[], BinaryIO]

HEAD_BYTES = 64 * 1024
PROGRESS_INTERVAL = 0.5  # seconds between progress reports
WRITE_BATCH = 5_000  # comment rows per INSERT batch (where there is no COPY)
WRITE_BATCH_CHARS = 2_000_000  # and at most this much comment text per batch
COPY_QUEUE_BUFFERS = 4  # buffers of about 1 MB waiting for the COPY writer thread
LOOKUP_BATCH = 500  # ids per IN (...) query, well under SQLite's parameter limit
RESERVE_BATCH = 20_000  # primary keys reserved per query on PostgreSQL
ANALYZE_AFTER_ROWS = 10_000  # imports writing at least this many rows refresh the statistics

ROOT = -1  # parent code of a comment that answers the article
UNRESOLVED = -2  # parent code while a parent id is waiting to be found
# Parent codes <= EXTERNAL point into the list of comments already in the database:
# code = EXTERNAL - index.
EXTERNAL = -3
UNKNOWN_DEPTH = 0xFFFF
VISITING = 0xFFFE
_SEGMENTS = [path_segment(position) for position in range(1, 1001)]


def _no_beat() -> None:
    """The heartbeat of an import that reports no progress."""


@dataclass(slots=True)
class ImportResult:
    """What an import added and what it found already there."""

    articles_added: int = 0
    articles_unchanged: int = 0
    comments_added: int = 0
    comments_unchanged: int = 0

    def __add__(self, other: ImportResult) -> ImportResult:
        """The counts of two imports together (several files in one command)."""
        return ImportResult(
            self.articles_added + other.articles_added,
            self.articles_unchanged + other.articles_unchanged,
            self.comments_added + other.comments_added,
            self.comments_unchanged + other.comments_unchanged,
        )


# --- Entry points -----------------------------------------------------------------------------


def import_file(
    project: Project,
    path: str | os.PathLike[str],
    *,
    fmt: str = "auto",
    filename: str | None = None,
    options: dict | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import the file at ``path`` into ``project``; ``ImportFileError`` if it is refused.

    ``filename`` is the name errors show (the upload's name; the path's name by default).
    ``progress(bytes_done, bytes_total)`` is called every half second or so; the file is
    read twice, so ``bytes_total`` is twice its size. It must not use the default database
    connection: on PostgreSQL that connection is busy with a COPY while the callback runs
    (``JobProgress`` uses a connection of its own).
    """
    path = Path(path)
    return import_stream(
        project,
        lambda: open(path, "rb"),
        size=path.stat().st_size,
        filename=filename or path.name,
        fmt=fmt,
        options=options,
        progress=progress,
    )


def import_stream(
    project: Project,
    opener: Opener,
    *,
    size: int,
    filename: str,
    fmt: str = "auto",
    options: dict | None = None,
    progress: Progress | None = None,
    before_commit: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Import a file that ``opener`` opens afresh for each pass (a path, an uploaded file).

    A file that is no thread at all (a PDF, an image...) is refused with what it is, even
    when a format was named: every parser would only say that some line is unreadable.

    ``before_commit(result)`` runs inside the write transaction once the rows are written;
    raising there rolls the import back.
    """
    with opener() as stream:
        head = stream.read(HEAD_BYTES)
    refuse_unsupported(head, filename)
    if fmt == "auto":
        fmt = detect_format(head, filename)
    meter = _ProgressMeter(progress, 2 * size)

    def read_records(read_pass: int) -> Iterator[Record]:
        meter.start_pass(read_pass, size)
        with opener() as stream:
            reader = io.BufferedReader(_CountingReader(stream, meter.advance), 256 * 1024)
            yield from parse(reader, fmt, filename, options)

    result = load_records(
        project, read_records, filename, before_commit=before_commit, heartbeat=meter.beat
    )
    meter.finish()
    return result


def load_records(
    project: Project,
    read_records: Callable[[int], Iterable[Record]],
    filename: str,
    *,
    before_commit: Callable[[ImportResult], None] | None = None,
    heartbeat: Callable[[], None] | None = None,
) -> ImportResult:
    """Validate, build and write the records that ``read_records(pass)`` yields, twice.

    ``read_records`` must yield the same records in the same order for pass 1 and 2.
    Everything is written in one transaction (a savepoint when the caller has one open);
    ``before_commit(result)`` runs last inside it. A large import is followed by
    ``ANALYZE`` once it commits (``analyze_after_import``). ``heartbeat()`` is called often
    while the tree is resolved between the passes, where no bytes are read (a job's
    heartbeat must go on there, or the reaper takes a live import for a dead one).
    """
    skeleton = _Skeleton(filename, beat=heartbeat)
    skeleton.scan(read_records(1))
    with transaction.atomic():
        skeleton.resolve(project)
        result = skeleton.write(project, read_records(2))
        if before_commit is not None:
            before_commit(result)
        analyze_after_import(result)
    return result


def analyze_after_import(result: ImportResult) -> bool:
    """Refresh PostgreSQL's planner statistics once a large import commits; whether it will.

    Without it, and with autovacuum off or behind, the planner keeps the row counts from
    before the import: after 200k comments went into one project, the workspace's
    previous/next lookup in another chose a sequential scan over 10 M rows (3.3-3.9 s per
    render instead of 2 ms; bench/analyze_after_import.py). ``ANALYZE`` samples a fixed
    number of rows, so it takes about a second whatever the table's size, and it blocks no
    reads or writes. It runs after the outermost commit (a command importing several files
    in one transaction analyses once per large file, after all of them).
    """
    written = result.articles_added + result.comments_added
    if connection.vendor != "postgresql" or written < ANALYZE_AFTER_ROWS:
        return False
    tables = [Comment._meta.db_table]
    if result.articles_added:
        tables.append(Article._meta.db_table)

    def analyze() -> None:
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")

    transaction.on_commit(analyze)
    return True


# --- Progress ---------------------------------------------------------------------------------


class _CountingReader(io.RawIOBase):
    """A raw reader that reports every byte read from the wrapped file (for progress)."""

    def __init__(self, stream: BinaryIO, on_read: Callable[[int], None]):
        super().__init__()
        self._stream = stream
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        readinto = getattr(self._stream, "readinto", None)
        if readinto is not None:
            count = readinto(buffer) or 0
        else:
            data = self._stream.read(len(buffer))
            count = len(data)
            buffer[:count] = data
        if count:
            self._on_read(count)
        return count


class _ProgressMeter:
    """Turns bytes read in each pass into calls to ``progress`` at most every half second."""

    def __init__(self, progress: Progress | None, total: int):
        self.progress = progress
        self.total = total
        self.done = 0
        self.offset = 0
        self.last = time.monotonic()  # the first report after an interval, none for small files

    def start_pass(self, read_pass: int, size: int) -> None:
        self.offset = (read_pass - 1) * size
        self.done = self.offset

    def advance(self, count: int) -> None:
        self.done += count
        self.beat()

    def beat(self) -> None:
        """Report the progress, at most every half second (also while the import resolves
        the tree between the passes, reading nothing: it is alive)."""
        if self.progress is None:
            return
        now = time.monotonic()
        if now - self.last >= PROGRESS_INTERVAL:
            self.last = now
            self.progress(min(self.done, self.total), self.total)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(self.total, self.total)


# --- The skeleton: pass 1 and the tree --------------------------------------------------------


class _ArticleEntry:
    """What the loader keeps of one article while it reads the file (never the texts)."""

    __slots__ = (
        "comment_lines",
        "first_comment_line",
        "ids",
        "indexes",
        "is_new",
        "pending",
        "pk",
        "record_line",
        "slot",
        "source_id",
        "written",
    )

    def __init__(self, source_id: str, slot: int):
        self.source_id = source_id
        self.slot = slot
        self.record_line: int | None = None
        self.first_comment_line: int | None = None
        self.ids: dict[str, int] = {}  # comment source id -> index within the article
        self.indexes = array("q")  # index within the article -> index in the file
        self.pending: list[tuple[int, str]] = []  # (index in the file, parent id)
        self.pk: int | None = None
        self.is_new = False
        self.written = False


class _Skeleton:
    """Every comment of a file as a few numbers per comment, indexed in file order."""

    def __init__(self, filename: str, beat: Callable[[], None] | None = None):
        self.filename = filename
        # Called between the statements and batches of the resolve phase (a job's heartbeat).
        self.beat: Callable[[], None] = beat or _no_beat
        self.max_chars = settings.IMPORT_MAX_TEXT_CHARS
        path_field = Comment._meta.get_field("path")
        self.max_depth = path_field.max_length // PATH_SEGMENT_WIDTH - 1
        self.articles: dict[str, _ArticleEntry] = {}
        self.slots: list[_ArticleEntry] = []
        self.line = array("q")
        self.article = array("q")  # slot of the comment's article
        self.parent = array("q")  # file index of the parent, or ROOT/UNRESOLVED/EXTERNAL-i
        self.position = array("q")  # 0 once matched to a comment already in the database
        self.depth = array("H")
        self.pk = array("q")
        self.external: list[tuple[int, str, int]] = []  # (pk, path, depth) of old parents
        self.articles_added = 0
        self.articles_unchanged = 0
        self.comments_unchanged = 0

    def fail(self, line: int | None, reason: str) -> ImportFileError:
        return ImportFileError(self.filename, line, reason)

    # Pass 1 ------------------------------------------------------------------------------

    def scan(self, records: Iterable[Record]) -> None:
        """Read every record once, keeping the skeleton and refusing what the file shows."""
        articles = self.articles
        lines, parents = self.line, self.parent
        max_chars = self.max_chars
        for record in records:
            if type(record) is ArticleRecord:
                self._scan_article(record)
                continue
            entry = articles.get(record.article_id)
            if entry is None:
                entry = self._entry(record.article_id)
            if entry.first_comment_line is None:
                entry.first_comment_line = record.line
            text = record.text
            if len(text) > max_chars:
                raise self.fail(
                    record.line,
                    f'comment "{record.source_id}" is {len(text):,} characters long, '
                    f"over the limit of {max_chars:,}",
                )
            if not text or text.isspace():
                raise self.fail(record.line, f'comment "{record.source_id}" has no text')
            if "\x00" in text:
                raise self.fail(
                    record.line, f'comment "{record.source_id}" contains a NUL character'
                )
            self._check_length(record.line, "comment id", record.source_id, 255)
            self._check_length(record.line, "author", record.author, 255)
            ids = entry.ids
            local = len(ids)
            earlier = ids.setdefault(record.source_id, local)
            if earlier != local:
                raise self.fail(
                    record.line,
                    f'duplicate comment id "{record.source_id}" in article '
                    f'"{entry.source_id}" (also on line {lines[entry.indexes[earlier]]})',
                )
            index = len(lines)
            lines.append(record.line)
            entry.indexes.append(index)
            self.article.append(entry.slot)
            parent_id = record.parent_id
            if parent_id is None:
                parents.append(ROOT)
            else:
                parent_local = ids.get(parent_id)
                if parent_local is None or parent_local == local:
                    parents.append(UNRESOLVED)
                    entry.pending.append((index, parent_id))
                else:
                    parents.append(entry.indexes[parent_local])
        count = len(lines)
        if not count and not self.slots:
            raise self.fail(None, "no articles or comments found")
        self.position = array("q", [1]) * count  # a real position comes in resolve()
        self.depth = array("H", [UNKNOWN_DEPTH]) * count
        self.pk = array("q", bytes(8 * count))

    def _entry(self, source_id: str) -> _ArticleEntry:
        entry = _ArticleEntry(source_id, len(self.slots))
        self.articles[source_id] = entry
        self.slots.append(entry)
        return entry

    def _scan_article(self, record: ArticleRecord) -> None:
        entry = self.articles.get(record.source_id)
        if entry is None:
            entry = self._entry(record.source_id)
        elif entry.record_line is not None:
            raise self.fail(
                record.line,
                f'duplicate article id "{record.source_id}" (also on line {entry.record_line})',
            )
        entry.record_line = record.line
        self._check_length(record.line, "article id", record.source_id, 255)
        self._check_length(record.line, "source", record.source, 255)
        self._check_length(record.line, "url", record.url, 2000)

    def _check_length(self, line: int, what: str, value: str, limit: int) -> None:
        if len(value) > limit:
            raise self.fail(line, f"{what} is {len(value):,} characters long, over {limit:,}")

    # The tree ---------------------------------------------------------------------------

    def resolve(self, project: Project) -> None:
        """Match the skeleton to the database and compute every new comment's place."""
        # Concurrent imports into one project would compute the same positions: queue them.
        list(Project.objects.select_for_update().filter(pk=project.pk).values_list("pk"))
        beat = self.beat
        beat()
        existing: dict[str, int] = {}
        source_ids = list(self.articles)
        for start in range(0, len(source_ids), LOOKUP_BATCH):
            beat()
            existing.update(
                Article.objects.filter(
                    project=project, source_id__in=source_ids[start : start + LOOKUP_BATCH]
                ).values_list("source_id", "pk")
            )
        old_with_comments: list[_ArticleEntry] = []
        for entry in self.slots:
            beat()
            entry.pk = existing.get(entry.source_id)
            if entry.pk is None:
                first_comment = entry.first_comment_line
                if entry.record_line is None or (
                    first_comment is not None and first_comment < entry.record_line
                ):
                    raise self.fail(
                        first_comment,
                        f'unknown article "{entry.source_id}": it is neither earlier in the '
                        "file nor already in the project",
                    )
                self.articles_added += 1
                entry.is_new = True
                self._place(entry, {}, {})
            else:
                if entry.record_line is not None:
                    self.articles_unchanged += 1
                if entry.ids:
                    old_with_comments.append(entry)
                else:
                    self._place(entry, {}, {})
        for start in range(0, len(old_with_comments), LOOKUP_BATCH // 5):
            beat()
            batch = old_with_comments[start : start + LOOKUP_BATCH // 5]
            old: dict[int, dict[str, tuple[int, str, int]]] = {entry.pk: {} for entry in batch}
            last_position: dict[int, dict[int | None, int]] = {entry.pk: {} for entry in batch}
            rows = Comment.objects.filter(article_id__in=list(old)).values_list(
                "article_id", "source_id", "pk", "parent_id", "position", "path", "depth"
            )
            for article_id, source_id, pk, parent_id, position, path, depth in rows.iterator(
                chunk_size=2000
            ):
                beat()
                old[article_id][source_id] = (pk, path, depth)
                positions = last_position[article_id]
                if position > positions.get(parent_id, 0):
                    positions[parent_id] = position
            for entry in batch:
                beat()
                self._place(entry, old[entry.pk], last_position[entry.pk])
        self._reserve_keys()
        beat()

    def _place(
        self,
        entry: _ArticleEntry,
        old: dict[str, tuple[int, str, int]],
        last_position: dict[int | None, int],
    ) -> None:
        """Parents, depth, position of one article's new comments; old ones left alone."""
        indexes, parent, position = entry.indexes, self.parent, self.position
        depth, max_depth = self.depth, self.max_depth
        external: dict[str, int] = {}

        def external_code(source_id: str) -> int:
            code = external.get(source_id)
            if code is None:
                code = EXTERNAL - len(self.external)
                self.external.append(old[source_id])
                external[source_id] = code
            return code

        if old:
            for source_id, local in entry.ids.items():
                if source_id in old:
                    position[indexes[local]] = 0  # already imported: left untouched
                    self.comments_unchanged += 1
        missing: list[tuple[int, str]] = []
        for index, parent_id in entry.pending:
            parent_local = entry.ids.get(parent_id)
            if parent_local is not None:
                parent[index] = indexes[parent_local]
            elif parent_id in old:
                parent[index] = external_code(parent_id)
            elif position[index] != 0:
                missing.append((self.line[index], parent_id))
        if missing:
            line, parent_id = min(missing)
            raise self.fail(
                line,
                f'parent "{parent_id}" not found in article "{entry.source_id}" '
                "(neither in the file nor already imported)",
            )
        if old:
            # A new reply to a comment that was already imported hangs under the old row.
            ids_by_index = None
            for index in indexes:
                code = parent[index]
                if code >= 0 and position[code] == 0 and position[index] != 0:
                    if ids_by_index is None:
                        ids_by_index = {indexes[local]: sid for sid, local in entry.ids.items()}
                    parent[index] = external_code(ids_by_index[code])
        next_position: dict[int, int] = {}
        for index in indexes:
            if position[index] == 0:
                continue
            code = parent[index]
            if code == ROOT:
                depth[index] = 0
            elif code >= 0 and depth[code] < max_depth:  # parent already placed: the usual case
                depth[index] = depth[code] + 1
            else:
                self._depth_of(index, entry)
            number = next_position.get(code)
            if number is None:
                if code == ROOT:
                    number = last_position.get(None, 0) + 1
                elif code <= EXTERNAL:
                    number = last_position.get(self.external[EXTERNAL - code][0], 0) + 1
                else:
                    number = 1
            if number > MAX_SIBLINGS:
                raise self.fail(
                    self.line[index], f"more than {MAX_SIBLINGS:,} replies to one comment"
                )
            position[index] = number
            next_position[code] = number + 1
        entry.ids = {}
        entry.indexes = array("q")
        entry.pending = []

    def _depth_of(self, index: int, entry: _ArticleEntry) -> None:
        """Set the depth of ``index`` and its new ancestors; refuse cycles and deep trees."""
        parent, depth = self.parent, self.depth
        chain = []
        node = index
        while True:
            if node == ROOT:
                base = -1
                break
            if node <= EXTERNAL:
                base = self.external[EXTERNAL - node][2]
                break
            known = depth[node]
            if known == VISITING:
                raise self._cycle(chain[chain.index(node) :], entry)
            if known != UNKNOWN_DEPTH:
                base = known
                break
            depth[node] = VISITING
            chain.append(node)
            node = parent[node]
        for node in reversed(chain):
            base += 1
            if base > self.max_depth:
                raise self.fail(
                    self.line[node],
                    f"comment nested {base + 1} levels deep; at most {self.max_depth + 1} "
                    "levels fit",
                )
            depth[node] = base

    def _cycle(self, cycle: list[int], entry: _ArticleEntry) -> ImportFileError:
        ids_by_index = {entry.indexes[local]: sid for sid, local in entry.ids.items()}
        names = " -> ".join(f'"{ids_by_index[node]}"' for node in cycle)
        first = min(cycle, key=lambda node: self.line[node])
        return self.fail(
            self.line[first],
            f'cycle of parents: {names} -> "{ids_by_index[cycle[0]]}" '
            f'in article "{entry.source_id}"',
        )

    def _reserve_keys(self) -> None:
        """Primary keys for the new rows, known before writing so replies can name parents."""
        new_articles = [entry for entry in self.slots if entry.pk is None]
        article_keys = _reserve(Article, len(new_articles), self.beat)
        for entry, key in zip(new_articles, article_keys, strict=True):
            entry.pk = key
        position, pk = self.position, self.pk
        new_count = len(position) - position.count(0)
        # Key by key into the array: lists of a million ints would cost 70 MB.
        keys = iter(_reserve(Comment, new_count, self.beat))
        for index in range(len(position)):
            if position[index]:
                pk[index] = next(keys)

    # Pass 2 -----------------------------------------------------------------------------

    def write(self, project: Project, records: Iterable[Record]) -> ImportResult:
        """Read the file again and write the new articles and comments in batches."""
        with _RowWriter(project, self.beat) as writer:
            added = self._write_rows(writer, records)
            writer.close()
        return ImportResult(
            articles_added=self.articles_added,
            articles_unchanged=self.articles_unchanged,
            comments_added=added,
            comments_unchanged=self.comments_unchanged,
        )

    def _write_rows(self, writer: _RowWriter, records: Iterable[Record]) -> int:
        """The hot loop: one row per new comment, path built from the skeleton."""
        slots, articles = self.slots, self.articles
        position, depth, parent, pk, article = (
            self.position,
            self.depth,
            self.parent,
            self.pk,
            self.article,
        )
        external = self.external
        segments, segment_count = _SEGMENTS, len(_SEGMENTS)
        adapt_time, now, empty_meta = writer.adapt_time, writer.now, writer.empty_meta
        add_row = writer.add_row
        index = 0
        count = len(position)
        added = 0
        for record in records:
            if type(record) is ArticleRecord:
                entry = articles[record.source_id]
                if entry.is_new and not entry.written:
                    entry.written = True
                    writer.add_article(entry.pk, record)
                continue
            if index >= count:
                raise self.fail(record.line, "the file changed while it was being imported")
            this = index
            index += 1
            place = position[this]
            if not place:
                continue
            code = parent[this]
            node = this
            parts = []
            while node >= 0:
                number = position[node]
                parts.append(
                    segments[number - 1] if number <= segment_count else path_segment(number)
                )
                node = parent[node]
            if node == ROOT:
                path = "".join(reversed(parts))
                parent_pk = pk[code] if code >= 0 else None
            else:
                old_parent = external[EXTERNAL - node]
                path = old_parent[1] + "".join(reversed(parts))
                parent_pk = pk[code] if code >= 0 else old_parent[0]
            meta = record.meta
            add_row(
                (
                    pk[this],
                    slots[article[this]].pk,
                    parent_pk,
                    record.source_id,
                    record.author,
                    record.text,
                    adapt_time(record.posted_at),
                    place,
                    depth[this],
                    path,
                    orjson.dumps(meta).decode() if meta else empty_meta,
                    now,
                )
            )
            added += 1
        if index != count:
            raise self.fail(None, "the file changed while it was being imported")
        return added


# --- Writing ------------------------------------------------------------------------------------


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


# --- Jobs ---------------------------------------------------------------------------------------


class JobAbandoned(Exception):
    """The job was failed by the reaper while this worker ran it (heartbeats.py): its rows
    are rolled back, so the "nothing was imported" the user was told stays true."""


def run_import_job(job: ImportJob) -> ImportResult | None:
    """Run one ``ImportJob``: import its file and record the outcome on the row.

    The job ends SUCCEEDED with its counts or FAILED with the reason, never RUNNING. Progress
    and the heartbeat are written while the import runs, through a second connection on
    PostgreSQL so that a browser polling from another request sees them while the import's
    transaction is open. SQLite allows one writer at a time, so there they are written only
    during the first pass, before the write transaction starts (whose lock then keeps the
    reaper off). Success is recorded inside the import's transaction, and every outcome only
    on a row still RUNNING: when the reaper failed the job first, the import rolls back and
    the reaper's message stands.
    """
    now = timezone.now()
    job.status = ImportJob.Status.RUNNING
    job.started_at = now
    job.heartbeat_at = now
    job.finished_at = None
    job.processed_bytes = 0
    job.error = ""
    storage, name = job.file.storage, job.file.name
    with contextlib.suppress(OSError):  # a missing file is reported below, as a failure
        job.total_bytes = storage.size(name)
    job.save(
        update_fields=[
            "status",
            "started_at",
            "heartbeat_at",
            "finished_at",
            "processed_bytes",
            "error",
            "total_bytes",
        ]
    )
    reporter = JobProgress(job)
    running = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING)

    def record_success(result: ImportResult) -> None:
        job.status = ImportJob.Status.SUCCEEDED
        job.finished_at = timezone.now()
        job.processed_bytes = job.total_bytes
        job.articles_added = result.articles_added
        job.comments_added = result.comments_added
        job.comments_unchanged = result.comments_unchanged
        if not running.update(
            status=job.status,
            finished_at=job.finished_at,
            heartbeat_at=job.finished_at,
            processed_bytes=job.processed_bytes,
            articles_added=job.articles_added,
            comments_added=job.comments_added,
            comments_unchanged=job.comments_unchanged,
        ):
            raise JobAbandoned(job.pk)

    from annotator.corpus.previews import has_reading, import_reading

    error = ""
    result = None
    try:
        if job.format == ImportJob.Format.TEXT and has_reading(job):
            # What the preview showed, from its stored rows: the file is not read again.
            result = import_reading(job, progress=reporter, before_commit=record_success)
            PreviewComment.objects.filter(job=job).delete()
        else:
            result = import_stream(
                job.project,
                lambda: storage.open(name, "rb"),
                size=job.total_bytes,
                filename=job.original_name or Path(name).name,
                fmt=job.format,
                options=job.options,
                progress=reporter,
                before_commit=record_success,
            )
    except JobAbandoned:
        logger.warning("import job %s was failed by the reaper while it ran", job.pk)
        job.refresh_from_db()
        return None
    except ImportFileError as refused:
        error = str(refused)
    except FileNotFoundError:
        error = f"{job.original_name}: the uploaded file is gone; upload it again."
    except Exception as unexpected:
        if is_disk_full(unexpected):
            error = NO_SPACE_MESSAGE
        else:
            logger.exception("import job %s stopped on an unexpected error", job.pk)
            error = (
                f"{job.original_name}: the import stopped on an unexpected error "
                f"({type(unexpected).__name__}); nothing was written."
            )
    finally:
        reporter.close()
    if error:
        result = None
        job.status = ImportJob.Status.FAILED
        job.error = error
        job.finished_at = timezone.now()
        if not running.update(status=job.status, error=error, finished_at=job.finished_at):
            job.refresh_from_db()  # the reaper was first; its message stands
    return result


class JobProgress:
    """A progress callback that writes ``processed_bytes`` and the heartbeat on the job's row.

    ``written`` keeps the values it wrote, in order (tests and logs read it).
    """

    def __init__(self, job: ImportJob):
        self.job = job
        self.written: list[int] = []
        self._connection = None

    def __call__(self, done: int, total: int) -> None:
        """Record ``done`` of ``total`` bytes as the job's share of its file's size."""
        if done >= total:
            return  # the end is recorded with the outcome, on the job's own row
        processed = self.job.total_bytes * done // total if total else 0
        if connection.vendor == "postgresql":
            self._write_postgresql(processed)
        elif not connection.in_atomic_block:
            ImportJob.objects.filter(pk=self.job.pk).update(
                processed_bytes=processed, heartbeat_at=timezone.now()
            )
        else:
            return
        self.written.append(processed)

    def _write_postgresql(self, processed: int) -> None:
        """Update the row through a connection of its own that commits at once."""
        try:
            if self._connection is None:
                self._connection = connections.create_connection(DEFAULT_DB_ALIAS)
                with self._connection.cursor() as cursor:
                    # Never wait on the row: a skipped update is better than a stuck import.
                    cursor.execute("SET lock_timeout = '200ms'")
            with self._connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {ImportJob._meta.db_table} "
                    "SET processed_bytes = %s, heartbeat_at = %s WHERE id = %s",
                    [processed, timezone.now(), self.job.pk],
                )
        except Exception:
            logger.warning("could not write the progress of import job %s", self.job.pk)

    def close(self) -> None:
        """Close the progress connection, if one was opened."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
