"""Parquet export: typed columns and nested annotations that pandas and pyarrow read back."""

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotator.datasets.exporters import parquet
from annotator.datasets.options import ExportOptions, LabelSet
from annotator.datasets.rows import RowSource
from tests.datasets.corpus import make_gold, make_moved_reply
from tests.datasets.loading import HOSTILE, load_offline
from tests.factories import (
    ArticleFactory,
    UserFactory,
    label_in_bulk,
    make_comment,
    make_label,
    make_thread,
)


def export(project, tmp_path, **options) -> Path:
    path = tmp_path / "comments.parquet"
    with path.open("wb") as out:
        parquet.write(RowSource(project, ExportOptions(**options)), out)
    return path


@pytest.fixture
def people(db):
    return UserFactory(username="zoe"), UserFactory(username="adam")


@pytest.fixture
def labelled(project, people):
    zoe, adam = people
    article = ArticleFactory(project=project, source_id="a-1")
    top = make_comment(
        article, source_id="c-1", text=HOSTILE, posted_at=datetime(2016, 12, 8, 11, 2, tzinfo=UTC)
    )
    reply = make_comment(article, parent=top, source_id="c-2", meta={"likes": 2})
    make_comment(article, source_id="c-3")
    make_label(top, zoe, {"stance_article": "deny", "source_cited": ["link"]}, time_spent_ms=1500)
    make_label(top, adam, {"stance_article": "deny", "source_cited": ["link", "reasoning"]})
    make_label(reply, zoe, {"stance_article": "query", "stance_parent": "deny"})
    return project


def test_pandas_reads_typed_columns_and_nested_annotations(labelled, tmp_path):
    df = pd.read_parquet(export(labelled, tmp_path))

    assert df["comment_id"].tolist() == ["c-1", "c-2", "c-3"]
    assert df["parent_id"].tolist()[1] == "c-1" and df["parent_id"].isna().tolist()[0]
    assert df["depth"].tolist() == [0, 1, 0]
    assert df["text"].iloc[0] == HOSTILE
    assert df["posted_at"].iloc[0] == pd.Timestamp("2016-12-08T11:02:00Z")
    assert df["meta"].iloc[1].replace(" ", "") == '{"likes":2}'
    assert df["n_annotations"].tolist() == [2, 1, 0]
    assert df["majority__stance_article"].tolist()[:2] == ["deny", "query"]
    assert df["support__stance_article"].iloc[0] == 1.0
    assert df["majority__source_cited"].iloc[0] is None  # reasoning: 1 of 2, a tie
    assert df["votes__source_cited"].iloc[0] == 2
    assert list(df["tied__source_cited"].iloc[0]) == ["reasoning"]
    zoe, _ = df["annotations"].iloc[0]
    assert zoe["annotator"] == "zoe"
    assert zoe["answers"]["stance_article"] == "deny"
    assert list(zoe["answers"]["source_cited"]) == ["link"]
    assert zoe["answers"]["claim_type"] is None
    assert zoe["answered_under"]["stance_article"] == 1
    assert zoe["time_spent_ms"] == 1500
    assert isinstance(zoe["submitted_at"], pd.Timestamp | datetime)
    assert len(df["annotations"].iloc[2]) == 0


def test_the_schema_types_answers_by_question_kind(labelled, tmp_path):
    schema = pq.read_schema(export(labelled, tmp_path))

    assert schema.field("majority__stance_article").type == pa.string()
    assert schema.field("majority__source_cited").type == pa.list_(pa.string())
    assert schema.field("posted_at").type == pa.timestamp("us", tz="UTC")
    answers = schema.field("annotations").type.value_type.field("answers").type
    assert answers.field("source_cited").type == pa.list_(pa.string())
    assert answers.field("checkworthy").type == pa.string()


def test_final_labels_give_one_typed_column_per_question(labelled, tmp_path):
    df = pd.read_parquet(export(labelled, tmp_path, labels=LabelSet.FINAL, pseudonymise=True))

    assert "annotations" not in df.columns
    assert df["final__stance_article"].tolist()[:2] == ["deny", "query"]
    assert df["final__source_cited"].iloc[0] is None  # the tie
    assert df["final__stance_parent"].iloc[1] == "deny"
    assert df["author"].tolist() == ["", "", ""]  # make_comment leaves authors empty


