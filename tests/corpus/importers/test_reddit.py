"""Reddit's comments page (.json) and NDJSON dumps: records, ids, notices, refusals, imports."""

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import zstandard

from annotator.corpus.importers import detect_format
from annotator.corpus.importers.loader import ImportResult, import_file
from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Notice,
)
from annotator.corpus.importers.reddit import (
    EMPTY_BODY,
    parse_reddit_dump,
    parse_reddit_page,
    sniff_reddit_dump,
    sniff_reddit_page,
)
from annotator.corpus.models import Article, Comment

SAMPLES = Path(__file__).resolve().parents[3] / "fixtures" / "samples"
PAGE = SAMPLES / "reddit_comments_page.json"
SUBMISSIONS = SAMPLES / "reddit_dump_submissions.ndjson"
COMMENTS = SAMPLES / "reddit_dump_comments.ndjson"
THREAD = "5h3k2j"
PERMALINK = "/r/worldnews/comments/5h3k2j/syrian_army_halts_aleppo_offensive_to_let/"


def page_records(data: bytes | None = None) -> list:
    data = PAGE.read_bytes() if data is None else data
    return list(parse_reddit_page(io.BufferedReader(io.BytesIO(data)), "page.json"))


def dump_records(data: bytes, **kwargs) -> list:
    return list(parse_reddit_dump(io.BufferedReader(io.BytesIO(data)), "RC.ndjson", **kwargs))


def comments_of(records: list) -> dict[str, CommentRecord]:
    return {r.source_id: r for r in records if type(r) is CommentRecord}


def page_refusal(document) -> str:
    with pytest.raises(ImportFileError) as refused:
        page_records(orjson.dumps(document))
    return str(refused.value)


def dump_refusal(data: bytes, **kwargs) -> str:
    with pytest.raises(ImportFileError) as refused:
        dump_records(data, **kwargs)
    return str(refused.value)


def listing(*children) -> dict:
    return {"kind": "Listing", "data": {"children": list(children)}}


def t1(source_id: str, parent: str = f"t3_{THREAD}", replies="", **fields) -> dict:
    data = {"id": source_id, "parent_id": parent, "link_id": f"t3_{THREAD}", "author": "a"}
    data |= {"body": f"Text of {source_id}", "created_utc": 1481190600.0, "replies": replies}
    return {"kind": "t1", "data": data | fields}


def page(*comments, submission: dict | None = None) -> list:
    t3 = {"kind": "t3", "data": submission or {"id": THREAD, "title": "T", "subreddit": "w"}}
    return [listing(t3), listing(*comments)]


def tree(source_id: str = THREAD) -> list[tuple[str, str | None, int]]:
    """(id, parent id, depth) of a thread, in tree order."""
    return [
        (c.source_id, c.parent.source_id if c.parent else None, c.depth)
        for c in Comment.objects.thread(Article.objects.get(source_id=source_id)).select_related(
            "parent"
        )
    ]


# --- The comments page -------------------------------------------------------------------------


def test_a_page_gives_the_submission_then_every_comment_after_its_parent():
    records = page_records()

    assert type(records[0]) is ArticleRecord
    comments = [(r.source_id, r.parent_id) for r in records if type(r) is CommentRecord]
    assert comments == [
        ("dazp0z0", None),
        ("dazq1a1", None),
        ("dazq2b2", "dazq1a1"),
        ("dazq3c3", "dazq2b2"),
        ("dazq4d4", "dazq3c3"),
        ("dazr0a0", None),
        ("dazr1b1", None),
        ("dazr2c2", "dazr1b1"),
        ("dazr3d3", "dazr2c2"),
        ("dazr4e4", "dazr3d3"),
    ]
    assert {r.article_id for r in records if type(r) is CommentRecord} == {THREAD}


def test_the_submission_becomes_the_article_with_its_permalink_and_subreddit():
    article = page_records()[0]

    assert article.source_id == THREAD
    assert article.title == (
        "Syrian army halts Aleppo offensive to let civilians leave, Russia says & talks to resume"
    )
    assert article.body == ""
    assert article.url == (
        "https://www.reddit.com/r/worldnews/comments/5h3k2j/syrian_army_halts_aleppo_offensive_to_let/"
    )
    assert article.source == "reddit r/worldnews"
    assert article.published_at == datetime(2016, 12, 8, 9, 40, tzinfo=UTC)
    assert article.meta["link_url"] == "https://example.org/world/aleppo-ceasefire"
    assert article.meta["score"] == 5123
    assert article.line == 1


