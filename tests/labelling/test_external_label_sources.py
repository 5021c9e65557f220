"""Reading published label files into rows: Label Studio, doccano, PHEME, RumourEval, DAST."""

from pathlib import Path

import pytest

from annotator.corpus.importers.records import ImportFileError
from annotator.labelling.external_label_sources import LabelRow, read_label_file

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"


def read(name: str, **options):
    return read_label_file((SAMPLES / name).read_bytes(), name, **options)


def triples(found):
    return [(row.comment_id, row.annotator, row.field, row.value) for row in found.rows]


def test_it_reads_label_studio_choices_per_annotator():
    found = read("labelstudio_export.json")
    assert found.format == "labelstudio"
    assert triples(found) == [
        ("4101", "labelstudio:alice@example.org", "stance", "Support"),
        ("4101", "labelstudio:alice@example.org", "source_cited", "link"),
        ("4101", "labelstudio:alice@example.org", "source_cited", "named_source"),
        ("4101", "labelstudio:5", "stance", "Comment"),
        ("4102", "labelstudio:alice@example.org", "stance", "Deny"),
        ("4102", "labelstudio:alice@example.org", "tone", "Sarcasm"),
    ]


def test_it_reports_label_studio_regions_cancellations_and_predictions_it_leaves_out():
    notices = read("labelstudio_export.json").notices()
    assert "1 regions of type 'labels' were left out (only choices map onto questions)" in notices
    assert "1 cancelled annotations were left out" in notices
    assert "1 tasks' predictions were left out" in notices


def test_it_reads_doccano_strings_and_spans_keeping_the_offsets():
    found = read("doccano_export.jsonl")
    assert found.format == "doccano"
    assert triples(found) == [
        ("1", "doccano", "label", "support"),
        ("1", "doccano", "label", "named_source"),
        ("2", "doccano", "label", "DENY"),
        ("3", "doccano:bob", "label", "CLAIM"),
        ("3", "doccano:bob", "label", "SOURCE"),
    ]
    assert found.rows[3].detail == "span 0-8 CLAIM"
    assert found.rows[3].line == 4


def test_it_reads_pheme_annotations_skipping_the_heading_lines():
    found = read("pheme_annotations.json")
    assert found.format == "pheme"
    assert found.rows[0] == LabelRow(
        "552783667052167168", "PHEME", "support", "supporting", "552783667052167168", 2
    )
    deep = [r for r in found.rows if r.comment_id == "552785375161151488"]
    assert [(r.field, r.value) for r in deep] == [
        ("responsetype-vs-source", "agreed"),
        ("responsetype-vs-previous", "disagreed"),
        ("certainty", "certain"),
        ("evidentiality", "url-given"),
    ]


def test_it_reads_a_rumoureval_2019_key_with_both_subtasks():
    found = read("rumoureval_key.json")
    assert found.format == "rumoureval"
    assert ("552785249420091393", "RumourEval", "stance", "query") in triples(found)
    assert ("552783667052167168", "RumourEval", "veracity", "true") in triples(found)


def test_it_reads_a_rumoureval_2017_key():
    found = read_label_file(
        b'{"580320612155060224": "comment", "580324027715063808": "deny"}', "dev-key.json"
    )
    assert triples(found) == [
        ("580320612155060224", "RumourEval", "stance", "comment"),
        ("580324027715063808", "RumourEval", "stance", "deny"),
    ]


def test_it_reads_a_dast_submission_once_per_comment_though_branches_repeat_it():
    found = read("dast_submission.json")
    assert found.format == "dast"
    first = [r for r in found.rows if r.comment_id == "dr9x1a2"]
    assert [(r.field, r.value) for r in first] == [
        ("SDQC_Submission", "Supporting"),
        ("SDQC_Parent", "Supporting"),
        ("Certainty", "Certain"),
        ("Evidentiality", "Underspecified"),
    ]
    assert {r.article_id for r in found.rows} == {"7jx5nr"}


def test_it_refuses_a_windows_1252_file_without_garbling_it():
    with pytest.raises(ImportFileError) as caught:
        read("doccano_export_cp1252.jsonl")
    assert str(caught.value).startswith(
        "doccano_export_cp1252.jsonl, line 1: this is not UTF-8 text (byte 0x93 at column 21)"
    )


def test_it_reads_a_windows_1252_file_in_the_encoding_chosen():
    found = read("doccano_export_cp1252.jsonl", encoding="cp1252")
    assert triples(found) == [
        ("11", "doccano", "label", "comment"),
        ("12", "doccano", "label", "deny"),
    ]


def test_it_names_the_encoding_of_a_windows_1252_file():
    with pytest.raises(ImportFileError) as caught:
        read("doccano_export_cp1252.jsonl")
    reason = caught.value.reason.lower()
    assert "windows-1252" in reason or "cp1252" in reason


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b'{"type": "comment", "id": "c1"}\n{"type": "comment"}', "neither"),
        (b"[1, 2]", "not a Label Studio export"),
        (
            b'{"id": 1, "text": "x", "label": [[0, "a"]]}\n',
            "neither a string nor [start, end, label]",
        ),
        (b'{"tweetid": "1"}\n{"tweetid": ', "line 2: malformed JSON"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary data"),
    ],
)
def test_it_refuses_what_is_no_label_file_with_a_reason(content, reason):
    with pytest.raises(ImportFileError) as caught:
        read_label_file(content, "labels.json")
    assert reason in str(caught.value)
    assert str(caught.value).startswith("labels.json")
