"""Nested JSON: one document with every article and, inside it, its comment tree.

::

    {"format": "comment-annotator/nested-json", "version": 1,
     "project": {"name": ..., "slug": ...}, "exported_at": ..., "options": {...},
     "articles": [
       {<article fields as in JSON Lines>, "comments": [
         {<comment fields as in JSON Lines, without "type">, "replies": [ ... ]}, ...]},
       ...]}

It is written as the rows stream, never built in memory: rows come in tree order (depth
first), so a comment's ``replies`` array is opened when the comment is written and closed when
a comment at the same or a smaller depth (or the next article) comes. Memory is one row plus
the stack of open arrays, whatever the size of a thread.
"""

from __future__ import annotations

from typing import BinaryIO

from django.utils import timezone

from annotator.datasets.exporters.jsonl import CommentRecords, article_record, dumps
from annotator.datasets.rows import ArticleRow, RowSource

FILENAME = "corpus.json"
KEEPS_TREES = True
COMPRESS = True
FLUSH_BYTES = 1 << 20


def write(source: RowSource, out: BinaryIO) -> None:
    """Write the nested document of ``source`` to ``out``."""
    comment_record = CommentRecords(source.final, source.carries_predictions)
    header = {
        "format": "comment-annotator/nested-json",
        "version": 1,
        "project": {"name": source.project.name, "slug": source.project.slug},
        "exported_at": timezone.now(),
        "options": source.options.to_json(),
    }
    parts: list[bytes] = [dumps(header)[:-1], b',"articles":[']
    size = 0
    # One flag per open array, innermost last: [article's "comments", replies of depth 0, ...];
    # True once the array has an element (the next one needs a comma).
    open_arrays: list[bool] = []
    first_article = True
    for row in source.records():
        if isinstance(row, ArticleRow):
            if open_arrays:
                parts.append(b"]}" * len(open_arrays))  # replies + comment, ..., comments + article
                open_arrays.clear()
            record = article_record(row)
            parts.append((b"" if first_article else b",") + dumps(record)[:-1])
            parts.append(b',"comments":[')
            first_article = False
            open_arrays.append(False)
            continue
        depth = min(row.depth, len(open_arrays) - 1)  # a missing ancestor nests it one up
        if len(open_arrays) > depth + 1:
            parts.append(b"]}" * (len(open_arrays) - depth - 1))
            del open_arrays[depth + 1 :]
        record = comment_record(row)
        del record["type"]
        encoded = dumps(record)
        parts.append((b"," if open_arrays[depth] else b"") + encoded[:-1] + b',"replies":[')
        open_arrays[depth] = True
        open_arrays.append(False)
        size += len(encoded)
        if size >= FLUSH_BYTES:
            out.write(b"".join(parts))
            parts.clear()
            size = 0
    if open_arrays:
        parts.append(b"]}" * len(open_arrays))
    parts.append(b"]}\n")
    out.write(b"".join(parts))