def test_deleted_and_removed_comments_are_kept_verbatim_with_their_replies():
    comments = comments_of(page_records())

    assert (comments["dazq3c3"].author, comments["dazq3c3"].text) == ("[deleted]", "[deleted]")
    assert (comments["dazr0a0"].author, comments["dazr0a0"].text) == ("[deleted]", "[removed]")
    assert comments["dazq4d4"].parent_id == "dazq3c3"


def test_reddits_html_escaping_is_undone_and_markup_stays_plain_text():
    comments = comments_of(page_records())

    assert comments["dazq4d4"].text.startswith("> the rebels will never surrender\n\n")
    assert "<surrender>" in comments["dazq4d4"].text
    assert "<script>alert(1)</script>" in comments["dazr1b1"].text
    assert comments["dazq1a1"].text.endswith("holds & for how long.")


def test_a_literal_entity_its_author_typed_survives():
    records = page_records(orjson.dumps(page(t1("c1", body="write &amp;nbsp; for a space"))))

    assert records[1].text == "write &nbsp; for a space"


def test_times_are_aware_utc_and_small_fields_go_to_meta():
    comments = comments_of(page_records())

    assert comments["dazq1a1"].posted_at == datetime(2016, 12, 8, 9, 50, tzinfo=UTC)
    assert comments["dazp0z0"].meta == {
        "score": 1,
        "subreddit": "worldnews",
        "permalink": f"{PERMALINK}dazp0z0/",
        "distinguished": "moderator",
        "stickied": True,
    }
    assert comments["dazq4d4"].meta["edited"] == 1481191800.0
    assert "edited" not in comments["dazq1a1"].meta  # false: left out


def test_more_stubs_are_counted_as_notices_not_imported():
    records = page_records()

    notices = {r.key: r for r in records if type(r) is Notice}
    assert notices["reddit_more"].count == 15  # 3 + 12, what the two stubs stand for
    assert notices["reddit_continue"].count == 1  # the "continue this thread" stub
    assert "{count} comments were not in the file" in notices["reddit_more"].text
    assert len(comments_of(records)) == 10


def test_a_page_yields_the_same_records_every_time():
    assert page_records() == page_records()


def test_a_comment_with_an_empty_body_is_kept_as_empty_and_counted():
    records = page_records(orjson.dumps(page(t1("c1", body=""), t1("c2", parent="t1_c1"))))

    assert (records[1].text, records[1].meta["empty_body"]) == (EMPTY_BODY, True)
    assert records[2].parent_id == "c1"
    assert records[-1] == Notice("reddit_empty_body", 1, records[-1].text)


def test_a_page_that_is_not_json_names_the_line():
    pretty = json.dumps(orjson.loads(PAGE.read_bytes()), indent=1).encode()
    data = pretty.replace(b'"dazq2b2"', b"dazq2b2", 1)

    with pytest.raises(ImportFileError) as refused:
        page_records(data)

    assert refused.value.line == pretty[: pretty.index(b'"dazq2b2"')].count(b"\n") + 1
    assert "malformed JSON" in refused.value.reason


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"kind": "Listing"}, "expected an array of two Listings, found an object"),
        ([listing()], "expected an array of two Listings, found an array of 1"),
        ([{"kind": "t3"}, listing()], "record 1: the first element is not a Listing"),
        ([listing(), listing()], "record 1: the first Listing holds no submission"),
        ([listing({"kind": "t1", "data": {}}), listing()], 'holds a "t1", not a t3'),
        (page(t1("c1"), {"kind": "t5", "data": {}}), 'record 3: a "t5" among the comments'),
        (page(t1("c1", body=None)), 'record 2: comment "c1" without "body"'),
        (page(t1("c1", body=7)), '"body" must be a string, found a number'),
        (page(t1("c1", created_utc="yesterday")), '"created_utc" is not a time'),
        (page(t1("c1", created_utc=True)), '"created_utc" is not a time'),
        (page(t1("c1", parent="t3_other")), '"parent_id" must be t1_ID or t3_5h3k2j'),
        (page(t1("c1", replies=[])), 'the replies of comment "c1" is not a Listing'),
        (page(t1("c1", id="")), 'record 2: comment without "id"'),
    ],
)
def test_a_page_of_the_wrong_shape_is_refused_saying_where(document, reason):
    assert reason in page_refusal(document)


def test_replies_as_a_listing_or_an_empty_string_both_read():
    nested = t1("c1", replies=listing(t1("c2", parent="t1_c1", replies="")))

    records = page_records(orjson.dumps(page(nested)))

    assert [(r.source_id, r.parent_id) for r in records[1:]] == [("c1", None), ("c2", "c1")]


