"""One export as a ZIP: the data file (or folder) in the chosen format and the dataset card.

``build_export`` is what the export page's background task and ``manage.py export_corpus``
call. The data file is streamed into the archive as rows arrive (``ZipFile.open(name, "w")``),
never held in memory or copied through a temporary file; the card is written after it, from
the counts the stream collected. Folder layouts (ConvoKit, RumourEval) get a ``ZipFolder``
instead, which streams each of their files into the archive the same way.

The data file is deflated with ISA-L (``isal``) instead of zlib: the same deflate format,
so every unzip tool reads it, at level 1 about the size zlib's level 1 gives in a quarter
of the CPU (100,000 comments as JSON Lines, 211 MB: 0.18 s against 0.67 s). Deflating runs
on a thread of its own (``BackgroundWriter``; ISA-L releases the GIL) while rows are built.

While an export runs, the cyclic garbage collector runs rarely (``_rare_collections``): an
export allocates millions of short-lived rows, dicts and tuples, which reference counting
frees, and none of which form cycles; with the default threshold (700 allocations) the
collector still ran every few rows and scanned them, about an eighth of the export's CPU
(100,000 comments as JSON Lines: 7.1 s of CPU against 6.2 s, on a loaded machine).
"""

from __future__ import annotations

import contextlib
import gc
import io
import queue
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from django.db import connection, transaction
from django.utils import timezone
from isal import isal_zlib

from annotator.corpus.models import Project
from annotator.datasets.card import dataset_card
from annotator.datasets.exporters import exporter_for, is_folder
from annotator.datasets.figures import agreement_csv, agreement_records
from annotator.datasets.options import ExportOptions
from annotator.datasets.rows import RowSource

CARD_NAME = "README.md"
AGREEMENT_NAME = "agreement.csv"
# The collector's thresholds while an export runs: a young-generation collection every
# 100,000 allocations instead of 700, the older ones proportionally rarer.
EXPORT_GC_THRESHOLD = (100_000, 50, 1_000)

ZIP_LEVEL = 1  # fast deflate: text still shrinks ~3x; level 6 is twice as slow for ~10% less
ISAL_LEVEL = 1  # ISA-L's levels run 0-3; its 1 is zlib's 1 in size (see the module docstring)


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: a file name to offer, the counts, the archive's size."""

    filename: str
    comments: int
    labelled_comments: int
    annotations: int
    articles: int
    bytes: int
    data_file: str = ""
    context_comments: int = 0
    annotators: int = 0


def export_filename(project: Project, options: ExportOptions, at: datetime) -> str:
    """``<project-slug>-<format>-<yyyymmdd-hhmm>.zip`` (UTC)."""
    return f"{project.slug}-{options.format}-{at.astimezone(UTC):%Y%m%d-%H%M}.zip"


