"""YouTube: youtube-comment-downloader lines under one article named by the file."""

import io
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from annotator.corpus.importers import detect_format
from annotator.corpus.importers.loader import import_file
from annotator.corpus.importers.records import ArticleRecord, ImportFileError
from annotator.corpus.importers.youtube import parse_youtube, sniff_youtube, video_id_of
from annotator.corpus.models import Article, Comment

SAMPLE = Path(__file__).resolve().parents[3] / "fixtures" / "samples" / "youtube_comments.jsonl"
TOP = "UgzQ8kV1nJ3s5xYw2Ft4AaABAg"


def parse(data: bytes, filename: str = "dQw4w9WgXcQ.jsonl") -> list:
    return list(parse_youtube(io.BufferedReader(io.BytesIO(data)), filename))


def line(cid: str, **fields) -> bytes:
    data = {"cid": cid, "text": f"text {cid}", "author": "@a", "time_parsed": 1700000000.5}
    merged = {**data, **fields}
    return orjson.dumps({key: value for key, value in merged.items() if value is not None}) + b"\n"


def test_the_file_names_the_video_and_replies_hang_under_the_cid_before_the_dot():
    records = parse(SAMPLE.read_bytes(), SAMPLE.name)

    article = records[0]
    assert isinstance(article, ArticleRecord)
    assert (article.source_id, article.title, article.source) == (
        "youtube_comments",
        "YouTube video youtube_comments",
        "YouTube",
    )
    assert article.url == ""  # not shaped like a video id: no watch page is guessed
    assert [(r.source_id[:12], r.parent_id) for r in records[1:]] == [
        ("UgzQ8kV1nJ3s", None),
        ("UgzQ8kV1nJ3s", TOP),
        ("UgzQ8kV1nJ3s", TOP),
        ("UgzQ8kV1nJ3s", TOP),
        ("Ugx7TcZ2pLq9", None),
        ("UgyH3bN0sPk6", None),
    ]
    assert {r.article_id for r in records[1:]} == {"youtube_comments"}


def test_fields_are_kept_as_the_tool_wrote_them():
    first, reply = parse(SAMPLE.read_bytes())[1:3]

    assert first.author == "@mapwatcher"
    assert first.posted_at == datetime(2023, 11, 12, 12, tzinfo=UTC)
    assert first.meta == {
        "votes": "1.2K",
        "replies": "3",
        "heart": True,
        "channel": "UC3f9kPq2LmN8sT1vW0xY7zA",
        "time": "3 weeks ago",
    }
    assert reply.text == "Source? Every channel says something different."


def test_hostile_text_is_stored_as_given():
    assert parse(SAMPLE.read_bytes())[4].text == "<b>fake</b> news lol 🤡"


@pytest.mark.parametrize(
    ("filename", "video"),
    [
        ("dQw4w9WgXcQ.jsonl", "dQw4w9WgXcQ"),
        ("downloads/dQw4w9WgXcQ.json.gz", "dQw4w9WgXcQ"),
        ("dQw4w9WgXcQ.comments", "dQw4w9WgXcQ"),
        ("C:\\Users\\me\\dQw4w9WgXcQ.ndjson", "dQw4w9WgXcQ"),
        ("aleppo-report.v2.jsonl", "aleppo-report.v2"),
    ],
)
def test_the_video_id_is_the_file_name_without_extensions(filename, video):
    assert video_id_of(filename) == video


def test_a_video_shaped_name_gives_the_watch_page():
    assert parse(line("Ugw1"))[0].url == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


def test_a_line_without_time_parsed_has_no_time_and_paid_comments_say_so():
    comment = parse(line("Ugw1", time_parsed=None, paid="€5.00"))[1]

    assert (comment.posted_at, comment.meta["paid"]) == (None, "€5.00")
    assert sniff_youtube(line("Ugw1", time_parsed=None, votes="0", photo="https://yt3"), "x")


def test_a_json_list_is_read_too():
    document = b"[" + line("Ugw1") + b"," + line("Ugw1.x") + b"]"

    assert [r.parent_id for r in parse(document)[1:]] == [None, "Ugw1"]


def test_pretty_output_is_read_too():
    document = orjson.dumps(
        {"comments": [orjson.loads(line("Ugw1")), orjson.loads(line("Ugw1.x"))]}
    )

    assert [r.parent_id for r in parse(document)[1:]] == [None, "Ugw1"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (line("Ugw1") + b'{"text": "x"}\n', 'dQw4w9WgXcQ.jsonl, line 2: a comment without "cid"'),
        (line("Ugw1", text=None), 'line 1: comment Ugw1: "text" must be a string'),
        (line("Ugw2", reply=True), 'line 1: reply Ugw2: its "cid" names no parent'),
        (line("Ugw1") + b"[1]\n", "line 2: expected a JSON object, found an array"),
        (b"", "dQw4w9WgXcQ.jsonl: no comments in the file"),
    ],
)
def test_bad_lines_are_refused_with_the_line_and_reason(data, expected):
    with pytest.raises(ImportFileError) as refused:
        parse(data)
    assert expected in str(refused.value)


def test_the_downloader_output_is_recognised():
    assert sniff_youtube(SAMPLE.read_bytes(), SAMPLE.name)
    assert not sniff_youtube(SAMPLE.with_name("thread.jsonl").read_bytes(), "thread.jsonl")
    assert detect_format(SAMPLE.read_bytes(), SAMPLE.name) == "youtube"


def test_a_download_imports_as_one_thread_and_again_adds_nothing(project):
    assert import_file(project, SAMPLE).comments_added == 6

    article = Article.objects.get(project=project, source_id="youtube_comments")
    thread = Comment.objects.thread(article).select_related("parent")
    assert [(c.depth, c.parent.source_id if c.parent else None) for c in thread] == [
        (0, None),
        (1, TOP),
        (1, TOP),
        (1, TOP),
        (0, None),
        (0, None),
    ]
    assert import_file(project, SAMPLE).comments_added == 0


def test_a_refused_download_writes_nothing(project, tmp_path):
    path = tmp_path / "dQw4w9WgXcQ.jsonl"
    path.write_bytes(line("Ugw1") + line("Ugw1"))

    with pytest.raises(ImportFileError, match='duplicate comment id "Ugw1"'):
        import_file(project, path)
    assert not Article.objects.filter(project=project).exists()
