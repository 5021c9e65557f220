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
   ``explicit``). Unnamed comments have an empty author.
6. **Parents of unnamed comments.** A double blank line does not always mean a new thread,
   so every unnamed comment gets its likely parents ranked: the article and each of the
   previous ``WINDOW`` comments (a fixed window keeps the ranking linear in the number of
   comments). Scrapes list threads depth first, so a reply's parent is the comment just
   above or one of its ancestors ("the spine"); those get a proximity bonus. Cues add to a
   comment's score: rare words it shares with the candidate (a word used by only the two
   counts most, one used by more than an eighth of the comments not at all, so
   "everything" or "Sun Tzu" count and "Aleppo" does not); for the comment
   just above, that it asks a question, that the new comment addresses someone ("you",
   "your" outside quotes), opens like an answer ("No,", "Yes", "Even if", "That saying",
   "He is"), or is a very short reaction ("Could be, sure"). The article scores a base
   value, plus words shared with the article and a mention of "the article" itself. The
   best score wins; without a clear cue the article wins.
7. **Confidence.** ``explicit`` for a named reply. For inferred links the margin between
   the best and the second candidate decides ``high``, ``medium`` or ``low``; an article
   parent with no competing cue at all is ``high``.

Source ids are stable across re-imports and updated scrapes: the article's is
``"text-" + sha1(normalised title)[:12]``, a comment's ``"t-" + sha1(author, normalised
text)[:12]`` with ``-2``, ``-3``... for repeated identical comments, so the loader recognises
comments it already holds and adds only the new ones.

Unlike the other parsers this one reads the whole file: inferring a tree needs the whole
thread, and scraped threads are small (a few MB at most). Ranking is linear in the number
of comments (about 80 microseconds a comment, 2,500 comments in 0.2 s).

Refusals (``ImportFileError`` with the line): an empty file, invalid UTF-8, NUL bytes
(binary data), and a file that is JSON or XML rather than scraped text. A title with an
article and no comments is accepted by ``parse_text`` (the command line's contract: an
article nobody has answered yet, which a later scrape fills), but the browser preview will
not confirm it (``confirm_refusal``): there an empty reading almost always means the file
is not a comment thread at all, and confirming would create an article with nothing to
label. A UTF-8 BOM and CRLF line endings are accepted.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Record,
)

WINDOW = 15  # earlier comments ranked as possible parents of an unnamed comment
MAX_CANDIDATES = 5  # parents kept per comment (the article is always among them)
ID_HASH_CHARS = 12
RARE_WEIGHT = 0.45  # what a word used by just two comments adds to their tie
NO_CUE_SCORE = 0.3  # the proximity bonus of the comment just above, before any cue

_BOM = "\ufeff"
_APOSTROPHE = "\u2019"  # the typographic apostrophe scrapes keep, read as "'"
_OPENING_SINGLE_QUOTE = "\u2018"


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
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|«[^»]*»")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)?")
_ADDRESS = _word_set("you your you're yours youre yourself u")
_ANSWER_OPENERS = (
    "no,",
    "no.",
    "no ",
    "nope",
    "not ",
    "yes",
    "yeah",
    "yup",
    "yep",
    "even if",
    "even so",
    "that saying",
    "that quote",
    "that's",
    "that is ",
    "exactly",
    "agreed",
    "i agree",
    "i disagree",
    "true",
    "indeed",
    "wrong",
    "really",
    "so what",
    "but ",
    "one other thing",
    "also,",
    "p.s",
    "ps ",
    "he is",
    "he's",
    "she is",
    "she's",
    "his ",
    "her ",
    "could be",
    "maybe so",
    "well said",
)
_ARTICLE_MENTIONS = re.compile(
    r"\b(?:the|this|above|that) (?:article|report|piece|story)\b|\bthe writer\b|\bsouthfront\b",
    re.IGNORECASE,
)
_STOPWORDS = _word_set(
    """the and for are but not you your all any can had her was one our out day get has him
    his how man new now old see two way who boy did its let put say she too use that with
    have this will from they know want been good much some time very when come here just
    like long make many more only over such take than them well were what which their there
    these those would could should about after again also because before being both does
    doing during each even every into itself most must other same then through under until
    where while whom why yours them they're don't doesn't isn't it's i'm i've can't won't
    only own just than very may might shall upon onto off ago yet still however though"""
)
_SHORT_REPLY_WORDS = 4


@dataclass(slots=True)
class Block:
    """A paragraph of the file: its first and last line, its text, blank lines before it."""

    line: int
    end_line: int
    text: str
    blanks_before: int = 0


