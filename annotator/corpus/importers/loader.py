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

This module holds the entry points (``import_file``, ``import_stream``, ``load_records``),
their ``ImportResult``, the ``ANALYZE`` after a large import and the progress meter that
counts the bytes of both passes. The skeleton and its three steps are ``tree.py``; the
key reservation and the COPY/INSERT writer are ``row_writers.py``.

Existing articles and comments are never modified: the same file twice adds nothing, and
an updated thread adds only its new comments (which may answer old ones).

Memory: the scan keeps each comment's id (about 100 bytes) until the tree is built, then
about 40 bytes per comment; a million comments peak near 200 MB of RSS, Django included
(bench/import_speed.py). Imports into one project queue behind each other (a row lock on
the project). On SQLite the transaction holds the database's only write lock while it
writes, so other writers wait for it (the busy timeout).

``run_import_job`` (jobs.py) runs an ``ImportJob`` row (the browser's progress bar) through
the same path and records its outcome; ``tasks.py`` runs it in the background worker.
jobs.py imports this module, so its names (``run_import_job``, ``JobProgress``,
``JobAbandoned``), still importable from here, are fetched from it on first use.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.db import connection, transaction

from annotator.corpus.importers import FORMAT_SPECS
from annotator.corpus.importers.archives import Part, plan_import, read_parts
from annotator.corpus.importers.records import Notice, Record
from annotator.corpus.importers.tree import _Skeleton
from annotator.corpus.models import Article, Comment, Project

Progress = Callable[[int, int], None]
Opener = Callable[[], BinaryIO]

PROGRESS_INTERVAL = 0.5  # seconds between progress reports
ANALYZE_AFTER_ROWS = 10_000  # imports writing at least this many rows refresh the statistics

# Defined in jobs.py, which imports this module; looked up there when first asked for here.
_JOB_NAMES = frozenset({"JobAbandoned", "JobProgress", "run_import_job"})


def __getattr__(name: str) -> Any:
    """The names that moved to jobs.py, for callers that import them from the loader."""
    if name in _JOB_NAMES:
        from annotator.corpus.importers import jobs

        return getattr(jobs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(slots=True)
class ImportResult:
    """What an import added and what it found already there."""

    articles_added: int = 0
    articles_unchanged: int = 0
    comments_added: int = 0
    comments_unchanged: int = 0
    # What the file lacked or held that was not imported, by key (``records.Notice``).
    notices: dict[str, Notice] = field(default_factory=dict)

    def __add__(self, other: ImportResult) -> ImportResult:
        """The counts of two imports together (several files in one command)."""
        notices = dict(self.notices)
        for key, notice in other.notices.items():
            earlier = notices.get(key)
            count = notice.count + (earlier.count if earlier else 0)
            notices[key] = Notice(key, count, notice.text)
        return ImportResult(
            self.articles_added + other.articles_added,
            self.articles_unchanged + other.articles_unchanged,
            self.comments_added + other.comments_added,
            self.comments_unchanged + other.comments_unchanged,
            notices,
        )

    def notice_lines(self) -> list[str]:
        """Each notice as a sentence with its count, in the order they were first met."""
        return [
            notice.text.replace("{count}", f"{notice.count:,}") for notice in self.notices.values()
        ]


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
    options = options or {}
    parts = plan_import(opener, filename, fmt, encoding=options.get("encoding"))
    return import_parts(
        project,
        opener,
        parts,
        size=size,
        filename=filename,
        options=options,
        progress=progress,
        before_commit=before_commit,
    )


def import_parts(
    project: Project,
    opener: Opener | None,
    parts: list[Part],
    *,
    size: int,
    filename: str,
    options: dict | None = None,
    progress: Progress | None = None,
    before_commit: Callable[[ImportResult], None] | None = None,
    members_of: Callable[[], Any] | None = None,
) -> ImportResult:
    """Import the ``parts`` that ``archives.plan_import`` (or ``plan_folder``) found.

    The tree is lenient (``FormatSpec.lenient_tree``) when every part's format is.
    """
    meter = _ProgressMeter(progress, 2 * size)

    def read_records(read_pass: int) -> Iterator[Record]:
        meter.start_pass(read_pass, size)
        return read_parts(
            opener,
            parts,
            count=meter.advance,
            options=options,
            check_utf8=read_pass == 1,
            members_of=members_of,
        )

    lenient = all(FORMAT_SPECS[part.fmt].lenient_tree for part in parts)
    result = load_records(
        project,
        read_records,
        filename,
        before_commit=before_commit,
        heartbeat=meter.beat,
        lenient=lenient,
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
    lenient: bool = False,
) -> ImportResult:
    """Validate, build and write the records that ``read_records(pass)`` yields, twice.

    ``read_records`` must yield the same records in the same order for pass 1 and 2.
    Everything is written in one transaction (a savepoint when the caller has one open);
    ``before_commit(result)`` runs last inside it. A large import is followed by
    ``ANALYZE`` once it commits (``analyze_after_import``). ``heartbeat()`` is called often
    while the tree is resolved between the passes, where no bytes are read (a job's
    heartbeat must go on there, or the reaper takes a live import for a dead one).
    """
    skeleton = _Skeleton(filename, beat=heartbeat, lenient=lenient)
    skeleton.scan(read_records(1))
    with transaction.atomic():
        skeleton.resolve(project)
        added = skeleton.write(project, read_records(2))
        result = ImportResult(
            articles_added=skeleton.articles_added,
            articles_unchanged=skeleton.articles_unchanged,
            comments_added=added,
            comments_unchanged=skeleton.comments_unchanged,
            notices=dict(skeleton.notices),
        )
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
