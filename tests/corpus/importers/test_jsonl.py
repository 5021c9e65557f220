"""The JSON Lines parser: records in file order, each bad line refused by number and reason."""

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest

from annotator.corpus.importers.jsonl import parse_jsonl
from annotator.corpus.importers.records import ArticleRecord, CommentRecord, ImportFileError

ARTICLE = b'{"type": "article", "id": "a-1", "title": "T"}\n'


def parse(data: bytes, **kwargs) -> list:
    return list(parse_jsonl(io.BufferedReader(io.BytesIO(data)), "f.jsonl", **kwargs))


def refusal(data: bytes, **kwargs) -> str:
    with pytest.raises(ImportFileError) as refused:
        parse(data, **kwargs)
    return str(refused.value)


def test_it_reads_articles_and_comments_in_file_order():
    data = (
        b'{"type": "article", "id": "a-1", "title": "T", "body": "B", "url": "https://x.org",'
        b' "source": "S", "published_at": "2016-12-08T10:00:00Z", "meta": {"k": [1]}}\n'
        b'{"type": "comment", "id": "c-2", "article_id": "a-1", "parent_id": "c-1",'
        b' "author": "Ann", "text": "Reply", "posted_at": "2016-12-08T11:00:00+02:00"}\n'
        b'{"type": "comment", "id": "c-1", "article_id": "a-1", "text": "Top"}\n'
    )

    records = parse(data)

    assert records == [
        ArticleRecord(
            source_id="a-1",
            title="T",
            body="B",
            url="https://x.org",
            source="S",
            published_at=datetime(2016, 12, 8, 10, tzinfo=UTC),
            meta={"k": [1]},
            line=1,
        ),
        CommentRecord(
            source_id="c-2",
            article_id="a-1",
            text="Reply",
            parent_id="c-1",
            author="Ann",
            posted_at=datetime(2016, 12, 8, 11, tzinfo=timezone(timedelta(hours=2))),
            line=2,
        ),
        CommentRecord(source_id="c-1", article_id="a-1", text="Top", line=3),
    ]


def test_blank_lines_are_skipped_but_counted():
    data = b"\n" + ARTICLE + b"   \n\n" + b'{"type": "comment", "id": "c", "article_id": "a-1",'
    data += b' "text": "x"}\r\n'

    records = parse(data)

    assert [record.line for record in records] == [2, 5]


def test_a_byte_order_mark_is_ignored():
    assert parse(b"\xef\xbb\xbf" + ARTICLE)[0].source_id == "a-1"


def test_numeric_ids_become_strings():
    data = ARTICLE + b'{"type": "comment", "id": 7, "article_id": "a-1", "parent_id": 6,'
    data += b' "text": "x"}\n'

    comment = parse(data)[1]

    assert (comment.source_id, comment.parent_id) == ("7", "6")


def test_a_time_without_offset_is_utc():
    data = b'{"type": "article", "id": "a", "title": "T", "published_at": "2016-12-08T10:00"}'

    assert parse(data)[0].published_at == datetime(2016, 12, 8, 10, tzinfo=UTC)


def test_null_optional_fields_take_their_defaults():
    data = ARTICLE + (
        b'{"type": "comment", "id": "c", "article_id": "a-1", "parent_id": null,'
        b' "author": null, "text": "x", "posted_at": null, "meta": null}\n'
    )

    comment = parse(data)[1]

    assert (comment.parent_id, comment.author, comment.posted_at, comment.meta) == (
        None,
        "",
        None,
        {},
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"type": "comment", "id": "c"', "line 2: malformed JSON: "),
        (b"[1, 2]", "line 2: expected a JSON object, found an array"),
        (b'"text"', "line 2: expected a JSON object, found a string"),
        (b'{"id": "c"}', 'line 2: missing "type" (article or comment)'),
        (b'{"type": "post"}', 'line 2: unknown "type" "post" (expected article or comment)'),
        (b'{"type": "article", "id": "b"}', 'line 2: article without "title"'),
        (b'{"type": "article", "id": "b", "title": 3}', '"title" must be a string, found a n'),
        (b'{"type": "comment", "article_id": "a-1", "text": "x"}', 'comment without "id"'),
        (b'{"type": "comment", "id": "c", "text": "x"}', 'comment without "article_id"'),
        (b'{"type": "comment", "id": "c", "article_id": "a-1"}', 'comment without "text"'),
        (
            b'{"type": "comment", "id": "c", "article_id": "a-1", "text": null}',
            'comment without "text"',
        ),
        (
            b'{"type": "comment", "id": "c", "article_id": "a-1", "text": 5}',
            '"text" must be a string, found a number',
        ),
        (
            b'{"type": "comment", "id": true, "article_id": "a-1", "text": "x"}',
            '"id" must be a string, found a boolean',
        ),
        (
            b'{"type": "comment", "id": "", "article_id": "a-1", "text": "x"}',
            '"id" is empty',
        ),
        (
            b'{"type": "comment", "id": "c", "article_id": "a-1", "parent_id": {}, "text": "x"}',
            '"parent_id" must be a string, found an object',
        ),
        (
            b'{"type": "comment", "id": "c", "article_id": "a-1", "text": "x", "author": 1}',
            '"author" must be a string, found a number',
        ),
        (
            b'{"type": "comment", "id": "c", "article_id": "a-1", "text": "x",'
            b' "posted_at": "2016-13-45"}',
            'line 2: "posted_at" is not an ISO 8601 time: "2016-13-45"',
        ),
        (
            b'{"type": "comment", "id": "c", "article_id": "a-1", "text": "x", "meta": [1]}',
            '"meta" must be a JSON object, found an array',
        ),
    ],
)
def test_a_bad_line_is_refused_with_its_number_and_reason(line, expected):
    message = refusal(ARTICLE + line + b"\n")

    assert message.startswith("f.jsonl, line 2: ")
    assert expected in message


def test_invalid_utf8_is_told_apart_from_bad_json():
    data = ARTICLE + b'{"type": "comment", "id": "c", "article_id": "a-1", "text": "caf\xe9"}\n'

    byte = data.splitlines()[1].index(b"\xe9") + 1

    assert refusal(data) == f"f.jsonl, line 2: not valid UTF-8 (byte {byte} of the line)"


def test_a_binary_file_is_refused_at_once():
    assert "binary data (NUL bytes), not JSON Lines" in refusal(b"PK\x03\x04\x00\x00" * 100)


@pytest.mark.parametrize(
    ("data", "looks_like"),
    [
        (b"article_id,article_title,comment_id\na,b,c\n", "CSV"),
        (b'<?xml version="1.0"?>\n<disqus/>\n', "XML"),
        (b"  \n<disqus>\n", "XML"),
    ],
)
def test_other_formats_are_named(data, looks_like):
    assert f"not JSON Lines: this looks like {looks_like}" in refusal(data)


def test_an_oversized_line_is_refused_without_reading_it_whole():
    big = ARTICLE + b'{"type": "comment", "id": "c", "article_id": "a-1", "text": "'
    big += b"x" * 5000 + b'"}\n' + ARTICLE

    message = refusal(big, max_record_bytes=1000)

    assert message.startswith("f.jsonl, line 2: record of 5,0")
    assert "larger than the 1,000-byte limit" in message


def test_it_streams_records_one_at_a_time():
    lines = iter([ARTICLE, b"not json\n"])

    class Stream:
        def readline(self, limit):
            return next(lines, b"")

    records = parse_jsonl(Stream(), "f.jsonl")

    assert next(records).source_id == "a-1"
    with pytest.raises(ImportFileError, match="line 2: malformed JSON"):
        next(records)