# --- The dump ------------------------------------------------------------------------------------


def test_a_dump_keeps_file_order_with_replies_before_their_parents():
    records = dump_records(COMMENTS.read_bytes())

    comments = [(r.source_id, r.article_id, r.parent_id, r.line) for r in records[:4]]
    assert comments == [
        ("dazq1a1", THREAD, None, 1),
        ("dazq4d4", THREAD, "dazq3c3", 2),  # before its parent, on line 4
        ("dazq2b2", THREAD, "dazq1a1", 3),
        ("dazq3c3", THREAD, "dazq2b2", 4),
    ]


def test_a_comment_whose_parent_is_not_in_the_dump_keeps_its_parent_id():
    comments = comments_of(dump_records(COMMENTS.read_bytes()))

    assert comments["dazs1k1"].parent_id == "dazq9x9"  # the loader attaches it to its article
    assert comments["db02zz9"].article_id == "5h6w0a"  # a submission not in the dump


@pytest.mark.parametrize("created", [1481190600, "1481190600", 1481190600.0, "1481190600.0"])
def test_created_utc_as_a_number_or_a_numeric_string_is_the_same_time(created):
    line = orjson.dumps(
        {"id": "c1", "link_id": "t3_x", "parent_id": "t3_x", "body": "b", "created_utc": created}
    )

    assert dump_records(line + b"\n")[0].posted_at == datetime(2016, 12, 8, 9, 50, tzinfo=UTC)


def test_the_fast_path_and_the_checked_path_give_the_same_record():
    fields = {"id": "c1", "link_id": "t3_x", "parent_id": "t1_c0", "author": "[deleted]"}
    fields |= {"body": "&gt; q &amp; a", "score": 3, "subreddit": "w", "edited": 1481190700}
    fields |= {"distinguished": "moderator", "stickied": True, "permalink": "/r/w/c1/"}
    fast = orjson.dumps(fields | {"created_utc": 1481190600})  # an int: the fast path
    checked = orjson.dumps(fields | {"created_utc": "1481190600"})  # a string: checked

    one, other = dump_records(fast + b"\n" + checked + b"\n")

    assert one == CommentRecord(
        "c1",
        "x",
        "> q & a",
        "c0",
        "[deleted]",
        datetime(2016, 12, 8, 9, 50, tzinfo=UTC),
        {
            "score": 3,
            "subreddit": "w",
            "permalink": "/r/w/c1/",
            "distinguished": "moderator",
            "edited": 1481190700,
            "stickied": True,
        },
        1,
    )
    other.line = 1
    assert other == one


def test_a_dump_comment_is_the_same_record_as_on_the_page():
    dumped = comments_of(dump_records(COMMENTS.read_bytes()))
    paged = comments_of(page_records())

    for source_id in ("dazq1a1", "dazq2b2", "dazq3c3", "dazq4d4", "dazp0z0", "dazr0a0"):
        one, other = dumped[source_id], paged[source_id]
        assert (one.article_id, one.parent_id, one.author, one.text, one.posted_at) == (
            other.article_id,
            other.parent_id,
            other.author,
            other.text,
            other.posted_at,
        )


def test_submissions_become_articles_and_a_self_post_keeps_its_text():
    records = dump_records(SUBMISSIONS.read_bytes())

    link, self_post, removed = records
    assert link.source_id == THREAD
    assert link.url == page_records()[0].url
    assert link.meta["link_url"] == "https://example.org/world/aleppo-ceasefire"
    assert self_post.title == "Meta: why are so many Aleppo threads locked?"
    assert self_post.body.startswith("Genuine question. Three threads > 1k comments")
    assert self_post.published_at == datetime(2016, 12, 8, 11, 40, tzinfo=UTC)
    assert "link_url" not in self_post.meta
    assert (removed.title, removed.body, removed.meta["author"]) == (
        "[removed]",
        "[removed]",
        "[deleted]",
    )


def test_an_empty_body_in_a_dump_is_kept_as_empty_and_counted_last():
    records = dump_records(COMMENTS.read_bytes())

    assert comments_of(records)["db01cc3"].text == EMPTY_BODY
    assert comments_of(records)["db01dd4"].parent_id == "db01cc3"
    assert records[-1].key == "reddit_empty_body" and records[-1].count == 1


