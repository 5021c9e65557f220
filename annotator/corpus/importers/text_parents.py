"""Rank the likely parents of each comment of a scraped thread, in file order, streaming.

``text.py`` reads the file and groups it into comments; this module decides whom each
comment answers (heuristics 6 and 7 of ``text.py``'s module doc):

6. **Parents of unnamed comments.** A double blank line does not always mean a new thread,
   so every unnamed comment gets its likely parents ranked: the article and each of the
   previous ``WINDOW`` comments (a fixed window keeps the ranking linear in the number of
   comments, and the memory flat). Scrapes list threads depth first, so a reply's parent is
   the comment just above or one of its ancestors ("the spine"); those get a proximity
   bonus. Cues add to a comment's score: rare words it shares with the candidate (a word
   used by only the two counts most, one used by more than an eighth of the comments not at
   all, so "everything" or "Sun Tzu" count and "Aleppo" does not); for the comment just
   above, that it asks a question, that the new comment addresses someone ("you", "your"
   outside quotes), opens like an answer ("No,", "Yes", "Even if", "That saying", "He
   is"), or is a very short reaction ("Could be, sure"). The article scores a base value,
   plus words shared with the article and a mention of "the article" itself. The best score
   wins; without a clear cue the article wins.
7. **Confidence.** ``explicit`` for a named reply. For inferred links the margin between
   the best and the second candidate decides ``high``, ``medium`` or ``low``; an article
   parent with no competing cue at all is ``high``.

How rare a word is needs the whole thread, so a reading makes two passes over the comments:
the first counts in how many comments each word appears (``WordCounts``), the second ranks
(``ParentRanker.rank``), one comment at a time, keeping only the last ``WINDOW``.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass, field

WINDOW = 15  # earlier comments ranked as possible parents of an unnamed comment
MAX_CANDIDATES = 5  # parents kept per comment (the article is always among them)
RARE_WEIGHT = 0.45  # what a word used by just two comments adds to their tie
NO_CUE_SCORE = 0.3  # the proximity bonus of the comment just above, before any cue

APOSTROPHE = "\u2019"  # the typographic apostrophe scrapes keep, read as "'"
_OPENING_SINGLE_QUOTE = "\u2018"
QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|«[^»]*»")
WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)?")


def _word_set(words: str) -> frozenset[str]:
    """A set of words written as one space-separated string, for readable word lists."""
    return frozenset(words.split())


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
class Draft:
    """A comment being ranked, with the cues used to rank its parents (and later ones')."""

    comment: ReconstructedComment
    named: bool
    words: frozenset[str] = frozenset()


def content_words(text: str) -> frozenset[str]:
    """The words that can tie a reply to what it answers: no stop words, no short words."""
    words = (word.casefold().replace(APOSTROPHE, "'") for word in WORD.findall(text))
    return frozenset(w for w in words if len(w) > 3 and w not in _STOPWORDS and not w.isdigit())


class WordCounts:
    """In how many texts (the article and each comment) each content word appears."""

    def __init__(self, article_text: str) -> None:
        self.documents: Counter[str] = Counter(content_words(article_text))
        self.texts = 1

    def add(self, text: str) -> None:
        """Count one comment's words."""
        self.documents.update(content_words(text))
        self.texts += 1


def _asks(text: str) -> bool:
    """Whether a comment's last paragraph asks something (outside quotes)."""
    last = QUOTED.sub(" ", text.rsplit("\n\n", 1)[-1])
    return "?" in last


def _addresses(text: str) -> bool:
    """Whether a comment speaks to someone ("you", "your") outside quotes."""
    words = {w.casefold().replace(APOSTROPHE, "'") for w in WORD.findall(QUOTED.sub(" ", text))}
    return bool(words & _ADDRESS)


def _opener(text: str) -> str | None:
    """The answer-like opening of a comment ("No,", "Even if", ...), if it has one."""
    start = text.lstrip("“\"' " + _OPENING_SINGLE_QUOTE).casefold().replace(APOSTROPHE, "'")
    for opener in _ANSWER_OPENERS:
        if start.startswith(opener):
            return text[: len(opener)].strip()
    return None


class ParentRanker:
    """Chooses each comment's parent and ranks the alternatives, comments in file order.

    Keeps only the last ``WINDOW`` comments (and their parents), so a thread of any length
    is ranked in flat memory and linear time. ``counts`` must hold the whole thread's word
    counts (a first pass), so that a word's rarity is the same wherever it appears.
    """

    def __init__(self, article_text: str, counts: WordCounts) -> None:
        self.article_words = content_words(article_text)
        self.documents = counts.documents
        self.rare_limit = max(2, counts.texts // 8)
        self.window: deque[Draft] = deque(maxlen=WINDOW)
        self.parent_of: dict[int, int | None] = {}

    def rarity(self, word: str) -> float:
        """How much sharing ``word`` ties two comments: 0 for common words, most for a word
        only those two use (independent of the thread's length)."""
        count = self.documents[word]
        return RARE_WEIGHT / (count - 1) if 1 < count <= self.rare_limit else 0.0

    def rank(self, draft: Draft) -> ReconstructedComment:
        """Set ``draft``'s parent, confidence, reason and candidates; return its comment."""
        comment = draft.comment
        draft.words = content_words(comment.text)
        window = list(self.window)
        spine = self._spine(window)
        ranked = self._score_candidates(draft, window, spine)
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
        if len(self.window) == WINDOW:
            self.parent_of.pop(self.window[0].comment.line, None)
        self.window.append(draft)
        self.parent_of[comment.line] = comment.parent_line
        return comment

    def _spine(self, window: list[Draft]) -> dict[int, int]:
        """The comment just above and its ancestors, by line, with their distance up."""
        spine: dict[int, int] = {}
        if not window:
            return spine
        in_window = {draft.comment.line for draft in window}
        line: int | None = window[-1].comment.line
        level = 1
        while line is not None and line in in_window and line not in spine:
            spine[line] = level
            line = self.parent_of.get(line)
            level += 1
        return spine

    def _score_candidates(
        self, draft: Draft, window: list[Draft], spine: dict[int, int]
    ) -> list[ParentCandidate]:
        """Every candidate parent of ``draft`` with its score and reason, best first."""
        rarity = self.rarity
        text = draft.comment.text
        words = draft.words
        opener = _opener(text)
        short = len(text.split()) <= _SHORT_REPLY_WORDS
        addresses = _addresses(text)

        shared_article = sorted(words & self.article_words, key=rarity, reverse=True)
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
                reasons.append(
                    "repeats " + ", ".join(f"“{w}”" for w in rare[:3]) + f" of line {line}"
                )
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
