"""Rank the likely parents of each comment of a scraped thread, in file order, streaming.

``text.py`` reads the file and groups it into comments; this module decides whom each
comment answers (heuristics 6 and 7 of ``text.py``'s module doc):

6. **Parents.** A double blank line does not always mean a new thread, so every comment
   gets its likely parents ranked: the article and each of the previous ``WINDOW`` comments
   (a fixed window keeps the ranking linear in the number of comments, and the memory
   flat). Scrapes list threads depth first, so a reply's parent is the comment just above
   or one of its ancestors ("the spine"); those get a proximity bonus. Cues add to a
   comment's score:

   - rare words it shares with the candidate (a word used by only the two counts most, one
     used by more than an eighth of the comments not at all, so "everything" or "Sun Tzu"
     count and "Aleppo" does not), a little less each level up the spine, where shared
     words are more likely the thread's topic than an answer; none for the reply's own
     earlier comments (a writer repeats their own words);
   - answering a question a comment on the spine asks, in any paragraph: the reply repeats
     a rare word of the question ("What is mean blackmail?" ... "Putin be blackmailed");
   - for the comment just above, that it asks a question (last paragraph), that the new
     comment addresses someone ("you", "your" outside quotes) or is a very short reaction
     ("Could be, sure");
   - an answer-like opening ("No,", "Yes", "Even if", "He is", "We will see") for the
     comment just above, but an opening that points at a saying ("That saying", "That
     quote") for the nearest comment up the spine holding a quotation;
   - cues that point at one comment whatever lies between: naming its writer ("@Anna",
     "Anna, ...", "Anna Berg") and repeating its words in quotation marks (a lone quoted
     word only when few comments use it). A passage the article holds points at the
     article.

   The article scores a base value, plus words shared with the article, a mention of "the
   article" itself, and answering a question the article asks (two of its words that
   hardly any comment uses). The best score wins; without a clear cue the article wins.
   A **named** reply answers the comment just above (the scrape's rule), unless it names
   or quotes a comment further up the spine and not the one above: then it answers that
   one (its parent's other replies come before it in the scrape).
7. **Confidence.** ``explicit`` for a named reply to the comment just above; ``medium`` for
   a named reply moved up the spine by a name, ``low`` by a quotation, so the admin checks
   it. For inferred links the margin between the best and the second candidate decides
   ``high``, ``medium`` or ``low``; an article parent with no competing cue at all is
   ``high``.

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
SPINE_DECAY = 0.15  # how much less a shared word ties each level further up the spine
ANSWER_WEIGHT = 0.5  # repeating words of a question a comment up the spine asks
ARTICLE_QUESTION_WEIGHT = 0.4  # repeating words of a question the article asks
ADDRESS_WEIGHT = 1.2  # naming a commenter ("@Anna", "Anna Berg, ...")
QUOTE_REFERENCE_WEIGHT = 0.3  # "That saying ..." and a comment up the spine holding one
QUOTE_WEIGHT = 0.8  # repeating, in quotation marks, words an earlier comment wrote
SHINGLE_WORDS = 5  # a long quotation matches a comment holding any run of this many words

APOSTROPHE = "\u2019"  # the typographic apostrophe scrapes keep, read as "'"
_OPENING_SINGLE_QUOTE = "\u2018"
QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|«[^»]*»")
_QUESTION = re.compile(r"[^.!?…\n]+\?")
_PARENTHESIS = re.compile(r"\([^)]*\)")
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
    "good point",
    "fair point",
    "thanks",
    "thank you",
    "we will see",
    "we'll see",
    "time will tell",
)
# Openers that point at a saying: they answer the nearest comment up the spine holding a
# quotation, which need not be the comment just above.
_QUOTE_REFERENCES = (
    "that saying",
    "that quote",
    "this quote",
    "the quote",
    "this saying",
    "that maxim",
    "that proverb",
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
_NO_CUE = "no cue ties it to an earlier comment"


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


def _phrase_text(text: str) -> str:
    """``text`` as casefolded words between single spaces, padded, for phrase lookups."""
    words = (word.casefold().replace(APOSTROPHE, "'") for word in WORD.findall(text))
    return " " + " ".join(words) + " "


def _question_words(text: str) -> frozenset[str]:
    """The content words of the questions ``text`` asks (outside quotes), in any paragraph."""
    return content_words(" ".join(_QUESTION.findall(QUOTED.sub(" ", text))))


def _quotations(text: str) -> list[list[str]]:
    """The words of each passage ``text`` puts in quotation marks (casefolded)."""
    passages = (WORD.findall(match.group()) for match in QUOTED.finditer(text))
    return [[w.casefold().replace(APOSTROPHE, "'") for w in words] for words in passages if words]


def _holds(phrase_text: str, words: list[str]) -> bool:
    """Whether a text (as ``_phrase_text``) holds the quoted ``words``: all of them in a row,
    or for a long quotation any ``SHINGLE_WORDS`` of them in a row (quotes get trimmed)."""
    if len(words) <= SHINGLE_WORDS:
        return " " + " ".join(words) + " " in phrase_text
    return any(
        " " + " ".join(words[i : i + SHINGLE_WORDS]) + " " in phrase_text
        for i in range(len(words) - SHINGLE_WORDS + 1)
    )


def _names(text: str, phrase_text: str, author: str) -> bool:
    """Whether ``text`` speaks to or of ``author``: "@Anna", "Anna, ..." or "Anna Berg".

    A one-word name counts only with "@" or as a greeting, so that a commenter called
    "Truth" is not named by every sentence about the truth.
    """
    tokens = [w.casefold() for w in WORD.findall(_PARENTHESIS.sub(" ", author))]
    if not tokens:
        return False
    first = re.escape(tokens[0])
    if len(tokens) > 1 and " " + " ".join(tokens) + " " in phrase_text:
        return True
    lowered = text.casefold()
    greeting = rf"^\W*{first}(?:\s+{re.escape(tokens[-1])})?\s*[,:]"
    return bool(re.search(rf"@\s?{first}", lowered) or re.search(greeting, lowered))


@dataclass(slots=True)
class _Traits:
    """What a later comment may point back to in a ranked comment."""

    author: str
    question_words: frozenset[str]
    phrase_text: str
    quotes: bool  # holds a passage in quotation marks (what "that saying" refers to)


@dataclass(slots=True)
class _Tally:
    """One candidate's score while it is being ranked, with its reasons."""

    score: float
    reasons: list[str]
    pointer: float = 0.0  # the weight of a name or quotation that points to it


