"""Read a scraped plain-text thread (the seed's format) and infer its reply tree.

The format is what a scraper keeps of a comment page: the article's title (usually twice),
the article's paragraphs, then the comments. It is lossy, so the tree is *inferred*;
``reconstruct_thread`` returns the inference with its reasons and ranked alternatives, the
browser preview shows them, and ``parse_text`` turns the (possibly corrected) result into
records. The heuristics, in the order they apply:

1. **Blocks.** Lines are grouped into paragraphs ("blocks") separated by blank lines; each
   block remembers how many blank lines came before it.
2. **Title.** The first non-blank line is the title; when the next block repeats it (as the
   scraper does), the repetition is dropped.
3. **Article boundary.** The scrape does not mark where the article ends, and the first
   comment may follow it after a single blank line. The article is the run of blocks before
   the first gap of two or more blank lines, cut short at the first block (never the first
   one) that reads like a reader rather than a reporter: written in the first or second
   person outside quotation marks ("I suppose", "my", "you"), carrying a smiley, or followed
   by an author-name line (only comments get named replies). News copy is written in the
   third person and quotes people inside quotation marks, so this keeps the article whole
   while splitting off a first comment glued to it. The admin can move the end
   (``article_end``).
4. **Comments.** After the article, two or more blank lines start a new comment; one blank
   line separates paragraphs of the same comment.
5. **Author names.** A block is an author's name when it is one short line (at most five
   words, 40 characters) of capitalised words (digits, particles such as "de" or "van",
   parentheses and a trailing "Jr."-style dot allowed, as in "888mladen ." or "Pavel Pustina
   (ARTforU)"), without sentence punctuation (no comma, colon, "?" or "!"), that is not an
   interjection ("Thanks", "Yes"), and it sits between single blank lines with text after
   it. It starts that author's reply, whose parent is the comment just above (confidence
   ``explicit``) unless it names or quotes a comment further up (``text_parents.py``).
   Unnamed comments have an empty author.
6. **Parents** of unnamed comments are ranked, and confidences given, by
   ``text_parents.py`` (heuristics 6 and 7 are described there).

Source ids are stable across re-imports and updated scrapes: the article's is
``"text-" + sha1(normalised title)[:12]``, a comment's ``"t-" + sha1(author, normalised
text)[:12]`` with ``-2``, ``-3``... for repeated identical comments, so the loader recognises
comments it already holds and adds only the new ones.

The file is read as a stream, twice (``read_thread``): the first pass counts how often
each word is used (rare words tie a reply to what it answers), the second ranks each
comment's parents against the last ``WINDOW`` comments only, so memory stays flat whatever
the file's size and the time grows linearly with it (about half a millisecond a
comment: 10,000 comments in about 5 s; bench/text_preview.py).

Refusals (``ImportFileError`` with the line): an empty file, invalid UTF-8, NUL bytes
(binary data), and a file that is JSON or XML rather than scraped text. A title with an
article and no comments is accepted by ``parse_text`` (the command line's contract: an
article nobody has answered yet, which a later scrape fills), but the browser preview will
not confirm it (``confirm_refusal``): there an empty reading almost always means the file
is not a comment thread at all, and confirming would create an article with nothing to
label. A UTF-8 BOM and CRLF line endings are accepted.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import shutil
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO

from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Record,
)
from annotator.corpus.importers.text_parents import (
    APOSTROPHE,
    QUOTED,
    WINDOW,
    WORD,
    Draft,
    ParentCandidate,
    ParentRanker,
    ReconstructedComment,
    WordCounts,
)

__all__ = [
    "WINDOW",
    "Block",
    "ParentCandidate",
    "ReconstructedComment",
    "ThreadHead",
    "ThreadReading",
    "ThreadReconstruction",
    "confirm_refusal",
    "parse_text",
    "read_thread",
    "reconstruct_thread",
]

ID_HASH_CHARS = 12
SNIFF_BYTES = 4096  # what is checked for a PDF, an image or other binary data
SPOOL_BYTES = 16 * 1024 * 1024  # a stream parse_text reads twice stays in memory up to this

_BOM = b"\xef\xbb\xbf"


def _word_set(words: str) -> frozenset[str]:
    """A set of words written as one space-separated string, for readable word lists."""
    return frozenset(words.split())


_NAME_MAX_WORDS = 5
_NAME_MAX_CHARS = 40
_NAME_PARTICLES = _word_set(
    "de da del della di do dos du van von der den ten ter la le al el bin ibn y e"
)
_INTERJECTIONS = _word_set(
    """thanks thank yes no nope yup yep agreed exactly true indeed wow lol ok okay well hi
    hello bravo right correct amen sure nice great good bullshit nonsense wrong"""
)
_SENTENCE_PUNCTUATION = frozenset(',;:!?"“”«»')
_PERSONAL = _word_set(
    """i i'm i've i'd i'll im ive me my mine myself you your you're yours youre yourself
    lol"""
)
_SMILEY = re.compile(r"(?:^|\s)[:;]-?[()DPp](?:\s|$)")


@dataclass(slots=True)
class Block:
    """A paragraph of the file: its first and last line, its text, blank lines before it."""

    line: int
    end_line: int
    text: str
    blanks_before: int = 0


@dataclass(slots=True)
class ThreadHead:
    """What comes before the comments: the title and the article's paragraphs."""

    title: str
    title_line: int
    article_paragraphs: list[Block]
    article_end: int  # the article's last line (the admin's choice, or the importer's)