@dataclass(slots=True)
class ParentCandidate:
    """A possible parent: a comment's first line, or None for the article, with its score."""

    parent_line: int | None
    score: float
    reason: str


@dataclass(slots=True)
class ReconstructedComment:
    """One comment as inferred from the scrape, with the parent chosen and the alternatives."""

    line: int
    end_line: int
    author: str
    text: str
    parent_line: int | None
    confidence: str
    reason: str
    candidates: list[ParentCandidate] = field(default_factory=list)


@dataclass(slots=True)
class ThreadReconstruction:
    """The importer's reading of a scraped thread: title, article paragraphs and comments."""

    title: str
    title_line: int
    article_paragraphs: list[Block]
    article_end: int
    comments: list[ReconstructedComment]


# --- Reading the file ----------------------------------------------------------------------


def parse_text(stream: BinaryIO, filename: str, options: dict) -> Iterator[Record]:
    """Yield the article record, then one comment record per comment, in file order.

    ``options`` holds the admin's corrections from the preview, as stored in the import job:
    ``{"article_end": <line>, "parents": {"<comment line>": <parent line or None>}}``. A
    parent that is not a comment above the comment it is set for is refused, naming the
    comment's line, since it would make a cycle or point at nothing.
    """
    text = decode_text(stream.read(), filename)
    article_end = options.get("article_end")
    if article_end is not None and (
        isinstance(article_end, bool) or not isinstance(article_end, int)
    ):
        raise ImportFileError(filename, None, f"the article end {article_end!r} is not a line")
    reconstruction = reconstruct_thread(text, filename, article_end=article_end)
    parents = _corrected_parents(reconstruction, options.get("parents") or {}, filename)

    article_id = article_source_id(reconstruction.title)
    yield ArticleRecord(
        source_id=article_id,
        title=reconstruction.title,
        body="\n\n".join(block.text for block in reconstruction.article_paragraphs),
        line=reconstruction.title_line,
    )
    ids = comment_source_ids(reconstruction.comments)
    for comment in reconstruction.comments:
        parent_line = parents[comment.line]
        yield CommentRecord(
            source_id=ids[comment.line],
            article_id=article_id,
            text=comment.text,
            parent_id=None if parent_line is None else ids[parent_line],
            author=comment.author,
            line=comment.line,
        )


def decode_text(data: bytes, filename: str) -> str:
    """The file's bytes as text; refuses binary data and invalid UTF-8, naming the line.

    A UTF-8 byte-order mark is dropped and CRLF (or lone CR) line endings become LF. What
    is plainly no text (a PDF, an image, binary data at the start) is refused as the upload
    form refuses it (``importers.refuse_unsupported``), since this is the fallback format.
    """
    from annotator.corpus.importers import refuse_unsupported

    refuse_unsupported(data[:4096], filename)
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise ImportFileError(filename, line, "binary data (NUL bytes), not a text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise ImportFileError(
            filename,
            line,
            f"invalid UTF-8 (byte 0x{data[error.start]:02x} at column {column}); "
            "save the file as UTF-8",
        ) from None
    return text


def _corrected_parents(
    reconstruction: ThreadReconstruction, overrides: dict, filename: str
) -> dict[int, int | None]:
    """Each comment's parent line after the admin's ``overrides`` (keys are line strings)."""
    parents = {c.line: c.parent_line for c in reconstruction.comments}
    order = {c.line: index for index, c in enumerate(reconstruction.comments)}
    for key, parent in overrides.items():
        try:
            line = int(key)
        except (TypeError, ValueError):
            raise ImportFileError(filename, None, f"no comment starts at line {key!r}") from None
        if line not in order:
            raise ImportFileError(filename, line, "a parent was chosen, but no comment starts here")
        if parent is None:
            parents[line] = None
            continue
        if isinstance(parent, bool) or not isinstance(parent, int):
            raise ImportFileError(filename, line, f"the parent {parent!r} is not a line")
        if parent == line:
            raise ImportFileError(filename, line, "a comment cannot answer itself")
        if parent not in order:
            raise ImportFileError(
                filename, line, f"the parent at line {parent} is not the start of a comment"
            )
        if order[parent] > order[line]:
            raise ImportFileError(
                filename, line, f"the parent at line {parent} comes after the comment"
            )
        parents[line] = parent
    return parents


def article_source_id(title: str) -> str:
    """The article's stable id: the same title always gives the same id."""
    digest = hashlib.sha1(_normalise(title).encode("utf-8"), usedforsecurity=False)
    return "text-" + digest.hexdigest()[:ID_HASH_CHARS]


