"""The JSON values of a platform dump, whether it is JSON Lines or one JSON document.

Platform tools write both: a crawler appends one object a line, a single API response saved
from a browser is one (often pretty-printed) document, and a script that collected items may
dump a JSON array. ``json_values`` tells them apart from the first line, so every platform
parser accepts all three without the user naming the shape:

* the first line holds a whole JSON object: **JSON Lines**, read one line at a time (memory:
  the longest line), values numbered by their line;
* otherwise (an array, or an object spread over several lines): **one document**, read whole
  with orjson and refused above ``MAX_DOCUMENT_BYTES``; an array's elements are numbered
  1, 2, 3... (there is no cheap way to know their lines), an object is number 1.

The bound is the price of the stdlib having no incremental JSON parser (and ijson being one
more dependency for one case): the biggest single-document dumps we know of (a Hacker News
thread from the Algolia API, an X API response page) are a few megabytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from annotator.corpus.importers.jsonl import json_line_problem, json_object, json_type_name
from annotator.corpus.importers.records import ImportFileError

BOM = b"\xef\xbb\xbf"
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


def json_values(
    stream: BinaryIO, filename: str, *, max_bytes: int = MAX_DOCUMENT_BYTES
) -> Iterator[tuple[int, Any]]:
    """``(number, value)`` of every top-level JSON value: a line's, an array element's.

    Blank lines are skipped. A line or document that is not JSON is refused naming its
    line; a document larger than ``max_bytes`` is refused before it is parsed.
    """
    number = 0
    first = b""
    while True:
        first = stream.readline(max_bytes + 1)
        if not first:
            return
        number += 1
        if number == 1 and first.startswith(BOM):
            first = first[len(BOM) :]
        if first.strip():
            break
    start = first.lstrip()
    if start.startswith(b"{"):
        try:
            value = orjson.loads(first)
        except orjson.JSONDecodeError:
            value = None  # an object spread over several lines: one document
        if type(value) is dict:
            yield number, value
            yield from _lines(stream, filename, number, max_bytes)
            return
    elif not start.startswith(b"["):
        raise ImportFileError(filename, number, _not_json(start))
    yield from _document(first + stream.read(max_bytes + 1), filename, number, max_bytes)


def _lines(stream: BinaryIO, filename: str, number: int, max_bytes: int) -> Iterator[tuple]:
    """The remaining lines of a JSON Lines file, each one object."""
    readline = stream.readline
    while raw := readline(max_bytes + 1):
        number += 1
        if not raw.strip():
            continue
        if len(raw) > max_bytes:
            raise ImportFileError(
                filename, number, f"line longer than the {max_bytes:,}-byte limit"
            )
        yield number, json_object(raw, filename, number)


def _document(data: bytes, filename: str, first_line: int, max_bytes: int) -> Iterator[tuple]:
    """The values of one JSON document: an array's elements, or the object itself."""
    if len(data) > max_bytes:
        raise ImportFileError(
            filename,
            None,
            f"a single JSON document larger than {max_bytes:,} bytes; save it as JSON Lines "
            "(one object a line) instead",
        )
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        line = first_line - 1 + error.lineno
        raise ImportFileError(filename, line, json_line_problem(data, error)) from None
    if type(document) is dict:
        yield 1, document
        return
    for index, value in enumerate(document, 1):
        if type(value) is not dict:
            raise ImportFileError(
                filename,
                index,
                f"expected a JSON object, found {json_type_name(value)}",
                unit="array element",
            )
        yield index, value


def _not_json(start: bytes) -> str:
    if start.startswith(b"<"):
        return "not JSON: this looks like XML or HTML"
    return "not JSON: a JSON object or array was expected"
