"""Read a Disqus XML export into plain records, as a stream.

An export is ``<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">``
holding ``<category>``, then ``<thread dsq:id=...>`` (an article: ``id`` = the site's Disqus
identifier, ``link``, ``title``, ``message``, ``createdAt``) and flat ``<post dsq:id=...>``
elements (``message`` as HTML, ``createdAt``, ``isDeleted``, ``isSpam``, ``author/name``,
``author/username``, ``<thread dsq:id=...>`` and, for a reply, ``<parent dsq:id=...>``).
Threads become ``ArticleRecord``s, posts ``CommentRecord``s whose HTML message is turned into
plain text (``html_to_text``); author e-mail and IP addresses in the export are not kept.

Deleted and spam posts are left out, but their replies are not: a reply is re-attached to its
nearest kept ancestor (or to the article) and ``meta["disqus"]["skipped_ancestors"]`` lists
the posts it skipped. A reply may come before its parent, so the parser reads the file twice:
a first pass keeps only the skipped posts and their parent links (a small map: spam and
deletions are a fraction of a thread), the second yields the records with parents already
resolved. Holding back replies until their parent shows up would instead keep their texts in
memory, and patching records after yielding them would depend on when the loader reads them.
A stream that cannot seek is copied to a temporary file during the first pass, so memory never
depends on the file's size.

Parsing is incremental (expat through defusedxml's SAX driver, fed 64 KB at a time): entity
declarations are refused, so no "billion laughs" expansion and no external entity is ever
read. The bytes are checked as UTF-8 as they are fed, so an invalid byte is reported on its
line rather than as a generic XML error.
"""

from __future__ import annotations

import codecs
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, BinaryIO
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler, feature_namespaces

from defusedxml.common import EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.expatreader import DefusedExpatParser

from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Record,
)

DISQUS_NS = "http://disqus.com"
INTERNALS_NS = "http://disqus.com/disqus-internals"
CHUNK_SIZE = 64 * 1024

# The fields read from each kind of item, as paths below the item; "@id" is its dsq:id.
_THREAD_FIELDS = frozenset(
    {
        "id",
        "forum",
        "category@id",
        "link",
        "title",
        "message",
        "createdAt",
        "author/name",
        "author/username",
        "isClosed",
        "isDeleted",
    }
)
_POST_FIELDS = frozenset(
    {
        "id",
        "message",
        "createdAt",
        "isDeleted",
        "isSpam",
        "author/name",
        "author/username",
        "author/isAnonymous",
        "thread",
        "thread@id",
        "parent@id",
    }
)
# The first pass only needs to know which posts are left out and what they answer.
_SKIP_FIELDS = frozenset({"isDeleted", "isSpam", "parent@id"})


def parse_disqus(stream: BinaryIO, filename: str) -> Iterator[Record]:
    """Yield the article (thread) and comment (post) records of a Disqus export.

    Deleted and spam posts are skipped and their replies re-attached (see the module doc).
    Raises ``ImportFileError`` naming ``filename`` and the line for malformed XML, a root that
    is not ``<disqus>``, entity declarations (XML bombs), invalid UTF-8, an empty file, and a
    thread or post without its ``dsq:id`` or a post without a thread reference.
    """
    with _two_passes(stream) as (first, second):
        skipped: dict[str, str | None] = {}
        identifiers: dict[str, str] = {}
        for item in _items(first, filename, skip_pass=True):
            if item.kind == "thread":
                if item.fields.get("id") and item.dsq_id:
                    identifiers.setdefault(item.fields["id"], item.dsq_id)
            elif item.dsq_id and _is_skipped(item):
                skipped[item.dsq_id] = item.fields.get("parent@id") or None
        for item in _items(second(), filename, skip_pass=False):
            if item.kind == "thread":
                yield _article(item, filename)
            elif not (item.dsq_id and item.dsq_id in skipped):
                yield _comment(item, filename, skipped, identifiers)


def html_to_text(html: str) -> str:
    """Plain text of a Disqus message: paragraphs become blank lines, ``<br>`` a newline.

    Entities are decoded, tags dropped, ``<script>`` and ``<style>`` dropped with their
    content, and a link keeps its text followed by its address in parentheses when the two
    differ, so nothing the reader saw (or clicked) is lost and no markup survives.
    """
    converter = _HtmlToText()
    converter.feed(html)
    converter.close()
    return converter.text()


class _Item:
    """A ``<thread>`` or ``<post>`` as read: its dsq:id, line and the fields we keep."""

    __slots__ = ("dsq_id", "field_lines", "fields", "kind", "line")

    def __init__(self, kind: str, dsq_id: str | None, line: int):
        self.kind = kind
        self.dsq_id = dsq_id
        self.line = line
        self.fields: dict[str, str] = {}
        self.field_lines: dict[str, int] = {}


def _is_skipped(item: _Item) -> bool:
    """Whether a post is deleted or spam, and so left out of the corpus."""
    return _flag(item, "isDeleted") or _flag(item, "isSpam")