def comment_source_ids(comments: list[ReconstructedComment]) -> dict[int, str]:
    """Stable ids by comment line: a hash of author and text, numbered when repeated.

    The n-th identical comment (same author, same normalised text) gets ``-n`` from the
    second on, so an updated scrape that adds comments keeps the ids of the old ones.
    """
    seen: Counter[str] = Counter()
    ids: dict[int, str] = {}
    for comment in comments:
        key = _normalise(comment.author) + "\x1f" + _normalise(comment.text)
        digest = hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()
        base = "t-" + digest[:ID_HASH_CHARS]
        seen[base] += 1
        ids[comment.line] = base if seen[base] == 1 else f"{base}-{seen[base]}"
    return ids


def _normalise(text: str) -> str:
    """Text compared for identity: NFC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


# --- Reconstructing the thread -------------------------------------------------------------


def reconstruct_thread(
    text: str, filename: str, *, article_end: int | None = None
) -> ThreadReconstruction:
    """Infer title, article and reply tree of a scraped thread (no database; see module doc).

    ``article_end`` is the admin's choice of the article's last line; blocks starting after
    it become comments. Raises ``ImportFileError`` for text that is empty, binary, or JSON
    or XML rather than a scraped thread.
    """
    blocks = split_blocks(text, filename)
    title_block, rest = blocks[0], blocks[1:]
    title = " ".join(title_block.text.split())
    if rest and _normalise(rest[0].text) == _normalise(title_block.text):
        rest = rest[1:]

    guessed = _guess_article_length(rest)
    if article_end is None:
        article_count = guessed
    else:
        article_count = sum(1 for block in rest if block.line <= article_end)
    article = rest[:article_count]
    if article_end is None:
        article_end = article[-1].end_line if article else title_block.end_line
    # Paragraphs the admin moved out of the article are whole comments, one each, and the
    # first reader comment stays as it was: each can be moved back, and a re-import of the
    # same file finds the same comments.
    comments = _split_comments(rest[article_count:], separate=max(0, guessed - article_count))
    _rank_parents(comments, " ".join(block.text for block in article))
    return ThreadReconstruction(
        title=title,
        title_line=title_block.line,
        article_paragraphs=article,
        article_end=article_end,
        comments=[draft.comment for draft in comments],
    )


def confirm_refusal(reconstruction: ThreadReconstruction) -> str | None:
    """Why a previewed reading must not be confirmed, or None when it may be.

    A reading without comments would create an article with nothing to label; the admin
    can still move the article's end up if the comments were taken for article text.
    """
    if reconstruction.comments:
        return None
    if not reconstruction.article_paragraphs:
        return (
            "No article text and no comments were found: this file is not a scraped comment "
            "thread, so there is nothing to import."
        )
    return (
        "No comments were found after the article, so there is nothing to label. If the "
        "comments were taken for article text, choose an earlier end of the article; "
        "otherwise this file is not a comment thread."
    )


def split_blocks(text: str, filename: str) -> list[Block]:
    """The paragraphs of ``text`` with their lines and the blank lines before each.

    Refuses text with no paragraph, with NUL characters, or that is JSON or XML.
    """
    text = text.removeprefix(_BOM).replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[Block] = []
    lines: list[str] = []
    start = blanks = 0
    first_seen = False
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip()
        if "\x00" in line:
            raise ImportFileError(filename, number, "binary data (NUL bytes), not a text file")
        if not line.strip():
            if lines:
                blocks.append(Block(start, number - 1, "\n".join(lines), blanks))
                lines, blanks = [], 0
            blanks += 1
            continue
        if not first_seen:
            first_seen = True
            _refuse_other_formats(line, number, filename)
        if not lines:
            start = number
        lines.append(line.strip())
    if lines:
        blocks.append(Block(start, start + len(lines) - 1, "\n".join(lines), blanks))
    if not blocks:
        raise ImportFileError(filename, None, "the file is empty")
    return blocks


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
        core = word.strip("().'-" + _APOSTROPHE)
        if not core:
            continue
        has_letters = has_letters or any(char.isalpha() for char in core)
        if word.startswith("(") or core[0].isupper() or core[0].isdigit():
            continue
        if core.casefold() in _NAME_PARTICLES:
            continue
        return False
    return has_letters


def _is_author_block(blocks: list[Block], index: int) -> bool:
    """An author line between single blank lines, followed by a block that is not a name."""
    block = blocks[index]
    if block.blanks_before != 1 or index + 1 >= len(blocks):
        return False
    following = blocks[index + 1]
    return (
        following.blanks_before == 1
        and is_author_line(block.text)
        and not is_author_line(following.text)
    )


def _reads_like_a_reader(text: str) -> bool:
    """First- or second-person voice or a smiley outside quotes: how readers write."""
    unquoted = _QUOTED.sub(" ", text)
    if _SMILEY.search(unquoted):
        return True
    words = {word.casefold().replace(_APOSTROPHE, "'") for word in _WORD.findall(unquoted)}
    return bool(words & _PERSONAL)


def _guess_article_length(blocks: list[Block]) -> int:
    """How many of ``blocks`` (after the title) belong to the article (module doc, 3)."""
    run = 0
    while run < len(blocks) and (run == 0 or blocks[run].blanks_before < 2):
        run += 1
    for index in range(1, run):
        if _reads_like_a_reader(blocks[index].text):
            return index
        if index + 1 < len(blocks) and _is_author_block(blocks, index + 1):
            return index
    return run


@dataclass(slots=True)
class _Draft:
    """A comment being built, with the cues used to rank its parents."""

    comment: ReconstructedComment
    named: bool
    words: frozenset[str] = frozenset()


def _split_comments(blocks: list[Block], separate: int = 0) -> list[_Draft]:
    """Group the blocks after the article into comments (module doc, 4 and 5).

    The first ``separate`` blocks (article paragraphs the admin moved out) are a comment
    each, and the block after them starts a comment of its own.
    """
    drafts: list[_Draft] = []
    paragraphs: list[str] = []
    author: str | None = None
    current: _Draft | None = None

    def finish() -> None:
        if current is not None:
            current.comment.text = "\n\n".join(paragraphs)

    for index, block in enumerate(blocks):
        if _is_author_block(blocks, index):
            finish()
            current = None
            author = " ".join(block.text.split())
            continue
        forced = index <= separate and separate > 0
        if current is None or block.blanks_before >= 2 or author is not None or forced:
            finish()
            paragraphs = []
            current = _Draft(
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
            drafts.append(current)
            author = None
        paragraphs.append(block.text)
        current.comment.end_line = block.end_line
    finish()
    return drafts


# --- Ranking parents -------------------------------------------------------------------------


def _content_words(text: str) -> frozenset[str]:
    """The words that can tie a reply to what it answers: no stop words, no short words."""
    words = (word.casefold().replace(_APOSTROPHE, "'") for word in _WORD.findall(text))
    return frozenset(w for w in words if len(w) > 3 and w not in _STOPWORDS and not w.isdigit())


def _asks(text: str) -> bool:
    """Whether a comment's last paragraph asks something (outside quotes)."""
    last = _QUOTED.sub(" ", text.rsplit("\n\n", 1)[-1])
    return "?" in last


