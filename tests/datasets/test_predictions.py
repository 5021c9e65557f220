"""Exports carry model predictions in fields of their own, never in the human label fields."""

import csv
import io
import zipfile

import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotator.assist.models import Prediction
from annotator.datasets import rows
from annotator.datasets.options import ExportFormat, ExportOptions, LabelSet
from annotator.datasets.package import build_export
from annotator.datasets.predictions import exported_models, prediction_columns
from annotator.labelling.schemes import current_scheme_for
from tests.datasets.corpus import make_gold
from tests.datasets.loading import HOSTILE, load_offline
from tests.factories import (
    COMPLETE_REPLY,
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    UserFactory,
    label_in_bulk,
    make_comment,
    make_label,
    make_model,
    make_prediction,
    make_thread,
)

FILES = {
    ExportFormat.JSONL: "comments.jsonl",
    ExportFormat.JSON: "corpus.json",
    ExportFormat.CSV: "comments.csv",
    ExportFormat.PARQUET: "comments.parquet",
}


def export(project, **options) -> zipfile.ZipFile:
    out = io.BytesIO()
    build_export(project, ExportOptions(**options), out)
    return zipfile.ZipFile(io.BytesIO(out.getvalue()))


def comments_of(project, fmt: ExportFormat, **options) -> list[dict]:
    """The exported comments as dicts, whatever the format."""
    archive = export(project, format=fmt, **options)
    data = archive.read(FILES[fmt])
    if fmt == ExportFormat.JSONL:
        records = [orjson.loads(line) for line in data.splitlines()]
        return [r for r in records if r["type"] == "comment"]
    if fmt == ExportFormat.JSON:
        found = []

        def walk(comments):
            for comment in comments:
                found.append(comment)
                walk(comment["replies"])

        for article in orjson.loads(data)["articles"]:
            walk(article["comments"])
        return found
    if fmt == ExportFormat.CSV:
        return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    return pq.read_table(io.BytesIO(data)).to_pylist()


@pytest.fixture
def predicted(project):
    """One labelled thread; model stance-bert@2 (an older @1 too) predicts two comments,
    tagger@1 one; a stale prediction; gold on the top comment."""
    annotator = UserFactory(username="ann")
    reviewer = UserFactory(username="rev")
    article = ArticleFactory(project=project, source_id="a-1")
    top = make_comment(article, source_id="t-1", text=HOSTILE)
    reply = make_comment(article, parent=top, source_id="r-1")
    make_comment(article, source_id="t-2")
    make_label(top, annotator, COMPLETE_TOP_LEVEL)
    make_label(reply, annotator, COMPLETE_REPLY)
    make_gold(top, reviewer, {"stance_article": "support", "source_cited": ["none"]})
    old = make_model(project, "stance-bert", version="1")
    make_prediction(old, top, "stance_article", "deny", 0.1)
    bert = make_model(project, "stance-bert", version="2", config={"threshold": 0.5})
    tagger = make_model(project, "tagger", kind="learner")
    make_prediction(bert, top, "stance_article", "support", 0.91)
    make_prediction(bert, top, "source_cited", ["reasoning", "none"], 0.4)
    make_prediction(bert, reply, "stance_parent", "support", 0.7)
    make_prediction(bert, reply, "stance_article", "deny", 0.6, stale_since=timezone.now())
    make_prediction(tagger, top, "claim_type", "fact")
    return {"top": top, "reply": reply, "bert": bert, "tagger": tagger}


def by_id(comments: list[dict]) -> dict[str, dict]:
    return {c.get("id") or c.get("comment_id"): c for c in comments}


@pytest.mark.parametrize("fmt", [ExportFormat.JSONL, ExportFormat.JSON])
def test_json_formats_carry_predictions_per_model_and_question(project, predicted, fmt):
    comments = by_id(comments_of(project, fmt))

    assert comments["t-1"]["predictions"] == {
        "stance-bert@2": {
            "stance_article": {"answer": "support", "confidence": 0.91},
            "source_cited": {"answer": ["reasoning", "none"], "confidence": 0.4},
        },
        "tagger@1": {"claim_type": {"answer": "fact", "confidence": None}},
    }
    assert list(comments["t-1"]["predictions"]["stance-bert@2"]) == [
        "stance_article",
        "source_cited",
    ]
    # The stale prediction is left out; a comment no model answered has {}.
    assert comments["r-1"]["predictions"] == {
        "stance-bert@2": {"stance_parent": {"answer": "support", "confidence": 0.7}}
    }
    assert comments["t-2"]["predictions"] == {}
    # Never in the human labels.
    assert comments["t-1"]["annotations"][0]["answers"] == COMPLETE_TOP_LEVEL
    assert comments["t-1"]["majority"]["claim_type"]["value"] == "opinion"


