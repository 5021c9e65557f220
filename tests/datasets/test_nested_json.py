"""Nested JSON export: articles with their comment trees, written as the rows stream."""

import io
import json
from pathlib import Path

import pytest

from annotator.corpus.models import Comment
from annotator.datasets.exporters import nested_json
from annotator.datasets.options import ExportOptions, LabelSet
from annotator.datasets.rows import RowSource
from tests.datasets.corpus import make_moved_reply
from tests.datasets.loading import HOSTILE, load_offline
from tests.factories import ArticleFactory, UserFactory, make_comment, make_label, make_thread


def export(project, **options) -> dict:
    out = io.BytesIO()
    nested_json.write(RowSource(project, ExportOptions(**options), with_context=True), out)
    return json.loads(out.getvalue())


def shape(comments: list[dict]) -> list:
    """(id, depth, replies' shape) all the way down."""
    return [(c["id"], c["depth"], shape(c["replies"])) for c in comments]


def database_shape(article, parent=None) -> list:
    return [
        (c.source_id, c.depth, database_shape(article, c))
        for c in Comment.objects.filter(article=article, parent=parent).order_by("position")
    ]


@pytest.fixture
def annotator(db):
    return UserFactory(username="zoe")


def test_each_article_holds_its_comment_tree(project):
    first = ArticleFactory(project=project, source_id="a-1")
    make_thread(first, 40, fanout=3)
    second = ArticleFactory(project=project, source_id="a-2")
    make_thread(second, 7, fanout=2)
    ArticleFactory(project=project, source_id="a-3")  # no comments

    document = export(project)

    assert document["format"] == "comment-annotator/nested-json"
    assert document["project"] == {"name": project.name, "slug": project.slug}
    assert document["options"]["format"] == "jsonl"  # the options as given
    articles = document["articles"]
    assert [a["id"] for a in articles] == ["a-1", "a-2", "a-3"]
    assert shape(articles[0]["comments"]) == database_shape(first)
    assert shape(articles[1]["comments"]) == database_shape(second)
    assert articles[2]["comments"] == []
    assert articles[0]["title"] == first.title
    comment = articles[0]["comments"][0]
    assert "type" not in comment
    assert comment["article_id"] == "a-1"
    assert comment["parent_id"] is None
    assert comment["replies"][0]["parent_id"] == comment["id"]


def test_a_deep_chain_nests_all_the_way(project):
    article = ArticleFactory(project=project)
    parent = None
    for n in range(120):
        parent = make_comment(article, parent=parent, source_id=f"d-{n}")

    comments = export(project)["articles"][0]["comments"]

    depth = 0
    while comments:
        assert comments[0]["depth"] == depth
        comments = comments[0]["replies"]
        depth += 1
    assert depth == 120


def test_a_filtered_export_nests_kept_comments_under_their_context(project, annotator):
    article = ArticleFactory(project=project)
    top = make_comment(article, source_id="top")
    middle = make_comment(article, parent=top, source_id="middle")
    leaf = make_comment(article, parent=middle, source_id="leaf")
    make_comment(article, parent=top, source_id="unlabelled")
    make_label(leaf, annotator, {"stance_article": "deny"})

    articles = export(project, include_unlabelled=False)["articles"]

    [top_record] = articles[0]["comments"]
    assert (top_record["id"], top_record["context"]) == ("top", True)
    [middle_record] = top_record["replies"]
    [leaf_record] = middle_record["replies"]
    assert (leaf_record["id"], leaf_record["context"]) == ("leaf", False)
    assert leaf_record["majority"]["stance_article"]["value"] == "deny"


def test_labels_and_hostile_text_survive(project, annotator):
    article = ArticleFactory(project=project, title=HOSTILE)
    comment = make_comment(article, text=HOSTILE, author=HOSTILE)
    make_label(comment, annotator, {"stance_article": "query"}, note=HOSTILE)

    record = export(project, labels=LabelSet.FINAL)["articles"][0]

    assert record["title"] == HOSTILE
    [comment_record] = record["comments"]
    assert comment_record["text"] == comment_record["author"] == HOSTILE
    assert comment_record["final"]["stance_article"] == "query"
    assert "annotations" not in comment_record


def test_it_writes_a_big_thread_in_pieces(project, monkeypatch):
    monkeypatch.setattr(nested_json, "FLUSH_BYTES", 1_000)
    make_thread(ArticleFactory(project=project), 300)
    writes = []

    class Recorder(io.BytesIO):
        def write(self, data):
            writes.append(len(data))
            return super().write(data)

    out = Recorder()
    nested_json.write(RowSource(project, ExportOptions()), out)

    assert len(writes) > 10
    assert max(writes) < 5_000
    assert len(json.loads(out.getvalue())["articles"][0]["comments"]) > 1


def test_hugging_face_datasets_loads_the_articles_offline(
    project, annotator, tmp_path, monkeypatch
):
    article = ArticleFactory(project=project, source_id="a-1")
    comments = make_thread(article, 20)
    make_label(comments[0], annotator, {"stance_article": "deny"})
    ArticleFactory(project=project, source_id="a-2")
    path = Path(tmp_path / "corpus.json")
    with path.open("wb") as out:
        nested_json.write(RowSource(project, ExportOptions(), with_context=True), out)

    dataset = load_offline(monkeypatch, tmp_path, "json", data_files=str(path), field="articles")

    assert dataset["id"] == ["a-1", "a-2"]
    assert dataset[0]["comments"][0]["majority"]["stance_article"]["value"] == "deny"


def test_answers_set_aside_by_a_move_are_marked_stale_in_the_tree(project):
    make_moved_reply(project)
    article = next(a for a in export(project)["articles"] if a["id"] == "moved")
    reply = next(c for c in article["comments"] if c["id"] == "r-1")
    [zoe] = [a for a in reply["annotations"] if a["annotator"] == "zoe"]
    assert zoe["stale"]["stance_parent"]["value"] == "deny"
    assert zoe["stale"]["stance_parent"]["answered_toward_parent"] == "t-1"