def test_wrapped_things_and_blank_lines_are_read():
    data = (
        b'{"kind": "t3", "data": {"id": "x", "title": "T", "subreddit": "w", "created_utc": 1}}\n'
        b"\n"
        b'{"kind": "t1", "data": {"id": "c", "link_id": "t3_x", "parent_id": "t3_x",'
        b' "body": "b"}}\n'
    )

    article, comment = dump_records(data)

    assert (article.source_id, comment.article_id, comment.line) == ("x", "x", 3)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"[1, 2]", "line 2: expected a JSON object, found an array"),
        (b'{"id": "c", "body": "b"', "line 2: malformed JSON"),
        (b'{"kind": "t5", "data": {"id": "2qh13"}}', "line 2: a subreddit, not a Reddit comment"),
        (b'{"id": "2qh13", "name": "t5_2qh13"}', "line 2: a subreddit, not a Reddit comment"),
        (b'{"id": "c", "score": 1}', "line 2: neither a Reddit comment"),
        (b'{"body": "b", "link_id": "t3_x", "parent_id": "t3_x"}', 'without "id"'),
        (b'{"id": "c", "body": "b", "link_id": "t3_x"}', '"parent_id" must be t1_ID or t3_ID'),
        (b'{"id": "c", "body": "b", "parent_id": "t3_x"}', '"link_id" must be the submission'),
        (
            b'{"id": "c", "body": "b", "link_id": "t3_x", "parent_id": "t3_y"}',
            "answers submission t3_y but belongs to t3_x",
        ),
        (
            b'{"id": "c", "body": "b", "link_id": "t3_x", "parent_id": "t3_x", "created_utc": []}',
            '"created_utc" is not a time',
        ),
        (b'{"id": "x", "title": 5}', '"title" must be a string'),
    ],
)
def test_a_bad_dump_line_is_refused_with_its_number(line, reason):
    good = b'{"id": "a", "body": "b", "link_id": "t3_x", "parent_id": "t3_x"}\n'

    assert reason in dump_refusal(good + line + b"\n")


def test_a_dump_line_over_the_size_limit_is_refused_without_reading_it_whole():
    big = b'{"id": "c", "body": "' + b"x" * 5000 + b'"}\n'

    refusal = dump_refusal(b"\n" + big, max_record_bytes=1000)

    assert "line 2: record of 5,024 bytes is larger than the 1,000-byte limit" in refusal


# --- Detection ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fmt"),
    [(PAGE, "reddit"), (SUBMISSIONS, "reddit_dump"), (COMMENTS, "reddit_dump")],
)
def test_reddit_files_are_detected_whatever_their_name(path, fmt):
    head = path.read_bytes()[:65536]

    assert detect_format(head, path.name) == fmt
    assert detect_format(head, "upload.txt") == fmt


def test_a_pretty_printed_page_is_detected():
    head = json.dumps(orjson.loads(PAGE.read_bytes()), indent=2).encode()[:65536]

    assert sniff_reddit_page(head, "page.json")


@pytest.mark.parametrize(
    "head",
    [
        b'[{"kind": "Listing", "data": {"children": [{"kind": "t1"}]}}]',
        b'[{"type": "article"}]',
        b'{"type": "comment", "id": "c", "parent_id": "t1_x", "link_id": "t3_y"}\n',
        b'{"id": "c", "parent_id": "c-1", "article_id": "a"}\n',
        b'{"id": "c", "title": "T"}\n',
        b"not json\n",
    ],
)
def test_other_json_is_not_taken_for_reddit(head):
    assert not sniff_reddit_page(head, "x.json")
    assert not sniff_reddit_dump(head, "x.json")


def test_the_canonical_formats_are_still_detected_as_before():
    for name, fmt in (
        ("thread.jsonl", "jsonl"),
        ("thread.csv", "csv"),
        ("thread.disqus.xml", "disqus"),
    ):
        assert detect_format((SAMPLES / name).read_bytes()[:65536], name) == fmt


# --- Imports, end to end ------------------------------------------------------------------------


def write_page(path: Path, document) -> Path:
    path.write_bytes(orjson.dumps(document))
    return path


def test_a_page_without_stubs_imports_its_tree(project, tmp_path):
    nested = t1("c1", replies=listing(t1("c2", parent="t1_c1", body="[removed]")))
    path = write_page(tmp_path / "page.json", page(nested, t1("c3")))

    result = import_file(project, path)

    assert result == ImportResult(articles_added=1, comments_added=3)
    assert tree() == [("c1", None, 0), ("c2", "c1", 1), ("c3", None, 0)]
    assert Article.objects.get().source == "reddit r/w"
    assert Comment.objects.get(source_id="c2").text == "[removed]"


def test_the_same_page_twice_adds_nothing(project, tmp_path):
    path = write_page(tmp_path / "page.json", page(t1("c1"), t1("c2", parent="t1_c1")))
    import_file(project, path)

    result = import_file(project, path)

    assert result == ImportResult(articles_unchanged=1, comments_unchanged=2)