def build_export(
    project: Project,
    options: ExportOptions,
    destination: BinaryIO,
    progress: Callable[[int, int], None] | None = None,
) -> ExportSummary:
    """Write the export of ``project`` with ``options`` as a ZIP to ``destination``.

    The archive holds the data file (``comments.jsonl``, ``corpus.json``, ``comments.csv``
    or ``comments.parquet``; splits are a column, not separate files) or the data folder
    (``convokit-corpus/``, ``rumoureval/``), ``agreement.csv``
    (every agreement figure of the exported comments, ``datasets.figures``) and
    ``README.md``.
    ``destination`` needs only ``write`` (a seekable file gives a slightly tidier archive).
    ``progress(done, total)`` is called after every chunk of comments read.

    Raises ``ExportOptionsError`` for options that cannot be honoured (unknown question).

    On PostgreSQL the rows are read inside one transaction, so that the cursors stream from
    the server instead of being materialised first (Django's cursors outside a transaction
    are ``WITH HOLD``). ``progress`` runs inside that transaction: a job row updated from
    it through the default connection shows the new value only at the end; write it through
    a connection of its own (as ``corpus.importers.jobs.JobProgress`` does). On SQLite the
    rows are read without a transaction, which would take the write lock for the whole export.
    """
    exporter = exporter_for(options.format)
    started = timezone.now()
    seekable = _seekable(destination)
    stream = destination if seekable else _CountingWriter(destination)
    start = destination.tell() if seekable else 0
    with _rare_collections(), _streaming_reads():
        source = RowSource(project, options, with_context=exporter.KEEPS_TREES, progress=progress)
        with zipfile.ZipFile(
            stream,
            "w",
            compression=zipfile.ZIP_DEFLATED if exporter.COMPRESS else zipfile.ZIP_STORED,
            compresslevel=ZIP_LEVEL,
        ) as archive:
            compression = zipfile.ZIP_DEFLATED if exporter.COMPRESS else zipfile.ZIP_STORED
            notes: list[str] = []
            if is_folder(exporter):
                folder = ZipFolder(archive, exporter.FILENAME, started, compression)
                notes = exporter.write(source, folder) or []
            else:
                data_member = _member(exporter.FILENAME, started, compression, ZIP_LEVEL)
                with (
                    archive.open(data_member, "w", force_zip64=True) as member,
                    BackgroundWriter(_fast_deflate(member)) as out,
                ):
                    exporter.write(source, out)
            figures = source.agreement.figures()
            archive.writestr(
                _member(AGREEMENT_NAME, started, compression, ZIP_LEVEL),
                agreement_csv(agreement_records(figures, source.annotator_label)).encode("utf-8"),
            )
            card = dataset_card(
                source,
                data_file=exporter.FILENAME,
                exported_at=started,
                agreement=figures,
                notes=notes,
            )
            archive.writestr(
                _member(CARD_NAME, started, zipfile.ZIP_DEFLATED, 9), card.encode("utf-8")
            )
    size = destination.tell() - start if seekable else stream.written
    stats = source.stats
    return ExportSummary(
        filename=export_filename(project, options, started),
        comments=stats.comments,
        labelled_comments=stats.labelled_comments,
        annotations=stats.annotations,
        articles=stats.articles,
        bytes=size,
        data_file=exporter.FILENAME,
        context_comments=stats.context_comments,
        annotators=stats.annotator_count,
    )


class ZipFolder:
    """A folder of the export's ZIP that a folder-layout exporter fills, one file at a time.

    Streamed files go through ISA-L and the background writer as a data file does; small
    ones are written at once. Every file is dated with the export's time. ``zipfile`` keeps
    one entry (about 0.5 KB) per file until it writes the archive's directory at the end,
    so a layout of one file per comment costs that much memory per comment.
    """

    def __init__(self, archive: zipfile.ZipFile, name: str, at: datetime, compression: int):
        self._archive = archive
        self._prefix = name.rstrip("/") + "/"
        self._at = at
        self._compression = compression

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        """The file ``name`` of the folder, open for streaming into."""
        info = _member(self._prefix + name, self._at, self._compression, ZIP_LEVEL)
        with (
            self._archive.open(info, "w", force_zip64=True) as member,
            BackgroundWriter(_fast_deflate(member)) as out,
        ):
            yield out

    def write(self, name: str, data: bytes) -> None:
        """The small file ``name`` of the folder, written at once."""
        self._archive.writestr(
            _member(self._prefix + name, self._at, self._compression, ZIP_LEVEL), data
        )


def _member(name: str, at: datetime, compression: int, level: int) -> zipfile.ZipInfo:
    """A ZIP entry dated with the export's time (UTC), compressed as asked.

    ``ZipFile.open(name, "w")`` would date a streamed member 1980-01-01 and ``writestr``
    uses the local clock; every file of one export should carry the time it was made.
    """
    info = zipfile.ZipInfo(name, date_time=at.astimezone(UTC).timetuple()[:6])
    info.compress_type = compression
    info._compresslevel = level  # ZipInfo has no public way to set it before 3.13
    info.external_attr = 0o644 << 16  # rw-r--r-- when unzipped, as writestr(name) gives
    return info


