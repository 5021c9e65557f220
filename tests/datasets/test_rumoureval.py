"""RumourEval / PHEME export: a folder per thread with tweet-shaped files, structure.json and
the SemEval stance key, read back as the task's readers read it."""

import gc
import io
import json
import re
import tracemalloc
import zipfile
from pathlib import Path

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.corpus.importers.loader import import_file
from annotator.corpus.management.commands.import_threads import import_path
from annotator.corpus.models import Article, Comment
from annotator.datasets import rows
from annotator.datasets.exporters.rumoureval import Structure, twitter_time
from annotator.datasets.exporters.thread_ids import file_name
from annotator.datasets.options import ExportFormat, ExportOptions, LabelSet
from annotator.datasets.package import build_export
from annotator.review import measures
from tests.datasets.corpus import make_gold
from tests.datasets.loading import HOSTILE
from tests.factories import (
    ArticleFactory,
    ProjectFactory,
    UserFactory,
    label_in_bulk,
    make_comment,
    make_label,
    make_thread,
)

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "samples" / "thread.jsonl"
ARTICLE = "sf-aleppo-2016-12-08"
ROOT = "rumoureval/"


def export(project, **options) -> zipfile.ZipFile:
    out = io.BytesIO()
    build_export(project, ExportOptions(format=ExportFormat.RUMOUREVAL, **options), out)
    return zipfile.ZipFile(io.BytesIO(out.getvalue()))


class Sink(io.RawIOBase):
    """A write-only stream that keeps nothing (the memory test measures the export only)."""

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return len(data)


def read(archive: zipfile.ZipFile, name: str):
    return orjson.loads(archive.read(ROOT + name))


@pytest.fixture
def sample(project):
    import_file(project, SAMPLE)
    return project


@pytest.fixture
def annotators(db):
    return UserFactory(username="zoe"), UserFactory(username="adam")


def test_each_thread_is_a_folder_with_its_source_replies_and_structure(sample):
    archive = export(sample)
    names = archive.namelist()

    thread = ROOT + ARTICLE + "/"
    assert names[0] == thread + f"source-tweet/{ARTICLE}.json"
    replies = sorted(n for n in names if n.startswith(thread + "replies/"))
    count = Comment.objects.filter(article__source_id=ARTICLE).count()
    assert len(replies) == count
    assert thread + "structure.json" in names
    assert ROOT + "42/structure.json" in names
    assert names[-3:] == [ROOT + "key.json", "agreement.csv", "README.md"]
    source = read(archive, f"{ARTICLE}/source-tweet/{ARTICLE}.json")
    assert source["id_str"] == source["id"] == ARTICLE
    assert source["text"].startswith("Why Does Syrian Army Stop Active Military Operation")
    assert source["created_at"] == "Thu Dec 08 10:00:00 +0000 2016"
    assert source["in_reply_to_status_id_str"] is None
    assert source["user"] == {"screen_name": "South Front", "name": "South Front"}


def test_replies_are_tweets_answering_their_parent_or_the_source(sample):
    archive = export(sample)

    first = read(archive, f"{ARTICLE}/replies/c-0001.json")
    assert first == {
        "id": "c-0001",
        "id_str": "c-0001",
        "text": "From SANA which is reporting the same.",
        "created_at": "Thu Dec 08 11:02:00 +0000 2016",
        "in_reply_to_status_id": ARTICLE,
        "in_reply_to_status_id_str": ARTICLE,
        "user": {"screen_name": "Douglas Houck", "name": "Douglas Houck"},
    }
    second = read(archive, f"{ARTICLE}/replies/c-0002.json")
    assert (second["in_reply_to_status_id_str"], second["created_at"]) == ("c-0001", None)
    assert second["user"]["screen_name"] == ""
    numbered = read(archive, "42/replies/2.json")
    assert (numbered["id"], numbered["id_str"], numbered["in_reply_to_status_id"]) == (2, "2", 1)
    assert read(archive, "42/source-tweet/42.json")["id"] == 42


