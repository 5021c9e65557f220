"""RumourEval / PHEME: thread folders and a stance key, as SemEval 2017 task 8 distributed them.

::

    rumoureval/
      ARTICLE_ID/
        source-tweet/ARTICLE_ID.json   the article, as the thread's source tweet
        replies/COMMENT_ID.json        one per comment
        structure.json                 {ARTICLE_ID: {COMMENT_ID: {REPLY_ID: [], ...}, ...}}
      key.json                         {"subtaskaenglish": {COMMENT_ID: "support", ...}}

With a split the key is cut by thread into ``train-key.json``, ``dev-key.json`` and
``test-key.json`` (RumourEval 2019's names for the files beside its data).

Each file holds one tweet-shaped object with the fields the task's readers use: ``id_str``,
``id`` (a number where the id is one, as Twitter's), ``text``, ``created_at`` (Twitter's
``Wed Dec 07 11:02:00 +0000 2016``, UTC; null when undated), ``in_reply_to_status_id_str``
and ``in_reply_to_status_id`` (the parent comment, or the article for a top-level comment,
as replies to a source tweet have it; null for the article), ``user`` (``screen_name`` and
``name``: the author, pseudonymised when the export is; the article's source). Ids are
corpus-wide (``thread_ids``); file and folder names are the ids made safe
(``thread_ids.file_name``).

The key holds the final answer to ``stance_article`` (stance toward the article's claim,
RumourEval's subtask A): the gold answer where a reviewer set one, else the majority, as
``labels=final`` exports it (``majority.final_answers``). Comments without one (unlabelled,
a tie, context rows) or with a value outside support / deny / query / comment are left out
of the key and counted in the dataset card. Labels per annotator are not in this layout
(export JSON Lines for them).

Memory: files are written as rows come; a thread's ``structure.json`` is built from the
rows' depths as they pass (tree order, depth first), held until the thread ends (a few bytes
per comment of one thread); the key goes to a temporary file meanwhile. ``zipfile`` keeps an
entry per file until the end (``package.ZipFolder``): about 0.5 KB per comment.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections import Counter
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from annotator.datasets.exporters import Folder
from annotator.datasets.exporters.thread_ids import CorpusIds, file_name
from annotator.datasets.majority import final_answers
from annotator.datasets.rows import ArticleRow, CommentRow, RowSource

FILENAME = "rumoureval/"
KEEPS_TREES = True  # structure.json is a whole tree
COMPRESS = True
FOLDER = True
SPOOL_BYTES = 1 << 20

STANCE_QUESTION = "stance_article"
STANCES = frozenset({"support", "deny", "query", "comment"})
TASK = "subtaskaenglish"
UNSPLIT_KEY = "key.json"

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def twitter_time(moment: datetime | None) -> str | None:
    """``moment`` as Twitter's ``created_at`` writes it (UTC, English whatever the locale)."""
    if moment is None:
        return None
    at = moment.astimezone(UTC)
    return f"{_DAYS[at.weekday()]} {_MONTHS[at.month - 1]} {at:%d %H:%M:%S} +0000 {at.year:04d}"


def numeric(identifier: str | None) -> int | str | None:
    """Twitter's ``id``: the id as a number where it is one, else the id itself."""
    if identifier is not None and identifier.isascii() and identifier.isdigit():
        return int(identifier)
    return identifier


def tweet(
    identifier: str, text: str, user: str, at: datetime | None, parent: str | None
) -> dict[str, Any]:
    """One tweet-shaped object (module docstring)."""
    return {
        "id": numeric(identifier),
        "id_str": identifier,
        "text": text,
        "created_at": twitter_time(at),
        "in_reply_to_status_id": numeric(parent),
        "in_reply_to_status_id_str": parent,
        "user": {"screen_name": user, "name": user},
    }


def stance_of(row: CommentRow, final: bool) -> str | None:
    """The comment's final stance toward the article, or None where it has none."""
    if row.context:
        return None
    if final:
        answers = row.final or {}
    elif STANCE_QUESTION in row.majority:
        gold = row.gold.answers if row.gold is not None else None
        answers = final_answers({STANCE_QUESTION: row.majority[STANCE_QUESTION]}, gold)
    else:
        return None
    return answers.get(STANCE_QUESTION)


class Structure:
    """One thread's ``structure.json``, written from rows in tree order.

    A comment's entry is opened as ``"ID":`` and becomes ``{`` if the next row is its reply,
    ``[]`` if not (a leaf), so nothing but the open ancestors' depths is kept besides the
    bytes.
    """

    def __init__(self, root: str):
        self._parts: list[bytes] = [b"{", orjson.dumps(root), b":"]
        self._open = 0  # objects opened below the root's
        self._pending = True  # the last entry written waits for "{" or "[]"
        self._first = True  # the next entry is the first of its object

    def add(self, identifier: str, depth: int) -> None:
        """The comment ``identifier`` at ``depth`` (0: a reply to the article)."""
        if self._pending and depth + 1 > self._open:
            self._parts.append(b"{")
            self._open += 1
            self._first = True
        elif self._pending:
            self._parts.append(b"[]")
        self._pending = False
        if self._open > depth + 1:
            self._parts.append(b"}" * (self._open - depth - 1))
            self._open = depth + 1
        self._parts.append((b"" if self._first else b",") + orjson.dumps(identifier) + b":")
        self._first = False
        self._pending = True

    def finish(self) -> bytes:
        """The document: leaves closed as ``[]``, every object closed."""
        if self._pending:
            self._parts.append(b"[]")
        self._parts.append(b"}" * self._open + b"}")
        return b"".join(self._parts)


