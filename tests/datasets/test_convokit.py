"""ConvoKit export: a corpus folder ConvoKit loads, with each article the root of its tree.

ConvoKit itself (5.0) pulls in spaCy, sentence-transformers and torch, too much for the test
extras; the test that loads the folder with it runs in a separate virtual environment,
``$CONVOKIT_PYTHON`` (default ``/tmp/ckvenv/bin/python``: ``python3 -m venv /tmp/ckvenv &&
/tmp/ckvenv/bin/pip install --no-deps convokit && /tmp/ckvenv/bin/pip install pandas numpy
scipy scikit-learn pymongo tqdm pyyaml requests dill msgpack-numpy``, what
``convokit.Corpus`` needs), and is skipped when there is none.
"""

import io
import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.corpus.importers.loader import import_file
from annotator.corpus.models import Comment
from annotator.datasets import rows
from annotator.datasets.options import ExportFormat, ExportOptions, LabelSet
from annotator.datasets.package import build_export
from tests.datasets.corpus import make_gold
from tests.datasets.loading import HOSTILE
from tests.factories import (
    ArticleFactory,
    UserFactory,
    label_in_bulk,
    make_comment,
    make_label,
    make_model,
    make_prediction,
)
from tests.factories import make_thread as make_tree

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "samples" / "thread.jsonl"
ARTICLE = "sf-aleppo-2016-12-08"
FOLDER = "convokit-corpus/"
CONVOKIT_PYTHON = Path(os.environ.get("CONVOKIT_PYTHON", "/tmp/ckvenv/bin/python"))  # noqa: S108


def export(project, **options) -> zipfile.ZipFile:
    out = io.BytesIO()
    build_export(project, ExportOptions(format=ExportFormat.CONVOKIT, **options), out)
    return zipfile.ZipFile(io.BytesIO(out.getvalue()))


def utterances(archive: zipfile.ZipFile) -> dict[str, dict]:
    lines = archive.read(FOLDER + "utterances.jsonl").splitlines()
    return {u["id"]: u for u in map(orjson.loads, lines)}


@pytest.fixture
def sample(project):
    import_file(project, SAMPLE)
    return project


@pytest.fixture
def annotators(db):
    return UserFactory(username="zoe"), UserFactory(username="adam")


def test_the_folder_holds_the_files_convokit_dumps(sample):
    archive = export(sample)

    assert archive.namelist() == [
        FOLDER + "utterances.jsonl",
        FOLDER + "conversations.json",
        FOLDER + "speakers.json",
        FOLDER + "corpus.json",
        FOLDER + "index.json",
        "agreement.csv",
        "README.md",
    ]
    index = orjson.loads(archive.read(FOLDER + "index.json"))
    assert set(index) == {
        "utterances-index",
        "speakers-index",
        "conversations-index",
        "overall-index",
        "version",
        "vectors",
    }
    assert index["utterances-index"]["annotations"] == ["<class 'list'>"]
    assert index["utterances-index"]["depth"] == ["<class 'int'>"]
    corpus = orjson.loads(archive.read(FOLDER + "corpus.json"))
    assert (corpus["name"], corpus["slug"]) == ("Aleppo ceasefire", "aleppo")
    assert corpus["options"]["format"] == "convokit"


def test_each_article_is_the_root_utterance_its_comments_reply_to(sample):
    archive = export(sample)
    found = utterances(archive)

    root = found[ARTICLE]
    assert root["conversation_id"] == ARTICLE and root["reply-to"] is None
    assert root["text"].startswith("Why Does Syrian Army Stop Active Military Operation")
    assert "\n\nThe Syrian army has stopped" in root["text"]
    assert root["speaker"] == "South Front"
    assert root["meta"] == {"type": "article", "article_id": ARTICLE}
    assert root["timestamp"] == 1481191200  # 2016-12-08T10:00:00Z
    first, second, third = found["c-0001"], found["c-0002"], found["c-0003"]
    assert first["reply-to"] == ARTICLE
    assert (second["reply-to"], third["reply-to"]) == ("c-0001", "c-0002")
    assert {u["conversation_id"] for u in found.values()} == {ARTICLE, "42"}
    assert (found["2"]["reply-to"], found["1"]["reply-to"]) == ("1", "42")
    assert (first["speaker"], second["speaker"]) == ("Douglas Houck", "")
    assert first["text"] == "From SANA which is reporting the same."
    # c-0002 is undated: ConvoKit needs a time to order replies, so it takes its parent's.
    assert (first["timestamp"], second["timestamp"]) == (1481194920, 1481194920)
    assert second["meta"]["posted_at"] is None
    assert found["42"]["timestamp"] == 1481270400  # 2016-12-09T08:00:00, naive: UTC
    assert first["vectors"] == []
    meta = first["meta"]
    assert meta["type"] == "comment"
    assert (meta["comment_id"], meta["article_id"], meta["parent_id"]) == ("c-0001", ARTICLE, None)
    assert (meta["depth"], meta["position"], meta["context"]) == (0, 1, False)
    assert meta["posted_at"] == "2016-12-08T11:02:00Z"
    assert meta["meta"] == {"likes": 3}
    assert not {"id", "text", "author"} & set(meta)
    speakers = orjson.loads(archive.read(FOLDER + "speakers.json"))
    assert speakers["Douglas Houck"] == {"meta": {}, "vectors": []}
    assert set(speakers) == {u["speaker"] for u in found.values()}
    conversations = orjson.loads(archive.read(FOLDER + "conversations.json"))
    assert conversations[ARTICLE]["meta"]["title"] == root["text"].split("\n")[0]
    assert conversations[ARTICLE]["meta"]["meta"] == {"lang": "en"}
    assert conversations[ARTICLE]["meta"]["published_at"] == "2016-12-08T10:00:00Z"
    assert conversations[ARTICLE]["vectors"] == []