def test_structure_json_nests_the_reply_tree_with_empty_lists_for_leaves(sample):
    archive = export(sample)

    tree = read(archive, f"{ARTICLE}/structure.json")

    def expected(comment):
        children = Comment.objects.filter(parent=comment).order_by("position")
        return {c.source_id: expected(c) for c in children} or []

    tops = Comment.objects.filter(article__source_id=ARTICLE, parent=None).order_by("position")
    assert tree == {ARTICLE: {c.source_id: expected(c) for c in tops}}
    assert "c-0003" in tree[ARTICLE]["c-0001"]["c-0002"]
    assert read(archive, "42/structure.json") == {"42": {"1": {"2": []}}}


def test_a_thread_without_comments_and_a_deep_chain_give_valid_structures():
    empty = Structure("a")
    assert json.loads(empty.finish()) == {"a": []}
    deep = Structure("a")
    for depth in range(1_000):  # deeper than orjson (255) or json's recursion would nest
        deep.add(f"c{depth}", depth)
    deep.add("top-2", 0)
    text = deep.finish().decode()
    assert text.startswith('{"a":{"c0":{"c1":{')
    assert text.endswith('"c999":[]' + "}" * 999 + ',"top-2":[]}}')


def test_the_key_holds_the_final_stance_gold_first_and_the_card_counts_the_rest(sample, annotators):
    by_id = {c.source_id: c for c in Comment.objects.filter(article__project=sample)}
    make_label(by_id["c-0001"], annotators[0], {"stance_article": "deny"})
    make_label(by_id["c-0001"], annotators[1], {"stance_article": "deny"})
    make_label(by_id["c-0002"], annotators[0], {"stance_article": "support"})
    make_label(by_id["c-0002"], annotators[1], {"stance_article": "query"})  # a tie
    make_label(by_id["c-0003"], annotators[0], {"stance_article": "deny"})
    make_gold(by_id["c-0003"], annotators[1], {"stance_article": "query"})

    for labels in (LabelSet.ALL, LabelSet.FINAL):
        archive = export(sample, labels=labels)
        assert read(archive, "key.json") == {
            "subtaskaenglish": {"c-0001": "deny", "c-0003": "query"}
        }
    card = archive.read("README.md").decode()
    undecided = Comment.objects.filter(article__project=sample).count() - 2
    assert "gives 2 comments their final answer to `stance_article`" in card
    assert f"{undecided} exported comments have none" in card
    gold = export(sample, labels=LabelSet.GOLD)
    assert read(gold, "key.json") == {"subtaskaenglish": {"c-0003": "query"}}


def test_a_split_cuts_the_key_by_thread(sample, annotators):
    comment = Comment.objects.get(article__project=sample, source_id="c-0001")
    make_label(comment, annotators[0], {"stance_article": "comment"})
    numbered = Comment.objects.get(article__source_id="42", source_id="1")
    make_label(numbered, annotators[0], {"stance_article": "support"})

    archive = export(sample, split=True, split_ratios=(0.5, 0.5, 0.0), split_seed=1)

    keys = sorted(n for n in archive.namelist() if n.endswith("key.json"))
    assert keys == [ROOT + "dev-key.json", ROOT + "train-key.json"]
    merged = {}
    for name in keys:
        labels = orjson.loads(archive.read(name))["subtaskaenglish"]
        assert len(labels) == 1
        merged.update(labels)
    assert merged == {"c-0001": "comment", "1": "support"}


def test_a_filtered_export_keeps_the_ancestors_out_of_the_key(sample, annotators):
    reply = Comment.objects.get(article__project=sample, source_id="c-0003")  # depth 2
    make_label(reply, annotators[0], {"stance_article": "support"})

    archive = export(sample, include_unlabelled=False)

    thread = ROOT + ARTICLE + "/replies/"
    assert sorted(n for n in archive.namelist() if n.startswith(thread)) == [
        thread + f"c-000{n}.json" for n in (1, 2, 3)
    ]
    assert read(archive, f"{ARTICLE}/structure.json") == {
        ARTICLE: {"c-0001": {"c-0002": {"c-0003": []}}}
    }
    assert read(archive, "key.json") == {"subtaskaenglish": {"c-0003": "support"}}
    assert not [n for n in archive.namelist() if n.startswith(ROOT + "42/")]


