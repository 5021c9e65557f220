"""Hacker News: Algolia items and official API items become one story and its reply tree."""

import io
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from annotator.corpus.importers import detect_format
from annotator.corpus.importers.hackernews import (
    hn_html_to_text,
    parse_hackernews,
    sniff_hackernews,
)
from annotator.corpus.importers.loader import import_file
from annotator.corpus.importers.records import ArticleRecord, ImportFileError
from annotator.corpus.models import Article, Comment

SAMPLES = Path(__file__).resolve().parents[3] / "fixtures" / "samples"
ALGOLIA = SAMPLES / "hackernews_item.json"
FIREBASE = SAMPLES / "hackernews_items.jsonl"


def parse(data: bytes, filename: str = "hn.jsonl") -> list:
    return list(parse_hackernews(io.BufferedReader(io.BytesIO(data)), filename))


def jsonl(*items: dict) -> bytes:
    return b"".join(orjson.dumps(item) + b"\n" for item in items)


def refusal(data: bytes) -> str:
    with pytest.raises(ImportFileError) as refused:
        parse(data)
    return str(refused.value)


def shape(records: list) -> list[tuple]:
    return [
        ("article", r.source_id)
        if isinstance(r, ArticleRecord)
        else (r.source_id, r.article_id, r.parent_id)
        for r in records
    ]


def story(item_id: int = 1, **fields) -> dict:
    return {"id": item_id, "type": "story", "by": "pg", "time": 1700000000, "title": "T", **fields}


def comment(item_id: int, parent: int, **fields) -> dict:
    fields.setdefault("text", f"text {item_id}")
    return {
        "id": item_id,
        "type": "comment",
        "by": "u",
        "time": 1700000100,
        "parent": parent,
        **fields,
    }


# --- Algolia ---------------------------------------------------------------------------------


def test_an_algolia_item_gives_the_story_then_its_comments_depth_first():
    records = parse(ALGOLIA.read_bytes(), ALGOLIA.name)

    assert shape(records) == [
        ("article", "38451917"),
        ("38452101", "38451917", None),
        ("38452388", "38451917", "38452101"),
        ("38453020", "38451917", "38452388"),
        ("38453391", "38451917", "38453020"),
        ("38452230", "38451917", None),
        ("38452877", "38451917", None),
    ]
    article = records[0]
    assert article.title == "Ask HN: Do reader comments still matter to newsrooms?"
    assert article.body.endswith('moderation cost and the "engagement" side.')
    assert "\n\nCurious" in article.body
    assert article.url == "https://news.ycombinator.com/item?id=38451917"
    assert article.source == "Hacker News"
    assert article.published_at == datetime(2023, 11, 20, 10, 50, 3, tzinfo=UTC)
    assert article.meta["points"] == 142 and article.meta["author"] == "throwaway_ed"


def test_a_deleted_algolia_comment_is_kept_so_its_replies_keep_their_parent():
    deleted = parse(ALGOLIA.read_bytes())[3]

    assert (deleted.text, deleted.author, deleted.meta) == ("[deleted]", "", {"deleted": True})


def test_a_pretty_printed_item_and_an_array_of_items_read_alike():
    item = orjson.loads(ALGOLIA.read_bytes())
    expected = shape(parse(ALGOLIA.read_bytes()))

    assert shape(parse(orjson.dumps(item, option=orjson.OPT_INDENT_2))) == expected
    assert shape(parse(orjson.dumps([item]))) == expected


def test_an_algolia_comment_page_hangs_under_its_parent_in_its_story():
    item = {"id": 5, "type": "comment", "author": "a", "text": "hi", "created_at_i": 1,
            "parent_id": 4, "story_id": 1, "children": [
                {"id": 6, "type": "comment", "author": "b", "text": "yo", "created_at_i": 2,
                 "parent_id": 5, "story_id": 1, "children": []}]}  # fmt: skip

    assert shape(parse(orjson.dumps(item))) == [("5", "1", "4"), ("6", "1", "5")]


# --- Official API items ----------------------------------------------------------------------


def test_official_items_in_any_order_give_stories_first_and_each_comment_its_story():
    records = parse(FIREBASE.read_bytes(), FIREBASE.name)

    assert shape(records) == [
        ("article", "38451917"),
        ("article", "38460000"),
        ("38453391", "38451917", "38453020"),
        ("38452101", "38451917", None),
        ("38452230", "38451917", None),
        ("38452388", "38451917", "38452101"),
        ("38453020", "38451917", "38452388"),
        ("38452877", "38451917", None),
    ]
    assert records[1].url == "https://example.org/annotator"
    assert records[2].line == 1 and records[0].line == 2  # lines of the file, not of the order


def test_deleted_and_dead_official_comments_are_marked():
    by_id = {r.source_id: r for r in parse(FIREBASE.read_bytes())}

    assert (by_id["38453020"].text, by_id["38453020"].author) == ("[deleted]", "")
    assert by_id["38453020"].meta == {"deleted": True}
    assert by_id["38452877"].text == "Buy followers at example.biz"
    assert by_id["38452877"].meta == {"dead": True}
    assert parse(jsonl(story(), comment(2, 1, dead=True, text=None)))[1].text == "[dead]"