@dataclass(slots=True)
class ThreadReconstruction:
    """The importer's reading of a scraped thread: title, article paragraphs and comments."""

    title: str
    title_line: int
    article_paragraphs: list[Block]
    article_end: int
    comments: list[ReconstructedComment]


# Opens the file afresh, at its start, for each pass (a file, or a context giving one).
Opener = Callable[[], AbstractContextManager[BinaryIO]]


# --- Reading the file ----------------------------------------------------------------------


class ThreadReading:
    """A scraped thread read as a stream: ``head`` at once, ``comments()`` on demand.

    Made by ``read_thread``, whose first pass over the file gave the head, the number of
    comments and the word counts; each ``comments()`` is a second pass that ranks the
    parents as it goes, yielding one comment at a time.
    """

    def __init__(
        self,
        opener: Opener,
        filename: str,
        article_end: int | None,
        on_read: Callable[[int], None] | None,
    ) -> None:
        self._opener = opener
        self._filename = filename
        self._article_end = article_end
        self._on_read = on_read
        counts: WordCounts | None = None
        self.comment_count = 0
        with opener() as stream:
            head, drafts = self._read(stream)
            counts = WordCounts(_article_text(head))
            for draft in drafts:
                counts.add(draft.comment.text)
                self.comment_count += 1
        self.head = head
        self._counts = counts

    def _read(self, stream: BinaryIO) -> tuple[ThreadHead, Iterator[Draft]]:
        blocks = iter_blocks(iter_lines(stream, self._filename, self._on_read), self._filename)
        head, rest, separate = _read_head(blocks, self._article_end)
        return head, _split_comments(rest, separate=separate)

    def comments(self) -> Iterator[ReconstructedComment]:
        """The comments in file order, each with its parent, confidence and candidates."""
        ranker = ParentRanker(_article_text(self.head), self._counts)
        with self._opener() as stream:
            _, drafts = self._read(stream)
            for draft in drafts:
                yield ranker.rank(draft)


def read_thread(
    opener: Opener,
    filename: str,
    *,
    article_end: int | None = None,
    on_read: Callable[[int], None] | None = None,
) -> ThreadReading:
    """Read a scraped thread from the file ``opener`` opens (once now, once per
    ``comments()``); ``on_read(n)`` is told of every ``n`` bytes read, for progress.

    ``article_end`` is the admin's choice of the article's last line; blocks starting after
    it become comments. Raises ``ImportFileError`` for a file that is empty, binary,
    undecodable, or JSON or XML rather than a scraped thread.
    """
    return ThreadReading(opener, filename, article_end, on_read)


