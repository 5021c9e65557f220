"""Hacker News threads, in the two shapes its public APIs give them (docs/formats.md).

**Algolia items** (``hn.algolia.com/api/v1/items/ID``): one story with its comments nested
in ``children`` (``id``, ``created_at``/``created_at_i``, ``type``, ``author``, ``title``,
``url``, ``text``, ``points``, ``parent_id``, ``story_id``). A file may hold one such item,
a JSON array of them or one a line. The story becomes the article, followed by its comments
depth first, so every parent comes before its replies.

**Official (Firebase) items** (``hacker-news.firebaseio.com/v0/item/ID.json``): flat items
(``id``, ``type``, ``by``, ``time``, ``text``, ``parent``, ``kids``, ``deleted``, ``dead``,
``title``, ``url``, ``score``, ``descendants``), as a JSON array or one a line, in any order.
A comment names only its parent, which may be another comment, so its story is found by
walking up the parents. The parser reads the items once, keeping the ids, parents and
kinds (integers in arrays: 33 bytes an item, briefly about 80 while the stories are worked
out) and copying the items to a temporary file; works out every comment's story with numpy
(pointer jumping: a few vectorised passes, whatever the depth); then reads the copy twice:
the stories first, then the comments. The loader reads the file twice, so this happens
twice, the same way each time. A comment whose parent is not in the file is taken to answer
its parent as a story: right when the story was imported before (an update of a thread);
otherwise the lenient tree (the format is ``lenient_tree``: records keep their own lines, so
a story may stand on a later line than its comments, and crawls miss items) makes a
placeholder article for it and says so. Poll options (``pollopt``) are not comments
and are left out, counted in a notice.

Both shapes: ids are the items' integers as decimal strings. Text is HTML and becomes plain
text (``hn_html_to_text``: paragraphs, links with their address, code blocks kept as
typed). A deleted comment has no text or author but its replies still hang under it, so it
is kept, with text ``[deleted]``, no author and ``meta["deleted"]``; a dead (flagged)
comment keeps its text (``[dead]`` when the API gives none) and ``meta["dead"]``.
"""

from __future__ import annotations

import re
import tempfile
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from typing import Any, BinaryIO

import numpy as np
import orjson

from annotator.corpus.importers.json_documents import json_values
from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Notice,
    Record,
)

ITEM_URL = "https://news.ycombinator.com/item?id={}"
SOURCE = "Hacker News"
DELETED = "[deleted]"
DEAD = "[dead]"
ARTICLE_TYPES = frozenset({"story", "job", "poll"})
TITLE_CHARS = 300
_FIREBASE_TYPE = re.compile(rb'"type"\s*:\s*"(?:story|comment|job|poll|pollopt)"')


