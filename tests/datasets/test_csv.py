"""CSV export: one wide row per comment that pandas reads back exactly."""

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from annotator.datasets.exporters import csv as csv_exporter
from annotator.datasets.options import ExportOptions, LabelSet
from annotator.datasets.rows import RowSource
from tests.datasets.corpus import make_gold, make_moved_reply
from tests.datasets.loading import HOSTILE, load_offline
from tests.factories import ArticleFactory, UserFactory, make_comment, make_label

IDS = {"article_id": str, "comment_id": str, "parent_id": str}


def export(project, tmp_path, **options) -> Path:
    path = tmp_path / "comments.csv"
    with path.open("wb") as out:
        csv_exporter.write(RowSource(project, ExportOptions(**options)), out)
    return path


def read(path: Path) -> pd.DataFrame:
    """As the dataset card says to read it."""
    return pd.read_csv(path, dtype=IDS, keep_default_na=False, na_values=[""])


@pytest.fixture
def people(db):
    return UserFactory(username="zoe"), UserFactory(username="adam")


@pytest.fixture
def labelled(project, people):
    zoe, adam = people
    article = ArticleFactory(project=project, source_id="007")
    top = make_comment(article, source_id="0001", author="Rami", text=HOSTILE)
    reply = make_comment(article, parent=top, source_id="0002", author="Lina")
    make_comment(article, source_id="0003", text="nobody labelled me")
    make_label(top, zoe, {"stance_article": "deny", "source_cited": ["link", "reasoning"]})
    make_label(top, adam, {"stance_article": "deny", "source_cited": ["reasoning", "link"]})
    make_label(reply, zoe, {"stance_article": "support", "stance_parent": "deny"})
    make_label(reply, adam, {"stance_article": "query", "stance_parent": "deny"})
    return project


def test_the_header_has_the_comment_majority_and_annotator_columns(labelled, tmp_path):
    path = export(labelled, tmp_path, questions=["stance_article", "source_cited"])

    header = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))

    assert header == [
        *csv_exporter.BASE_COLUMNS,
        "majority__stance_article",
        "support__stance_article",
        "votes__stance_article",
        "tied__stance_article",
        "majority__source_cited",
        "support__source_cited",
        "votes__source_cited",
        "tied__source_cited",
        "adam__stance_article",
        "adam__source_cited",
        "zoe__stance_article",
        "zoe__source_cited",
        "gold__stance_article",
        "gold__source_cited",
        "stale__adam",
        "stale__zoe",
        "gold_method",
        "gold_by",
        "gold_at",
    ]


def test_pandas_reads_one_row_per_comment_with_its_labels(labelled, tmp_path):
    df = read(export(labelled, tmp_path))

    assert list(df["comment_id"]) == ["0001", "0002", "0003"]
    assert list(df["article_id"]) == ["007"] * 3
    assert df.loc[1, "parent_id"] == "0001" and pd.isna(df.loc[0, "parent_id"])
    assert df["depth"].tolist() == [0, 1, 0]
    assert df["n_annotations"].tolist() == [2, 2, 0]
    top, reply, unlabelled = df.to_dict("records")
    assert top["text"] == HOSTILE
    assert (top["majority__stance_article"], top["support__stance_article"]) == ("deny", 1.0)
    assert top["majority__source_cited"] == "link|reasoning"
    assert top["zoe__source_cited"] == "link|reasoning"
    assert top["adam__source_cited"] == "reasoning|link"
    # A tie: no majority, but votes say it was labelled, and tied__ names the answers.
    assert pd.isna(reply["majority__stance_article"])
    assert reply["votes__stance_article"] == 2
    assert reply["tied__stance_article"] == "query|support"
    assert reply["majority__stance_parent"] == "deny"
    assert pd.isna(top["majority__stance_parent"]) and top["votes__stance_parent"] == 0
    assert pd.isna(unlabelled["majority__stance_article"])
    assert unlabelled["votes__stance_article"] == 0


