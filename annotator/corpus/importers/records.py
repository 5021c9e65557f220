"""Plain records that every parser yields and the loader consumes (no database here).

A parser turns a file into a stream of ``ArticleRecord`` and ``CommentRecord`` in file order.
Each record carries the line (or record number) it came from, so that the loader's errors can
name it. Parsers raise ``ImportFileError`` for anything they cannot read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO


class ImportFileError(Exception):
    """A file refused for a reason that names the file and the line or record at fault."""

    def __init__(self, filename: str, line: int | None, reason: str, *, unit: str = "line"):
        self.filename = filename
        self.line = line
        self.reason = reason
        self.unit = unit
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.filename}, {self.unit} {self.line}" if self.line else self.filename
        return f"{where}: {self.reason}"


class UnsupportedFileError(ImportFileError):
    """A file that is no thread in any format (a PDF, an image, an archive, binary data)."""


@dataclass(slots=True)
class ArticleRecord:
    """An article as read from a file."""

    source_id: str
    title: str
    body: str = ""
    url: str = ""
    source: str = ""
    published_at: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    line: int = 0


@dataclass(slots=True)
class CommentRecord:
    """A comment as read from a file; ``parent_id`` None means it answers the article."""

    source_id: str
    article_id: str
    text: str
    parent_id: str | None = None
    author: str = ""
    posted_at: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    line: int = 0


@dataclass(slots=True)
class Notice:
    """Something a parser reports about the file without refusing it, counted by ``key``.

    ``text`` says what happened with ``{count}`` where the number goes ("{count} 'more'
    stubs stood for comments not in the file; they were not imported"). Parsers yield
    notices among their records, in both passes alike; the loader sums the counts of the
    first pass by key and the import's result lists them (``ImportResult.notices``).
    """

    key: str
    count: int
    text: str


@dataclass(frozen=True, slots=True)
class Member:
    """One file of an archive or folder: its name (a relative path) and how to open it."""

    name: str
    open: Callable[[], BinaryIO]
    size: int = 0


Record = ArticleRecord | CommentRecord | Notice
