"""Reddit, in its two shapes: the ``.json`` of one comments page, and the NDJSON dumps.

**A comments page** (``https://www.reddit.com/r/SUB/comments/ID/.json``) is one JSON
document: an array of two Listings, the submission (``t3``) in the first, its comments
(``t1``) in the second, each comment's replies nested under ``replies`` (a Listing, or
``""`` when there are none). ``more`` stubs stand for comments Reddit left out of the page;
they are counted and reported (``Notice``), never imported. A page holds at most a few
thousand comments (a few MB), so it is read whole and parsed with orjson: memory is bounded
by ``PAGE_MAX_BYTES``, not by the size of a subreddit. Its records are numbered in document
order (the submission is record 1), which is what errors name (unit ``record``).

**A dump** (the per-subreddit files researchers download, comments and submissions in
separate files, zstandard-compressed) is one JSON object a line, streamed line by line like
JSON Lines (``jsonl.py``'s size limit and oversized-line handling), so a dump of any size
costs the memory of its longest line. Dumps put replies before their parents and miss
parents and submissions altogether; their format is registered with ``lenient_tree``, so
the loader attaches such comments to their article and says how many.

Decisions, the same for both shapes so that a page and a dump of one submission give the
same rows:

* Ids are Reddit's base-36 ids without the kind prefix: the article's source id is the
  submission's ``id`` (``5h3k2j``, not ``t3_5h3k2j``), a comment's is its ``id``, and its
  parent is ``parent_id`` without ``t1_``; a ``parent_id`` of ``t3_...`` means it answers
  the article (parent None).
* ``created_utc`` (a number, or a numeric string in older dumps) becomes an aware UTC time.
* Reddit escapes ``&``, ``<`` and ``>`` as HTML entities in ``body``, ``selftext`` and
  ``title`` (unless fetched with ``raw_json=1``); exactly those three are unescaped, so the
  text is what its author typed (markdown, stored as given; the templates escape it).
* ``[deleted]`` and ``[removed]`` authors and bodies are kept verbatim: a removed comment
  still holds its place in the tree, and its replies are kept.
* An empty body (it happens in dumps) cannot be imported as it is, so it becomes
  ``[empty]`` with ``meta.empty_body`` true, counted in a notice; dropping it would orphan
  its replies.
* The article: title, body = ``selftext``, url = the permalink on reddit.com (the linked
  page, for a link post, in ``meta.link_url``), source ``reddit r/SUB``. Meta keeps a few
  small fields (score, subreddit, permalink, and distinguished, edited, stickied when set).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson

from annotator.corpus.importers.jsonl import (
    BOM,
    default_max_record_bytes,
    json_line_problem,
    json_type_name,
    oversized_line,
)
from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Notice,
    Record,
)

REDDIT = "https://www.reddit.com"
PAGE_MAX_BYTES = 64 * 1024 * 1024  # a comments page is a few MB; anything near this is not one
EMPTY_BODY = "[empty]"
RECORD = "record"

MORE_NOTICE = (
    "{count} comments were not in the file ('more' stubs: Reddit leaves them out of a page; "
    "they were not imported)"
)
CONTINUE_NOTICE = (
    "{count} threads went deeper than the page ('continue this thread' stubs); their "
    "further replies were not in the file"
)
EMPTY_NOTICE = (
    '{count} comments had an empty body; they were imported as "[empty]" so that their '
    "replies keep their place"
)

_PAGE_START = re.compile(rb'\A\s*\[\s*\{\s*"kind"\s*:\s*"Listing"')
_T3 = re.compile(rb'"kind"\s*:\s*"t3"')
_END = object()  # the end of a listing (a child may be null, which is refused)


# --- Shared -------------------------------------------------------------------------------------


def _unescape(text: str) -> str:
    """Undo Reddit's escaping of ``&``, ``<``, ``>`` (and nothing else: a literal ``&nbsp;``
    its author typed arrives as ``&amp;nbsp;`` and must stay ``&nbsp;``)."""
    if "&" not in text:
        return text
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def reddit_time(value: Any) -> datetime | None:
    """``created_utc`` (seconds since 1970 as a number or numeric string) as aware UTC time.

    Raises ``ValueError`` for anything else (the callers name the file and line).
    """
    if value is None or value == "":
        return None
    value_type = type(value)
    if value_type is str:
        value = float(value)
    elif value_type is not int and value_type is not float:
        raise ValueError(f'"created_utc" must be a number, found {json_type_name(value)}')
    return datetime.fromtimestamp(value, UTC)


def _bare_id(value: Any, prefix: str) -> str | None:
    """An id without its kind prefix (``t1_abc`` -> ``abc``); None when it has another kind."""
    if type(value) is not str or not value:
        return None
    if value.startswith(prefix):
        return value[3:] or None
    if value[:1] == "t" and value[2:3] == "_":
        return None  # another kind (t3_ where t1_ was expected, t5_, ...)
    return value


_OPTIONAL_META = ("permalink", "distinguished", "edited", "stickied")  # kept when set


def _comment_meta(get: Callable[[str], Any]) -> dict[str, Any]:
    """The few small fields worth keeping of a comment (``get``: its data's ``get``); the
    optional ones only when set, to stay small over millions of rows."""
    meta: dict[str, Any] = {}
    score = get("score")
    if score is not None:
        meta["score"] = score
    subreddit = get("subreddit")
    if subreddit:
        meta["subreddit"] = subreddit
    for key in _OPTIONAL_META:
        value = get(key)
        if value:
            meta[key] = value
    return meta


def _article(data: dict[str, Any], line: int) -> ArticleRecord:
    """A submission (``t3`` data) as an article record; the caller checked its id."""
    get = data.get
    subreddit = get("subreddit") or ""
    permalink = get("permalink") or ""
    page_url = REDDIT + permalink if permalink.startswith("/") else permalink
    link_url = get("url") or ""
    meta: dict[str, Any] = {}
    for key in ("subreddit", "author", "score", "num_comments"):
        value = get(key)
        if value is not None and value != "":
            meta[key] = value
    if permalink:
        meta["permalink"] = permalink
    if link_url and link_url != page_url and not get("is_self"):
        meta["link_url"] = link_url
    for key in ("distinguished", "edited", "over_18", "stickied", "locked"):
        if get(key):
            meta[key] = get(key)
    title, selftext = get("title"), get("selftext")
    return ArticleRecord(
        source_id=data["id"],
        title=_unescape(title) if type(title) is str else "",
        body=_unescape(selftext) if type(selftext) is str else "",
        url=page_url or link_url,
        source=f"reddit r/{subreddit}" if subreddit else "reddit",
        published_at=reddit_time(get("created_utc")),
        meta=meta,
        line=line,
    )


# --- A comments page ----------------------------------------------------------------------------


def sniff_reddit_page(head: bytes, filename: str) -> bool:
    """A JSON array whose first element is a Listing holding a ``t3`` (the submission)."""
    head = head.removeprefix(BOM)
    return bool(_PAGE_START.match(head)) and bool(_T3.search(head, 0, 4096))


def parse_reddit_page(stream: BinaryIO, filename: str) -> Iterator[Record]:
    """The submission of a comments page, then its comments parents first, then notices.

    The page is one JSON document, read whole (at most ``PAGE_MAX_BYTES``). Errors name
    the record (the submission is record 1, comments and stubs follow in document order).
    """
    raw = stream.read(PAGE_MAX_BYTES + 1)
    if len(raw) > PAGE_MAX_BYTES:
        raise ImportFileError(
            filename,
            None,
            f"over {PAGE_MAX_BYTES // (1024 * 1024)} MB: too large for one Reddit comments "
            "page (import a dump as NDJSON instead)",
        )
    document = _page_document(raw.removeprefix(BOM), filename)
    submission = _page_submission(document, filename)
    article = _article(submission, 1)
    yield article
    more = continued = empty = 0
    number = 1
    # Depth first with a stack of listings (a page nests deeper than is safe to recurse on):
    # each comment's replies come right after it, so parents always come before replies.
    stack = [iter(_listing_children(document[1], "the second element", filename, 1))]
    while stack:
        thing = next(stack[-1], _END)
        if thing is _END:
            stack.pop()
            continue
        number += 1
        kind, data = _thing(thing, filename, number)
        if kind == "more":
            count = data.get("count")
            listed = data.get("children")
            listed = len(listed) if type(listed) is list else 0
            count = count if type(count) is int else 0
            if data.get("id") == "_" or not (listed or count):
                continued += 1  # "continue this thread": replies too deep for the page
            else:
                more += max(count, listed)
            continue
        if kind != "t1":
            raise ImportFileError(
                filename,
                number,
                f'a "{kind}" among the comments (expected t1 comments and more stubs)',
                unit=RECORD,
            )
        record = _page_comment(data, article.source_id, filename, number)
        if record.meta.get("empty_body"):
            empty += 1
        yield record
        replies = data.get("replies")
        if replies is not None and replies != "":  # "" when there are none
            where = f'the replies of comment "{record.source_id}"'
            stack.append(iter(_listing_children(replies, where, filename, number)))
    if more:
        yield Notice("reddit_more", more, MORE_NOTICE)
    if continued:
        yield Notice("reddit_continue", continued, CONTINUE_NOTICE)
    if empty:
        yield Notice("reddit_empty_body", empty, EMPTY_NOTICE)


def _page_document(raw: bytes, filename: str) -> list[Any]:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ImportFileError(filename, error.lineno, json_line_problem(raw, error)) from None
    if type(document) is not list or len(document) != 2:
        found = json_type_name(document)
        if type(document) is list:
            found = f"an array of {len(document)}"
        raise ImportFileError(
            filename,
            None,
            f"not a Reddit comments page: expected an array of two Listings, found {found}",
        )
    return document


def _page_submission(document: list[Any], filename: str) -> dict[str, Any]:
    children = _listing_children(document[0], "the first element", filename, 1)
    if not children:
        raise ImportFileError(filename, 1, "the first Listing holds no submission", unit=RECORD)
    kind, data = _thing(children[0], filename, 1)
    if kind != "t3":
        raise ImportFileError(
            filename, 1, f'the first Listing holds a "{kind}", not a t3 submission', unit=RECORD
        )
    source_id = data.get("id")
    if type(source_id) is not str or not source_id:
        raise ImportFileError(filename, 1, 'submission without "id"', unit=RECORD)
    _checked_time(data, filename, 1, RECORD)
    return data


def _listing_children(listing: Any, where: str, filename: str, number: int) -> list[Any]:
    if (
        type(listing) is not dict
        or listing.get("kind") != "Listing"
        or type(listing.get("data")) is not dict
    ):
        raise ImportFileError(
            filename, number, f"{where} is not a Listing (kind, data)", unit=RECORD
        )
    children = listing["data"].get("children")
    if type(children) is not list:
        raise ImportFileError(
            filename, number, f'{where} is a Listing without "children"', unit=RECORD
        )
    return children


def _thing(thing: Any, filename: str, number: int) -> tuple[str, dict[str, Any]]:
    """A Reddit "thing" (``{"kind": ..., "data": {...}}``) as its kind and data."""
    if type(thing) is not dict or type(thing.get("data")) is not dict:
        raise ImportFileError(
            filename, number, "expected a Reddit object with kind and data", unit=RECORD
        )
    kind = thing.get("kind")
    if type(kind) is not str:
        raise ImportFileError(filename, number, 'a Reddit object without "kind"', unit=RECORD)
    return kind, thing["data"]


def _page_comment(
    data: dict[str, Any], article_id: str, filename: str, number: int
) -> CommentRecord:
    source_id = data.get("id")
    if type(source_id) is not str or not source_id:
        raise ImportFileError(filename, number, 'comment without "id"', unit=RECORD)
    parent = data.get("parent_id")
    parent_id = None
    if type(parent) is str and parent.startswith("t1_"):
        parent_id = parent[3:]
    elif parent != f"t3_{article_id}":
        raise ImportFileError(
            filename,
            number,
            f'comment "{source_id}": "parent_id" must be t1_ID or t3_{article_id}, '
            f"found {json_type_name(parent) if type(parent) is not str else parent}",
            unit=RECORD,
        )
    return _comment(data, source_id, article_id, parent_id, filename, number, RECORD)


def _comment(
    data: dict[str, Any],
    source_id: str,
    article_id: str,
    parent_id: str | None,
    filename: str,
    number: int,
    unit: str,
) -> CommentRecord:
    body = data.get("body")
    if type(body) is not str:
        if body is None:
            raise ImportFileError(
                filename, number, f'comment "{source_id}" without "body"', unit=unit
            )
        raise ImportFileError(
            filename,
            number,
            f'comment "{source_id}": "body" must be a string, found {json_type_name(body)}',
            unit=unit,
        )
    meta = _comment_meta(data.get)
    if not body or body.isspace():
        body = EMPTY_BODY
        meta["empty_body"] = True
    author = data.get("author")
    return CommentRecord(
        source_id,
        article_id,
        _unescape(body),
        parent_id,
        author if type(author) is str else "",
        _checked_time(data, filename, number, unit),
        meta,
        number,
    )


def _checked_time(data: dict[str, Any], filename: str, number: int, unit: str) -> datetime | None:
    try:
        return reddit_time(data.get("created_utc"))
    except (ValueError, OverflowError, OSError):
        value = data.get("created_utc")
        shown = value if type(value) is str else json_type_name(value)
        raise ImportFileError(
            filename,
            number,
            f'"created_utc" is not a time in seconds since 1970: {shown}',
            unit=unit,
        ) from None


# --- A dump (NDJSON) ----------------------------------------------------------------------------


def sniff_reddit_dump(head: bytes, filename: str) -> bool:
    """The first line is a JSON object shaped like a Reddit comment or submission."""
    head = head.removeprefix(BOM).lstrip()
    if not head.startswith(b"{"):
        return False
    first, newline, _ = head.partition(b"\n")
    if not newline and len(head) >= 65536:
        return False  # the first line does not fit in the head: cannot tell
    try:
        data = orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    if type(data) is not dict:
        return False
    if "kind" in data and type(data.get("data")) is dict:  # a wrapped thing: {"kind": "t1", ...}
        data = data["data"]
    if "type" in data or "id" not in data:
        return False  # the canonical JSON Lines has "type"
    parent, link = data.get("parent_id"), data.get("link_id")
    if type(parent) is str and type(link) is str:
        return parent.startswith(("t1_", "t3_")) and link.startswith("t3_")
    return "subreddit" in data and ("title" in data or "selftext" in data)


def parse_reddit_dump(
    stream: BinaryIO, filename: str, *, max_record_bytes: int | None = None
) -> Iterator[Record]:
    """Records of a Reddit NDJSON dump, one line at a time; errors name the line.

    A line is a comment (``body``, ``link_id``, ``parent_id``) or a submission (``title``);
    either may come wrapped as ``{"kind": "t1"|"t3", "data": {...}}``. Blank lines are
    skipped. Empty bodies are counted in a notice, yielded last.
    """
    limit = max_record_bytes or default_max_record_bytes()
    readline = stream.readline
    number = 0
    empty = 0
    loads = orjson.loads
    unescape, from_timestamp, comment_meta = _unescape, datetime.fromtimestamp, _comment_meta
    while True:
        raw = readline(limit + 1)
        if not raw:
            break
        number += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            raise oversized_line(raw, readline, limit, filename, number)
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        if raw[0] != 123 and not raw.strip():  # 123 is "{"; skip blank lines
            continue
        try:
            data = loads(raw)
        except orjson.JSONDecodeError as error:
            raise ImportFileError(filename, number, json_line_problem(raw, error)) from None
        if type(data) is not dict:
            raise ImportFileError(
                filename, number, f"expected a JSON object, found {json_type_name(data)}"
            )
        # The common case, a well-formed comment, in one test: this runs for every line of a
        # dump of millions, twice per import. Anything else takes the checked path.
        get = data.get
        source_id, link, parent = get("id"), get("link_id"), get("parent_id")
        body, created, author = get("body"), get("created_utc"), get("author")
        if (
            type(source_id) is str
            and source_id
            and type(link) is str
            and link[:3] == "t3_"
            and type(parent) is str
            and type(body) is str
            and body
            and not body.isspace()
            and (type(created) is int or type(created) is float)
            and (author is None or type(author) is str)
        ):
            if parent[:3] == "t1_" and len(parent) > 3:
                parent_id: str | None = parent[3:]
            elif parent == link:
                parent_id = None
            else:
                yield _dump_record(data, filename, number)  # refused there, saying why
                continue
            meta = comment_meta(get)
            yield CommentRecord(
                source_id,
                link[3:],
                unescape(body) if "&" in body else body,
                parent_id,
                author or "",
                from_timestamp(created, UTC),
                meta,
                number,
            )
            continue
        record = _dump_record(data, filename, number)
        if type(record) is CommentRecord and record.meta.get("empty_body"):
            empty += 1
        yield record
    if empty:
        yield Notice("reddit_empty_body", empty, EMPTY_NOTICE)


_KIND_NAMES = {"t2": "an account", "t4": "a message", "t5": "a subreddit", "t6": "an award"}


def _dump_record(data: dict[str, Any], filename: str, number: int) -> Record:
    """One dump line as a comment or an article record."""
    kind = data.get("kind")
    if kind is not None and type(data.get("data")) is dict:
        if kind not in ("t1", "t3"):
            what = _KIND_NAMES.get(kind, f'kind "{kind}"') if type(kind) is str else "a thing"
            raise ImportFileError(
                filename,
                number,
                f"{what}, not a Reddit comment (t1) or submission (t3)",
            )
        data = data["data"]
    get = data.get
    source_id = get("id")
    if type(source_id) is not str or not source_id:
        if type(source_id) is int:
            source_id = str(source_id)
        else:
            raise ImportFileError(filename, number, 'a Reddit object without "id"')
    link_id = get("link_id")
    if link_id is not None or "body" in data or "parent_id" in data:
        return _dump_comment(data, source_id, link_id, filename, number)
    if "title" in data:
        name = get("name")
        if type(name) is str and not name.startswith("t3_"):
            raise ImportFileError(filename, number, f'"{name}" is not a Reddit submission (t3_...)')
        if type(get("title")) is not str:
            raise ImportFileError(
                filename,
                number,
                f'submission "{source_id}": "title" must be a string, found '
                f"{json_type_name(get('title'))}",
            )
        data["id"] = source_id
        _checked_time(data, filename, number, "line")
        return _article(data, number)
    name = get("name")
    if (
        type(name) is str
        and name[:1] == "t"
        and name[2:3] == "_"
        and name[:3] not in ("t1_", "t3_")
    ):
        what = _KIND_NAMES.get(name[:2], f'kind "{name[:2]}"')
        raise ImportFileError(
            filename, number, f"{what}, not a Reddit comment (t1) or submission (t3)"
        )
    raise ImportFileError(
        filename,
        number,
        'neither a Reddit comment ("body", "link_id", "parent_id") nor a submission ("title")',
    )


def _dump_comment(
    data: dict[str, Any], source_id: str, link_id: Any, filename: str, number: int
) -> CommentRecord:
    article_id = _bare_id(link_id, "t3_")
    if article_id is None:
        raise ImportFileError(
            filename,
            number,
            f'comment "{source_id}": "link_id" must be the submission\'s t3_ID, found '
            f"{link_id if type(link_id) is str else json_type_name(link_id)}",
        )
    parent = data.get("parent_id")
    if type(parent) is str and parent.startswith("t1_") and len(parent) > 3:
        parent_id: str | None = parent[3:]
    elif type(parent) is str and parent.startswith("t3_"):
        if parent[3:] != article_id:
            raise ImportFileError(
                filename,
                number,
                f'comment "{source_id}" answers submission {parent} but belongs to '
                f"{link_id} (link_id)",
            )
        parent_id = None
    else:
        raise ImportFileError(
            filename,
            number,
            f'comment "{source_id}": "parent_id" must be t1_ID or t3_ID, found '
            f"{parent if type(parent) is str else json_type_name(parent)}",
        )
    return _comment(data, source_id, article_id, parent_id, filename, number, "line")
