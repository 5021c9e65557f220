"""X (Twitter) API v2 conversations: tweets grouped by ``conversation_id`` into threads.

A file holds, one a line (or as one JSON document), either **response pages** as the API
returns them (``{"data": [tweets], "includes": {"users": [...], "tweets": [...]},
"meta": {...}}``, e.g. from ``/2/tweets/search/recent?query=conversation_id:ID``) or
**tweet objects** (``id``, ``text``, ``author_id``, ``conversation_id``, ``created_at``,
``referenced_tweets: [{"type", "id"}]``, ``in_reply_to_user_id``; twarc2's flattened tweets
also carry ``author: {username, ...}``). Both may be mixed.

Each conversation is an article: the tweet whose id is the ``conversation_id`` (found in a
page's ``data`` or ``includes.tweets``, or on its own line) gives its title (the first
words of the text), body and time. Every other tweet is a comment of its conversation
whose parent is its ``replied_to`` tweet, none when that is the root. The API returns only
what the search window and the user's access allow, so the root and some parents are often
missing, and a page may answer tweets that come on later pages: the format is
``lenient_tree`` (the loader makes a placeholder article for a missing root and attaches a
reply whose parent is missing to the article, saying how many).

Ids are strings in the API and stay strings (19 digits do not fit a double). The author is
the ``username`` from the page's ``includes.users`` (or twarc's ``author``), else the
``author_id``. The API escapes ``&``, ``<`` and ``>`` in texts as HTML entities; they are
unescaped (the texts are plain text otherwise); a long post's full text is its
``note_tweet.text``. A root met twice (pages repeat it in ``includes``) is kept once; any
other tweet met twice is refused by the loader as a duplicate. Other tweets in
``includes.tweets`` (the parents of a page's replies) are context only: within the search
window they come in ``data`` of their own page, and keeping every id seen to tell would
cost memory with the size of the file.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from annotator.corpus.importers.json_documents import json_values
from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Record,
)

SOURCE = "X (Twitter)"
TITLE_CHARS = 100
STATUS_URL = "https://x.com/{}/status/{}"
WEB_STATUS_URL = "https://x.com/i/web/status/{}"


def sniff_x_conversations(head: bytes, filename: str) -> bool:
    """True for API v2 tweets or pages: ``conversation_id`` and ``author_id`` in JSON."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return (
        text.startswith((b"{", b"["))
        and b'"conversation_id"' in head
        and b'"author_id"' in head
        and b'"article_id"' not in head
    )


def tweet_title(text: str) -> str:
    """The first ~100 characters of a tweet, cut at a word, on one line: an article title."""
    flat = " ".join(text.split())
    if len(flat) <= TITLE_CHARS:
        return flat
    cut = flat[:TITLE_CHARS].rsplit(" ", 1)[0] or flat[:TITLE_CHARS]
    return cut.rstrip(" ,;:") + "…"


def parse_x_conversations(stream: BinaryIO, filename: str) -> Iterator[Record]:
    """Articles (conversation roots) and comments (replies) of pages or tweets, in file order.

    Within a page the roots come first; a root seen before is not repeated.
    """
    roots: set[str] = set()  # one id per conversation: small
    for line, value in json_values(stream, filename):
        if "data" in value or "includes" in value or _is_page_without_data(value):
            data = value.get("data") or []
            if type(data) is dict:  # a lookup of a single tweet
                data = [data]
            includes = value.get("includes") or {}
            if type(data) is not list or type(includes) is not dict:
                raise ImportFileError(filename, line, 'a page whose "data" is not a list of tweets')
            users = _usernames(includes.get("users") or [])
            yield from _page(data, includes.get("tweets") or [], users, roots, filename, line)
        elif "id" in value and "text" in value:
            yield from _page([value], [], {}, roots, filename, line)
        else:
            raise ImportFileError(
                filename, line, "neither an X API v2 tweet nor a response page (data, includes)"
            )


def _is_page_without_data(value: dict[str, Any]) -> bool:
    """An empty page (``meta.result_count`` 0) or one of errors only: nothing to import."""
    return "meta" in value or ("errors" in value and "id" not in value)


