"""The canonical JSON Lines format (docs/formats): one article or comment object per line.

The parser streams the file line by line and never holds more than one line, so a file of
any size costs the memory of its longest record. It checks each record's shape (required
fields, types, times) and leaves the relations between records (unknown article, missing
parent, duplicates) to the loader, which sees the whole file.

Decisions:

* ``id``, ``article_id`` and ``parent_id`` are strings; integers are accepted and turned
  into their decimal string, because many exporters write numeric ids. Anything else
  (floats, booleans, objects) is refused.
* Times are ISO 8601; a time without an offset is taken as UTC.
* A line longer than any acceptable record (``max_record_bytes``, derived from
  ``IMPORT_MAX_TEXT_CHARS``) is refused without being read into memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson

from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Record,
)

BOM = b"\xef\xbb\xbf"
# Room for JSON escapes (a character may take up to 12 bytes as a surrogate pair of \u
# escapes, but real text rarely needs more than 4) plus the other fields of a record.
RECORD_BYTES_PER_CHAR = 6
RECORD_OVERHEAD_BYTES = 1024 * 1024
BINARY_SNIFF_BYTES = 8192


def default_max_record_bytes() -> int:
    """The longest line worth parsing: the longest acceptable comment plus its fields."""
    from django.conf import settings

    return settings.IMPORT_MAX_TEXT_CHARS * RECORD_BYTES_PER_CHAR + RECORD_OVERHEAD_BYTES


def parse_jsonl(
    stream: BinaryIO, filename: str, *, max_record_bytes: int | None = None
) -> Iterator[Record]:
    """Records of a JSON Lines file in file order; ``ImportFileError`` names the bad line.

    Blank lines are skipped; line numbers are 1-based and count every line.
    """
    limit = max_record_bytes or default_max_record_bytes()
    peek = getattr(stream, "peek", None)
    head = peek(BINARY_SNIFF_BYTES)[:BINARY_SNIFF_BYTES] if peek is not None else b""
    if b"\x00" in head:
        # Text never holds NUL bytes: an image or archive renamed .jsonl, say so at once.
        line = head[: head.index(b"\x00")].count(b"\n") + 1
        raise ImportFileError(filename, line, "binary data (NUL bytes), not JSON Lines")
    readline = stream.readline
    number = 0
    seen_content = False
    while True:
        raw = readline(limit + 1)
        if not raw:
            return
        number += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            raise oversized_line(raw, readline, limit, filename, number)
        if not seen_content:
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            if not raw.strip():
                continue
            seen_content = True
            _refuse_other_formats(raw, filename, number)
        elif raw[0] != 123 and not raw.strip():  # 123 is "{"; skip blank lines
            continue
        yield _record(raw, filename, number)


def oversized_line(
    raw: bytes, readline: Any, limit: int, filename: str, number: int
) -> ImportFileError:
    """The refusal of line ``number``, longer than ``limit`` (``raw`` its first bytes): the
    rest is read past without being kept, to say its size."""
    size = len(raw) + _skip_rest_of_line(readline)
    return ImportFileError(
        filename,
        number,
        f"record of {size:,} bytes is larger than the {limit:,}-byte limit "
        "(comment texts are limited in size)",
    )


def _skip_rest_of_line(readline: Any) -> int:
    """Read past the rest of an oversized line without keeping it; return its byte count."""
    skipped = 0
    while True:
        chunk = readline(1024 * 1024)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


def _refuse_other_formats(raw: bytes, filename: str, number: int) -> None:
    """Say plainly when the first line shows the file is XML, CSV or binary, not JSON Lines."""
    head = raw.lstrip()
    if b"\x00" in raw:
        raise ImportFileError(filename, number, "binary data (NUL bytes), not JSON Lines")
    if head.startswith(b"<"):
        raise ImportFileError(filename, number, "not JSON Lines: this looks like XML")
    if not head.startswith((b"{", b"[")) and b"," in head:
        raise ImportFileError(filename, number, "not JSON Lines: this looks like CSV")


def json_object(raw: bytes, filename: str, number: int) -> dict[str, Any]:
    """Line ``number`` as a JSON object; ``ImportFileError`` says what else it is."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ImportFileError(filename, number, json_line_problem(raw, error)) from None
    if type(data) is not dict:
        raise ImportFileError(
            filename, number, f"expected a JSON object, found {json_type_name(data)}"
        )
    return data


def _record(raw: bytes, filename: str, number: int) -> Record:
    """One line turned into an article or comment record."""
    data = json_object(raw, filename, number)
    kind = data.get("type")
    if kind == "comment":
        return _comment(data, filename, number)
    if kind == "article":
        return _article(data, filename, number)
    if kind is None:
        raise ImportFileError(filename, number, 'missing "type" (article or comment)')
    raise ImportFileError(
        filename, number, f'unknown "type" {_show(kind)} (expected article or comment)'
    )