def reconstruct_thread(
    text: str, filename: str, *, article_end: int | None = None
) -> ThreadReconstruction:
    """The whole reading of a thread held in memory as ``text`` (tests, small files)."""
    data = text.encode("utf-8", errors="surrogatepass")
    reading = read_thread(lambda: io.BytesIO(data), filename, article_end=article_end)
    head = reading.head
    return ThreadReconstruction(
        title=head.title,
        title_line=head.title_line,
        article_paragraphs=head.article_paragraphs,
        article_end=head.article_end,
        comments=list(reading.comments()),
    )


def parse_text(stream: BinaryIO, filename: str, options: dict) -> Iterator[Record]:
    """Yield the article record, then one comment record per comment, in file order.

    ``options`` holds the admin's corrections from the preview, as stored in the import job:
    ``{"article_end": <line>, "parents": {"<comment line>": <parent line or None>}}``. A
    parent that is not a comment above the comment it is set for is refused, naming the
    comment's line, since it would make a cycle or point at nothing. The stream is copied
    once to a spooled file (in memory when small), which the reading then reads twice.
    """
    article_end = options.get("article_end")
    if article_end is not None and (
        isinstance(article_end, bool) or not isinstance(article_end, int)
    ):
        raise ImportFileError(filename, None, f"the article end {article_end!r} is not a line")
    overrides = _checked_overrides(options.get("parents") or {}, filename)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        shutil.copyfileobj(stream, spool, 1024 * 1024)

        def reopen() -> AbstractContextManager[BinaryIO]:
            spool.seek(0)
            return contextlib.nullcontext(spool)  # each pass rereads it; the spool stays open

        reading = read_thread(reopen, filename, article_end=article_end)
        yield article_record(reading.head)
        yield from comment_records(reading.comments(), reading.head, overrides, filename)


def article_record(head: ThreadHead) -> ArticleRecord:
    """The article of a reading as a record."""
    return ArticleRecord(
        source_id=article_source_id(head.title),
        title=head.title,
        body=_article_text(head, "\n\n"),
        line=head.title_line,
    )


def comment_records(
    comments: Iterable[ReconstructedComment],
    head: ThreadHead,
    overrides: dict[int, int | None],
    filename: str,
) -> Iterator[CommentRecord]:
    """The comments of a reading as records, with the admin's parent ``overrides`` (by
    comment line, checked by ``_checked_overrides``) applied.

    A parent must be a comment above: one that is not is refused, after the last comment
    (the loader rolls back whatever it was given).
    """
    article_id = article_source_id(head.title)
    ids = SourceIds()
    id_of: dict[int, str] = {}
    later: dict[int, int] = {}  # parent line -> comment line, for parents not seen yet
    for comment in comments:
        parent_line = overrides.get(comment.line, comment.parent_line)
        if comment.line in overrides and parent_line is not None:
            if parent_line == comment.line:
                raise ImportFileError(filename, comment.line, "a comment cannot answer itself")
            if parent_line not in id_of:
                later.setdefault(parent_line, comment.line)
                parent_line = None
        id_of[comment.line] = ids.of(comment)
        yield CommentRecord(
            source_id=id_of[comment.line],
            article_id=article_id,
            text=comment.text,
            parent_id=None if parent_line is None else id_of[parent_line],
            author=comment.author,
            line=comment.line,
        )
    for line in overrides:
        if line not in id_of:
            raise ImportFileError(filename, line, "a parent was chosen, but no comment starts here")
    for parent, line in later.items():
        if parent in id_of:
            raise ImportFileError(
                filename, line, f"the parent at line {parent} comes after the comment"
            )
        raise ImportFileError(
            filename, line, f"the parent at line {parent} is not the start of a comment"
        )