def _fast_deflate(member: BinaryIO) -> BinaryIO:
    """``member`` (a ZIP entry open for writing, nothing written yet) deflating with ISA-L.

    ``zipfile`` has no way to choose the deflate implementation, so the entry's compressor
    (``_ZipWriteFile._compressor``, a ``zlib.compressobj``) is swapped for ISA-L's, which
    makes the same raw deflate stream (``wbits=-15``); the CRC and sizes stay zipfile's.
    A stored entry (Parquet) has no compressor and is left alone.
    """
    if getattr(member, "_compressor", None) is not None:
        member._compressor = isal_zlib.compressobj(ISAL_LEVEL, isal_zlib.DEFLATED, -15)
    return member


@contextlib.contextmanager
def _streaming_reads() -> Iterator[None]:
    if connection.vendor == "postgresql":
        with transaction.atomic():
            yield
    else:
        yield


_gc_lock = threading.Lock()
_gc_exports = 0
_gc_saved: tuple[int, ...] = ()


@contextlib.contextmanager
def _rare_collections() -> Iterator[None]:
    """Run the cyclic garbage collector rarely while any export runs (module docstring).

    The thresholds are process-wide, so they are raised when the first export starts and
    put back when the last one ends.
    """
    global _gc_exports, _gc_saved
    with _gc_lock:
        if _gc_exports == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(
                *(max(now, rare) for now, rare in zip(_gc_saved, EXPORT_GC_THRESHOLD, strict=True))
            )
        _gc_exports += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_exports -= 1
            if _gc_exports == 0:
                gc.set_threshold(*_gc_saved)


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable()) and stream.tell() >= 0
    except (AttributeError, OSError, ValueError):
        return False


class BackgroundWriter(io.RawIOBase):
    """Hands what is written to ``stream`` on to a thread that writes (and so compresses) it.

    zlib and file writes release the GIL, so the archive's deflate runs on another core
    while this thread reads rows and encodes the next megabyte. Writes are gathered into
    blocks of ``BLOCK_BYTES`` and at most ``QUEUE_BLOCKS`` blocks wait, so memory stays
    bounded. An error in the writing thread is raised here, at the next write or on close.
    """

    BLOCK_BYTES = 1 << 18
    QUEUE_BLOCKS = 2

    def __init__(self, stream: BinaryIO):
        super().__init__()
        self._stream = stream
        self._blocks: queue.Queue[bytes | None] = queue.Queue(self.QUEUE_BLOCKS)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._error: BaseException | None = None
        self._written = 0
        self._thread = threading.Thread(target=self._drain, name="export-writer", daemon=True)
        self._thread.start()

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        """Bytes written so far (pyarrow asks)."""
        return self._written

    def write(self, data) -> int:
        self._raise_if_failed()
        data = bytes(data)
        self._written += len(data)
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= self.BLOCK_BYTES:
            self._hand_over()
        return len(data)

    def _hand_over(self) -> None:
        if self._pending:
            self._blocks.put(b"".join(self._pending))
            self._pending.clear()
            self._pending_bytes = 0

    def _drain(self) -> None:
        while (block := self._blocks.get()) is not None:
            if self._error is None:
                try:
                    self._stream.write(block)
                except BaseException as error:  # handed to the writing side
                    self._error = error

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        if not self.closed:
            try:
                self._hand_over()
            finally:
                self._blocks.put(None)
                self._thread.join()
                super().close()
        self._raise_if_failed()


class _CountingWriter:
    """Passes writes to ``stream`` and counts the bytes (the archive's size).

    For streams that cannot seek (a pipe, an HTTP response): ``zipfile`` then writes each
    member's sizes after its data (data descriptors) instead of going back to its header.
    """

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.written = 0

    def write(self, data: bytes) -> int:
        self._stream.write(data)
        self.written += len(data)
        return len(data)

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        self._stream.flush()
