"""YouTube comments as youtube-comment-downloader writes them (egbertbouman, JSON Lines).

Each line is one comment: ``cid``, ``text``, ``time`` ("2 years ago"), ``author``,
``channel``, ``votes`` ("1.2K"), ``replies``, ``photo``, ``heart``, ``reply`` and
``time_parsed`` (Unix seconds the tool worked out from ``time``, so only as exact as
"2 years ago"; absent when it could not), and ``paid`` for a paid (Super Thanks) comment.
A reply's ``cid`` is ``PARENT.CHILD``: the part before the first dot is the comment it
answers. The tool's JSON-list output (``--format`` in some versions) and a
``{"comments": [...]}`` document are read too.

The file does not name the video. The downloader is run once per video with an output file
of the user's choosing, so the file's name is taken as the video's id: its name without the
extensions (``dQw4w9WgXcQ.jsonl.gz``, or the tool's default ``dQw4w9WgXcQ.comments``, gives
``dQw4w9WgXcQ``) is the article's id, the article is titled "YouTube video <id>", and when
the id has a video id's shape (11 letters, digits, ``-`` or ``_``) its URL is the watch
page. Name the file after the video before importing.

Texts are plain text already and kept as written; the counters, the relative time, the
heart and ``paid`` go to ``meta`` as the tool gives them (``votes`` is text such as "1.2K").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from annotator.corpus.importers.json_documents import json_values
from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Record,
)

VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
WATCH_URL = "https://www.youtube.com/watch?v={}"
# ".comments": the downloader's default output is named "<video id>.comments".
EXTENSIONS = frozenset({".jsonl", ".json", ".ndjson", ".txt", ".comments", ".gz", ".zst", ".zip"})
META_FIELDS = ("votes", "replies", "heart", "channel", "time", "paid")


def sniff_youtube(head: bytes, filename: str) -> bool:
    """True for objects with the downloader's ``cid`` and its ``time_parsed`` or ``votes``
    and ``photo`` (``time_parsed`` is missing where the tool could not read the time)."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not text.startswith((b"{", b"[")) or b'"cid"' not in head:
        return False
    return b'"time_parsed"' in head or (b'"votes"' in head and b'"photo"' in head)


def video_id_of(filename: str) -> str:
    """The video id a file stands for: its base name without the known extensions."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    while (suffix := PurePosixPath(name).suffix.lower()) in EXTENSIONS:
        name = name[: -len(suffix)]
    return name


def parse_youtube(stream: BinaryIO, filename: str) -> Iterator[Record]:
    """The video (named by the file) as the article, then its comments in file order."""
    video = video_id_of(filename)
    if not video:
        raise ImportFileError(filename, None, "the file name gives no video id")
    yield ArticleRecord(
        source_id=video,
        title=f"YouTube video {video}",
        url=WATCH_URL.format(video) if VIDEO_ID.fullmatch(video) else "",
        source="YouTube",
        meta={"video_id": video, "from_filename": True},
        line=1,
    )
    found = False
    for line, value in json_values(stream, filename):
        found = True
        comments = value.get("comments")
        if type(comments) is list and "cid" not in value:
            for index, comment in enumerate(comments, 1):
                yield _comment(comment, video, filename, index, "comment")
        else:
            yield _comment(value, video, filename, line, "line")
    if not found:
        # An empty download (a wrong URL, comments turned off) would make an empty article.
        raise ImportFileError(filename, None, "no comments in the file")


def _comment(data: Any, video: str, filename: str, line: int, unit: str) -> CommentRecord:
    if type(data) is not dict:
        raise ImportFileError(filename, line, "expected a JSON object", unit=unit)
    cid, text = data.get("cid"), data.get("text")
    if type(cid) is not str or not cid:
        raise ImportFileError(filename, line, 'a comment without "cid"', unit=unit)
    if type(text) is not str:
        raise ImportFileError(filename, line, f'comment {cid}: "text" must be a string', unit=unit)
    parent, dot, _ = cid.partition(".")
    if data.get("reply") and not dot:
        raise ImportFileError(
            filename, line, f'reply {cid}: its "cid" names no parent (PARENT.CHILD)', unit=unit
        )
    author = data.get("author")
    return CommentRecord(
        source_id=cid,
        article_id=video,
        text=text,
        parent_id=parent if dot else None,
        author=author if type(author) is str else "",
        posted_at=_time(data.get("time_parsed")),
        meta={key: data[key] for key in META_FIELDS if data.get(key) is not None},
        line=line,
    )


def _time(value: Any) -> datetime | None:
    if type(value) not in (int, float):
        return None
    return datetime.fromtimestamp(value, UTC)
