"""doccano JSON Lines exports as comments (the texts only; their labels come in through
*Import labels*, ``labelling/external_labels.py``).

Each line is ``{"id", "text", "label", ...}`` (older doccano versions write the text under
``data``); ``label`` is a list of strings (text classification) or of ``[start, end,
label]`` spans (sequence labelling), and is not read here.

* Each line is a comment that answers the article (doccano has no reply trees). Its id is
  the line's ``id`` or, when the export has none, its line number: the label import reads
  the same, so labels find their comments.
* ``author`` (when a project added it as metadata) is the author; every other key except
  the text and the labels is kept in ``meta`` (doccano's ``Comments``, custom metadata).
* Articles: one per file (id and title from the file name), or, with ``article_field``, one
  per distinct value of that key (``--article-field``), yielded when first seen.

The file is read a line at a time (``jsonl.py``'s limits on a line's size apply), so memory
does not grow with it. Text must be UTF-8; an export saved in another encoding (doccano on
Windows writes Windows-1252) is refused on the line of its first such byte, never garbled.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import orjson

from annotator.corpus.importers.jsonl import default_max_record_bytes, json_line_problem
from annotator.corpus.importers.labelstudio import _file_article, _group, id_text
from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Record,
)

BOM = b"\xef\xbb\xbf"
_NOT_META = frozenset({"id", "text", "data", "label", "author"})


def sniff_doccano(head: bytes, filename: str) -> bool:
    """The first line is a JSON object with ``label`` and ``text`` (or ``data``) and no
    ``type`` (the canonical JSON Lines has one)."""
    for line in head.lstrip(BOM).splitlines():
        if not line.strip():
            continue
        try:
            first = orjson.loads(line)
        except orjson.JSONDecodeError:
            return False
        return (
            isinstance(first, dict)
            and "label" in first
            and ("text" in first or "data" in first)
            and "type" not in first
        )
    return False


def parse_doccano(
    stream: BinaryIO, filename: str, *, article_field: str | None = None
) -> Iterator[Record]:
    """The article(s) and one comment per line of a doccano export, in file order."""
    limit = default_max_record_bytes()
    file_article = None if article_field else _file_article(filename)
    if file_article is not None:
        yield file_article
    seen_articles: set[str] = set()
    number = 0
    while True:
        raw = stream.readline(limit + 1)
        if not raw:
            return
        number += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            raise ImportFileError(filename, number, f"line longer than {limit:,} bytes")
        if number == 1:
            raw = raw.removeprefix(BOM)
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            problem = json_line_problem(raw, error)
            if problem.startswith("not valid UTF-8"):
                problem += (
                    ": the export is in another encoding (choose it, or save the file as UTF-8)"
                )
            raise ImportFileError(filename, number, problem) from None
        if not isinstance(record, dict):
            raise ImportFileError(filename, number, "expected a JSON object")
        text = record.get("text", record.get("data"))
        if not isinstance(text, str):
            raise ImportFileError(filename, number, 'a line without "text" (or "data")')
        if file_article is not None:
            article_id = file_article.source_id
        else:
            article_id = _group(record, article_field, filename, number, unit="line")
            if article_id not in seen_articles:
                seen_articles.add(article_id)
                yield ArticleRecord(source_id=article_id, title=article_id, line=number)
        author = record.get("author")
        yield CommentRecord(
            source_id=id_text(record.get("id")) or str(number),
            article_id=article_id,
            text=text,
            author=author if isinstance(author, str) else "",
            meta={k: v for k, v in record.items() if k not in _NOT_META and k != article_field},
            line=number,
        )