def test_a_broken_page_writes_nothing(project, tmp_path):
    path = write_page(tmp_path / "page.json", page(t1("c1"), t1("c2", body=None)))

    with pytest.raises(ImportFileError, match=r'page\.json, record 3: comment "c2" without "body"'):
        import_file(project, path)

    assert (Article.objects.count(), Comment.objects.count()) == (0, 0)


def test_a_dump_line_of_another_kind_writes_nothing(project, tmp_path):
    path = tmp_path / "RS_2016-12.ndjson"
    path.write_bytes(SUBMISSIONS.read_bytes() + b'{"kind": "t5", "data": {"id": "2qh13"}}\n')

    with pytest.raises(ImportFileError, match=r"RS_2016-12\.ndjson, line 4: a subreddit"):
        import_file(project, path)

    assert Article.objects.count() == 0


def test_the_submissions_dump_imports_its_articles(project):
    result = import_file(project, SUBMISSIONS)

    assert result == ImportResult(articles_added=3)
    article = Article.objects.get(source_id=THREAD)
    assert article.source == "reddit r/worldnews"
    assert article.url.startswith("https://www.reddit.com/r/worldnews/comments/5h3k2j/")


def test_the_sample_page_imports_its_comments_and_reports_the_stubs(project):
    result = import_file(project, PAGE)

    assert (result.articles_added, result.comments_added) == (1, 10)
    assert tree()[:5] == [
        ("dazp0z0", None, 0),
        ("dazq1a1", None, 0),
        ("dazq2b2", "dazq1a1", 1),
        ("dazq3c3", "dazq2b2", 2),
        ("dazq4d4", "dazq3c3", 3),
    ]
    assert result.notices["reddit_more"].count == 15
    assert result.notices["reddit_continue"].count == 1
    assert "15 comments were not in the file ('more' stubs" in result.notice_lines()[0]


def test_a_comments_dump_after_its_submissions_attaches_orphans_to_the_article(project):
    import_file(project, SUBMISSIONS)

    result = import_file(project, COMMENTS)

    assert result.comments_added == 13
    assert ("dazs1k1", None, 0) in tree()  # its parent dazq9x9 is not in the dump
    assert ("dazs2m2", "dazs1k1", 1) in tree()
    assert ("dazq4d4", "dazq3c3", 3) in tree()  # came before its parent
    assert Article.objects.get(source_id="5h6w0a").meta == {"placeholder": True}
    assert Comment.objects.get(source_id="dazs1k1").meta["missing_parent_id"] == "dazq9x9"
    assert {key: notice.count for key, notice in result.notices.items()} == {
        "missing_parents": 1,
        "placeholder_articles": 1,
        "reddit_empty_body": 1,
    }


def test_a_comments_dump_alone_gets_placeholder_articles(project):
    result = import_file(project, COMMENTS)

    assert result.comments_added == 13
    assert set(Article.objects.values_list("source_id", flat=True)) == {THREAD, "5h4n7q", "5h6w0a"}
    assert result.notices["placeholder_articles"].count == 3


def test_the_submissions_dump_after_the_comments_fills_the_placeholders(project):
    import_file(project, COMMENTS)

    result = import_file(project, SUBMISSIONS)

    assert result.notices["placeholders_filled"].count == 2
    article = Article.objects.get(source_id="5h4n7q")
    assert article.title == "Meta: why are so many Aleppo threads locked?"
    assert article.source == "reddit r/worldnews"
    assert Article.objects.get(source_id="5h6w0a").meta == {"placeholder": True}


def test_a_dump_after_the_page_adds_only_the_comments_the_page_lacked(project):
    import_file(project, PAGE)

    result = import_file(project, COMMENTS)

    assert result.comments_unchanged == 6  # the same ids, the same rows
    assert result.comments_added == 7
    assert Article.objects.filter(source_id=THREAD).count() == 1
    assert ("dazs1k1", None, 0) in tree()


def test_a_zstandard_dump_with_a_long_window_imports(project, tmp_path):
    params = zstandard.ZstdCompressionParameters.from_level(
        3, window_log=28, write_content_size=False
    )
    compressor = zstandard.ZstdCompressor(compression_params=params)
    path = tmp_path / "RS_2016-12.zst"
    with open(path, "wb") as out, compressor.stream_writer(out) as writer:
        writer.write(SUBMISSIONS.read_bytes())

    result = import_file(project, path)

    assert result.articles_added == 3
    assert Article.objects.get(source_id=THREAD).source == "reddit r/worldnews"