def test_hostile_ids_and_text_are_safe_file_names_and_kept_as_given(project):
    article = ArticleFactory(project=project, source_id="../etc")
    top = make_comment(article, source_id="a/b?c", author="Zoë 🙂", text=HOSTILE)
    make_comment(article, parent=top, source_id="." * 3 + "x" * 250)  # ids hold 255 at most

    archive = export(project)

    names = [n for n in archive.namelist() if n.startswith(ROOT)]
    assert all(".." not in part for n in names for part in n.split("/")[1:2])
    assert all(len(part) <= 255 for n in names for part in n.split("/"))
    folder = file_name("../etc")
    assert folder == "%2E.%2Fetc"
    reply = read(archive, f"{folder}/replies/{file_name('a/b?c')}.json")
    assert (reply["id_str"], reply["text"]) == ("a/b?c", HOSTILE)
    assert reply["user"]["screen_name"] == "Zoë 🙂"
    long = [n for n in names if "~" in n]
    assert len(long) == 1
    assert read(archive, long[0][len(ROOT) :])["in_reply_to_status_id_str"] == "a/b?c"


def test_file_names_are_distinct_for_distinct_ids():
    ids = ["a", "A", "a/b", "a%2Fb", "a b", ".", "..", "", "é", "x" * 300, "x" * 301]
    names = [file_name(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_.%~-]+", n) and not n.startswith(".") for n in names)


def test_twitter_time_is_english_and_utc():
    from datetime import datetime, timedelta, timezone

    moment = datetime(2014, 8, 27, 15, 8, 45, tzinfo=timezone(timedelta(hours=2)))
    assert twitter_time(moment) == "Wed Aug 27 13:08:45 +0000 2014"


def test_queries_do_not_grow_with_rows(project, monkeypatch):
    monkeypatch.setattr(rows, "CHUNK_SIZE", 50)
    people = [UserFactory(username=f"annotator{n}") for n in range(2)]

    def queries_for(size: int) -> int:
        comments = make_thread(ArticleFactory(project=project), size)
        label_in_bulk(comments, people, lambda i, c, u: {"stance_article": "deny"})
        with CaptureQueriesContext(connection) as queries:
            build_export(project, ExportOptions(format=ExportFormat.RUMOUREVAL), io.BytesIO())
        return len(queries)

    small = queries_for(50)
    assert queries_for(150) <= small + 2 * 3  # a query per chunk of comments, no more


def test_memory_grows_only_by_the_zip_entry_of_each_file(project, monkeypatch):
    monkeypatch.setattr(rows, "CHUNK_SIZE", 500)
    monkeypatch.setattr(measures, "CHUNK_SIZE", 500)
    people = [UserFactory(username=f"annotator{n}") for n in range(2)]

    def grow(threads: int) -> None:
        for _ in range(threads):
            comments = make_thread(ArticleFactory(project=project), 1_250)
            label_in_bulk(comments, people, lambda i, c, u: {"stance_article": "deny"})

    def peak() -> int:
        gc.collect()
        tracemalloc.start()
        try:
            build_export(project, ExportOptions(format=ExportFormat.RUMOUREVAL), Sink())
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    grow(2)  # 2,500 comments
    small = peak()
    grow(6)  # 10,000 comments
    large = peak()

    # zipfile's entry per file (ZipFolder) is the only thing that grows: well under 1 KB
    # a comment.
    assert (large - small) / 7_500 < 1_000, (small, large)


def test_the_exported_threads_import_back_with_the_same_trees_and_texts(sample, tmp_path):
    archive = export(sample)
    archive.extractall(tmp_path)
    copy = ProjectFactory(slug="copy")

    result = import_path(copy, tmp_path / "rumoureval", "auto", None, None)

    def trees(project):
        return sorted(
            (c.article.source_id, c.source_id, c.parent.source_id if c.parent else None, c.text)
            for c in Comment.objects.filter(article__project=project).select_related(
                "article", "parent"
            )
        )

    assert result.comments_added == Comment.objects.filter(article__project=sample).count()
    assert trees(copy) == trees(sample)
    assert sorted(Article.objects.filter(project=copy).values_list("source_id", flat=True)) == (
        sorted(Article.objects.filter(project=sample).values_list("source_id", flat=True))
    )