def json_line_problem(raw: bytes, error: orjson.JSONDecodeError) -> str:
    """A short reason for a line orjson refused, telling bad encoding from bad JSON."""
    if b"\x00" in raw:
        return "binary data (NUL bytes), not JSON Lines"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as decode_error:
        return f"not valid UTF-8 (byte {decode_error.start + 1} of the line)"
    return f"malformed JSON: {error}"


def _comment(data: dict[str, Any], filename: str, number: int) -> CommentRecord:
    get = data.get
    source_id, article_id, text = get("id"), get("article_id"), get("text")
    parent_id, author = get("parent_id"), get("author")
    posted_at, meta = get("posted_at"), get("meta")
    # The common case in one test, as this runs for every comment, twice per import.
    if (
        type(source_id) is str
        and type(article_id) is str
        and type(text) is str
        and source_id
        and article_id
        and (parent_id is None or (type(parent_id) is str and parent_id))
        and (author is None or type(author) is str)
        and (meta is None or type(meta) is dict)
        and (posted_at is None or type(posted_at) is str)
    ):
        if posted_at:
            try:
                moment = datetime.fromisoformat(posted_at)
            except ValueError:
                moment = _time(data, "posted_at", filename, number)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        else:
            moment = None
        return CommentRecord(
            source_id, article_id, text, parent_id, author or "", moment, meta or {}, number
        )
    return _checked_comment(data, filename, number)


def _checked_comment(data: dict[str, Any], filename: str, number: int) -> CommentRecord:
    """A comment record checked field by field, to say exactly what is wrong."""
    text = data.get("text")
    if text is None:
        raise ImportFileError(filename, number, 'comment without "text"')
    if type(text) is not str:
        raise ImportFileError(
            filename, number, f'"text" must be a string, found {json_type_name(text)}'
        )
    parent_id = data.get("parent_id")
    return CommentRecord(
        source_id=_id(data, "id", filename, number, "comment"),
        article_id=_id(data, "article_id", filename, number, "comment"),
        text=text,
        parent_id=None if parent_id is None else _id(data, "parent_id", filename, number),
        author=_optional_str(data, "author", filename, number),
        posted_at=_time(data, "posted_at", filename, number),
        meta=_meta(data, filename, number),
        line=number,
    )


def _article(data: dict[str, Any], filename: str, number: int) -> ArticleRecord:
    title = data.get("title")
    if title is None:
        raise ImportFileError(filename, number, 'article without "title"')
    if type(title) is not str:
        raise ImportFileError(
            filename, number, f'"title" must be a string, found {json_type_name(title)}'
        )
    return ArticleRecord(
        source_id=_id(data, "id", filename, number, "article"),
        title=title,
        body=_optional_str(data, "body", filename, number),
        url=_optional_str(data, "url", filename, number),
        source=_optional_str(data, "source", filename, number),
        published_at=_time(data, "published_at", filename, number),
        meta=_meta(data, filename, number),
        line=number,
    )


def _id(data: dict[str, Any], key: str, filename: str, number: int, kind: str = "") -> str:
    """An id field as a string: strings as they are, integers in decimal."""
    value = data.get(key)
    value_type = type(value)
    if value_type is str:
        if not value:
            raise ImportFileError(filename, number, f'"{key}" is empty')
        return value
    if value_type is int:
        return str(value)
    if value is None:
        raise ImportFileError(filename, number, f'{kind} without "{key}"')
    raise ImportFileError(
        filename, number, f'"{key}" must be a string, found {json_type_name(value)}'
    )


def _optional_str(data: dict[str, Any], key: str, filename: str, number: int) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if type(value) is not str:
        raise ImportFileError(
            filename, number, f'"{key}" must be a string, found {json_type_name(value)}'
        )
    return value


def _time(data: dict[str, Any], key: str, filename: str, number: int) -> datetime | None:
    """An ISO 8601 time, made timezone-aware (UTC when the file gives no offset)."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if type(value) is not str:
        raise ImportFileError(
            filename, number, f'"{key}" must be an ISO 8601 time, found {json_type_name(value)}'
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ImportFileError(
            filename, number, f'"{key}" is not an ISO 8601 time: {_show(value)}'
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _meta(data: dict[str, Any], filename: str, number: int) -> dict[str, Any]:
    meta = data.get("meta")
    if meta is None:
        return {}
    if type(meta) is not dict:
        raise ImportFileError(
            filename, number, f'"meta" must be a JSON object, found {json_type_name(meta)}'
        )
    return meta


def json_type_name(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _show(value: object) -> str:
    """A value quoted for an error message, cut short."""
    text = orjson.dumps(value).decode() if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + '..."'
