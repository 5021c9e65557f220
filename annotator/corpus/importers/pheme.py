"""PHEME rumour threads (Twitter): a folder or ZIP archive of one thread or many.

PHEME's layout is ``<event>/<rumours|non-rumours>/<thread id>/`` holding
``source-tweets/<thread id>.json`` (the tweet that started the thread), ``reactions/<id>.json``
(one file per reply), ``structure.json`` (the reply tree as nested objects,
``{id: {child: {...}, leaf: []}}``), ``annotation.json`` (the rumour annotation, small) and
``urls.dat`` / ``who-follows-whom.dat`` (not read). Tweets are Twitter API v1.1 objects.

Each thread is an article: the source tweet, titled by its first words (``tweet_title``),
its text as the body, source "twitter", and ``meta`` holding the event, whether the thread
is a rumour (from the ``rumours``/``non-rumours`` folder) and annotation.json as it is.
Reactions are its comments. Ids are the ``id_str`` strings, never the numeric ``id``
(18 digits lose precision in any tool that reads JSON numbers as doubles); the file's name
stands in when a tweet has no ``id_str``. Texts are ``full_text`` (extended mode) or
``text``, with the API's ``&amp;``/``&lt;``/``&gt;`` unescaped.

A reaction's parent comes from structure.json, which the dataset's authors built from the
full conversation, else from ``in_reply_to_status_id_str`` when that tweet is in the thread,
else the source tweet. structure.json often names tweets that have no file (deleted or
protected before the crawl): they are left out, a reply to one hangs under the nearest tweet
above it that has a file (``meta["structure_parent"]`` keeps the one it answered), and
notices count both. A copy of the source tweet among the
reactions (it happens) is skipped. Threads come in the order of their folder names and
reactions in the order of theirs, so both passes of the loader see the same records;
records are numbered in that order (an archive has no lines). Only one thread's parent map
is held at a time.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

import orjson

from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Member,
    Notice,
    Record,
)
from annotator.corpus.importers.x_api import tweet_title

SOURCE = "twitter"
TWEET_TIME = "%a %b %d %H:%M:%S %z %Y"  # "Wed Jan 07 11:07:51 +0000 2015"
MAX_MEMBER_BYTES = 16 * 1024 * 1024  # a tweet or a structure.json; real ones are KBs
# PHEME's folder names, and SemEval RumourEval 2017's (the same threads, renamed; also what
# the RumourEval export writes, so it imports back).
SOURCE_FOLDERS = frozenset({"source-tweets", "source-tweet"})
REACTION_FOLDERS = frozenset({"reactions", "replies"})
EVENT_SUFFIX = "-all-rnr-threads"  # PHEME v2 names event folders charliehebdo-all-rnr-threads
STATUS_URL = "https://twitter.com/{}/status/{}"


def sniff_pheme_members(names: Iterable[str]) -> bool:
    """True when some folder holds both a ``structure.json`` and a ``source-tweets/`` (or
    RumourEval's ``source-tweet/``) folder."""
    with_structure: set[str] = set()
    with_sources: set[str] = set()
    for name in names:
        parts = PurePosixPath(name).parts
        if _is_junk(parts):
            continue
        if parts and parts[-1] == "structure.json":
            with_structure.add("/".join(parts[:-1]))
        elif len(parts) >= 2 and parts[-2] in SOURCE_FOLDERS:
            with_sources.add("/".join(parts[:-2]))
    return bool(with_structure & with_sources)


@dataclass
class _Thread:
    """The members of one thread folder, by role."""

    folder: str
    sources: list[Member] = field(default_factory=list)
    reactions: list[Member] = field(default_factory=list)
    structure: Member | None = None
    annotation: Member | None = None


def parse_pheme(members: Sequence[Member], filename: str) -> Iterator[Record]:
    """Every thread of a PHEME folder or archive: its article, then its reactions."""
    threads = _threads(members)
    if not threads:
        raise ImportFileError(
            filename,
            None,
            "no PHEME thread found (a folder with source-tweets/ and structure.json)",
        )
    counter = _Counter()
    for folder in sorted(threads):
        yield from _thread_records(threads[folder], filename, counter)
    if counter.deleted:
        yield Notice(
            "pheme_deleted",
            counter.deleted,
            "{count} tweets named in structure.json have no file (deleted or protected "
            "before the crawl); replies to them hang under the nearest tweet above",
        )
    if counter.unplaced:
        yield Notice(
            "pheme_unplaced",
            counter.unplaced,
            "{count} reactions were neither in structure.json nor a reply to a tweet of "
            "their thread; they answer the source tweet",
        )
    if counter.source_copies:
        yield Notice(
            "pheme_source_copy",
            counter.source_copies,
            "{count} copies of a source tweet among its reactions were skipped",
        )


@dataclass
class _Counter:
    records: int = 0
    deleted: int = 0
    unplaced: int = 0
    source_copies: int = 0


def _is_junk(parts: tuple[str, ...]) -> bool:
    """macOS adds ``__MACOSX/`` copies and ``._`` resource forks to the ZIPs it makes."""
    return "__MACOSX" in parts or any(part.startswith(".") for part in parts)


def _threads(members: Sequence[Member]) -> dict[str, _Thread]:
    threads: dict[str, _Thread] = {}

    def thread(folder: str) -> _Thread:
        return threads.setdefault(folder, _Thread(folder))

    for member in members:
        parts = PurePosixPath(member.name).parts
        if _is_junk(parts) or not parts:
            continue
        if len(parts) >= 2 and parts[-1].endswith(".json"):
            role = parts[-2]
            if role in SOURCE_FOLDERS:
                thread("/".join(parts[:-2])).sources.append(member)
                continue
            if role in REACTION_FOLDERS:
                thread("/".join(parts[:-2])).reactions.append(member)
                continue
        if parts[-1] == "structure.json":
            thread("/".join(parts[:-1])).structure = member
        elif parts[-1] == "annotation.json":
            thread("/".join(parts[:-1])).annotation = member
    # A folder with a structure or annotation but no source tweet is no thread of ours.
    return {folder: t for folder, t in threads.items() if t.sources or t.reactions}


def _thread_records(thread: _Thread, filename: str, counter: _Counter) -> Iterator[Record]:
    if len(thread.sources) != 1:
        where = thread.folder or "the top folder"
        raise ImportFileError(
            filename,
            None,
            f"{where}: expected one tweet in source-tweets/, found {len(thread.sources)}",
        )
    source_member = thread.sources[0]
    source = _tweet(source_member, filename)
    source_id = _tweet_id(source, source_member, filename)
    structure = _parents(thread, filename)
    reactions = sorted(thread.reactions, key=lambda member: member.name)
    tweets: list[tuple[str, Member]] = []
    for member in reactions:
        tweet_id = _member_id(member)
        if tweet_id == source_id:
            counter.source_copies += 1
            continue
        tweets.append((tweet_id, member))
    have_file = {tweet_id for tweet_id, _ in tweets} | {source_id}
    named = set(structure) | set(structure.values())
    counter.deleted += len({i for i in named if i is not None} - have_file)
    counter.records += 1
    yield _article(source, source_id, thread, filename, counter.records)
    for file_id, member in tweets:
        tweet = _tweet(member, filename)
        tweet_id = _tweet_id(tweet, member, filename)
        if tweet_id != file_id:
            raise ImportFileError(filename, None, f"{member.name}: the file holds tweet {tweet_id}")
        missing_parent = None
        if tweet_id in structure:
            parent = structure[tweet_id]
            while parent is not None and parent not in have_file:
                missing_parent = missing_parent or parent
                parent = structure.get(parent)  # a deleted tweet: the one above it
        else:
            parent = _id(tweet.get("in_reply_to_status_id_str"))
            if parent not in have_file:
                counter.unplaced += 1
                parent = None
        counter.records += 1
        record = _comment(tweet, tweet_id, source_id, parent, counter.records)
        if missing_parent is not None:
            record.meta["structure_parent"] = missing_parent  # what it answered, deleted
        yield record


def _parents(thread: _Thread, filename: str) -> dict[str, str | None]:
    """Each tweet of structure.json → the tweet it answers (None for the root)."""
    if thread.structure is None:
        return {}
    tree = _json(thread.structure, filename)
    if type(tree) is not dict:
        raise ImportFileError(
            filename, None, f"{thread.structure.name}: expected an object of tweet ids"
        )
    parents: dict[str, str | None] = {}
    stack: list[tuple[str | None, Any]] = [(None, tree)]
    while stack:
        parent, children = stack.pop()
        if type(children) is list:  # [] is a leaf; a list of objects is read as children
            for child in children:
                if type(child) is dict:
                    stack.append((parent, child))
            continue
        if type(children) is not dict:
            raise ImportFileError(
                filename,
                None,
                f"{thread.structure.name}: {children!r} is neither a subtree nor [] (a leaf)",
            )
        for key, subtree in children.items():
            parents[str(key)] = parent
            stack.append((str(key), subtree))
    return parents


def _json(member: Member, filename: str) -> Any:
    if member.size > MAX_MEMBER_BYTES:
        raise ImportFileError(
            filename, None, f"{member.name}: {member.size:,} bytes, too large for a tweet"
        )
    with member.open() as stream:
        data = stream.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise ImportFileError(filename, None, f"{member.name}: too large for a tweet")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise ImportFileError(filename, None, f"{member.name}: not valid JSON ({error})") from None


def _tweet(member: Member, filename: str) -> dict[str, Any]:
    tweet = _json(member, filename)
    if type(tweet) is not dict:
        raise ImportFileError(filename, None, f"{member.name}: expected a tweet object")
    text = tweet.get("full_text") or tweet.get("text")
    if type(text) is not str:
        raise ImportFileError(filename, None, f'{member.name}: a tweet without "text"')
    return tweet


def _id(value: Any) -> str | None:
    """A tweet id: a non-blank string (Twitter's are digits; the RumourEval export keeps the
    ids of other platforms), never a number, whose precision JSON loses."""
    return value if type(value) is str and value.strip() else None


def _member_id(member: Member) -> str:
    return PurePosixPath(member.name).stem


def _tweet_id(tweet: dict[str, Any], member: Member, filename: str) -> str:
    name_id = _member_id(member)
    tweet_id = _id(tweet.get("id_str")) or (name_id if name_id.isdigit() else None)
    if tweet_id is None:
        raise ImportFileError(filename, None, f'{member.name}: a tweet without "id_str"')
    return tweet_id


def _text(tweet: dict[str, Any]) -> str:
    return html.unescape(tweet.get("full_text") or tweet["text"])


def _time(tweet: dict[str, Any]) -> datetime | None:
    try:
        return datetime.strptime(tweet.get("created_at") or "", TWEET_TIME)
    except ValueError:
        return None


def _screen_name(tweet: dict[str, Any]) -> str:
    user = tweet.get("user")
    name = user.get("screen_name") if type(user) is dict else None
    return name if type(name) is str else ""


def _counts(tweet: dict[str, Any]) -> dict[str, Any]:
    fields = {key: tweet.get(key) for key in ("retweet_count", "favorite_count", "lang")}
    return {key: value for key, value in fields.items() if value is not None}


def _article(
    tweet: dict[str, Any], tweet_id: str, thread: _Thread, filename: str, number: int
) -> ArticleRecord:
    parts = PurePosixPath(thread.folder).parts
    meta: dict[str, Any] = {"author": _screen_name(tweet), **_counts(tweet)}
    for index, part in enumerate(parts):
        if part in ("rumours", "non-rumours"):
            meta["rumour"] = part == "rumours"
            if index:
                event = parts[index - 1]
                meta["event"] = event.removesuffix(EVENT_SUFFIX)
    if thread.annotation is not None:
        meta["annotation"] = _json(thread.annotation, filename)
    text = _text(tweet)
    author = meta["author"]
    return ArticleRecord(
        source_id=tweet_id,
        title=tweet_title(text) or f"Tweet {tweet_id}",
        body=text,
        url=STATUS_URL.format(author, tweet_id) if author else "",
        source=SOURCE,
        published_at=_time(tweet),
        meta=meta,
        line=number,
    )


def _comment(
    tweet: dict[str, Any], tweet_id: str, article_id: str, parent: str | None, number: int
) -> CommentRecord:
    meta = _counts(tweet)
    in_reply_to = _id(tweet.get("in_reply_to_status_id_str"))
    if in_reply_to:
        meta["in_reply_to_status_id"] = in_reply_to
    return CommentRecord(
        source_id=tweet_id,
        article_id=article_id,
        text=_text(tweet),
        parent_id=None if parent == article_id else parent,
        author=_screen_name(tweet),
        posted_at=_time(tweet),
        meta=meta,
        line=number,
    )
