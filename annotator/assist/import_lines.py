"""Reading a JSON Lines file of predictions, one line at a time (no database here).

Each line is one comment's prediction by one model (docs/formats.md, "Predictions (JSON
Lines)"). This module turns a line into a ``PredictionLine`` or an ``ImportFileError``
naming the file, the line and the reason, in the style of the thread importers
(corpus/importers/jsonl.py); what needs the project (which comment, which scheme, which
model) is checked in ``importing.py``.

The file is streamed: a line longer than any sensible prediction (``MAX_LINE_BYTES``) is
refused without being read into memory, so a file of any size costs the memory of one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from annotator.assist.models import NAME_PATTERN, VERSION_PATTERN
from annotator.corpus.importers import NOT_UTF8, identify_unsupported
from annotator.corpus.importers.jsonl import json_object
from annotator.corpus.importers.records import ImportFileError

BOM = b"\xef\xbb\xbf"
# A line holds a few answers (free text is at most 500 characters) and their confidences:
# 64 KiB is far beyond any real one and keeps a hostile line from costing memory.
MAX_LINE_BYTES = 64 * 1024
SNIFF_BYTES = 8192
DEFAULT_VERSION = "1"
KNOWN_FIELDS = frozenset(
    {
        "comment_id",
        "source_id",
        "article",
        "model",
        "version",
        "answers",
        "confidences",
        "scheme_version",
    }
)


@dataclass(slots=True)
class PredictionLine:
    """One line as read: which comment (a primary key, or a source id and maybe its
    article's source id), which model version, and its unchecked answers."""

    number: int
    model: str
    version: str
    comment_id: int | None
    source_id: str | None
    article: str | None
    answers: Any
    confidences: Any
    scheme_version: int | None

    @property
    def model_key(self) -> tuple[str, str]:
        return (self.model, self.version)


def read_lines(stream: BinaryIO, filename: str) -> Iterator[PredictionLine | ImportFileError]:
    """Every non-blank line of ``stream`` as a ``PredictionLine``, or the ``ImportFileError``
    that refuses it (yielded, not raised, so that a caller can count every bad line).

    A file that is not text at all (binary data, a PDF, an archive) or not JSON Lines (XML,
    CSV) raises ``ImportFileError`` at once: every one of its lines would be refused.
    """
    head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES] if hasattr(stream, "peek") else b""
    refuse_other_files(head, filename)
    number = 0
    first = True
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            _skip_rest_of_line(stream)
            yield ImportFileError(
                filename, number, f"line longer than the {MAX_LINE_BYTES:,}-byte limit"
            )
            continue
        if first and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        if not raw.strip():
            continue
        if first:
            _refuse_other_formats(raw, filename, number)
            first = False
        try:
            yield parse_line(raw, filename, number)
        except ImportFileError as error:
            yield error


def parse_line(raw: bytes, filename: str, number: int) -> PredictionLine:
    """One line's prediction; ``ImportFileError`` says what is wrong with it."""
    data = json_object(raw, filename, number)

    def refuse(reason: str) -> ImportFileError:
        return ImportFileError(filename, number, reason)

    unknown = sorted(key for key in data if key not in KNOWN_FIELDS)
    if unknown:
        raise refuse(f"unknown field {_show(unknown[0])} (see docs/formats.md)")
    model = data.get("model")
    if type(model) is not str or not NAME_PATTERN.match(model):
        raise refuse(
            '"model" must be a name of letters, digits, ".", "_" and "-" (at most 80), '
            f"found {_show(model)}"
        )
    version = data.get("version", DEFAULT_VERSION)
    if type(version) is int and not isinstance(version, bool):
        version = str(version)
    if type(version) is not str or not VERSION_PATTERN.match(version):
        raise refuse(
            '"version" must be letters, digits, ".", "_", "+" and "-" (at most 40), '
            f"found {_show(version)}"
        )
    comment_id, source_id, article = _comment_ref(data, refuse)
    scheme_version = data.get("scheme_version")
    if scheme_version is not None and (
        type(scheme_version) is not int or not 0 < scheme_version < 2**31
    ):
        raise refuse(f'"scheme_version" must be a positive integer, found {_show(scheme_version)}')
    if "answers" not in data:
        raise refuse('missing "answers"')
    return PredictionLine(
        number=number,
        model=model,
        version=version,
        comment_id=comment_id,
        source_id=source_id,
        article=article,
        answers=data["answers"],
        confidences=data.get("confidences"),
        scheme_version=scheme_version,
    )


def _comment_ref(data: dict, refuse) -> tuple[int | None, str | None, str | None]:
    """``comment_id``, or ``source_id`` with an optional ``article``: exactly one of the two."""
    comment_id, source_id, article = (
        data.get("comment_id"),
        data.get("source_id"),
        data.get("article"),
    )
    if comment_id is not None and source_id is not None:
        raise refuse('give "comment_id" or "source_id", not both')
    if comment_id is not None:
        if type(comment_id) is not int or not 0 < comment_id < 2**63:
            raise refuse(f'"comment_id" must be a positive integer, found {_show(comment_id)}')
        if article is not None:
            raise refuse('"article" goes with "source_id" only')
        return comment_id, None, None
    if source_id is None:
        raise refuse('missing "comment_id" or "source_id"')
    if type(source_id) is int and not isinstance(source_id, bool):
        source_id = str(source_id)
    if type(source_id) is not str or not source_id or len(source_id) > 255:
        raise refuse(f'"source_id" must be a non-empty string, found {_show(source_id)}')
    if article is not None:
        if type(article) is int and not isinstance(article, bool):
            article = str(article)
        if type(article) is not str or not article or len(article) > 255:
            raise refuse(f'"article" must be an article\'s source id, found {_show(article)}')
    return None, source_id, article


def refuse_other_files(head: bytes, filename: str) -> None:
    """Binary data, a PDF, an image or an archive is refused whole, saying what it is."""
    what = identify_unsupported(head)
    if what == NOT_UTF8:
        raise ImportFileError(
            filename, None, "not UTF-8 text: binary data, or another encoding (save it as UTF-8)"
        )
    if what is not None:
        raise ImportFileError(filename, None, f"this is {what}, not JSON Lines of predictions")


def _refuse_other_formats(raw: bytes, filename: str, number: int) -> None:
    """Say plainly when the first line shows the file is XML or CSV, not JSON Lines."""
    head = raw.lstrip()
    if head.startswith(b"<"):
        raise ImportFileError(filename, number, "not JSON Lines: this looks like XML")
    if not head.startswith((b"{", b"[")) and b"," in head:
        raise ImportFileError(filename, number, "not JSON Lines: this looks like CSV")


def _skip_rest_of_line(stream: BinaryIO) -> None:
    while chunk := stream.readline(1024 * 1024):
        if chunk.endswith(b"\n"):
            return


def _show(value: object) -> str:
    """A value quoted for an error message, cut short."""
    if value is None:
        return "nothing"
    try:
        text = f'"{value}"' if isinstance(value, str) else orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + '..."'