def test_hostile_text_survives_the_round_trip(project, tmp_path):
    article = ArticleFactory(project=project, source_id='a,"1"\n')
    texts = [HOSTILE, '"', ",", "\n", "line1\r\nline2", " leading and trailing ", "🙂" * 50]
    for n, text in enumerate(texts):
        make_comment(article, source_id=f"c,{n}", text=text, author=f'Au"thor, {n}')

    path = export(project, tmp_path)
    df = read(path)
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))

    assert [row["text"] for row in rows] == texts
    assert [row["author"] for row in rows] == [f'Au"thor, {n}' for n in range(len(texts))]
    assert set(df["article_id"]) == {'a,"1"\n'}
    assert df["text"].tolist() == texts
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")


def test_final_labels_give_one_column_per_question(labelled, tmp_path):
    df = read(export(labelled, tmp_path, labels=LabelSet.FINAL))

    final_columns = [c for c in df.columns if "__" in c]
    assert final_columns == [
        f"final__{key}" for key in RowSource(labelled, ExportOptions()).question_keys
    ]
    assert df["final__stance_article"].tolist()[0] == "deny"
    assert pd.isna(df["final__stance_article"].tolist()[1])  # the tie


def test_gold_columns_hold_the_reviewers_answers(labelled, people, tmp_path):
    top = labelled.articles.get().comments.get(source_id="0001")
    make_gold(top, people[0], {"stance_article": "deny", "source_cited": ["link"]})

    df = read(export(labelled, tmp_path, questions=["stance_article", "source_cited"]))

    assert df["gold__stance_article"].tolist()[0] == "deny"
    assert df["gold__source_cited"].tolist()[0] == "link"
    assert df["gold_method"].tolist()[0] == "adjudicated"
    assert df["gold_by"].tolist()[0] == "zoe"
    assert df["gold_at"].tolist()[0].endswith("Z")
    assert df["gold__stance_article"].isna().tolist()[1:] == [True, True]
    final = read(export(labelled, tmp_path, labels=LabelSet.GOLD, questions=["stance_article"]))
    assert final["final__stance_article"].tolist()[0] == "deny"
    assert pd.isna(final["final__stance_article"].tolist()[1])  # no gold, no majority either


def test_pseudonymised_columns_and_cells_name_nobody(labelled, tmp_path):
    path = export(labelled, tmp_path, pseudonymise=True, questions=["stance_article"])
    text = path.read_text(encoding="utf-8")
    df = read(path)

    for name in ("zoe", "adam", "Rami", "Lina"):
        assert name not in text
    assert [c for c in df.columns if c.startswith("annotator-")] == [
        "annotator-1__stance_article",
        "annotator-2__stance_article",
    ]
    assert df["author"].tolist()[:2] == ["author-1", "author-2"]
    # zoe annotated first (lower id), so she is annotator-1 everywhere in the file.
    assert df["annotator-1__stance_article"].tolist()[:2] == ["deny", "support"]
    assert df["annotator-2__stance_article"].tolist()[:2] == ["deny", "query"]


def test_split_and_filters_apply(labelled, tmp_path):
    df = read(export(labelled, tmp_path, include_unlabelled=False, split=True))

    assert df["comment_id"].tolist() == ["0001", "0002"]
    assert df["split"].nunique() == 1
    assert df["split"].iloc[0] in {"train", "dev", "test"}


def test_hugging_face_datasets_loads_it_offline(labelled, tmp_path, monkeypatch):
    path = export(labelled, tmp_path)

    dataset = load_offline(monkeypatch, tmp_path, "csv", data_files=str(path))

    assert dataset.num_rows == 3
    assert dataset[0]["text"] == HOSTILE


def test_answers_set_aside_by_a_move_are_in_each_annotators_stale_column(project, tmp_path):
    make_moved_reply(project)
    df = read(export(project, tmp_path)).set_index("comment_id")
    row = df.loc["r-1"]
    assert pd.isna(row["zoe__stance_parent"])
    assert row["votes__stance_parent"] == 0
    stale = json.loads(row["stale__zoe"])
    assert stale["stance_parent"]["value"] == "deny"
    assert stale["stance_parent"]["answered_toward_parent"] == "t-1"
    assert stale["stance_parent"]["marked_stale_at"].endswith("Z")
    assert json.loads(row["stale__adam"])["stance_parent"]["value"] == "support"
    assert pd.isna(df.loc["t-1"]["stale__zoe"])