def _page(
    data: list[Any],
    included: Iterable[Any],
    users: dict[str, str],
    roots: set[str],
    filename: str,
    line: int,
) -> Iterator[Record]:
    tweets = [_checked(tweet, filename, line) for tweet in data]
    conversations = {tweet["conversation_id"] for tweet in tweets}
    for tweet in [*tweets, *included]:
        tweet_id = tweet.get("id") if type(tweet) is dict else None
        if tweet_id is not None and str(tweet_id) in conversations and str(tweet_id) not in roots:
            roots.add(str(tweet_id))
            yield _article(_checked(tweet, filename, line, root=True), users, line)
    for tweet in tweets:
        if tweet["id"] not in conversations:
            yield _comment(tweet, users, line)


def _checked(tweet: Any, filename: str, line: int, *, root: bool = False) -> dict[str, Any]:
    """A tweet whose ids are strings, refused when it lacks what a thread needs."""
    if type(tweet) is not dict:
        raise ImportFileError(filename, line, "a tweet that is not a JSON object")
    tweet_id = _id(tweet.get("id"))
    if tweet_id is None:
        raise ImportFileError(filename, line, 'a tweet without "id"')
    conversation = _id(tweet.get("conversation_id"))
    if conversation is None:
        if not root:
            raise ImportFileError(
                filename,
                line,
                f'tweet {tweet_id} has no "conversation_id" (ask the API for '
                "tweet.fields=conversation_id)",
            )
        conversation = tweet_id  # an included root, found by its id
    text = _text(tweet)
    if text is None:
        raise ImportFileError(filename, line, f'tweet {tweet_id} has no "text"')
    return {**tweet, "id": tweet_id, "conversation_id": conversation, "text": text}


def _id(value: Any) -> str | None:
    if type(value) is str and value.isdigit():
        return value
    if type(value) is int and value >= 0:
        return str(value)
    return None


def _text(tweet: dict[str, Any]) -> str | None:
    note = tweet.get("note_tweet")
    text = note.get("text") if type(note) is dict else None
    if type(text) is not str:
        text = tweet.get("text")
    return html.unescape(text) if type(text) is str else None


def _usernames(users: Iterable[Any]) -> dict[str, str]:
    return {
        str(user["id"]): user["username"]
        for user in users
        if type(user) is dict and "id" in user and type(user.get("username")) is str
    }


def _author(tweet: dict[str, Any], users: dict[str, str]) -> tuple[str, str]:
    """(username or author id, author id) of a tweet."""
    author_id = str(tweet.get("author_id") or "")
    expanded = tweet.get("author")
    if type(expanded) is dict and type(expanded.get("username")) is str:
        return expanded["username"], author_id
    return users.get(author_id, author_id), author_id


def _replied_to(tweet: dict[str, Any]) -> str | None:
    for reference in tweet.get("referenced_tweets") or []:
        if type(reference) is dict and reference.get("type") == "replied_to":
            return _id(reference.get("id"))
    return None


def _time(value: Any) -> datetime | None:
    if type(value) is not str:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _meta(tweet: dict[str, Any], author_id: str) -> dict[str, Any]:
    fields = {
        "author_id": author_id or None,
        "in_reply_to_user_id": tweet.get("in_reply_to_user_id"),
        "lang": tweet.get("lang"),
        "public_metrics": tweet.get("public_metrics"),
    }
    return {key: value for key, value in fields.items() if value is not None}


def _article(tweet: dict[str, Any], users: dict[str, str], line: int) -> ArticleRecord:
    username, author_id = _author(tweet, users)
    tweet_id = tweet["id"]
    has_name = bool(username) and username != author_id
    return ArticleRecord(
        source_id=tweet_id,
        title=tweet_title(tweet["text"]) or f"Post {tweet_id}",
        body=tweet["text"],
        url=STATUS_URL.format(username, tweet_id) if has_name else WEB_STATUS_URL.format(tweet_id),
        source=SOURCE,
        published_at=_time(tweet.get("created_at")),
        meta={"author": username, **_meta(tweet, author_id)},
        line=line,
    )


def _comment(tweet: dict[str, Any], users: dict[str, str], line: int) -> CommentRecord:
    username, author_id = _author(tweet, users)
    parent = _replied_to(tweet)
    conversation = tweet["conversation_id"]
    return CommentRecord(
        source_id=tweet["id"],
        article_id=conversation,
        text=tweet["text"],
        parent_id=None if parent == conversation else parent,
        author=username,
        posted_at=_time(tweet.get("created_at")),
        meta=_meta(tweet, author_id),
        line=line,
    )