def test_row_groups_hold_many_chunks_and_nothing_is_lost(project, people, tmp_path, monkeypatch):
    monkeypatch.setattr(parquet, "BATCH_ROWS", 100)
    monkeypatch.setattr(parquet, "ROW_GROUP_ROWS", 300)
    comments = make_thread(ArticleFactory(project=project), 1_050)
    label_in_bulk(comments, people, lambda i, c, u: {"claim_type": "opinion"} if i % 2 else None)

    file = pq.ParquetFile(export(project, tmp_path))

    assert file.metadata.num_rows == 1_050
    assert file.metadata.num_row_groups == 4  # 300, 300, 300, 150
    df = file.read().to_pandas()
    in_tree_order = sorted(comments, key=lambda c: c.path)
    assert df["comment_id"].tolist() == [c.source_id for c in in_tree_order]
    assert df["n_annotations"].sum() == 1_050 // 2 * 2


def test_hugging_face_datasets_loads_it_offline(labelled, tmp_path, monkeypatch):
    path = export(labelled, tmp_path)

    dataset = load_offline(monkeypatch, tmp_path, "parquet", data_files=str(path))

    assert dataset.num_rows == 3
    assert dataset[0]["annotations"][1]["answers"]["source_cited"] == ["link", "reasoning"]


def test_gold_columns_are_typed_and_null_where_no_gold(labelled, people, tmp_path):
    top = labelled.articles.get().comments.get(source_id="c-1")
    make_gold(top, people[1], {"stance_article": "deny", "source_cited": ["link", "reasoning"]})

    table = pq.read_table(export(labelled, tmp_path))

    assert table.schema.field("gold__source_cited").type == pa.list_(pa.string())
    assert table.schema.field("gold_at").type == pa.timestamp("us", tz="UTC")
    assert table.column("gold__stance_article").to_pylist() == ["deny", None, None]
    assert table.column("gold__source_cited").to_pylist()[0] == ["link", "reasoning"]
    assert table.column("gold_by").to_pylist() == ["adam", None, None]
    final = pq.read_table(export(labelled, tmp_path, labels=LabelSet.FINAL))
    assert final.column("final__stance_article").to_pylist()[0] == "deny"
    assert final.column("gold_method").to_pylist() == ["adjudicated", None, None]


def test_timestamps_keep_the_instant_of_aware_datetimes_in_any_zone():
    berlin = ZoneInfo("Europe/Berlin")
    moment = datetime(2016, 12, 8, 10, 9, 30, 123456, tzinfo=UTC)
    values = [
        moment,
        moment.astimezone(berlin),
        moment.astimezone(timezone(timedelta(hours=-5))),
        None,
    ]

    column = parquet.timestamps(values)

    assert column.type == parquet.TIME
    assert column.to_pylist() == [moment, moment, moment, None]


def test_an_error_writing_a_row_group_fails_the_export(project, people, tmp_path, monkeypatch):
    monkeypatch.setattr(parquet, "BATCH_ROWS", 100)
    monkeypatch.setattr(parquet, "ROW_GROUP_ROWS", 100)
    label_in_bulk(
        make_thread(ArticleFactory(project=project), 450),
        people,
        lambda i, c, u: {"claim_type": "opinion"},
    )
    written = []

    def write_table(self, table, row_group_size=None):
        written.append(table.num_rows)
        if len(written) == 2:
            raise OSError("disk full")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", write_table)
    with pytest.raises(OSError, match="disk full"):
        export(project, tmp_path)
    assert written == [100, 100]  # stopped at the failing row group, not after every row


def test_answers_set_aside_by_a_move_are_in_the_annotations_stale_struct(project, tmp_path):
    make_moved_reply(project)
    table = pq.read_table(export(project, tmp_path))
    rows = {row["comment_id"]: row for row in table.to_pylist()}
    by_name = {a["annotator"]: a for a in rows["r-1"]["annotations"]}
    assert by_name["zoe"]["answers"]["stance_parent"] is None
    stale = by_name["zoe"]["stale"]["stance_parent"]
    assert stale["value"] == "deny"
    assert stale["answered_toward_parent"] == "t-1"
    assert stale["marked_stale_at"].tzinfo is not None
    assert by_name["zoe"]["stale"]["stance_article"] is None
    assert rows["r-1"]["votes__stance_parent"] == 0
