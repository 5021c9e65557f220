"""The CSV parser: the sample reads into the right records, broken files name file and line."""

from __future__ import annotations

import io
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from annotator.corpus.importers.csv import parse_csv
from annotator.corpus.importers.records import ArticleRecord, CommentRecord, ImportFileError

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "fixtures" / "samples" / "thread.csv"
BROKEN = Path(__file__).resolve().parent / "broken" / "csv"
HEADER = "article_id,article_title,comment_id,parent_id,author,text,posted_at"


def parse_bytes(data: bytes, filename: str = "upload.csv") -> list:
    return list(parse_csv(io.BytesIO(data), filename))


def parse_file(path: Path) -> list:
    with path.open("rb") as stream:
        return list(parse_csv(stream, path.name))


def test_it_reads_the_sample_into_articles_and_comments_in_file_order():
    records = parse_file(SAMPLE)

    summary = [
        (type(r).__name__, r.source_id, getattr(r, "parent_id", None), r.line) for r in records
    ]
    assert summary == [
        ("ArticleRecord", "sf-aleppo-2016-12-08", None, 2),
        ("CommentRecord", "c-001", None, 2),
        ("CommentRecord", "c-002", "c-001", 3),
        ("CommentRecord", "c-004", "c-003", 4),
        ("CommentRecord", "c-003", "c-002", 7),
        ("CommentRecord", "c-005", None, 8),
        ("ArticleRecord", "bbc-ceasefire-2016-12-13", None, 9),
        ("CommentRecord", "b-01", None, 9),
        ("CommentRecord", "c-006", "c-004", 10),
        ("CommentRecord", "b-02", "b-01", 11),
    ]


def test_it_reads_article_fields_from_the_first_row_of_each_article():
    article = parse_file(SAMPLE)[0]

    assert article == ArticleRecord(
        source_id="sf-aleppo-2016-12-08",
        title="Why Does Syrian Army Stop Its Advance in Aleppo?",
        url="https://example.org/a/aleppo",
        source="South Front",
        published_at=datetime(2016, 12, 8, 10, 0, tzinfo=UTC),
        line=2,
    )


def test_it_keeps_non_ascii_authors_multiline_texts_and_quotes():
    comments = {r.source_id: r for r in parse_file(SAMPLE) if isinstance(r, CommentRecord)}

    assert comments["c-002"].author == "Zoë Ångström"
    assert comments["c-003"].author == "محمد الحلبي"
    assert comments["c-003"].text.endswith('"side" or not.')
    assert comments["c-004"].text == "Both can be true.\n\nA pause is also a chance to regroup."
    assert comments["c-005"].author == ""
    assert comments["c-005"].posted_at is None


def test_it_turns_iso_times_into_aware_datetimes():
    comments = {r.source_id: r for r in parse_file(SAMPLE) if isinstance(r, CommentRecord)}

    assert comments["c-001"].posted_at == datetime(2016, 12, 8, 11, 2, tzinfo=UTC)
    assert comments["b-01"].posted_at == datetime(
        2016, 12, 13, 19, 0, tzinfo=timezone(timedelta(hours=1))
    )


def test_it_reads_naive_times_as_utc():
    records = parse_bytes(f"{HEADER}\na1,T,c1,,,Hi,2016-12-08 11:02:00\n".encode())

    assert records[1].posted_at == datetime(2016, 12, 8, 11, 2, tzinfo=UTC)


def test_it_accepts_a_bom_and_crlf_line_ends():
    data = b"\xef\xbb\xbf" + f"{HEADER}\r\na1,T,c1,,Ann,Hi,\r\na1,T,c2,c1,Bob,Yo,\r\n".encode()

    records = parse_bytes(data)

    assert [(r.source_id, r.line) for r in records] == [("a1", 2), ("c1", 2), ("c2", 3)]
    assert records[2].text == "Yo"


