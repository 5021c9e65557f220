"""Plain records that every parser yields and the loader consumes (no database here).

A parser turns a file into a stream of ``ArticleRecord`` and ``CommentRecord`` in file order.
Each record carries the line (or record number) it came from, so that the loader's errors can
name it. Parsers raise ``ImportFileError`` for anything they cannot read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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


Record = ArticleRecord | CommentRecord