class Keys:
    """The stance key files, filled as comments come, one temporary file per split."""

    def __init__(self, split: bool):
        self._split = split
        self._files: dict[str, IO[bytes]] = {}
        self._first: dict[str, bool] = {}
        self._spools = contextlib.ExitStack()

    def _name(self, split: str | None) -> str:
        return f"{split}-key.json" if self._split and split else UNSPLIT_KEY

    def add(self, identifier: str, stance: str, split: str | None) -> None:
        name = self._name(split)
        spool = self._files.get(name)
        if spool is None:
            spool = self._spools.enter_context(tempfile.SpooledTemporaryFile(SPOOL_BYTES))  # noqa: SIM115
            self._files[name] = spool
            spool.write(b'{"' + TASK.encode() + b'":{')
            self._first[name] = True
        entry = orjson.dumps(identifier) + b":" + orjson.dumps(stance)
        spool.write(entry if self._first[name] else b"," + entry)
        self._first[name] = False

    def write(self, folder: Folder) -> list[str]:
        """Write every key file (an empty one when no comment has a stance); their names."""
        if not self._files:
            folder.write(UNSPLIT_KEY, b'{"' + TASK.encode() + b'":{}}')
            return [UNSPLIT_KEY]
        order = ["train-key.json", "dev-key.json", "test-key.json", UNSPLIT_KEY]
        names = sorted(self._files, key=order.index)
        for name in names:
            spool = self._files[name]
            spool.write(b"}}")
            spool.seek(0)
            with folder.open(name) as out:
                shutil.copyfileobj(spool, out, SPOOL_BYTES)
        return names

    def close(self) -> None:
        """Remove the temporary files."""
        self._spools.close()


def write(source: RowSource, folder: Folder) -> list[str]:
    """Write the thread folders and the key of ``source`` into ``folder``; the card's note."""
    ids = CorpusIds(source.project)
    keys = Keys(source.options.split)
    counts: Counter[str] = Counter()
    structure: Structure | None = None
    thread = ""  # the current article's folder, with a trailing /
    split: str | None = None
    try:
        for row in source.records():
            if isinstance(row, ArticleRow):
                if structure is not None:
                    folder.write(thread + "structure.json", structure.finish())
                identifier = ids.article(row.source_id)
                thread = file_name(identifier) + "/"
                split = row.split
                text = f"{row.title}\n\n{row.body}" if row.body else row.title
                source_tweet = tweet(identifier, text, row.source, row.published_at, None)
                folder.write(
                    f"{thread}source-tweet/{file_name(identifier)}.json", orjson.dumps(source_tweet)
                )
                structure = Structure(identifier)
                continue
            identifier = ids.comment(row.article_id, row.comment_id)
            parent = ids.parent(row.article_id, row.parent_id)
            reply = tweet(identifier, row.text, row.author, row.posted_at, parent)
            folder.write(f"{thread}replies/{file_name(identifier)}.json", orjson.dumps(reply))
            if structure is not None:
                structure.add(identifier, row.depth)
            if row.context:
                continue
            stance = stance_of(row, source.final)
            if stance in STANCES:
                keys.add(identifier, stance, split)
                counts["labelled"] += 1
            elif stance is None:
                counts["undecided"] += 1
            else:
                counts["other"] += 1
        if structure is not None:
            folder.write(thread + "structure.json", structure.finish())
        names = keys.write(folder)
    finally:
        keys.close()
    return card_note(source, names, counts, ids.qualified)


def card_note(
    source: RowSource, names: list[str], counts: Counter[str], qualified: bool
) -> list[str]:
    """What the dataset card says about the key: what it holds and what it leaves out."""
    files = ", ".join(f"`{name}`" for name in names)
    if STANCE_QUESTION not in source.question_keys:
        lines = [
            f"The export does not cover the question `{STANCE_QUESTION}`, so the stance key "
            f"({files}) is empty."
        ]
    else:
        lines = [
            f"The stance key ({files}) gives {counts['labelled']:,} comments their final "
            f"answer to `{STANCE_QUESTION}` (gold where a reviewer set one, else the "
            f"majority). {counts['undecided']:,} exported comments have none (not labelled, "
            "or a tie) and are not in it."
        ]
        if counts["other"]:
            lines[0] += (
                f" {counts['other']:,} more have an answer other than support, deny, query "
                "or comment and are left out too."
            )
    if qualified:
        lines += [
            "",
            "Some comment ids repeat in this project (in two threads, or as an article's "
            "id), so every comment's id here is `ARTICLE_ID/COMMENT_ID`.",
        ]
    return lines