def test_it_keeps_unknown_columns_in_meta():
    records = parse_bytes(f"{HEADER},likes\na1,T,c1,,Ann,Hi,,12\na1,T,c2,,Bob,Yo,,\n".encode())

    assert records[1].meta == {"likes": "12"}
    assert records[2].meta == {}


def test_it_lets_later_rows_leave_the_title_empty():
    records = parse_bytes(f"{HEADER}\na1,T,c1,,Ann,Hi,\na1,,c2,c1,Bob,Yo,\n".encode())

    assert [r.source_id for r in records] == ["a1", "c1", "c2"]


def test_it_skips_blank_lines_but_counts_them():
    records = parse_bytes(f"{HEADER}\n\na1,T,c1,,Ann,Hi,\n\n\na1,T,c2,,Bob,Yo,\n".encode())

    assert [(r.source_id, r.line) for r in records] == [("a1", 3), ("c1", 3), ("c2", 6)]


def test_it_passes_a_comment_longer_than_the_csv_default_limit_to_the_loader():
    long_text = "x" * 300_000

    records = parse_bytes(f"{HEADER}\na1,T,c1,,Ann,{long_text},\n".encode())

    assert records[1].text == long_text


def test_it_refuses_a_title_missing_where_the_article_first_appears():
    with pytest.raises(ImportFileError) as caught:
        parse_bytes(f"{HEADER}\na1,,c1,,Ann,Hi,\n".encode())

    assert (
        str(caught.value) == "upload.csv, line 2: missing value for article_title of article 'a1'"
    )


@pytest.mark.parametrize(
    ("name", "line", "reason"),
    [
        ("empty.csv", None, "the file is empty"),
        ("invalid_time.csv", 3, "invalid time 'yesterday' in column posted_at"),
        ("invalid_utf8.csv", 3, "invalid UTF-8 (byte 0xe9 at column 23)"),
        ("jsonl_content.csv", 1, "looks like JSON Lines, not CSV"),
        ("missing_column.csv", 1, "missing required column text in the header"),
        ("missing_comment_id.csv", 3, "missing value for comment_id"),
        ("missing_text.csv", 3, "missing value for text"),
        ("nul_byte.csv", 3, "NUL byte at column 22"),
        ("title_changes.csv", 3, "has the title 'Second title' here but 'First'"),
        ("unterminated_quote.csv", 3, "malformed CSV"),
        ("wrong_field_count.csv", 3, "expected 7 fields as in the header, found 8"),
    ],
)
def test_it_refuses_each_broken_file_naming_file_line_and_reason(name, line, reason):
    with pytest.raises(ImportFileError) as caught:
        parse_file(BROKEN / name)

    error = caught.value
    assert (error.filename, error.line) == (name, line)
    assert reason in error.reason
    assert str(error).startswith(f"{name}, line {line}: " if line else f"{name}: ")


def test_it_has_a_test_for_every_broken_file():
    tested = {
        "empty.csv",
        "invalid_time.csv",
        "invalid_utf8.csv",
        "jsonl_content.csv",
        "missing_column.csv",
        "missing_comment_id.csv",
        "missing_text.csv",
        "nul_byte.csv",
        "title_changes.csv",
        "unterminated_quote.csv",
        "wrong_field_count.csv",
    }

    assert {path.name for path in BROKEN.iterdir()} == tested


def test_it_streams_a_large_file_in_flat_memory(tmp_path):
    path = tmp_path / "big.csv"
    rows = 200_000
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n")
        for n in range(rows):
            parent = f"c{n - 1}" if n % 50 else ""
            text = f"Comment number {n}, with some words to make the row realistic."
            out.write(f'a{n // 50},Article {n // 50},c{n},{parent},Reader {n},"{text}",\n')
    assert path.stat().st_size > 20_000_000

    comments = 0
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            for record in parse_csv(stream, path.name):
                comments += isinstance(record, CommentRecord)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert comments == rows
    # The article titles seen so far are the only thing kept (4,000 short strings here).
    assert peak < 3_000_000