@pytest.mark.parametrize("fmt", [ExportFormat.CSV, ExportFormat.PARQUET])
def test_flat_formats_carry_prediction_columns_after_every_label_column(project, predicted, fmt):
    comments = comments_of(project, fmt)
    columns = list(comments[0])
    pred_columns = [c for c in columns if c.startswith("pred__")]

    assert pred_columns == [
        "pred__stance-bert@2__stance_article",
        "pred__stance-bert@2__stance_article__confidence",
        "pred__stance-bert@2__stance_parent",
        "pred__stance-bert@2__stance_parent__confidence",
        "pred__stance-bert@2__source_cited",
        "pred__stance-bert@2__source_cited__confidence",
        "pred__tagger@1__claim_type",
        "pred__tagger@1__claim_type__confidence",
    ]
    assert columns[-len(pred_columns) :] == pred_columns
    top, reply, other = (by_id(comments)[key] for key in ("t-1", "r-1", "t-2"))
    if fmt == ExportFormat.CSV:
        assert top["pred__stance-bert@2__source_cited"] == "reasoning|none"
        assert top["pred__stance-bert@2__stance_article__confidence"] == "0.91"
        assert top["pred__tagger@1__claim_type__confidence"] == ""
        assert reply["pred__stance-bert@2__stance_article"] == ""  # stale: left out
        assert other["pred__tagger@1__claim_type"] == ""
        assert top["majority__stance_article"] == "support"
    else:
        assert top["pred__stance-bert@2__source_cited"] == ["reasoning", "none"]
        assert top["pred__stance-bert@2__stance_article__confidence"] == 0.91
        assert top["pred__tagger@1__claim_type__confidence"] is None
        assert reply["pred__stance-bert@2__stance_article"] is None
        assert other["pred__tagger@1__claim_type"] is None
        assert top["annotations"][0]["answers"]["stance_article"] == "support"


def test_parquet_types_prediction_columns_as_the_human_answers(project, predicted):
    archive = export(project, format=ExportFormat.PARQUET)
    schema = pq.read_schema(io.BytesIO(archive.read(FILES[ExportFormat.PARQUET])))

    assert (
        schema.field("pred__stance-bert@2__source_cited").type
        == schema.field("majority__source_cited").type
    )
    assert (
        schema.field("pred__tagger@1__claim_type").type == schema.field("majority__claim_type").type
    )
    assert str(schema.field("pred__tagger@1__claim_type__confidence").type) == "double"


@pytest.mark.parametrize("fmt", [ExportFormat.CSV, ExportFormat.PARQUET])
def test_columns_are_the_same_whatever_the_filter(project, predicted, fmt):
    full = list(comments_of(project, fmt)[0])
    labelled = comments_of(project, fmt, include_unlabelled=False, labels=LabelSet.ALL)

    assert [c for c in labelled[0] if c.startswith("pred__")] == [
        c for c in full if c.startswith("pred__")
    ]


def test_columns_follow_the_models_and_the_export_questions(project, predicted):
    models = exported_models(project)

    assert [m.label for m in models] == ["stance-bert@2", "tagger@1"]
    columns = prediction_columns(models, ("claim_type", "stance_article"))
    assert [(c.model, c.question) for c in columns] == [
        ("stance-bert@2", "stance_article"),
        ("tagger@1", "claim_type"),
    ]


def test_final_labels_keep_predictions_apart(project, predicted):
    comments = by_id(comments_of(project, ExportFormat.JSONL, labels=LabelSet.FINAL))

    assert comments["t-1"]["final"]["stance_article"] == "support"
    assert comments["t-1"]["predictions"]["tagger@1"]["claim_type"]["answer"] == "fact"
    assert comments["t-1"]["final"]["claim_type"] == "opinion"