def _checked_overrides(overrides: dict, filename: str) -> dict[int, int | None]:
    """The admin's parent choices by comment line, refusing keys and values of a wrong type."""
    checked: dict[int, int | None] = {}
    for key, parent in overrides.items():
        try:
            line = int(key)
        except (TypeError, ValueError):
            raise ImportFileError(filename, None, f"no comment starts at line {key!r}") from None
        if parent is not None and (isinstance(parent, bool) or not isinstance(parent, int)):
            raise ImportFileError(filename, line, f"the parent {parent!r} is not a line")
        checked[line] = parent
    return checked


def iter_lines(
    stream: BinaryIO, filename: str, on_read: Callable[[int], None] | None = None
) -> Iterator[tuple[int, str]]:
    """The file's lines, decoded and numbered from 1; refuses binary data and invalid UTF-8,
    naming the line.

    A UTF-8 byte-order mark is dropped and CRLF (or lone CR) line endings become line ends.
    What is plainly no text (a PDF, an image, binary data at the start) is refused as the
    upload form refuses it (``importers.refuse_unsupported``), since this is the fallback
    format.
    """
    from annotator.corpus.importers import refuse_unsupported

    if stream.seekable():
        start = stream.tell()
        refuse_unsupported(stream.read(SNIFF_BYTES), filename)
        stream.seek(start)
    number = 0
    first = True
    for raw in stream:
        if on_read is not None:
            on_read(len(raw))
        if first:
            first = False
            refuse_unsupported(raw[:SNIFF_BYTES], filename)
            raw = raw.removeprefix(_BOM)
        if b"\x00" in raw:
            raise ImportFileError(filename, number + 1, "binary data (NUL bytes), not a text file")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ImportFileError(
                filename,
                number + 1 + raw[: error.start].count(b"\r"),
                f"invalid UTF-8 (byte 0x{raw[error.start]:02x} at column {error.start + 1}); "
                "save the file as UTF-8",
            ) from None
        text = text.removesuffix("\n").removesuffix("\r")
        for part in text.split("\r"):  # a lone CR ends a line too
            number += 1
            yield number, part


def decode_text(data: bytes, filename: str) -> str:
    """A whole file's bytes as text, with the refusals of ``iter_lines``."""
    return "\n".join(line for _, line in iter_lines(io.BytesIO(data), filename))


def iter_blocks(lines: Iterable[tuple[int, str]], filename: str) -> Iterator[Block]:
    """The paragraphs of the numbered ``lines``, with the blank lines before each.

    Refuses text with no paragraph, or that is JSON or XML.
    """
    paragraph: list[str] = []
    start = blanks = 0
    seen = False
    number = 0
    for number, raw in lines:
        line = raw.rstrip()
        if not line.strip():
            if paragraph:
                yield Block(start, number - 1, "\n".join(paragraph), blanks)
                paragraph, blanks = [], 0
            blanks += 1
            continue
        if not seen:
            seen = True
            _refuse_other_formats(line, number, filename)
        if not paragraph:
            start = number
        paragraph.append(line.strip())
    if paragraph:
        yield Block(start, start + len(paragraph) - 1, "\n".join(paragraph), blanks)
    elif not seen:
        raise ImportFileError(filename, None, "the file is empty")


def split_blocks(text: str, filename: str) -> list[Block]:
    """The paragraphs of ``text`` (``iter_blocks`` over a string)."""
    return list(iter_blocks(iter_lines(io.BytesIO(text.encode("utf-8")), filename), filename))


def article_source_id(title: str) -> str:
    """The article's stable id: the same title always gives the same id."""
    digest = hashlib.sha1(_normalise(title).encode("utf-8"), usedforsecurity=False)
    return "text-" + digest.hexdigest()[:ID_HASH_CHARS]


