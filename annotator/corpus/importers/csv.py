"""Read a CSV file of comments (one row per comment) into plain records, as a stream.

Columns (``docs/formats.md``): ``article_id, article_title, comment_id, parent_id, author,
text, posted_at``, plus the optional ``article_body, article_url, article_source,
article_published_at``. Any other column is kept, when not empty, in the comment's ``meta``,
so nothing a spreadsheet adds is lost. An article's record is yielded the first time its id
appears, before that row's comment; later rows of the same article only have to agree on the
title (they may leave it empty).

The file is read one physical line at a time and each line is decoded on its own (UTF-8
never puts a newline byte inside a character), so memory does not grow with the file and an
invalid byte is reported on the line that holds it. Row lines are physical lines, header =
line 1, and a quoted field that spans lines is reported at the line where its row starts.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Record,
)

REQUIRED_COLUMNS = (
    "article_id",
    "article_title",
    "comment_id",
    "parent_id",
    "author",
    "text",
    "posted_at",
)
OPTIONAL_COLUMNS = ("article_body", "article_url", "article_source", "article_published_at")
KNOWN_COLUMNS = frozenset(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)

# A long comment must reach the loader, which applies the configured size limit and says so;
# the csv module's own 128 KB default would refuse it with a less useful message.
FIELD_SIZE_LIMIT = 64 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"


def parse_csv(stream: BinaryIO, filename: str) -> Iterator[Record]:
    """Yield the article and comment records of a CSV ``stream`` in file order.

    Raises ``ImportFileError`` naming ``filename`` and the line for anything unreadable:
    invalid UTF-8, NUL bytes, malformed quoting, a missing column or value, a row with the
    wrong number of fields, an invalid time, an article whose title changes between rows,
    and files that are empty or are not CSV at all.
    """
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))
    rows = _rows_with_lines(_decoded_lines(stream, filename), filename)
    try:
        header_line, header = next(rows)
    except StopIteration:
        raise ImportFileError(filename, None, "the file is empty") from None
    columns = _check_header(header, header_line, filename)

    titles: dict[str, str] = {}
    for line, row in rows:
        if len(row) != len(columns):
            raise ImportFileError(
                filename,
                line,
                f"expected {len(columns)} fields as in the header, found {len(row)}",
            )
        values = dict(zip(columns, row, strict=True))
        article_id = _required(values, "article_id", line, filename)
        title = values["article_title"].strip()
        known_title = titles.get(article_id)
        if known_title is None:
            if not title:
                raise ImportFileError(
                    filename, line, f"missing value for article_title of article {article_id!r}"
                )
            titles[article_id] = title
            yield ArticleRecord(
                source_id=article_id,
                title=title,
                body=values.get("article_body", ""),
                url=values.get("article_url", "").strip(),
                source=values.get("article_source", "").strip(),
                published_at=_time(values, "article_published_at", line, filename),
                line=line,
            )
        elif title and title != known_title:
            raise ImportFileError(
                filename,
                line,
                f"article {article_id!r} has the title {title!r} here "
                f"but {known_title!r} in an earlier row",
            )
        comment_id = _required(values, "comment_id", line, filename)
        if not values["text"].strip():
            raise ImportFileError(filename, line, "missing value for text")
        extra = {
            name: value for name, value in values.items() if name not in KNOWN_COLUMNS and value
        }
        yield CommentRecord(
            source_id=comment_id,
            article_id=article_id,
            text=values["text"],
            parent_id=values["parent_id"].strip() or None,
            author=values["author"].strip(),
            posted_at=_time(values, "posted_at", line, filename),
            meta=extra,
            line=line,
        )


def _decoded_lines(stream: BinaryIO, filename: str) -> Iterator[str]:
    """The physical lines of ``stream`` as text, refusing invalid UTF-8, NUL bytes and
    files whose first line shows they are JSON or XML rather than CSV."""
    sniffed = False
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            byte = raw[error.start]
            raise ImportFileError(
                filename,
                number,
                f"invalid UTF-8 (byte 0x{byte:02x} at column {error.start + 1}); "
                "save the file as UTF-8",
            ) from None
        if "\x00" in line:
            raise ImportFileError(
                filename, number, f"NUL byte at column {line.index(chr(0)) + 1}; not a text file"
            )
        if not sniffed and line.strip():
            sniffed = True
            _refuse_other_formats(line, number, filename)
        yield line


def _refuse_other_formats(first_line: str, number: int, filename: str) -> None:
    """Refuse a file whose first non-blank line is a JSON object or an XML tag."""
    start = first_line.lstrip()
    if start.startswith(("{", "[")):
        raise ImportFileError(filename, number, "looks like JSON Lines, not CSV")
    if start.startswith("<"):
        raise ImportFileError(filename, number, "looks like XML, not CSV")


def _rows_with_lines(lines: Iterator[str], filename: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV rows of ``lines`` with the physical line each starts on."""
    reader = csv.reader(lines, strict=True)
    end_of_previous = 0
    while True:
        start = end_of_previous + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise ImportFileError(filename, start, f"malformed CSV: {error}") from None
        end_of_previous = reader.line_num
        if row and any(field.strip() for field in row):
            yield start, row


def _check_header(header: list[str], line: int, filename: str) -> list[str]:
    """The column names of ``header``, refusing a duplicate or a missing column."""
    columns = [name.strip() for name in header]
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    if duplicates:
        raise ImportFileError(filename, line, f"duplicate column {', '.join(duplicates)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise ImportFileError(
            filename,
            line,
            f"missing required column{plural} {', '.join(missing)} in the header "
            f"(expected {', '.join(REQUIRED_COLUMNS)})",
        )
    return columns


def _required(values: dict[str, str], column: str, line: int, filename: str) -> str:
    """The stripped value of a required ``column``, refusing an empty one."""
    value = values[column].strip()
    if not value:
        raise ImportFileError(filename, line, f"missing value for {column}")
    return value


def _time(values: dict[str, str], column: str, line: int, filename: str) -> datetime | None:
    """An aware datetime from an ISO 8601 ``column``; None when empty, UTC when naive."""
    text = values.get(column, "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ImportFileError(
            filename,
            line,
            f"invalid time {text!r} in column {column} "
            "(expected ISO 8601, e.g. 2016-12-08T11:02:00Z)",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