@pytest.mark.parametrize("fmt", list(FILES))
def test_no_predictions_asked_exports_as_a_project_without_models(project, predicted, fmt):
    comments = comments_of(project, fmt, predictions=False)

    assert all("predictions" not in c for c in comments)
    assert not [c for c in comments[0] if c.startswith("pred__")]


@pytest.mark.parametrize("fmt", list(FILES))
def test_a_project_without_models_exports_as_before_with_no_more_queries(project, fmt):
    annotator = UserFactory(username="ann")
    top = make_comment(ArticleFactory(project=project, source_id="a-1"), source_id="t-1")
    make_label(top, annotator, COMPLETE_TOP_LEVEL)

    def data(options: ExportOptions) -> tuple[bytes, int]:
        out = io.BytesIO()
        with CaptureQueriesContext(connection) as queries:
            build_export(project, options, out)
        return zipfile.ZipFile(io.BytesIO(out.getvalue())).read(FILES[fmt]), len(queries)

    default, default_queries = data(ExportOptions(format=fmt))
    asked, _ = data(ExportOptions(format=fmt, predictions=True))
    off, off_queries = data(ExportOptions(format=fmt, predictions=False))

    if fmt == ExportFormat.JSON:  # the header holds the export's time and options
        assert "predictions" not in orjson.loads(default)["options"]
        default, asked, off = (orjson.loads(d)["articles"] for d in (default, asked, off))
    assert default == asked == off
    assert default_queries == off_queries  # whether there are models rides on the gold check
    text = default if isinstance(default, bytes) else orjson.dumps(default)
    assert b"pred__" not in text and b"predictions" not in text


def add_predictions(labeller, comments, keys=("stance_article", "claim_type")) -> None:
    scheme = current_scheme_for(labeller.project).version
    Prediction.objects.bulk_create(
        Prediction(
            labeller=labeller,
            comment=comment,
            question=key,
            answer="support" if key == "stance_article" else "fact",
            confidence=(index % 100) / 100,
            scheme_version=scheme,
        )
        for index, comment in enumerate(comments)
        for key in keys
    )


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_queries_with_predictions_do_not_grow_with_comments(project, fmt, monkeypatch):
    monkeypatch.setattr(rows, "CHUNK_SIZE", 50)  # the same chunks as 2,000, in a tenth the time
    people = [UserFactory(username=f"annotator{n}") for n in range(2)]
    model = make_model(project, "bulk")

    def queries_for(size: int) -> int:
        comments = make_thread(ArticleFactory(project=project), size)
        label_in_bulk(comments, people, lambda i, c, u: {"claim_type": "opinion"})
        add_predictions(model, comments)
        with CaptureQueriesContext(connection) as queries:
            build_export(project, ExportOptions(format=fmt), io.BytesIO())
        return len(queries)

    small = queries_for(20)
    large = queries_for(rows.CHUNK_SIZE * 2)  # 40 + 100 comments: three chunks, not one

    assert large - small <= 2 * 4  # per extra chunk: comments' annotations, predictions


def test_pandas_and_datasets_load_the_prediction_columns(project, predicted, monkeypatch, tmp_path):
    archive = export(project, format=ExportFormat.PARQUET)
    path = tmp_path / "comments.parquet"
    path.write_bytes(archive.read(FILES[ExportFormat.PARQUET]))
    frame = pd.read_parquet(path)
    ds = load_offline(monkeypatch, tmp_path, "parquet", data_files=str(path))

    assert frame.loc[frame.comment_id == "t-1", "pred__tagger@1__claim_type"].item() == "fact"
    assert "pred__stance-bert@2__source_cited" in ds.column_names
    csv_archive = export(project, format=ExportFormat.CSV)
    csv_path = tmp_path / "comments.csv"
    csv_path.write_bytes(csv_archive.read(FILES[ExportFormat.CSV]))
    table = pd.read_csv(csv_path, dtype={"comment_id": str}, keep_default_na=False, na_values=[""])
    assert table.loc[table.comment_id == "t-1", "pred__stance-bert@2__stance_article"].item() == (
        "support"
    )
    jsonl = tmp_path / "comments.jsonl"
    jsonl.write_bytes(export(project, format=ExportFormat.JSONL).read(FILES[ExportFormat.JSONL]))
    records = pd.read_json(jsonl, lines=True, dtype={"id": str})
    top = records[records["id"] == "t-1"].iloc[0]
    assert top["predictions"]["tagger@1"]["claim_type"]["answer"] == "fact"
