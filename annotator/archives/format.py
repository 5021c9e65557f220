"""The archive file: gzip-compressed JSON Lines, read and written as a stream.

The first line is the header, ``{"format": "comment-annotator-archive", "version": 1,
"app_version", "project", "created_at"}``; then one JSON object per row, its type in ``t``
(``{"t": "comment", "id": 17, ...}``), in the order of ``tables.py``; the last line is the
trailer, ``{"t": "end", "counts": {type: rows}}``. A file whose trailer is missing or whose
counts differ was cut short or altered, and is refused. See docs/archives.md.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from importlib import metadata
from typing import IO, Any

import orjson

FORMAT_NAME = "comment-annotator-archive"
FORMAT_VERSION = 1
END = "end"


class ArchiveError(Exception):
    """An archive that cannot be read or restored, with the line and the reason."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


def app_version() -> str:
    """This installation's version, as the archive's header records it."""
    try:
        return metadata.version("comment-annotator")
    except metadata.PackageNotFoundError:
        return "0.1.0"


def header(project_slug: str, created_at: str) -> dict[str, Any]:
    """The first record of an archive of ``project_slug``."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "app_version": app_version(),
        "project": project_slug,
        "created_at": created_at,
    }


class ArchiveWriter:
    """Writes records to a binary file as gzip-compressed JSON Lines, counting them."""

    def __init__(self, fileobj: IO[bytes], compresslevel: int = 6) -> None:
        self._gzip = gzip.GzipFile(fileobj=fileobj, mode="wb", compresslevel=compresslevel)
        self.counts: dict[str, int] = {}

    def write_header(self, record: dict[str, Any]) -> None:
        self._gzip.write(orjson.dumps(record) + b"\n")

    def write_rows(self, kind: str, records: list[dict[str, Any]]) -> None:
        """Write one chunk of rows of type ``kind`` (each a dict with ``t`` set)."""
        if records:
            self._gzip.write(b"\n".join(map(orjson.dumps, records)) + b"\n")
            self.counts[kind] = self.counts.get(kind, 0) + len(records)

    def close(self) -> None:
        """Write the trailer and finish the gzip stream (the caller closes the file)."""
        self._gzip.write(orjson.dumps({"t": END, "counts": self.counts}) + b"\n")
        self._gzip.close()


def read_header(lines: Iterator[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """The header, or ``ArchiveError`` for a file that is not an archive this installation
    can read (a newer format version names both versions)."""
    try:
        _, record = next(lines)
    except StopIteration:
        raise ArchiveError("the file is empty: it is not a project archive") from None
    if record.get("format") != FORMAT_NAME:
        raise ArchiveError("this is not a project archive (its first line has no archive header)")
    version = record.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArchiveError(f"the archive's format version {version!r} is not a version")
    if version > FORMAT_VERSION:
        raise ArchiveError(
            f"the archive is in format version {version} (made by version "
            f"{record.get('app_version', 'unknown')} of the tool); this installation reads "
            f"format version {FORMAT_VERSION} and older: upgrade it to restore this archive"
        )
    if not isinstance(record.get("project"), str):
        raise ArchiveError("the archive's header names no project", 1)
    return record


def read_records(fileobj: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) of every line of a gzip-compressed JSON Lines file, streamed.

    A file that is not gzip, is cut short, or holds a line that is not a JSON object raises
    ``ArchiveError`` with the line.
    """
    number = 0
    try:
        with gzip.GzipFile(fileobj=fileobj, mode="rb") as stream:
            for number, raw in enumerate(stream, start=1):
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError as error:
                    raise ArchiveError(f"not JSON ({error})", number) from None
                if not isinstance(record, dict):
                    raise ArchiveError("a line of an archive is a JSON object", number)
                yield number, record
    except gzip.BadGzipFile:
        raise ArchiveError("this is not a project archive (not a gzip file)") from None
    except EOFError:
        raise ArchiveError(
            f"the file ends in the middle of line {number + 1}: it was cut short"
        ) from None
    except zlib.error as error:
        raise ArchiveError(f"the file is damaged after line {number} ({error})") from None
