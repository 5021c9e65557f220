"""The Label Studio parser: tasks become comments of one article per file (or per a data
field), read element by element; broken exports name the file and the task."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from annotator.corpus.importers import detect_format
from annotator.corpus.importers.labelstudio import (
    json_array_items,
    parse_labelstudio,
    sniff_labelstudio,
)
from annotator.corpus.importers.loader import import_file
from annotator.corpus.importers.records import ArticleRecord, CommentRecord, ImportFileError
from annotator.corpus.models import Comment

SAMPLE = Path(__file__).resolve().parents[3] / "fixtures" / "samples" / "labelstudio_export.json"


def parse_bytes(data: bytes, filename: str = "export.json", **options) -> list:
    return list(parse_labelstudio(io.BytesIO(data), filename, **options))


def test_it_reads_the_sample_as_one_article_named_after_the_file():
    records = parse_bytes(SAMPLE.read_bytes(), SAMPLE.name)
    assert records[0] == ArticleRecord("labelstudio_export", "labelstudio_export", line=1)
    comments = records[1:]
    assert [(c.source_id, c.line) for c in comments] == [("4101", 1), ("4102", 2), ("4103", 3)]
    assert comments[0].text.startswith("From SANA which")
    assert comments[0].author == "Douglas Houck"
    assert comments[0].meta == {"article": "sf-aleppo-2016-12-08"}
    # HTML in a task's text is stored as given; the templates escape it.
    assert comments[1].text == "I don't think the <i>Palmyra</i> explanation holds & never did"


def test_it_groups_tasks_into_articles_by_a_chosen_data_field():
    records = parse_bytes(SAMPLE.read_bytes(), article_field="article")
    assert [(type(r).__name__, r.source_id) for r in records] == [
        ("ArticleRecord", "sf-aleppo-2016-12-08"),
        ("CommentRecord", "4101"),
        ("CommentRecord", "4102"),
        ("ArticleRecord", "sf-lavrov-2016-12-09"),
        ("CommentRecord", "4103"),
    ]
    assert records[4].article_id == "sf-lavrov-2016-12-09"


def test_a_task_from_this_tools_export_keeps_its_comment_id():
    data = orjson.dumps(
        [{"id": 7, "data": {"text": "hi", "comment_id": "c-17"}, "annotations": []}]
    )
    (_article, comment) = parse_bytes(data)
    assert comment.source_id == "c-17"


def test_it_reads_the_json_min_shape():
    data = orjson.dumps(
        [{"id": 3, "text": "Hello", "annotator": 1, "annotation_id": 5, "stance": "Support"}]
    )
    (_article, comment) = parse_bytes(data)
    assert (comment.source_id, comment.text) == ("3", "Hello")


def test_the_first_string_field_is_the_text_when_there_is_no_text_field():
    data = orjson.dumps([{"id": 1, "data": {"n": 3, "body": "The body", "title": "x"}}])
    assert parse_bytes(data)[1].text == "The body"


def test_the_loader_imports_the_sample(project):
    import_file(project, SAMPLE, fmt="labelstudio")
    assert sorted(Comment.objects.values_list("source_id", flat=True)) == ["4101", "4102", "4103"]


def test_the_sniffer_claims_an_export_and_nothing_else():
    head = SAMPLE.read_bytes()[:65536]
    assert sniff_labelstudio(head, "x.json")
    assert detect_format(head, "project-12-at-2024-03-12.json") == "labelstudio"
    assert not sniff_labelstudio(b'{"type": "article"}', "x.jsonl")
    assert not sniff_labelstudio(b'[{"id": 1, "text": "x"}]', "x.json")


def test_elements_are_read_across_chunk_boundaries_with_brackets_in_strings(monkeypatch):
    from annotator.corpus.importers import labelstudio

    monkeypatch.setattr(labelstudio, "CHUNK", 7)
    items = [{"t": 'a ] } [ { \\" quoted "'}, [1, [2]], {"u": "\u2028é"}]
    data = b"\xef\xbb\xbf  " + orjson.dumps(items)
    assert [v for _n, v in json_array_items(io.BytesIO(data), "x.json")] == items


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"id": 1}', "not a JSON array of tasks"),
        (b'[{"id": 1, "data": {"text": "x"}}', "cut short"),
        (
            b'[{"id": 1, "data": {"text": "x"}}, {"id": 2, "data": 5}]',
            'task 2: "data" must be an object',
        ),
        (b'[{"data": {"text": "x"}}]', "task 1: a task without an id"),
        (b'[{"id": 1, "data": {"n": 1}}]', "task 1: a task whose data holds no text"),
        (b'[{"id": 1, "data": {"text": "caf\xe9"}}]', "task 1: not valid UTF-8 (byte 0xe9)"),
    ],
)
def test_it_refuses_broken_exports_naming_the_task(data, reason):
    with pytest.raises(ImportFileError) as caught:
        parse_bytes(data)
    assert reason in str(caught.value)


def test_a_task_without_the_article_field_is_refused():
    data = orjson.dumps([{"id": 1, "data": {"text": "x"}}])
    with pytest.raises(ImportFileError, match="no value in the article field 'thread'"):
        parse_bytes(data, article_field="thread")


def test_an_oversized_task_is_refused_without_reading_on(monkeypatch):
    from annotator.corpus.importers import labelstudio

    monkeypatch.setattr(labelstudio, "CHUNK", 1024)
    data = b'[{"id": 1, "data": {"text": "' + b"x" * 10_000 + b'"}}]'
    with pytest.raises(ImportFileError, match="larger than the 4,096-byte limit"):
        list(json_array_items(io.BytesIO(data), "x.json", unit="task", limit=4096))


def test_it_yields_the_same_records_on_every_pass():
    first = parse_bytes(SAMPLE.read_bytes())
    assert first == parse_bytes(SAMPLE.read_bytes())
    assert all(isinstance(r, ArticleRecord | CommentRecord) for r in first)
