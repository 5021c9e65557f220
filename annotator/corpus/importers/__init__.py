"""Importers: one parser per format (file -> plain records, no database) and one loader.

``parse(stream, fmt, filename)`` picks the parser; ``loader.load_records`` validates the
records, builds the reply trees and writes them in bulk.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from annotator.corpus.importers.records import ImportFileError, Record

FORMATS = ("text", "jsonl", "csv", "disqus")


def detect_format(head: bytes, filename: str) -> str:
    """Guess a file's format from its name and first bytes (``head``, a few KB).

    The content decides where it is unambiguous (XML with a ``<disqus`` root, a JSON object
    on the first line, a CSV header with ``comment_id``); the extension breaks ties.
    """
    name = filename.lower()
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return "disqus"
    if text.startswith(b"{"):
        return "jsonl"
    first_line = text.split(b"\n", 1)[0].lower()
    if b"comment_id" in first_line and b"," in first_line:
        return "csv"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".xml"):
        return "disqus"
    return "text"


def parse(
    stream: BinaryIO, fmt: str, filename: str, options: dict | None = None
) -> Iterator[Record]:
    """Records of ``stream`` in file order, read by the parser for ``fmt``.

    ``options`` only matters for scraped text: the corrections an admin made in the preview
    (see ``text.parse_text``).
    """
    if fmt == "jsonl":
        from annotator.corpus.importers.jsonl import parse_jsonl

        return parse_jsonl(stream, filename)
    if fmt == "csv":
        from annotator.corpus.importers.csv import parse_csv

        return parse_csv(stream, filename)
    if fmt == "disqus":
        from annotator.corpus.importers.disqus import parse_disqus

        return parse_disqus(stream, filename)
    if fmt == "text":
        from annotator.corpus.importers.text import parse_text

        return parse_text(stream, filename, options or {})
    raise ImportFileError(filename, None, f"unknown format {fmt!r} (use one of {FORMATS})")