def test_labels_are_the_json_lines_records_labels(sample, annotators):
    comment = Comment.objects.get(article__project=sample, source_id="c-0001")
    make_label(comment, annotators[0], {"stance_article": "deny", "source_cited": ["link"]})
    make_label(comment, annotators[1], {"stance_article": "support"}, note="sure?")
    make_gold(comment, annotators[1], {"stance_article": "support"})

    meta = utterances(export(sample))["c-0001"]["meta"]

    assert meta["n_annotations"] == 2
    zoe, adam = meta["annotations"]
    assert zoe["answers"] == {"stance_article": "deny", "source_cited": ["link"]}
    assert (adam["annotator"], adam["note"]) == ("adam", "sure?")
    assert meta["majority"]["stance_article"]["tied"] == ["deny", "support"]
    assert meta["gold"]["answers"] == {"stance_article": "support"}
    final = utterances(export(sample, labels=LabelSet.FINAL))["c-0001"]["meta"]
    assert final["final"]["stance_article"] == "support"
    assert "annotations" not in final and "majority" not in final


def test_model_predictions_ride_in_the_comments_meta_apart_from_the_labels(sample, annotators):
    comment = Comment.objects.get(article__project=sample, source_id="c-0001")
    make_label(comment, annotators[0], {"stance_article": "deny"})
    make_prediction(make_model(sample, "stance-bert"), comment, "stance_article", "support", 0.9)

    found = utterances(export(sample))
    without = utterances(export(sample, predictions=False))

    meta = found["c-0001"]["meta"]
    assert meta["predictions"] == {
        "stance-bert@1": {"stance_article": {"answer": "support", "confidence": 0.9}}
    }
    assert meta["majority"]["stance_article"]["value"] == "deny"
    assert found["c-0002"]["meta"]["predictions"] == {}
    assert "predictions" not in without["c-0001"]["meta"]


def test_hostile_text_comes_back_as_given(project):
    article = ArticleFactory(project=project, source_id="hostile", title='Quotes "and"\nlines')
    make_comment(article, source_id="h-1", author="Zoë 🙂", text=HOSTILE)

    found = utterances(export(project))

    assert found["h-1"]["text"] == HOSTILE
    assert found["h-1"]["speaker"] == "Zoë 🙂"
    assert found["hostile"]["text"].startswith('Quotes "and"\nlines')


def test_pseudonymised_speakers_name_nobody(sample, annotators):
    comment = Comment.objects.get(article__project=sample, source_id="c-0001")
    make_label(comment, annotators[0], {"stance_article": "deny"})

    archive = export(sample, pseudonymise=True)

    text = archive.read(FOLDER + "utterances.jsonl") + archive.read(FOLDER + "speakers.json")
    for name in (b"zoe", b"Douglas Houck", b"Alexey Kozyachiy"):
        assert name not in text
    found = utterances(archive)
    assert found["c-0001"]["speaker"] == "author-1"
    assert found["c-0001"]["meta"]["annotations"][0]["annotator"] == "annotator-1"


def test_a_filtered_export_keeps_the_ancestors_so_every_reply_to_is_an_utterance(
    sample, annotators
):
    reply = Comment.objects.get(article__project=sample, source_id="c-0003")  # depth 2
    make_label(reply, annotators[0], {"stance_article": "support"})

    found = utterances(export(sample, include_unlabelled=False))

    assert list(found) == [ARTICLE, "c-0001", "c-0002", "c-0003"]
    assert [found[i]["meta"]["context"] for i in ("c-0001", "c-0002", "c-0003")] == [
        True,
        True,
        False,
    ]
    assert all(u["reply-to"] in found for u in found.values() if u["reply-to"])