class ParentRanker:
    """Chooses each comment's parent and ranks the alternatives, comments in file order.

    Keeps only the last ``WINDOW`` comments (and their parents), so a thread of any length
    is ranked in flat memory and linear time. ``counts`` must hold the whole thread's word
    counts (a first pass), so that a word's rarity is the same wherever it appears.
    """

    def __init__(self, article_text: str, counts: WordCounts) -> None:
        self.article_words = content_words(article_text)
        self.article_questions = _question_words(article_text)
        self.article_phrases = _phrase_text(article_text)
        self.documents = counts.documents
        self.rare_limit = max(2, counts.texts // 8)
        self.window: deque[Draft] = deque(maxlen=WINDOW)
        self.parent_of: dict[int, int | None] = {}
        self.traits: dict[int, _Traits] = {}

    def rarity(self, word: str) -> float:
        """How much sharing ``word`` ties two comments: 0 for common words, most for a word
        only those two use (independent of the thread's length)."""
        count = self.documents[word]
        return RARE_WEIGHT / (count - 1) if 1 < count <= self.rare_limit else 0.0

    def rank(self, draft: Draft) -> ReconstructedComment:
        """Set ``draft``'s parent, confidence, reason and candidates; return its comment."""
        comment = draft.comment
        draft.words = content_words(comment.text)
        traits = _Traits(
            comment.author,
            _question_words(comment.text),
            _phrase_text(comment.text),
            bool(QUOTED.search(comment.text)),
        )
        window = list(self.window)
        spine = self._spine(window)
        tallies = self._tally(draft, traits, window, spine)
        ranked = _ranked(tallies)
        if draft.named and window:
            ranked = self._place_named(draft, window, spine, tallies, ranked)
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
            oldest = self.window[0].comment.line
            self.parent_of.pop(oldest, None)
            self.traits.pop(oldest, None)
        self.window.append(draft)
        self.parent_of[comment.line] = comment.parent_line
        self.traits[comment.line] = traits
        return comment

    def _place_named(
        self,
        draft: Draft,
        window: list[Draft],
        spine: dict[int, int],
        tallies: dict[int | None, _Tally],
        ranked: list[ParentCandidate],
    ) -> list[ParentCandidate]:
        """Give a named reply its parent: the comment just above (``explicit``), unless it
        names or quotes a comment further up the spine and not the one above; that answer is
        only inferred, so its confidence says the admin should check it."""
        comment = draft.comment
        above = window[-1].comment.line
        top = ranked[0].score
        explicit = ParentCandidate(above, round(1.0 + top, 3), "named reply")
        pointed = [
            line
            for line in spine
            if line != above and tallies[line].pointer > tallies[above].pointer
        ]
        if not pointed:
            comment.parent_line = above
            comment.confidence = "explicit"
            comment.reason = f"named reply by {comment.author}: answers the comment just above"
            return [explicit] + [c for c in ranked if c.parent_line != above]
        line = max(pointed, key=lambda line: (tallies[line].pointer, -spine[line]))
        tally = tallies[line]
        comment.parent_line = line
        comment.confidence = "medium" if tally.pointer >= ADDRESS_WEIGHT else "low"
        comment.reason = (
            f"named reply by {comment.author}, but it answers line {line} further up: "
            + "; ".join(tally.reasons)
        )
        chosen = ParentCandidate(line, round(1.0 + top + tally.pointer, 3), comment.reason)
        rest = [c for c in ranked if c.parent_line not in (line, above)]
        return [chosen, explicit, *rest]

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

    def _tally(
        self, draft: Draft, traits: _Traits, window: list[Draft], spine: dict[int, int]
    ) -> dict[int | None, _Tally]:
        """Every candidate parent of ``draft`` (None for the article) with its score."""
        rarity = self.rarity
        text = draft.comment.text
        words = draft.words
        opener = _opener(text)
        short = len(text.split()) <= _SHORT_REPLY_WORDS
        addresses = _addresses(text)
        above = window[-1].comment.line if window else None
        # "That saying ..." answers the nearest comment up the spine that quotes one.
        if opener and opener.casefold().replace(APOSTROPHE, "'") in _QUOTE_REFERENCES:
            quoting = [line for line in spine if self.traits[line].quotes]
            opener_target = min(quoting, key=spine.get) if quoting else above
        else:
            opener_target = above

        shared_article = sorted(words & self.article_words, key=rarity, reverse=True)
        article = _Tally(0.6 + min(0.2, 0.5 * sum(rarity(w) for w in shared_article)), [])
        if _ARTICLE_MENTIONS.search(text):
            article.score += 1.0
            article.reasons.append("mentions the article")
        # An article is long and shares the thread's topic: only words that hardly anyone
        # else uses say that a comment takes up its question.
        answered = [
            w for w in self._answered(words, self.article_questions) if rarity(w) >= RARE_WEIGHT / 2
        ]
        if len(answered) >= 2:
            article.score += ARTICLE_QUESTION_WEIGHT
            article.reasons.append(
                "answers the article's question (" + ", ".join(answered[:3]) + ")"
            )
        if shared_article:
            article.reasons.append(
                "shares words with the article (" + ", ".join(shared_article[:3]) + ")"
            )
        tallies: dict[int | None, _Tally] = {None: article}

        for distance, other in enumerate(reversed(window), start=1):
            line = other.comment.line
            level = spine.get(line)
            # Depth-first order puts a parent on the spine; a comment off it is a long shot.
            tally = _Tally(NO_CUE_SCORE / level if level else -0.3 - 0.01 * distance, [])
            tallies[line] = tally
            same_writer = draft.named and other.named and other.comment.author == traits.author
            rare = sorted((w for w in words & other.words if rarity(w)), key=rarity, reverse=True)
            if rare and same_writer:
                tally.reasons.append("by the same writer, whose words are no tie")
            elif rare:
                tie = min(1.2, sum(rarity(w) for w in rare))
                if level:  # the further up, the likelier the words are the thread's topic
                    tie *= max(0.5, 1.0 - SPINE_DECAY * (level - 1))
                tally.score += tie
                tally.reasons.append(
                    "repeats " + ", ".join(f"“{w}”" for w in rare[:3]) + f" of line {line}"
                )
            if level and (answered := self._answered(words, self.traits[line].question_words)):
                tally.score += ANSWER_WEIGHT
                tally.reasons.append(f"answers line {line}'s question (“{answered[0]}”)")
            if line == above:
                if _asks(other.comment.text):
                    tally.score += 0.4
                    tally.reasons.append(f"line {line} asks a question")
                if addresses:
                    tally.score += 0.3
                    tally.reasons.append("addresses the comment above (“you”)")
                if short:
                    tally.score += 0.5
                    tally.reasons.append("a short reaction to the comment above")
            if line == opener_target and opener:
                tally.score += 0.5
                tally.reasons.append(f"opens like an answer (“{opener}”)")
                if opener_target != above:
                    tally.score += QUOTE_REFERENCE_WEIGHT
                    tally.reasons.append(f"“{opener}” refers to the quotation of line {line}")
        self._point(draft, traits, window, spine, tallies)
        for line, tally in tallies.items():
            if line is not None and not tally.reasons:
                tally.reasons.append("near" if line in spine else "earlier in the thread")
        return tallies

    def _answered(self, words: frozenset[str], question_words: frozenset[str]) -> list[str]:
        """The words of ``words`` that a question asked (its ``question_words``) used, the
        rarest first: a common word does not say which question is answered."""
        shared = (w for w in words & question_words if self.rarity(w))
        return sorted(shared, key=lambda w: (self.documents[w], w))

    def _point(
        self,
        draft: Draft,
        traits: _Traits,
        window: list[Draft],
        spine: dict[int, int],
        tallies: dict[int | None, _Tally],
    ) -> None:
        """Add the cues that point at one comment whatever lies between: naming its writer
        ("@Anna") or quoting its words. Each goes to the nearest such comment on the spine,
        else the nearest in the window; a passage the article holds goes to the article."""
        text = draft.comment.text
        nearest = sorted(reversed(window), key=lambda d: d.comment.line not in spine)
        named: set[str] = set()
        for other in nearest:
            author = other.comment.author
            if not other.named or author == traits.author or author in named:
                continue
            named.add(author)
            if _names(text, traits.phrase_text, author):
                self._add_pointer(tallies[other.comment.line], ADDRESS_WEIGHT, f"names {author}")
        for quoted in _quotations(text):
            if len(quoted) == 1 and (not self.rarity(quoted[0]) or quoted[0] in self.article_words):
                continue  # a lone word in quotes is emphasis unless only a few comments use it
            shown = " ".join(quoted[:4]) + ("…" if len(quoted) > 4 else "")
            if len(quoted) > 1 and _holds(self.article_phrases, quoted):
                self._add_pointer(tallies[None], QUOTE_WEIGHT, f"quotes the article (“{shown}”)")
                continue
            source = next(
                (o for o in nearest if _holds(self.traits[o.comment.line].phrase_text, quoted)),
                None,
            )
            if source is not None:
                line = source.comment.line
                self._add_pointer(tallies[line], QUOTE_WEIGHT, f"quotes line {line} (“{shown}”)")

    @staticmethod
    def _add_pointer(tally: _Tally, weight: float, reason: str) -> None:
        """Count one pointing cue for a candidate (the strongest is what a named reply uses)."""
        tally.score += weight
        tally.pointer = max(tally.pointer, weight)
        tally.reasons.append(reason)


def _ranked(tallies: dict[int | None, _Tally]) -> list[ParentCandidate]:
    """The candidates best first; ties keep the article, then the nearest comment, first."""
    candidates = [
        ParentCandidate(line, round(t.score, 3), "; ".join(t.reasons) or _NO_CUE)
        for line, t in tallies.items()
    ]
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
