"""JSON Lines export: the import format plus labels, re-importable, loadable with datasets."""

from pathlib import Path

import orjson
import pytest

from annotator.corpus.importers.loader import import_file
from annotator.corpus.models import Article, Comment
from annotator.datasets.exporters import jsonl
from annotator.datasets.options import ExportOptions, LabelSet
from annotator.datasets.rows import RowSource
from tests.datasets.corpus import make_gold, make_moved_reply
from tests.datasets.loading import HOSTILE, load_offline
from tests.factories import ArticleFactory, ProjectFactory, UserFactory, make_comment, make_label

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "samples" / "thread.jsonl"
IMPORT_FIELDS = {"type", "id", "article_id", "parent_id", "author", "text", "posted_at", "meta"}


def export(project, tmp_path, **options) -> Path:
    path = tmp_path / "comments.jsonl"
    with path.open("wb") as out:
        jsonl.write(RowSource(project, ExportOptions(**options), with_context=True), out)
    return path


def records(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def threads(project) -> list[tuple]:
    """Everything the import format carries, for every article and comment of ``project``."""
    result = []
    for article in Article.objects.filter(project=project).order_by("source_id"):
        result.append(
            (
                article.source_id,
                article.title,
                article.body,
                article.url,
                article.source,
                article.published_at,
                article.meta,
            )
        )
        for c in Comment.objects.thread(article).select_related("parent"):
            parent = c.parent.source_id if c.parent else None
            result.append(
                (c.source_id, parent, c.depth, c.position, c.author, c.text, c.posted_at, c.meta)
            )
    return result


@pytest.fixture
def sample(project):
    import_file(project, SAMPLE)
    return project


@pytest.fixture
def annotators(db):
    return UserFactory(username="zoe"), UserFactory(username="adam")


def test_it_writes_each_article_then_its_comments_in_the_import_format(sample, tmp_path):
    lines = records(export(sample, tmp_path))

    kinds = [(r["type"], r["id"]) for r in lines]
    assert kinds[0] == ("article", "sf-aleppo-2016-12-08")
    article_ids = [r["id"] for r in lines if r["type"] == "article"]
    for record in lines:
        if record["type"] == "comment":
            assert record.keys() >= IMPORT_FIELDS
            assert kinds.index(("article", record["article_id"])) < kinds.index(
                ("comment", record["id"])
            )
    assert len(article_ids) == Article.objects.filter(project=sample).count()
    first = next(r for r in lines if r["id"] == "c-0001")
    assert first["posted_at"] == "2016-12-08T11:02:00Z"
    assert first["meta"] == {"likes": 3}
    assert (first["depth"], first["position"], first["split"], first["context"]) == (
        0,
        1,
        None,
        False,
    )
    assert lines[0]["meta"] == {"lang": "en"}


def test_the_export_reimports_into_a_new_project_with_the_same_threads(
    sample, annotators, tmp_path
):
    article = ArticleFactory(project=sample, source_id="hostile", title='Quotes "and"\nnewlines')
    top = make_comment(article, source_id="h-1", author="Zoë 🙂", text=HOSTILE)
    make_comment(article, parent=top, source_id="h-2", text="reply, with comma")
    make_label(top, annotators[0], {"stance_article": "deny"})
    path = export(sample, tmp_path, split=True)
    copy = ProjectFactory(slug="copy")

    result = import_file(copy, path)

    assert result.comments_added == Comment.objects.filter(article__project=sample).count()
    assert threads(copy) == threads(sample)
    assert Comment.objects.get(article__project=copy, source_id="h-1").text == HOSTILE


def test_a_filtered_export_keeps_trees_whole_so_it_still_reimports(sample, annotators, tmp_path):
    reply = Comment.objects.get(article__project=sample, source_id="c-0003")  # depth 2
    make_label(reply, annotators[0], {"stance_article": "support"})
    path = export(sample, tmp_path, include_unlabelled=False)
    copy = ProjectFactory(slug="copy")

    import_file(copy, path)

    lines = [r for r in records(path) if r["type"] == "comment"]
    assert [(r["id"], r["context"], r["n_annotations"]) for r in lines] == [
        ("c-0001", True, 0),
        ("c-0002", True, 0),
        ("c-0003", False, 1),
    ]
    assert [r[:3] for r in threads(copy)[1:]] == [
        ("c-0001", None, 0),
        ("c-0002", "c-0001", 1),
        ("c-0003", "c-0002", 2),
    ]


def test_all_labels_give_each_annotation_and_the_majority(sample, annotators, tmp_path):
    comment = Comment.objects.get(article__project=sample, source_id="c-0001")
    make_label(comment, annotators[0], {"stance_article": "deny", "source_cited": ["link"]})
    make_label(comment, annotators[1], {"stance_article": "deny"}, note="sure?", flagged=True)

    record = next(r for r in records(export(sample, tmp_path)) if r["id"] == "c-0001")

    assert record["n_annotations"] == 2
    zoe, adam = record["annotations"]  # by annotator id
    assert (adam["annotator"], adam["note"], adam["flagged"]) == ("adam", "sure?", True)
    assert zoe["answers"] == {"stance_article": "deny", "source_cited": ["link"]}
    assert zoe["answered_under"] == {"stance_article": 1, "source_cited": 1}
    assert zoe["scheme_version"] == 1
    assert zoe["submitted_at"].endswith("Z")
    assert set(zoe) == {
        "annotator",
        "answers",
        "scheme_version",
        "answered_under",
        "time_spent_ms",
        "created_at",
        "updated_at",
        "submitted_at",
        "flagged",
        "note",
        "stale",
    }
    assert record["majority"]["stance_article"] == {
        "value": "deny",
        "support": 1.0,
        "agree": 2,
        "votes": 2,
        "tied": [],
    }
    assert record["majority"]["source_cited"]["value"] == ["link"]
    assert record["majority"]["claim_type"] == {
        "value": None,
        "support": None,
        "agree": 0,
        "votes": 0,
        "tied": [],
    }
    assert "final" not in record


def test_final_labels_give_one_answer_per_question(sample, annotators, tmp_path):
    comment = Comment.objects.get(article__project=sample, source_id="c-0001")
    make_label(comment, annotators[0], {"stance_article": "deny"})

    lines = records(export(sample, tmp_path, labels=LabelSet.FINAL, questions=["stance_article"]))

    record = next(r for r in lines if r["id"] == "c-0001")
    assert record["final"] == {"stance_article": "deny"}
    assert "annotations" not in record and "majority" not in record
    assert next(r for r in lines if r["id"] == "c-0002")["final"] == {"stance_article": None}


def test_pseudonymised_export_names_nobody(sample, annotators, tmp_path):
    for source_id in ("c-0001", "c-0003"):
        comment = Comment.objects.get(article__project=sample, source_id=source_id)
        make_label(comment, annotators[0], {"stance_article": "deny"})

    text = export(sample, tmp_path, pseudonymise=True).read_text(encoding="utf-8")

    for name in ("zoe", "adam", "Douglas Houck", "Alexey Kozyachiy"):
        assert name not in text
    lines = [r for r in map(orjson.loads, text.splitlines()) if r["type"] == "comment"]
    assert [r["author"] for r in lines[:3]] == ["author-1", "", "author-2"]
    assert [a["annotator"] for r in lines for a in r["annotations"]] == ["annotator-1"] * 2
    assert all(r["meta"] == {} for r in lines)


def test_hugging_face_datasets_loads_it_offline(sample, annotators, tmp_path, monkeypatch):
    comment = Comment.objects.get(article__project=sample, source_id="c-0001")
    make_label(comment, annotators[0], {"stance_article": "deny", "source_cited": ["link"]})
    make_label(comment, annotators[1], {"claim_type": "factual"})
    article = ArticleFactory(project=sample, source_id="hostile")
    make_comment(article, text=HOSTILE)
    path = export(sample, tmp_path, split=True)

    dataset = load_offline(monkeypatch, tmp_path, "json", data_files=str(path))

    comments = dataset.filter(lambda r: r["type"] == "comment")
    assert len(comments) == Comment.objects.filter(article__project=sample).count()
    assert HOSTILE in comments["text"]
    first = comments[comments["id"].index("c-0001")]
    assert first["majority"]["stance_article"]["value"] == "deny"
    assert first["annotations"][0]["annotator"] == "zoe"


def test_gold_labels_are_written_beside_the_annotations(sample, annotators, tmp_path):
    comment = Comment.objects.get(article__project=sample, source_id="c-0001")
    make_label(comment, annotators[0], {"stance_article": "deny"})
    make_label(comment, annotators[1], {"stance_article": "support"})
    make_gold(comment, annotators[1], {"stance_article": "support"})

    lines = records(export(sample, tmp_path, questions=["stance_article"]))

    record = next(r for r in lines if r["id"] == "c-0001")
    assert record["gold"]["answers"] == {"stance_article": "support"}
    assert record["gold"]["method"] == "adjudicated"
    assert record["gold"]["decided_by"] == annotators[1].username
    assert record["gold"]["decided_at"].endswith("Z")
    assert record["majority"]["stance_article"]["tied"] == ["deny", "support"]
    assert next(r for r in lines if r["id"] == "c-0002")["gold"] is None
    final = records(export(sample, tmp_path, labels=LabelSet.FINAL, questions=["stance_article"]))
    assert next(r for r in final if r["id"] == "c-0001")["final"] == {"stance_article": "support"}


def test_answers_set_aside_by_a_move_are_marked_stale_per_annotation(project, tmp_path):
    make_moved_reply(project)
    record = next(r for r in records(export(project, tmp_path)) if r.get("id") == "r-1")
    by_name = {a["annotator"]: a for a in record["annotations"]}
    assert "stance_parent" not in by_name["zoe"]["answers"]
    stale = by_name["zoe"]["stale"]["stance_parent"]
    assert stale["value"] == "deny"
    assert stale["answered_toward_parent"] == "t-1"
    assert stale["marked_stale_at"].endswith("Z")
    assert by_name["adam"]["stale"]["stance_parent"]["value"] == "support"
    # Counted nowhere: no majority toward a parent the comment no longer has.
    assert record["majority"]["stance_parent"]["votes"] == 0