def sniff_hackernews(head: bytes, filename: str) -> bool:
    """True for an Algolia item (``created_at_i`` and ``story_id``) or official items
    (``by``, a numeric ``time`` and an HN ``type``), never for the canonical JSON Lines."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not text.startswith((b"{", b"[")) or b'"article_id"' in head:
        return False
    if b'"created_at_i"' in head and b'"story_id"' in head:
        return b'"children"' in head or b'"hits"' in head  # an item, or search results
    return bool(
        _FIREBASE_TYPE.search(head)
        and re.search(rb'"by"\s*:\s*"', head)
        and re.search(rb'"time"\s*:\s*\d', head)
    )


def parse_hackernews(stream: BinaryIO, filename: str) -> Iterator[Record]:
    """Records of a Hacker News dump (either shape), articles before their comments."""
    values = json_values(stream, filename)
    first = next(values, None)
    if first is None:
        return
    if "hits" in first[1] and "id" not in first[1]:
        raise ImportFileError(
            filename,
            first[0],
            "Algolia search results list stories without their comments: fetch each story "
            "with /api/v1/items/ID and import that",
        )
    if _is_algolia(first[1]):
        yield from _algolia_items(first, values, filename)
    else:
        yield from _firebase_items(first, values, filename)


def _is_algolia(item: dict[str, Any]) -> bool:
    return "children" in item or "created_at_i" in item or "story_id" in item


# --- Algolia: nested items ---------------------------------------------------------------


def _algolia_items(
    first: tuple[int, dict], values: Iterator[tuple[int, dict]], filename: str
) -> Iterator[Record]:
    yield from _algolia_tree(*first, filename)
    for line, item in values:
        if not _is_algolia(item):
            raise ImportFileError(
                filename, line, "an official-API item among Algolia items: one shape a file"
            )
        yield from _algolia_tree(line, item, filename)


def _algolia_tree(line: int, root: dict[str, Any], filename: str) -> Iterator[Record]:
    """The story, then its comments depth first (an explicit stack: threads run deep)."""
    root_id = _item_id(root.get("id"), filename, line)
    if root.get("type") == "comment":
        # A comment's own page: its replies go under it in its story, which must be known.
        story_id = _item_id(root.get("story_id"), filename, line, "story_id")
        parent = _item_id(root.get("parent_id"), filename, line, "parent_id")
        stack = [(root, None if parent == story_id else parent)]
    else:
        story_id = root_id
        yield ArticleRecord(
            source_id=root_id,
            title=_title(root.get("title"), root.get("text")),
            body=hn_html_to_text(root.get("text") or ""),
            url=root.get("url") or ITEM_URL.format(root_id),
            source=SOURCE,
            published_at=_algolia_time(root, filename, line),
            meta=_drop_none(
                {
                    "author": root.get("author"),
                    "points": root.get("points"),
                    "type": root.get("type"),
                    "hn_url": ITEM_URL.format(root_id),
                }
            ),
            line=line,
        )
        stack = [(child, None) for child in reversed(_children(root, filename, line))]
    while stack:
        item, parent_id = stack.pop()
        item_id = _item_id(item.get("id"), filename, line)
        text, author = item.get("text"), item.get("author")
        meta: dict[str, Any] = {}
        if text is None and author is None:
            text, meta["deleted"] = DELETED, True
        yield CommentRecord(
            source_id=item_id,
            article_id=story_id,
            text=hn_html_to_text(text or "") or DELETED,
            parent_id=parent_id,
            author=author or "",
            posted_at=_algolia_time(item, filename, line),
            meta=meta,
            line=line,
        )
        stack.extend((child, item_id) for child in reversed(_children(item, filename, line)))


def _children(item: dict[str, Any], filename: str, line: int) -> list[dict[str, Any]]:
    children = item.get("children") or []
    if type(children) is not list or any(type(child) is not dict for child in children):
        raise ImportFileError(
            filename, line, f'item {item.get("id")}: "children" must be a list of items'
        )
    return children


def _algolia_time(item: dict[str, Any], filename: str, line: int) -> datetime | None:
    seconds = item.get("created_at_i")
    if type(seconds) is int:
        return datetime.fromtimestamp(seconds, UTC)
    value = item.get("created_at")
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ImportFileError(
            filename, line, f'item {item.get("id")}: "created_at" is not an ISO 8601 time'
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- Official API: flat items ------------------------------------------------------------

_ARTICLE, _COMMENT = 1, 2


def _firebase_items(
    first: tuple[int, dict], values: Iterator[tuple[int, dict]], filename: str
) -> Iterator[Record]:
    ids, parents, kinds, lines = array("q"), array("q"), array("b"), array("q")
    skipped = 0
    with tempfile.TemporaryFile() as copy:
        for line, item in _chain(first, values):
            if _is_algolia(item):
                raise ImportFileError(
                    filename, line, "an Algolia item among official-API items: one shape a file"
                )
            kind = item.get("type")
            if kind == "pollopt":
                skipped += 1
                continue
            item_id = int(_item_id(item.get("id"), filename, line))
            parent = item.get("parent")
            if kind in ARTICLE_TYPES:
                kinds.append(_ARTICLE)
                parents.append(-1)
            elif kind == "comment" or (kind is None and parent is not None):
                if parent is None:
                    raise ImportFileError(filename, line, f'comment {item_id} has no "parent"')
                kinds.append(_COMMENT)
                parents.append(int(_item_id(parent, filename, line, "parent")))
            else:
                raise ImportFileError(
                    filename,
                    line,
                    f"item {item_id}: unknown type {kind!r} (not a story or comment)",
                )
            ids.append(item_id)
            lines.append(line)
            copy.write(orjson.dumps(item))
            copy.write(b"\n")
        stories = _stories_of(ids, parents, kinds, lines, filename)
        if skipped:
            yield Notice(
                "hackernews_pollopt", skipped, "{count} poll options were left out (not comments)"
            )
        for wanted in (_ARTICLE, _COMMENT):
            copy.seek(0)
            for index, raw in enumerate(copy):
                if kinds[index] != wanted:
                    continue
                item = orjson.loads(raw)
                if wanted == _ARTICLE:
                    yield _firebase_article(item, lines[index])
                else:
                    story, parent = stories[index], parents[index]
                    yield _firebase_comment(item, story, parent, lines[index])


def _chain(first: tuple[int, dict], rest: Iterator[tuple[int, dict]]) -> Iterator[tuple]:
    yield first
    yield from rest


def _stories_of(ids: array, parents: array, kinds: array, lines: array, filename: str) -> array:
    """The story id of every item (its own id for a story), walking up the parents."""
    count = len(ids)
    if not count:
        return array("q")
    id_of = np.frombuffer(ids, dtype=np.int64)
    parent_of = np.frombuffer(parents, dtype=np.int64)
    is_article = np.frombuffer(kinds, dtype=np.int8) == _ARTICLE
    order = np.argsort(id_of, kind="stable")
    sorted_ids = id_of[order]
    repeated = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
    if repeated.size:
        first, second = sorted(order[repeated[0] : repeated[0] + 2])
        raise ImportFileError(
            filename,
            lines[second],
            f"item {id_of[second]} appears twice (also on line {lines[first]})",
        )
    slot = np.searchsorted(sorted_ids, parent_of).clip(max=count - 1)
    found = (parent_of >= 0) & (sorted_ids[slot] == parent_of)
    # up[i]: the file index of i's parent, or i itself at a story or a parent not in the file.
    up = np.where(is_article | ~found, np.arange(count), order[slot])
    for _ in range(64):  # each round doubles the reach: 2**64 levels, any real tree
        higher = up[up]
        if np.array_equal(higher, up):
            break
        up = higher
    # The top of a chain is a story or an item whose parent is not in the file; anything
    # else (still moving after 64 rounds, or come to rest on itself) is a circle of parents.
    circular = np.flatnonzero((up[up] != up) | (~is_article[up] & found[up]))
    if circular.size:
        stuck = int(circular[0])
        raise ImportFileError(
            filename, lines[stuck], f"item {id_of[stuck]}: its parents go round in a circle"
        )
    stories = np.where(is_article[up], id_of[up], parent_of[up]).astype(np.int64)
    return array("q", stories.tobytes())  # Python ints on indexing, 8 bytes an item


def _firebase_article(item: dict[str, Any], line: int) -> ArticleRecord:
    item_id = str(item["id"])
    deleted = bool(item.get("deleted"))
    meta = _drop_none(
        {
            "author": item.get("by"),
            "points": item.get("score"),
            "descendants": item.get("descendants"),
            "type": item.get("type"),
            "hn_url": ITEM_URL.format(item_id),
            "deleted": True if deleted else None,
            "dead": True if item.get("dead") else None,
        }
    )
    return ArticleRecord(
        source_id=item_id,
        title=DELETED if deleted else _title(item.get("title"), item.get("text")),
        body=hn_html_to_text(item.get("text") or ""),
        url=item.get("url") or ITEM_URL.format(item_id),
        source=SOURCE,
        published_at=_unix_time(item.get("time")),
        meta=meta,
        line=line,
    )


def _firebase_comment(item: dict[str, Any], story: int, parent: int, line: int) -> CommentRecord:
    meta: dict[str, Any] = {}
    if item.get("deleted"):
        text, meta["deleted"] = DELETED, True
    else:
        text = hn_html_to_text(item.get("text") or "")
        if item.get("dead"):
            meta["dead"] = True
            text = text or DEAD
        text = text or DELETED
    return CommentRecord(
        source_id=str(item["id"]),
        article_id=str(story),
        text=text,
        parent_id=None if parent == story else str(parent),
        author="" if item.get("deleted") else item.get("by") or "",
        posted_at=_unix_time(item.get("time")),
        meta=meta,
        line=line,
    )


# --- Shared ------------------------------------------------------------------------------


def _item_id(value: Any, filename: str, line: int, key: str = "id") -> str:
    """An item id as its decimal string; HN ids are positive integers."""
    if type(value) is int and value > 0:
        return str(value)
    if type(value) is str and value.isdigit():
        return str(int(value))
    if value is None:
        raise ImportFileError(filename, line, f'an item without "{key}"')
    raise ImportFileError(filename, line, f'"{key}" must be an item number, found {value!r}')


def _unix_time(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if type(value) in (int, float) else None


def _title(title: Any, text: Any) -> str:
    """The story's title; a story without one (rare, deleted) is named by its text."""
    if isinstance(title, str) and title.strip():
        return title
    body = hn_html_to_text(text or "") if isinstance(text, str) else ""
    return body[:TITLE_CHARS] or "(untitled)"


