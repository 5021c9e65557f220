"""X API v2: response pages and tweet lines become one article per conversation."""

import io
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from annotator.corpus.importers import FORMAT_SPECS, detect_format
from annotator.corpus.importers.loader import import_file
from annotator.corpus.importers.records import ArticleRecord, ImportFileError
from annotator.corpus.importers.x_api import (
    parse_x_conversations,
    sniff_x_conversations,
    tweet_title,
)
from annotator.corpus.models import Article, Comment

SAMPLE = Path(__file__).resolve().parents[3] / "fixtures" / "samples" / "x_api_conversation.jsonl"
ROOT = "1729187371046654256"


def parse(data: bytes) -> list:
    return list(parse_x_conversations(io.BufferedReader(io.BytesIO(data)), "x.jsonl"))


def tweet(tweet_id: str, replied_to: str | None = None, conversation: str = "100", **fields):
    data = {
        "id": tweet_id,
        "text": f"text {tweet_id}",
        "author_id": "7",
        "conversation_id": conversation,
        "created_at": "2023-11-23T17:02:11.000Z",
    }
    if replied_to:
        data["referenced_tweets"] = [
            {"type": "quoted", "id": "5"},
            {"type": "replied_to", "id": replied_to},
        ]
    return {**data, **fields}


def lines(*values: dict) -> bytes:
    return b"".join(orjson.dumps(value) + b"\n" for value in values)


def shape(records: list) -> list[tuple]:
    return [
        ("article", r.source_id) if isinstance(r, ArticleRecord)
        else (r.source_id, r.article_id, r.parent_id, r.author)
        for r in records
    ]  # fmt: skip


def test_pages_give_the_root_once_then_the_replies_with_usernames():
    records = parse(SAMPLE.read_bytes())

    assert shape(records) == [
        ("article", ROOT),
        ("1729201987712020480", ROOT, None, "fred_checks"),
        ("1729195560031273102", ROOT, "1729190411224731853", "anon84920"),
        ("1729190411224731853", ROOT, "1729188002145009841", "fred_checks"),
        ("1729188002145009841", ROOT, None, "lena_reads"),
    ]
    assert [r.line for r in records] == [1, 1, 1, 2, 2]


def test_the_root_tweet_is_the_article_with_its_text_unescaped():
    article = parse(SAMPLE.read_bytes())[0]

    assert article.title == (
        "BREAKING: Ceasefire talks resume in Doha & negotiators say a deal on hostages & aid "
        "could come…"
    )
    assert article.body.endswith('"within days". Live updates: https://t.co/AbC123xyZ')
    assert article.url == f"https://x.com/NBCNews/status/{ROOT}"
    assert article.source == "X (Twitter)"
    assert article.published_at == datetime(2023, 11, 23, 17, 2, 11, tzinfo=UTC)
    assert article.meta["author"] == "NBCNews"
    assert article.meta["public_metrics"]["like_count"] == 1893


def test_reply_texts_are_unescaped_but_otherwise_kept_as_given():
    by_id = {r.source_id: r for r in parse(SAMPLE.read_bytes())}

    assert by_id["1729190411224731853"].text.endswith("Progress > nothing.")
    assert "<script>alert('x')</script>" in by_id["1729195560031273102"].text
    assert by_id["1729195560031273102"].meta["in_reply_to_user_id"] == "88771234567890"


def test_tweet_lines_without_includes_use_the_author_id_and_a_missing_root_is_left_to_the_tree():
    records = parse(lines(tweet("102", "101"), tweet("101", "100")))

    assert shape(records) == [("102", "100", "101", "7"), ("101", "100", None, "7")]
    assert FORMAT_SPECS["x_api"].lenient_tree


def test_a_root_on_its_own_line_is_the_article_and_twarc_authors_are_read():
    records = parse(lines(tweet("100"), tweet("101", "100", author={"username": "ann"})))

    assert shape(records) == [("article", "100"), ("101", "100", None, "ann")]
    assert records[0].url == "https://x.com/i/web/status/100"


def test_numeric_ids_keep_every_digit_and_long_posts_their_note_text():
    data = b'{"id": 1729187371046654257, "text": "short", "author_id": 7,'
    data += (
        b' "conversation_id": 1729187371046654256, "note_tweet": {"text": "the whole &amp; long"}}'
    )

    (record,) = parse(data)

    assert (record.source_id, record.article_id) == ("1729187371046654257", ROOT)
    assert record.text == "the whole & long"


def test_empty_pages_and_pages_of_errors_are_skipped():
    empty = {"meta": {"result_count": 0}}
    errors = {"errors": [{"title": "Not Found Error", "resource_id": "9"}]}

    assert parse(lines(empty, errors)) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"id": "1", "text": "x", "author_id": "7"}, 'tweet 1 has no "conversation_id"'),
        ({"data": [{"text": "x"}]}, 'line 1: a tweet without "id"'),
        ({"data": "x"}, '"data" is not a list of tweets'),
        ({"username": "ann"}, "neither an X API v2 tweet nor a response page"),
        ({"data": [tweet("1", text=None)]}, 'tweet 1 has no "text"'),
    ],
)
def test_what_is_no_tweet_is_refused_with_the_line_and_reason(value, expected):
    with pytest.raises(ImportFileError) as refused:
        parse(lines(value))
    assert expected in str(refused.value)


def test_tweet_titles_are_cut_at_a_word_on_one_line():
    assert tweet_title("short\nline") == "short line"
    assert tweet_title("word " * 30) == ("word " * 20).strip() + "…"


def test_api_output_is_recognised_and_the_canonical_format_is_not():
    assert sniff_x_conversations(SAMPLE.read_bytes(), SAMPLE.name)
    assert not sniff_x_conversations(SAMPLE.with_name("thread.jsonl").read_bytes(), "t.jsonl")
    assert detect_format(SAMPLE.read_bytes(), SAMPLE.name) == "x_api"


def test_a_conversation_imports_as_one_thread_and_again_adds_nothing(project):
    assert import_file(project, SAMPLE).comments_added == 4

    article = Article.objects.get(project=project, source_id=ROOT)
    thread = Comment.objects.thread(article)
    assert [(c.source_id[-4:], c.depth) for c in thread] == [
        ("0480", 0),
        ("9841", 0),
        ("1853", 1),
        ("3102", 2),
    ]
    assert import_file(project, SAMPLE).comments_added == 0


def test_a_refused_file_writes_nothing(project, tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(SAMPLE.read_bytes() + lines({"username": "ann"}))

    with pytest.raises(ImportFileError, match=r"x\.jsonl, line 3: neither"):
        import_file(project, path)
    assert not Article.objects.filter(project=project).exists()


def test_replies_without_their_root_or_parent_import_under_a_placeholder(project, tmp_path):
    path = tmp_path / "search.jsonl"
    path.write_bytes(lines(tweet("103", "102"), tweet("101", "100"), tweet("104", "101")))

    result = import_file(project, path)

    assert (result.articles_added, result.comments_added) == (1, 3)
    assert result.notices  # the placeholder and the reply whose parent is missing
    article = Article.objects.get(project=project, source_id="100")
    thread = Comment.objects.thread(article).select_related("parent")
    assert [(c.source_id, c.parent.source_id if c.parent else None) for c in thread] == [
        ("103", None),
        ("101", None),
        ("104", "101"),
    ]
