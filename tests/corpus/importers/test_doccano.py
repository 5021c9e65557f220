"""The doccano parser: lines become comments of one article per file (or per a key), labels
are not read; non-UTF-8 exports are refused on their line, never garbled."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from annotator.corpus.importers import detect_format
from annotator.corpus.importers.doccano import parse_doccano, sniff_doccano
from annotator.corpus.importers.loader import import_file
from annotator.corpus.importers.records import ArticleRecord, ImportFileError
from annotator.corpus.models import Comment

SAMPLES = Path(__file__).resolve().parents[3] / "fixtures" / "samples"
SAMPLE = SAMPLES / "doccano_export.jsonl"


def parse_bytes(data: bytes, filename: str = "export.jsonl", **options) -> list:
    return list(parse_doccano(io.BytesIO(data), filename, **options))


def test_it_reads_the_sample_as_one_article_with_line_numbers_for_missing_ids():
    records = parse_bytes(SAMPLE.read_bytes(), SAMPLE.name)
    assert records[0] == ArticleRecord("doccano_export", "doccano_export", line=1)
    assert [(c.source_id, c.line) for c in records[1:]] == [("1", 1), ("2", 2), ("3", 4), ("5", 5)]
    assert records[3].text.startswith("Actually the figure")  # the older "data" key
    assert records[2].meta == {"Comments": ["unsure: sarcasm?"]}
    assert records[3].meta == {"annotator": "bob"}


def test_it_groups_lines_into_articles_by_a_chosen_key():
    data = (
        b'{"id": 1, "text": "a", "label": [], "thread": "t1"}\n'
        b'{"id": 2, "text": "b", "label": [], "thread": "t2"}\n'
        b'{"id": 3, "text": "c", "label": [], "thread": "t1"}\n'
    )
    records = parse_bytes(data, article_field="thread")
    assert [(type(r).__name__, r.source_id) for r in records] == [
        ("ArticleRecord", "t1"),
        ("CommentRecord", "1"),
        ("ArticleRecord", "t2"),
        ("CommentRecord", "2"),
        ("CommentRecord", "3"),
    ]
    assert records[1].meta == {}


def test_a_windows_1252_export_is_refused_on_its_line_never_garbled():
    with pytest.raises(ImportFileError) as caught:
        parse_bytes((SAMPLES / "doccano_export_cp1252.jsonl").read_bytes(), "cp.jsonl")
    assert str(caught.value).startswith("cp.jsonl, line 1: not valid UTF-8")
    assert "another encoding" in str(caught.value)


def test_the_loader_imports_a_windows_1252_export_in_the_encoding_chosen(project):
    # The format is named: detection refuses non-UTF-8 heads even with an encoding (lead's
    # detect_format calls refuse_unsupported without it).
    import_file(
        project,
        SAMPLES / "doccano_export_cp1252.jsonl",
        fmt="doccano",
        options={"encoding": "cp1252"},
    )
    texts = dict(Comment.objects.values_list("source_id", "text"))
    assert (
        texts["11"] == "\u201cVoil\u00e0\u201d \u2013 the ceasefire is over, caf\u00e9 owners say"
    )


def test_the_loader_refuses_a_windows_1252_export_naming_its_encoding(project):
    with pytest.raises(ImportFileError, match="it looks like Windows-1252"):
        import_file(project, SAMPLES / "doccano_export_cp1252.jsonl")
    assert not Comment.objects.exists()


def test_the_loader_imports_the_sample(project):
    import_file(project, SAMPLE)
    assert sorted(Comment.objects.values_list("source_id", flat=True)) == ["1", "2", "3", "5"]


def test_the_sniffer_tells_doccano_from_the_canonical_json_lines():
    assert sniff_doccano(SAMPLE.read_bytes(), "x.jsonl")
    assert detect_format(SAMPLE.read_bytes(), "admin.jsonl") == "doccano"
    assert not sniff_doccano(b'{"type": "comment", "text": "x", "label": []}\n', "x.jsonl")
    assert not sniff_doccano(b'{"id": 1, "text": "x"}\n', "x.jsonl")
    assert not sniff_doccano(b"not json\n", "x.txt")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"id": 1, "label": []}\n', 'line 1: a line without "text"'),
        (b'{"id": 1, "text": "a", "label": []}\n[1]\n', "line 2: expected a JSON object"),
        (b'{"id": 1, "text": "a"\n', "line 1: malformed JSON"),
    ],
)
def test_it_refuses_broken_lines_naming_them(data, reason):
    with pytest.raises(ImportFileError) as caught:
        parse_bytes(data)
    assert reason in str(caught.value)
