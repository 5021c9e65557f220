"""Label Studio JSON exports as comments (the texts only; their labels come in through
*Import labels*, ``labelling/external_labels.py``).

A Label Studio export is one JSON array of tasks: ``{"id", "data": {...}, "annotations":
[...], "predictions": [...]}``. The "JSON-MIN" export is an array of flat objects (the
task's data fields, its id, and the labels as top-level keys); both are read.

* Each task is a comment that answers the article (Label Studio has no reply trees). Its id
  is ``data.comment_id`` (or ``data.source_id``) when the task came from this tool's own
  export, else the task's ``id``: the rule the label import uses
  (``labelstudio_comment_ref``), so labels find their comments.
* Its text is ``data.text``, else the first string field of ``data``; ``data.author`` is the
  author; every other data field is kept in ``meta``. Texts are stored as given (a
  HyperText task's HTML is not interpreted; templates escape it).
* Articles: one per file (id and title from the file name), or, with ``article_field``, one
  per distinct value of that data field (``--article-field``), yielded when first seen.

Memory: the array is split into its elements as it is read (``json_array_items``: a scan of
the bytes for brackets and strings), and each element is parsed alone, so the file is never
held whole; an element larger than the longest acceptable record is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any, BinaryIO

import orjson

from annotator.corpus.importers.jsonl import default_max_record_bytes
from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Record,
)

BOM = b"\xef\xbb\xbf"
CHUNK = 256 * 1024
_TOKENS = re.compile(rb'[\[\]{}"\\]')
# JSON-MIN keys that describe the annotation, not the task's data.
_MIN_ANNOTATION_KEYS = frozenset(
    {"id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time"}
)


def sniff_labelstudio(head: bytes, filename: str) -> bool:
    """A JSON array whose first task has ``data`` and ``annotations`` or ``predictions``
    (or JSON-MIN's ``annotation_id``)."""
    text = head.lstrip(BOM).lstrip()
    if not text.startswith(b"["):
        return False
    first = text[:4096]
    has_data = b'"data"' in first and (b'"annotations"' in head or b'"predictions"' in head)
    return has_data or (b'"annotation_id"' in first and b'"annotator"' in first)


def parse_labelstudio(
    stream: BinaryIO, filename: str, *, article_field: str | None = None
) -> Iterator[Record]:
    """The article(s) and one comment per task of a Label Studio export, in file order."""
    file_article = None if article_field else _file_article(filename)
    if file_article is not None:
        yield file_article
    seen_articles: set[str] = set()
    for number, task in json_array_items(stream, filename, unit="task"):
        if not isinstance(task, dict):
            raise ImportFileError(filename, number, "a task that is not a JSON object", unit="task")
        data = task.get("data")
        if not isinstance(data, dict):
            if "data" in task:
                raise ImportFileError(filename, number, '"data" must be an object', unit="task")
            data = {k: v for k, v in task.items() if k not in _MIN_ANNOTATION_KEYS}  # JSON-MIN
            task = {"id": task.get("id"), "data": data}
        source_id, _article = labelstudio_comment_ref(task)
        if source_id is None:
            raise ImportFileError(filename, number, "a task without an id", unit="task")
        text_key = _text_key(data, article_field)
        if text_key is None:
            raise ImportFileError(filename, number, "a task whose data holds no text", unit="task")
        if file_article is not None:
            article_id = file_article.source_id
        else:
            article_id = _group(data, article_field, filename, number)
            if article_id not in seen_articles:
                seen_articles.add(article_id)
                yield ArticleRecord(source_id=article_id, title=article_id, line=number)
        author = data.get("author")
        meta = {
            k: v
            for k, v in data.items()
            if k not in {text_key, "author", "comment_id", "source_id"}
        }
        yield CommentRecord(
            source_id=source_id,
            article_id=article_id,
            text=data[text_key],
            author=author if isinstance(author, str) else "",
            meta=meta,
            line=number,
        )


def labelstudio_comment_ref(task: dict) -> tuple[str | None, str | None]:
    """A Label Studio task's comment and article ids: ``data.comment_id`` (or ``source_id``)
    and ``data.article_id`` when the task came from this tool's export, else the task's id.

    The label import (``labelling/external_label_sources.py``) uses the same rule, so labels
    exported with their texts find the comments those texts became.
    """
    data = task.get("data") if isinstance(task.get("data"), dict) else {}
    comment = data.get("comment_id", data.get("source_id", task.get("id")))
    return id_text(comment), id_text(data.get("article_id"))


def id_text(value: Any) -> str | None:
    """An id as text: a string (stripped) or an integer; None for anything else or blank."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _file_article(filename: str) -> ArticleRecord:
    """The article of a whole file: named after the file (``export.json`` -> ``export``)."""
    stem = PurePath(filename).name
    for suffix in (".gz", ".zst", ".json", ".jsonl"):
        stem = stem.removesuffix(suffix)
    return ArticleRecord(source_id=stem or filename, title=stem or filename, line=1)


def _text_key(data: dict, article_field: str | None) -> str | None:
    if isinstance(data.get("text"), str):
        return "text"
    for key, value in data.items():
        if isinstance(value, str) and key not in {article_field, "author", "comment_id"}:
            return key
    return None


def _group(data: dict, article_field: str, filename: str, number: int, unit: str = "task") -> str:
    """The article a record belongs to, by the value of ``article_field``."""
    value = data.get(article_field)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ImportFileError(
            filename,
            number,
            f"no value in the article field {article_field!r} (each {unit} needs one to "
            "be grouped into an article)",
            unit=unit,
        )
    return value.strip()


def json_array_items(
    stream: BinaryIO, filename: str, *, unit: str = "record", limit: int | None = None
) -> Iterator[tuple[int, Any]]:
    """``(number, value)`` for each element of a JSON array, read a chunk at a time.

    The scan finds each element's end by counting brackets outside strings, then orjson
    parses that element alone; ``limit`` bounds one element's bytes (the default: the
    longest acceptable record, as for JSON Lines).
    """
    limit = limit or default_max_record_bytes()
    buffer = bytearray()
    depth = 0  # 1 inside the array, 2+ inside an element
    in_string = False
    started = False
    finished = False
    element_start: int | None = None
    number = 0
    skip = -1  # index of a character escaped by a backslash
    first = True
    while not finished:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        if first:
            chunk = chunk.removeprefix(BOM)
            first = False
        offset = len(buffer)
        buffer += chunk
        scan_from = offset
        for match in _TOKENS.finditer(buffer, scan_from):
            at = match.start()
            if at <= skip:
                continue
            token = buffer[at]
            if in_string:
                if token == 0x5C:  # backslash
                    skip = at + 1
                elif token == 0x22:
                    in_string = False
                continue
            if token == 0x22:
                in_string = True
                if depth == 1 and element_start is None:
                    element_start = at
                continue
            if token in (0x5B, 0x7B):  # [ {
                if not started:
                    if token != 0x5B or buffer[:at].strip():
                        raise ImportFileError(filename, None, "not a JSON array of tasks")
                    started = True
                    depth = 1
                    continue
                if depth == 1 and element_start is None:
                    element_start = at
                depth += 1
            elif token in (0x5D, 0x7D):  # ] }
                depth -= 1
                if depth == 0:
                    finished = True
                    tail = buffer[element_start:at] if element_start is not None else b""
                    if tail.strip().strip(b","):
                        number += 1
                        yield (
                            number,
                            _load(bytes(tail).strip().rstrip(b","), filename, number, unit),
                        )
                    break
                if depth == 1:
                    number += 1
                    yield (
                        number,
                        _load(bytes(buffer[element_start : at + 1]), filename, number, unit),
                    )
                    element_start = None
        if not started and buffer.strip():
            raise ImportFileError(filename, None, "not a JSON array of tasks")
        # Keep only the element being read.
        keep = element_start if element_start is not None else len(buffer)
        if keep:
            del buffer[:keep]
            skip -= keep
            if element_start is not None:
                element_start = 0
        if len(buffer) > limit:
            raise ImportFileError(
                filename,
                number + 1,
                f"{unit} larger than the {limit:,}-byte limit (comment texts are limited in size)",
                unit=unit,
            )
    if not finished:
        raise ImportFileError(filename, None, "the JSON array is cut short (no closing ])")


def _load(raw: bytes, filename: str, number: int, unit: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as decode_error:
            reason = f"not valid UTF-8 (byte 0x{raw[decode_error.start]:02x})"
        else:
            reason = f"malformed JSON: {error}"
        raise ImportFileError(filename, number, reason, unit=unit) from None
