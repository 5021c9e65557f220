"""Importers: one parser per format (file -> plain records, no database) and one loader.

``parse(stream, fmt, filename)`` picks the parser; ``loader.load_records`` validates the
records, builds the reply trees and writes them in bulk (the trees in ``tree.py``, the
writing in ``row_writers.py``); ``jobs.py`` runs an ``ImportJob`` through it.

Before any of that, ``refuse_unsupported`` looks at the first bytes for what is plainly not
a thread (a PDF, a Word or Excel file, an archive, an image, other binary data). Scraped
text is the fallback format, so without this check a PDF would be read as text and refused
for some odd line, or, when it happens to be plain ASCII, "imported" as an article titled
``%PDF-1.4``. Every entry point (the upload form, the API, ``import_threads``, the import
job itself) calls it, so the refusal reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import import_module
from typing import Any, BinaryIO

from annotator.corpus.importers.records import ImportFileError, Record, UnsupportedFileError


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """One import format: its name, what the import form calls it, and its parser.

    ``article_field``: the parser takes ``article_field=NAME``, grouping its texts into one
    article per value of that data field (annotation tools' exports, which have no articles).

    ``sniff_members`` does the same for an archive format, given the names of the files in
    a ZIP archive or folder.

    ``sniff`` (``"module:function"`` too) takes the file's first bytes and its name and
    says whether the file is unmistakably this format; ``detect_format`` asks every
    format that has one, in table order, before its own fallbacks.

    ``parser`` is ``"module:function"``, imported when the format is first used; the
    function takes ``(stream, filename)`` and yields records (an ``archive`` format's
    takes ``(members, filename)``, the files of a folder or ZIP archive, see
    ``archives.py``). ``lenient_tree``: the platform's dumps are known to miss parents and
    articles and to put replies before what they answer, so the loader attaches a comment
    whose parent is missing to its article, makes a placeholder for a missing article and
    says how many of each in the result (``tree.py``), instead of refusing the file.
    """

    name: str
    label: str
    parser: str
    lenient_tree: bool = False
    archive: bool = False
    sniff: str | None = None
    sniff_members: str | None = None
    article_field: bool = False

    def function(self) -> Callable[..., Iterator[Record]]:
        return _load(self.parser)

    def recognises_members(self, names: list[str]) -> bool:
        """Whether this archive format's ``sniff_members(names)`` claims an archive's files."""
        return self.sniff_members is not None and bool(_load(self.sniff_members)(names))

    def recognises(self, head: bytes, filename: str) -> bool:
        """Whether this format's ``sniff(head, filename)`` claims the file (None: never)."""
        return self.sniff is not None and bool(_load(self.sniff)(head, filename))


def _load(reference: str) -> Callable[..., Any]:
    module, _, function = reference.partition(":")
    return getattr(import_module(module), function)


_MODULE = "annotator.corpus.importers"
FORMAT_SPECS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec(
            "reddit",
            "Reddit comments page (.json)",
            f"{_MODULE}.reddit:parse_reddit_page",
            sniff=f"{_MODULE}.reddit:sniff_reddit_page",
        ),
        FormatSpec(
            "reddit_dump",
            "Reddit dump (NDJSON, .zst)",
            f"{_MODULE}.reddit:parse_reddit_dump",
            lenient_tree=True,
            sniff=f"{_MODULE}.reddit:sniff_reddit_dump",
        ),
        FormatSpec(
            "pheme",
            "PHEME thread folder or ZIP (Twitter)",
            f"{_MODULE}.pheme:parse_pheme",
            archive=True,
            sniff_members=f"{_MODULE}.pheme:sniff_pheme_members",
        ),
        FormatSpec(
            "x_api",
            "X (Twitter) API v2 conversations (JSON Lines)",
            f"{_MODULE}.x_api:parse_x_conversations",
            lenient_tree=True,
            sniff=f"{_MODULE}.x_api:sniff_x_conversations",
        ),
        FormatSpec(
            "hackernews",
            "Hacker News (Algolia or official API items)",
            f"{_MODULE}.hackernews:parse_hackernews",
            lenient_tree=True,
            sniff=f"{_MODULE}.hackernews:sniff_hackernews",
        ),
        FormatSpec(
            "youtube",
            "YouTube comments (youtube-comment-downloader JSON Lines)",
            f"{_MODULE}.youtube:parse_youtube",
            sniff=f"{_MODULE}.youtube:sniff_youtube",
        ),
        FormatSpec(
            "labelstudio",
            "Label Studio JSON export",
            f"{_MODULE}.labelstudio:parse_labelstudio",
            sniff=f"{_MODULE}.labelstudio:sniff_labelstudio",
            article_field=True,
        ),
        FormatSpec(
            "doccano",
            "doccano JSON Lines export",
            f"{_MODULE}.doccano:parse_doccano",
            sniff=f"{_MODULE}.doccano:sniff_doccano",
            article_field=True,
        ),
        FormatSpec("text", "Scraped plain text", f"{_MODULE}.text:parse_text"),
        FormatSpec("jsonl", "JSON Lines", f"{_MODULE}.jsonl:parse_jsonl"),
        FormatSpec("csv", "CSV", f"{_MODULE}.csv:parse_csv"),
        FormatSpec("disqus", "Disqus XML export", f"{_MODULE}.disqus:parse_disqus"),
    )
}
FORMATS = tuple(FORMAT_SPECS)
ACCEPTED = (
    "Accepted: scraped text (.txt), JSON Lines, CSV, Disqus XML, Reddit, Twitter/X (PHEME, "
    "X API), Hacker News, YouTube, Label Studio and doccano exports, also compressed (.gz, "
    ".zst) or in a ZIP archive — see docs/formats.md."
)
SNIFF_BYTES = 1024  # how much of the head is checked for NUL bytes and invalid UTF-8
BINARY = "binary data"
NOT_UTF8 = "not UTF-8 text"