def test_a_deep_chain_finds_its_story_whatever_the_order():
    items = [comment(n, n - 1) for n in range(1000, 2, -1)] + [comment(2, 1), story(1)]

    records = parse(jsonl(*items))

    assert {r.article_id for r in records[1:]} == {"1"}
    assert records[-1].source_id == "2" and records[-1].parent_id is None


def test_a_json_array_of_items_is_read_too():
    assert shape(parse(orjson.dumps([comment(2, 1), story(1)]))) == [
        ("article", "1"),
        ("2", "1", None),
    ]


def test_a_comment_whose_parent_is_missing_answers_that_parent_as_a_story():
    records = parse(jsonl(comment(7, 5), comment(8, 7)))

    assert shape(records) == [("7", "5", None), ("8", "5", "7")]


def test_poll_options_are_left_out_with_a_notice():
    records = parse(jsonl(story(1, type="poll"), {"id": 2, "type": "pollopt", "poll": 1}))

    assert [type(r).__name__ for r in records] == ["Notice", "ArticleRecord"]
    assert records[0].count == 1


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([story(1), story(1)], "hn.jsonl, line 2: item 1 appears twice (also on line 1)"),
        ([story(1), comment(2, 3), comment(3, 2)], "line 2: item 2: its parents go round"),
        ([story(1), {"id": 2, "type": "comment", "text": "x"}], 'comment 2 has no "parent"'),
        ([story(1), {"type": "comment", "parent": 1}], 'line 2: an item without "id"'),
        ([story("x")], "line 1: \"id\" must be an item number, found 'x'"),
        ([story(1), {"id": 3, "type": "job?"}], "item 3: unknown type 'job?'"),
    ],
)
def test_bad_items_are_refused_with_the_line_and_reason(items, expected):
    assert expected in refusal(jsonl(*items))


def test_algolia_search_results_are_refused_saying_what_to_fetch_instead():
    hits = {"hits": [{"objectID": "1", "created_at_i": 1, "story_id": 1}], "nbHits": 1}

    assert "fetch each story with /api/v1/items/ID" in refusal(orjson.dumps(hits))


def test_text_that_is_not_json_is_refused():
    assert (
        refusal(b"id,parent\n1,2\n")
        == "hn.jsonl, line 1: not JSON: a JSON object or array was expected"
    )


# --- HTML ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("One<p>Two", "One\n\nTwo"),
        ("It&#x27;s <i>really</i> &lt;b&gt; &amp; more", "It's really <b> & more"),
        ('See <a href="https:&#x2F;&#x2F;x.org&#x2F;a">this</a>.', "See this (https://x.org/a)."),
        ('<a href="https://x.org/a">https://x.org/a</a>', "https://x.org/a"),
        ('<a href="https://x.org/long/path/here">https://x.org/long/pa...</a>', "https://x.org/long/path/here"),
        (
            "Code:<p><pre><code>  if x:\n      y()\n</code></pre>\nDone",
            "Code:\n\n  if x:\n      y()\n\nDone",
        ),
        ("<script>alert(1)</script>", "alert(1)"),
    ],
)  # fmt: skip
def test_hn_html_becomes_the_text_the_reader_saw(html, text):
    assert hn_html_to_text(html) == text


# --- Sniffing and end to end -----------------------------------------------------------------


def test_both_shapes_are_recognised_and_the_canonical_format_is_not():
    assert sniff_hackernews(ALGOLIA.read_bytes(), "x.json")
    assert sniff_hackernews(FIREBASE.read_bytes(), "x.jsonl")
    assert not sniff_hackernews((SAMPLES / "thread.jsonl").read_bytes(), "thread.jsonl")
    assert detect_format(FIREBASE.read_bytes(), FIREBASE.name) == "hackernews"


@pytest.mark.parametrize("sample", [ALGOLIA, FIREBASE])
def test_a_dump_imports_as_one_thread_and_again_adds_nothing(project, sample):
    result = import_file(project, sample)

    assert result.comments_added == 6
    article = Article.objects.get(project=project, source_id="38451917")
    thread = list(Comment.objects.thread(article).select_related("parent"))
    chain = next(c for c in thread if c.source_id == "38453391")
    assert (chain.depth, chain.parent.source_id, chain.parent.text) == (3, "38453020", "[deleted]")
    assert import_file(project, sample).comments_added == 0


def test_a_refused_dump_writes_nothing(project, tmp_path):
    path = tmp_path / "hn.jsonl"
    path.write_bytes(jsonl(story(1), comment(2, 1), comment(2, 1)))

    with pytest.raises(ImportFileError, match="item 2 appears twice"):
        import_file(project, path)
    assert not Article.objects.filter(project=project).exists()