def _addresses(text: str) -> bool:
    """Whether a comment speaks to someone ("you", "your") outside quotes."""
    words = {w.casefold().replace(_APOSTROPHE, "'") for w in _WORD.findall(_QUOTED.sub(" ", text))}
    return bool(words & _ADDRESS)


def _opener(text: str) -> str | None:
    """The answer-like opening of a comment ("No,", "Even if", ...), if it has one."""
    start = text.lstrip("“\"' " + _OPENING_SINGLE_QUOTE).casefold().replace(_APOSTROPHE, "'")
    for opener in _ANSWER_OPENERS:
        if start.startswith(opener):
            return text[: len(opener)].strip()
    return None


def _rank_parents(drafts: list[_Draft], article_text: str) -> None:
    """Choose each comment's parent and rank the alternatives (module doc, 6 and 7).

    Linear in the number of comments: each looks at most ``WINDOW`` comments back.
    """
    article_words = _content_words(article_text)
    documents = Counter()
    documents.update(article_words)
    for draft in drafts:
        draft.words = _content_words(draft.comment.text)
        documents.update(draft.words)
    total = len(drafts) + 1

    rare_limit = max(2, total // 8)

    def rarity(word: str) -> float:
        """How much sharing ``word`` ties two comments: 0 for common words, most for a word
        only those two use (independent of the thread's length)."""
        count = documents[word]
        return RARE_WEIGHT / (count - 1) if 1 < count <= rare_limit else 0.0

    parent_of: dict[int, int | None] = {}
    for index, draft in enumerate(drafts):
        comment = draft.comment
        window = drafts[max(0, index - WINDOW) : index]
        spine = _spine(window, parent_of)
        ranked = _score_candidates(draft, window, spine, article_words, rarity)
        if draft.named and window:
            above = window[-1].comment.line
            comment.parent_line = above
            comment.confidence = "explicit"
            comment.reason = f"named reply by {comment.author}: answers the comment just above"
            explicit = ParentCandidate(above, 1.0 + ranked[0].score, "named reply")
            ranked = [explicit] + [c for c in ranked if c.parent_line != above]
        elif draft.named:
            comment.parent_line = None
            comment.confidence = "explicit"
            comment.reason = f"named reply by {comment.author} right after the article"
        else:
            best = ranked[0]
            runner_up = ranked[1].score if len(ranked) > 1 else 0.0
            comment.parent_line = best.parent_line
            comment.confidence = _confidence(best, runner_up)
            comment.reason = best.reason
        comment.candidates = _shortlist(ranked)
        parent_of[comment.line] = comment.parent_line


def _spine(window: list[_Draft], parent_of: dict[int, int | None]) -> dict[int, int]:
    """The comment just above and its ancestors, by line, with their distance up the tree."""
    spine: dict[int, int] = {}
    if not window:
        return spine
    in_window = {draft.comment.line for draft in window}
    line: int | None = window[-1].comment.line
    level = 1
    while line is not None and line in in_window and line not in spine:
        spine[line] = level
        line = parent_of.get(line)
        level += 1
    return spine


def _score_candidates(draft, window, spine, article_words, rarity) -> list[ParentCandidate]:
    """Every candidate parent of ``draft`` with its score and reason, best first."""
    text = draft.comment.text
    words = draft.words
    opener = _opener(text)
    short = len(text.split()) <= _SHORT_REPLY_WORDS
    addresses = _addresses(text)

    shared_article = sorted(words & article_words, key=rarity, reverse=True)
    article_score = 0.6 + min(0.2, 0.5 * sum(rarity(w) for w in shared_article))
    article_reasons = []
    if _ARTICLE_MENTIONS.search(text):
        article_score += 1.0
        article_reasons.append("mentions the article")
    if shared_article:
        article_reasons.append(
            "shares words with the article (" + ", ".join(shared_article[:3]) + ")"
        )
    candidates = [
        ParentCandidate(
            None,
            round(article_score, 3),
            "; ".join(article_reasons) or "no cue ties it to an earlier comment",
        )
    ]

    above = window[-1].comment.line if window else None
    for distance, other in enumerate(reversed(window), start=1):
        line = other.comment.line
        reasons: list[str] = []
        # Depth-first order puts a parent on the spine; a comment off it is a long shot.
        score = NO_CUE_SCORE / spine[line] if line in spine else -0.3 - 0.01 * distance
        rare = sorted((w for w in words & other.words if rarity(w)), key=rarity, reverse=True)
        if rare:
            score += min(1.2, sum(rarity(w) for w in rare))
            reasons.append("repeats " + ", ".join(f"“{w}”" for w in rare[:3]) + f" of line {line}")
        if line == above:
            if _asks(other.comment.text):
                score += 0.4
                reasons.append(f"line {line} asks a question")
            if opener:
                score += 0.5
                reasons.append(f"opens like an answer (“{opener}”)")
            if addresses:
                score += 0.3
                reasons.append("addresses the comment above (“you”)")
            if short:
                score += 0.5
                reasons.append("a short reaction to the comment above")
        if not reasons:
            reasons.append("near" if line in spine else "earlier in the thread")
        candidates.append(ParentCandidate(line, round(score, 3), "; ".join(reasons)))
    candidates.sort(key=lambda c: -c.score)
    return candidates


def _confidence(best: ParentCandidate, runner_up: float) -> str:
    """How sure an inferred link is, from the margin over the second-best candidate.

    The article wins with ``high`` confidence when no comment has more than its proximity
    bonus (``NO_CUE_SCORE``): nothing at all suggests a reply.
    """
    if best.parent_line is None and runner_up <= NO_CUE_SCORE:
        return "high"
    margin = best.score - runner_up
    if margin >= 0.5:
        return "high"
    if margin >= 0.2:
        return "medium"
    return "low"


def _shortlist(ranked: list[ParentCandidate]) -> list[ParentCandidate]:
    """The best ``MAX_CANDIDATES`` parents, always including the article."""
    shortlist = ranked[:MAX_CANDIDATES]
    if all(c.parent_line is not None for c in shortlist):
        article = next(c for c in ranked if c.parent_line is None)
        shortlist = [*shortlist[: MAX_CANDIDATES - 1], article]
    return shortlist