# Magic numbers of files people upload by mistake, with what to call them.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style Microsoft Office document"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"BZh", "a bzip2-compressed file"),
    (b"\xfd7zXZ\x00", "an xz-compressed file"),
)


def identify_unsupported(head: bytes) -> str | None:
    """What a file is when its first bytes show it is no thread of any format, else None.

    Returns a phrase for the refusal ("a PDF document"); None means the file may be text
    and the parsers decide. Only the first ``SNIFF_BYTES`` are checked for binary data, so
    a text file with a bad byte further down is still refused by its parser, with the line.
    """
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            return what
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "a WebP image"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(head)
    sample = head[:SNIFF_BYTES]
    if b"\x00" in sample:
        return BINARY
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        # A character cut in two at the end of the sample is not an error of the file.
        cut = error.reason == "unexpected end of data" and len(head) > SNIFF_BYTES
        if not cut:
            return NOT_UTF8
    return None


def _zip_kind(head: bytes) -> str:
    """Office files are ZIP archives; their first member's name says which kind."""
    if b"word/" in head:
        return "a Word document (.docx)"
    if b"xl/" in head:
        return "an Excel workbook (.xlsx)"
    if b"ppt/" in head:
        return "a PowerPoint presentation (.pptx)"
    if b"application/vnd.oasis.opendocument" in head:
        return "an OpenDocument file (.odt, .ods)"
    return "a ZIP archive"


GZIP = "gzip"
ZSTANDARD = "zstandard"
ZIP = "ZIP"


def compression_of(head: bytes) -> str | None:
    """``GZIP``, ``ZSTANDARD`` or ``ZIP`` when the first bytes say so, else None.

    Office documents are ZIP archives too; they stay refused as what they are. What is
    inside is read by ``archives.py``.
    """
    if head.startswith(b"\x1f\x8b"):
        return GZIP
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return ZSTANDARD
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")) and _zip_kind(head) == "a ZIP archive":
        return ZIP
    return None


def refuse_unsupported(head: bytes, filename: str, *, encoding: str | None = None) -> None:
    """Raise ``UnsupportedFileError`` saying what the file is when it is no thread at all.

    Binary data and invalid UTF-8 name the line (and byte) at fault, as the parsers do;
    invalid UTF-8 also names the encoding the text looks like (``encoding.py``). A
    compressed file or archive passes (what it holds is checked once it is unpacked), and
    so does text in another ``encoding`` when one is chosen.
    """
    if compression_of(head) is not None:
        return
    if head[257:262] == b"ustar":
        raise UnsupportedFileError(
            filename, None, f"This is a tar archive: make it a ZIP archive. {ACCEPTED}"
        )
    what = identify_unsupported(head)
    if what is None or (what == NOT_UTF8 and encoding is not None):
        return
    line = None
    if what == BINARY:
        at = head.index(b"\x00")
        line = head[:at].count(b"\n") + 1
        reason = (
            "This is binary data (NUL bytes), not a comment thread (text saved as UTF-16 "
            f"must be saved as UTF-8). {ACCEPTED}"
        )
    elif what == NOT_UTF8:
        from annotator.corpus.importers.encoding import not_utf8_error

        try:
            head[:SNIFF_BYTES].decode("utf-8")
        except UnicodeDecodeError as error:
            at = error.start
        refusal = not_utf8_error(filename, head, at, head[:at].count(b"\n") + 1)
        raise UnsupportedFileError(
            filename, refusal.line, refusal.reason[0].upper() + refusal.reason[1:]
        )
    else:
        reason = f"This is {what}, not a comment thread. {ACCEPTED}"
    raise UnsupportedFileError(filename, line, reason)


def detect_format(head: bytes, filename: str, *, encoding: str | None = None) -> str:
    """Guess a file's format from its name and first bytes (``head``, a few KB).

    The content decides where it is unambiguous (XML with a ``<disqus`` root, a JSON object
    on the first line, a CSV header with ``comment_id``); the extension breaks ties. What is
    no thread at all (``identify_unsupported``) raises ``UnsupportedFileError`` before the
    scraped-text fallback could take it.
    """
    refuse_unsupported(head, filename, encoding=encoding)
    if encoding is not None:
        # The sniffers read UTF-8, as the parsers will be handed (a character cut at the
        # end of the head is dropped).
        head = head.decode(encoding, errors="ignore").encode("utf-8")
    for spec in FORMAT_SPECS.values():
        if spec.recognises(head, filename):
            return spec.name
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

    ``options`` matters for scraped text (the corrections an admin made in the preview, see
    ``text.parse_text``) and, as ``article_field``, for the formats that can group their
    records into articles by a field (``FormatSpec.article_field``).
    """
    spec = FORMAT_SPECS.get(fmt)
    if spec is None or spec.archive:
        raise ImportFileError(filename, None, f"unknown format {fmt!r} (use one of {FORMATS})")
    if fmt == "text":
        from annotator.corpus.importers.text import parse_text

        return parse_text(stream, filename, options or {})
    article_field = (options or {}).get("article_field")
    if article_field:
        if not spec.article_field:
            raise ImportFileError(
                filename,
                None,
                f"an article field applies to Label Studio and doccano exports, not {spec.label}",
            )
        return spec.function()(stream, filename, article_field=article_field)
    return spec.function()(stream, filename)