class SourceIds:
    """Stable comment ids, given in file order: a hash of author and text, numbered when
    repeated.

    The n-th identical comment (same author, same normalised text) gets ``-n`` from the
    second on, so an updated scrape that adds comments keeps the ids of the old ones.
    """

    def __init__(self) -> None:
        self._seen: Counter[str] = Counter()

    def of(self, comment: ReconstructedComment) -> str:
        """The id of the next comment."""
        key = _normalise(comment.author) + "\x1f" + _normalise(comment.text)
        digest = hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()
        base = "t-" + digest[:ID_HASH_CHARS]
        self._seen[base] += 1
        count = self._seen[base]
        return base if count == 1 else f"{base}-{count}"


def comment_source_ids(comments: Iterable[ReconstructedComment]) -> dict[int, str]:
    """Stable ids of ``comments`` by line (see ``SourceIds``)."""
    ids = SourceIds()
    return {comment.line: ids.of(comment) for comment in comments}


def _normalise(text: str) -> str:
    """Text compared for identity: NFC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _article_text(head: ThreadHead, separator: str = " ") -> str:
    return separator.join(block.text for block in head.article_paragraphs)


# --- Reconstructing the thread -------------------------------------------------------------


def _read_head(
    blocks: Iterator[Block], article_end: int | None
) -> tuple[ThreadHead, Iterator[Block], int]:
    """The title and article from the first ``blocks``, the blocks left for the comments,
    and how many of those are article paragraphs the admin moved out (module doc, 2, 3).

    Only the article's run of blocks (and two more, to see author names) is held.
    """
    title_block = next(blocks)
    title = " ".join(title_block.text.split())
    buffer: list[Block] = []
    first = next(blocks, None)
    if first is not None and _normalise(first.text) != _normalise(title_block.text):
        buffer.append(first)
    run_end = None
    while (
        run_end is None
        or len(buffer) < run_end + 3
        or (article_end is not None and buffer[-1].line <= article_end)
    ):
        block = next(blocks, None)
        if block is None:
            break
        buffer.append(block)
        if run_end is None and len(buffer) > 1 and block.blanks_before >= 2:
            run_end = len(buffer) - 1
    guessed = _guess_article_length(buffer)
    if article_end is None:
        article_count = guessed
    else:
        article_count = sum(1 for block in buffer if block.line <= article_end)
    article = buffer[:article_count]
    if article_end is None:
        article_end = article[-1].end_line if article else title_block.end_line
    head = ThreadHead(title, title_block.line, article, article_end)
    # Paragraphs the admin moved out of the article are whole comments, one each, and the
    # first reader comment stays as it was: each can be moved back, and a re-import of the
    # same file finds the same comments.
    rest = _chain(buffer[article_count:], blocks)
    return head, rest, max(0, guessed - article_count)


def _chain(first: list[Block], then: Iterator[Block]) -> Iterator[Block]:
    yield from first
    yield from then


def confirm_refusal(
    reconstruction: ThreadReconstruction | None = None, **counts: int
) -> str | None:
    """Why a previewed reading must not be confirmed, or None when it may be.

    Takes a reconstruction, or its ``comments`` and ``paragraphs`` counts. A reading without
    comments would create an article with nothing to label; the admin can still move the
    article's end up if the comments were taken for article text.
    """
    if reconstruction is not None:
        comments = len(reconstruction.comments)
        paragraphs = len(reconstruction.article_paragraphs)
    else:
        comments, paragraphs = counts["comments"], counts["paragraphs"]
    if comments:
        return None
    if not paragraphs:
        return (
            "No article text and no comments were found: this file is not a scraped comment "
            "thread, so there is nothing to import."
        )
    return (
        "No comments were found after the article, so there is nothing to label. If the "
        "comments were taken for article text, choose an earlier end of the article; "
        "otherwise this file is not a comment thread."
    )


def _refuse_other_formats(first_line: str, number: int, filename: str) -> None:
    """Refuse a file whose first line is a JSON object or array, or an XML tag."""
    start = first_line.lstrip()
    if start.startswith(("{", "[")):
        raise ImportFileError(filename, number, "looks like JSON Lines, not scraped text")
    if start.startswith("<"):
        raise ImportFileError(filename, number, "looks like XML, not scraped text")


def is_author_line(text: str) -> bool:
    """Whether a block's text could be an author's name (shape only; see module doc, 5)."""
    if "\n" in text or len(text) > _NAME_MAX_CHARS:
        return False
    words = text.split()
    if not 1 <= len(words) <= _NAME_MAX_WORDS:
        return False
    if any(char in _SENTENCE_PUNCTUATION for char in text):
        return False
    if words[0].casefold().strip(".") in _INTERJECTIONS:
        return False
    if text.endswith(".") and len(words[-1]) > 3:
        return False  # a sentence, not "Jr." or a lone dot
    has_letters = False
    for word in words:
        core = word.strip("().'-" + APOSTROPHE)
        if not core:
            continue
        has_letters = has_letters or any(char.isalpha() for char in core)
        if word.startswith("(") or core[0].isupper() or core[0].isdigit():
            continue
        if core.casefold() in _NAME_PARTICLES:
            continue
        return False
    return has_letters


def _is_author_block(block: Block, following: Block | None) -> bool:
    """An author line between single blank lines, followed by a block that is not a name."""
    return (
        following is not None
        and block.blanks_before == 1
        and following.blanks_before == 1
        and is_author_line(block.text)
        and not is_author_line(following.text)
    )


def _reads_like_a_reader(text: str) -> bool:
    """First- or second-person voice or a smiley outside quotes: how readers write."""
    unquoted = QUOTED.sub(" ", text)
    if _SMILEY.search(unquoted):
        return True
    words = {word.casefold().replace(APOSTROPHE, "'") for word in WORD.findall(unquoted)}
    return bool(words & _PERSONAL)


def _guess_article_length(blocks: list[Block]) -> int:
    """How many of ``blocks`` (after the title) belong to the article (module doc, 3)."""
    run = 0
    while run < len(blocks) and (run == 0 or blocks[run].blanks_before < 2):
        run += 1
    for index in range(1, run):
        if _reads_like_a_reader(blocks[index].text):
            return index
        if index + 2 <= len(blocks) - 1 and _is_author_block(blocks[index + 1], blocks[index + 2]):
            return index
    return run


def _with_next(blocks: Iterable[Block]) -> Iterator[tuple[Block, Block | None]]:
    """Each block with the one after it (None after the last)."""
    previous: Block | None = None
    for block in blocks:
        if previous is not None:
            yield previous, block
        previous = block
    if previous is not None:
        yield previous, None


def _split_comments(blocks: Iterable[Block], separate: int = 0) -> Iterator[Draft]:
    """Group the blocks after the article into comments (module doc, 4 and 5), in order.

    The first ``separate`` blocks (article paragraphs the admin moved out) are a comment
    each, and the block after them starts a comment of its own.
    """
    paragraphs: list[str] = []
    author: str | None = None
    current: Draft | None = None

    def finished(draft: Draft) -> Draft:
        draft.comment.text = "\n\n".join(paragraphs)
        return draft

    for index, (block, following) in enumerate(_with_next(blocks)):
        if _is_author_block(block, following):
            if current is not None:
                yield finished(current)
            current = None
            author = " ".join(block.text.split())
            continue
        forced = index <= separate and separate > 0
        if current is None or block.blanks_before >= 2 or author is not None or forced:
            if current is not None:
                yield finished(current)
            paragraphs = []
            current = Draft(
                ReconstructedComment(
                    line=block.line,
                    end_line=block.end_line,
                    author=author or "",
                    text="",
                    parent_line=None,
                    confidence="high",
                    reason="",
                ),
                named=author is not None,
            )
            author = None
        paragraphs.append(block.text)
        current.comment.end_line = block.end_line
    if current is not None:
        yield finished(current)