def _flag(item: _Item, name: str) -> bool:
    return item.fields.get(name, "").strip().lower() == "true"


def _article(item: _Item, filename: str) -> ArticleRecord:
    """The article record of a ``<thread>``."""
    if not item.dsq_id:
        raise ImportFileError(filename, item.line, "<thread> without a dsq:id attribute")
    fields = item.fields
    identifier = fields.get("id", "").strip()
    link = fields.get("link", "").strip()
    # Disqus creates threads with no title (e.g. for pages crawled before the title was
    # known); the link is what a reader would recognise them by.
    title = fields.get("title", "").strip() or link or identifier or f"Disqus thread {item.dsq_id}"
    meta: dict[str, Any] = {
        "identifier": identifier,
        "forum": fields.get("forum", "").strip(),
        "category": fields.get("category@id", ""),
        "author": fields.get("author/name", "").strip(),
        "is_closed": _flag(item, "isClosed"),
        "is_deleted": _flag(item, "isDeleted"),
    }
    return ArticleRecord(
        source_id=item.dsq_id,
        title=title,
        body=html_to_text(fields.get("message", "")),
        url=link,
        published_at=_time(item, filename),
        meta={"disqus": meta},
        line=item.line,
    )


def _comment(
    item: _Item, filename: str, skipped: dict[str, str | None], identifiers: dict[str, str]
) -> CommentRecord:
    """The comment record of a kept ``<post>``, re-attached above any skipped parent."""
    if not item.dsq_id:
        raise ImportFileError(filename, item.line, "<post> without a dsq:id attribute")
    fields = item.fields
    article_id = fields.get("thread@id", "").strip()
    if not article_id:
        # Disqus's own example refers to the thread by its identifier (<thread>id</thread>).
        reference = fields.get("thread", "").strip()
        article_id = identifiers.get(reference, reference)
    if not article_id:
        raise ImportFileError(
            filename, item.line, f"post {item.dsq_id} has no <thread dsq:id=...> reference"
        )
    parent_id = fields.get("parent@id", "").strip() or None
    skipped_ancestors: list[str] = []
    while parent_id is not None and parent_id in skipped:
        if parent_id in skipped_ancestors:
            # Skipped posts answering each other: no kept ancestor, so answer the article.
            parent_id = None
            break
        skipped_ancestors.append(parent_id)
        parent_id = skipped[parent_id]
    meta: dict[str, Any] = {
        "username": fields.get("author/username", "").strip(),
        "is_anonymous": _flag(item, "author/isAnonymous"),
        "is_deleted": False,
        "is_spam": False,
    }
    if skipped_ancestors:
        meta["skipped_ancestors"] = skipped_ancestors
    return CommentRecord(
        source_id=item.dsq_id,
        article_id=article_id,
        text=html_to_text(fields.get("message", "")),
        parent_id=parent_id,
        author=fields.get("author/name", "").strip() or meta["username"],
        posted_at=_time(item, filename),
        meta={"disqus": meta},
        line=item.line,
    )