def _drop_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def hn_html_to_text(html: str) -> str:
    """Plain text of an HN item's HTML, as the reader saw it.

    ``<p>`` (HN never closes it) is a blank line; ``<i>`` and ``<code>`` keep their text;
    ``<pre>`` keeps its line breaks and indentation; a link keeps its text and, when the
    address differs, the address in parentheses. HN shortens a long link's text to its
    first characters and "...": such a link becomes its whole address. Any other tag is
    dropped, keeping its text.

    HN writes a small, regular subset (what a user types is escaped), so a tokenizer over
    the tags does it: html.parser took 300 µs a comment, a tenth of a million-item import.
    """
    if "<" not in html:
        return unescape(html).strip() if "&" in html else html.strip()
    parts: list[str] = []
    links: list[tuple[str, int]] = []
    pre = 0
    for index, piece in enumerate(_TAG.split(html)):
        if index % 2 == 0:  # text between tags
            if piece:
                text = unescape(piece) if "&" in piece else piece
                parts.append(text if pre or not _SPACE_RUN.search(text) else _SPACES.sub(" ", text))
            continue
        match = _TAG_NAME.match(piece)
        if match is None:
            continue
        closing, tag = match.group(1) == "/", match.group(2).lower()
        if tag == "p" and not closing:
            parts.append("\n\n")
        elif tag == "br":
            parts.append("\n")
        elif tag == "pre":
            pre = max(0, pre - 1) if closing else pre + 1
            parts.append("\n\n")
        elif tag == "a" and not closing:
            found = _HREF.search(piece)
            href = (found.group(1) or found.group(2) or "") if found else ""
            links.append((unescape(href).strip(), len(parts)))
        elif tag == "a" and links:
            href, start = links.pop()
            label = "".join(parts[start:]).strip()
            if not href or href == label or href.lower().startswith("javascript:"):
                continue
            if label.endswith("...") and href.startswith(label[:-3]):
                parts[start:] = [href]
            else:
                parts.append(f" ({href})" if label else href)
    text = "".join(parts)
    if "\n" not in text:
        return text.strip()
    text = _TRAILING_SPACE.sub("\n", text)
    text = _LEADING_SPACE.sub("\n", text)  # a space left after a paragraph break
    return _BLANK_LINES.sub("\n\n", text).strip("\n ").rstrip()


_TAG = re.compile(r"(<[^<>]*>)")
_TAG_NAME = re.compile(r"<\s*(/?)\s*([a-zA-Z][a-zA-Z0-9]*)")
_HREF = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_SPACE_RUN = re.compile(r"\s\s|[^\S ]")  # what _SPACES would change
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_LEADING_SPACE = re.compile(r"\n (?=\S)")
_BLANK_LINES = re.compile(r"\n{3,}")