def test_comment_ids_that_repeat_across_threads_are_qualified_by_their_article(project):
    for name in ("one", "two"):
        make_comment(ArticleFactory(project=project, source_id=name), source_id="c-1")
    reply = make_comment(
        project.articles.get(source_id="one"),
        parent=Comment.objects.get(article__source_id="one"),
        source_id="c-2",
    )

    archive = export(project)
    found = utterances(archive)

    assert set(found) == {"one", "two", "one/c-1", "two/c-1", "one/c-2"}
    assert found["one/c-2"]["reply-to"] == "one/c-1"
    assert found["one/c-2"]["meta"]["comment_id"] == reply.source_id
    assert "`ARTICLE_ID/COMMENT_ID`" in archive.read("README.md").decode()


def test_queries_do_not_grow_with_rows(project, monkeypatch):
    monkeypatch.setattr(rows, "CHUNK_SIZE", 50)
    people = [UserFactory(username=f"annotator{n}") for n in range(2)]

    def queries_for(size: int) -> int:
        comments = make_tree(ArticleFactory(project=project), size)
        label_in_bulk(comments, people, lambda i, c, u: {"stance_article": "deny"})
        with CaptureQueriesContext(connection) as queries:
            build_export(project, ExportOptions(format=ExportFormat.CONVOKIT), io.BytesIO())
        return len(queries)

    small = queries_for(50)
    assert queries_for(150) <= small + 2 * 3  # a query per chunk of comments, no more


@pytest.mark.skipif(
    not CONVOKIT_PYTHON.exists(), reason=f"no Python with convokit at {CONVOKIT_PYTHON}"
)
def test_convokit_loads_the_folder(sample, annotators, tmp_path):
    comment = Comment.objects.get(article__project=sample, source_id="c-0001")
    make_label(comment, annotators[0], {"stance_article": "deny"})
    make_comment(ArticleFactory(project=sample, source_id="hostile"), source_id="h-1", text=HOSTILE)
    archive = export(sample)
    archive.extractall(tmp_path)
    card = archive.read("README.md").decode("utf-8")
    convokit_block = re.findall(r"```python\n(.*?)```", card, re.DOTALL)[1]
    script = """
import json, sys
from convokit import Corpus
corpus = Corpus(filename=sys.argv[1])
conversation = corpus.get_conversation("sf-aleppo-2016-12-08")
assert conversation.check_integrity(verbose=False)
print(json.dumps({
    "utterances": len(corpus.utterances),
    "speakers": sorted(corpus.speakers),
    "conversations": sorted(corpus.conversations),
    "root": next(conversation.traverse("bfs")).id,
    "chain": [u.id for u in conversation.get_root_to_leaf_paths()[0]],
    "title": conversation.meta["title"],
    "stance": corpus.get_utterance("c-0001").meta["majority"]["stance_article"]["value"],
    "reply_to": corpus.get_utterance("c-0003").reply_to,
    "timestamp": corpus.get_utterance("c-0001").timestamp,
    "hostile": corpus.get_utterance("h-1").text,
    "name": corpus.meta["name"],
}))
"""
    # The card's own ConvoKit code, run where the folder was unzipped.
    card_code = convokit_block + "\nprint(len(comments))\n"

    done = subprocess.run(
        [str(CONVOKIT_PYTHON), "-c", script, str(tmp_path / FOLDER)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HOME": str(tmp_path)},  # ConvoKit writes ~/.convokit
        check=False,
    )

    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["utterances"] == Comment.objects.filter(article__project=sample).count() + 3
    assert loaded["conversations"] == ["42", "hostile", "sf-aleppo-2016-12-08"]
    assert "Douglas Houck" in loaded["speakers"]
    assert loaded["root"] == "sf-aleppo-2016-12-08"
    assert loaded["chain"][0] == "sf-aleppo-2016-12-08"
    assert loaded["title"].startswith("Why Does Syrian Army")
    assert (loaded["stance"], loaded["reply_to"], loaded["timestamp"]) == (
        "deny",
        "c-0002",
        1481194920,
    )
    assert loaded["hostile"] == HOSTILE
    assert loaded["name"] == "Aleppo ceasefire"
    from_card = subprocess.run(
        [str(CONVOKIT_PYTHON), "-c", card_code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "HOME": str(tmp_path)},
        check=False,
    )
    assert from_card.returncode == 0, from_card.stderr
    comments = Comment.objects.filter(article__project=sample).count()
    assert from_card.stdout.strip().splitlines()[-1] == str(comments)