def _time(item: _Item, filename: str) -> datetime | None:
    """``createdAt`` as an aware datetime (Disqus writes UTC, sometimes without the Z)."""
    text = item.fields.get("createdAt", "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        line = item.field_lines.get("createdAt", item.line)
        raise ImportFileError(
            filename, line, f"invalid createdAt {text!r} (expected ISO 8601)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@contextmanager
def _two_passes(stream: BinaryIO) -> Iterator[tuple[Iterator[bytes], Any]]:
    """Chunks of ``stream`` for a first pass, and a function giving them again for a second.

    A seekable stream is rewound; any other is copied to a temporary file while the first
    pass reads it.
    """
    if stream.seekable():
        start = stream.tell()

        def again() -> Iterator[bytes]:
            stream.seek(start)
            return _chunks(stream)

        yield _chunks(stream), again
        return
    with tempfile.TemporaryFile() as copy:

        def copied() -> Iterator[bytes]:
            for chunk in _chunks(stream):
                copy.write(chunk)
                yield chunk

        def replay() -> Iterator[bytes]:
            copy.flush()
            copy.seek(0)
            return _chunks(copy)

        yield copied(), replay


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_SIZE):
        yield chunk


def _items(chunks: Iterator[bytes], filename: str, *, skip_pass: bool) -> Iterator[_Item]:
    """The ``<thread>`` and ``<post>`` items of the export, parsed incrementally."""
    handler = _ExportHandler(filename, skip_pass=skip_pass)
    parser = DefusedExpatParser(forbid_dtd=False, forbid_entities=True, forbid_external=True)
    parser.setFeature(feature_namespaces, True)
    parser.setContentHandler(handler)
    handler.locator = parser
    utf8 = codecs.getincrementaldecoder("utf-8")("strict")
    lines_before = 0
    has_content = False
    try:
        for chunk in chunks:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError as error:
                raise _invalid_utf8(filename, lines_before, error) from None
            has_content = has_content or bool(chunk.lstrip(b"\xef\xbb\xbf \t\r\n"))
            lines_before += chunk.count(b"\n")
            parser.feed(chunk)
            yield from handler.drain()
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError as error:
            raise _invalid_utf8(filename, lines_before, error) from None
        if not has_content:
            raise ImportFileError(filename, None, "the file is empty")
        parser.close()
        yield from handler.drain()
    except SAXParseException as error:
        raise ImportFileError(
            filename,
            error.getLineNumber(),
            f"malformed XML: {error.getMessage()} (column {error.getColumnNumber() + 1})",
        ) from None
    except EntitiesForbidden as error:
        if error.sysid or error.pubid:
            reason = (
                f"the file declares the external entity {error.name!r} ({error.sysid}); "
                "refused: it would read another file or address"
            )
        else:
            reason = (
                f"the file declares the entity {error.name!r}; entity declarations are "
                "refused (they can expand a small file into gigabytes, an 'XML bomb')"
            )
        raise ImportFileError(filename, parser.getLineNumber(), reason) from None
    except ExternalReferenceForbidden as error:
        raise ImportFileError(
            filename,
            parser.getLineNumber(),
            f"the file refers to an external entity ({error.sysid}); refused",
        ) from None


def _invalid_utf8(filename: str, lines_before: int, error: UnicodeDecodeError) -> ImportFileError:
    """The error for an invalid byte, on the line that holds it."""
    data = error.object
    line = lines_before + data[: error.start].count(b"\n") + 1
    return ImportFileError(
        filename, line, f"invalid UTF-8 (byte 0x{data[error.start]:02x}); save the file as UTF-8"
    )


class _ExportHandler(ContentHandler):
    """SAX handler that turns top-level ``<thread>``/``<post>`` elements into ``_Item``s.

    Only the fields we use are collected, and an item is dropped as soon as it is handed
    over, so memory holds one item at a time whatever the size of the export.
    """

    def __init__(self, filename: str, *, skip_pass: bool):
        super().__init__()
        self.filename = filename
        self.skip_pass = skip_pass
        self.locator: Any = None
        self.path: list[str] = []
        self.item: _Item | None = None
        self.text: list[str] | None = None
        self.capturing = ""
        self.ready: list[_Item] = []

    def drain(self) -> list[_Item]:
        ready, self.ready = self.ready, []
        return ready

    def _wanted(self, kind: str) -> frozenset[str]:
        if kind == "thread":
            return frozenset({"id"}) if self.skip_pass else _THREAD_FIELDS
        return _SKIP_FIELDS if self.skip_pass else _POST_FIELDS

    def startElementNS(self, name: tuple[str | None, str], qname: Any, attrs: Any) -> None:
        local = name[1]
        depth = len(self.path)
        self.path.append(local)
        line = self.locator.getLineNumber()
        if depth == 0:
            if local != "disqus":
                raise ImportFileError(
                    self.filename,
                    line,
                    f"not a Disqus export: the root element is <{local}>, not <disqus>",
                )
            return
        dsq_id = attrs.get((INTERNALS_NS, "id"))
        if depth == 1:
            if local in ("thread", "post"):
                self.item = _Item(local, (dsq_id or "").strip() or None, line)
            return
        if self.item is None:
            return
        field = "/".join(self.path[2:])
        wanted = self._wanted(self.item.kind)
        if dsq_id is not None and f"{field}@id" in wanted:
            self.item.fields[f"{field}@id"] = dsq_id.strip()
        if field in wanted and self.text is None:
            self.item.field_lines[field] = line
            self.capturing = field
            self.text = []

    def characters(self, content: str) -> None:
        if self.text is not None:
            self.text.append(content)

    def endElementNS(self, name: tuple[str | None, str], qname: Any) -> None:
        depth = len(self.path) - 1
        self.path.pop()
        if self.item is None:
            return
        if depth == 1:
            self.ready.append(self.item)
            self.item = None
        elif self.text is not None and "/".join([*self.path[2:], name[1]]) == self.capturing:
            self.item.fields[self.capturing] = "".join(self.text)
            self.text = None


class _HtmlToText(HTMLParser):
    """Collects the visible text of an HTML fragment with its paragraph structure."""

    _PARAGRAPH = frozenset({"p", "blockquote", "pre", "ul", "ol", "table"})
    _LINE = frozenset({"div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
    _HIDDEN = frozenset({"script", "style", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.links: list[tuple[str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self._PARAGRAPH:
            self.parts.append("\n\n")
        elif tag in self._LINE:
            self.parts.append("\n")
        elif tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            self.links.append((href, len(self.parts)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self._HIDDEN:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self._PARAGRAPH:
            self.parts.append("\n\n")
        elif tag in self._LINE:
            self.parts.append("\n")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = " ".join("".join(self.parts[start:]).split())
            if href and href != label and not href.lower().startswith("javascript:"):
                self.parts.append(f" ({href})" if label else href)

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            # HTML collapses runs of white space; line breaks come only from the tags.
            self.parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        lines = [line.strip() for line in "".join(self.parts).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
