"""ConvoKit: a corpus folder that ``convokit.Corpus(filename="convokit-corpus")`` loads.

The folder is what ConvoKit's own ``Corpus.dump`` writes (``convokit/model/corpus.py`` and
``corpus_helpers.py``, version 3 to 5):

* ``utterances.jsonl``: one utterance a line, ``id``, ``conversation_id``, ``text``,
  ``speaker``, ``meta``, ``reply-to``, ``timestamp``, ``vectors`` (``[]``). Each article is
  the root utterance of its conversation (ConvoKit names a conversation after its root), so
  a top-level comment's ``reply-to`` is the article and every conversation is one reply
  tree. The article's text is its title, then a blank line and its body; its speaker is its
  ``source`` (``article`` when that is empty); its meta ``{"type": "article",
  "article_id"}``. A comment's speaker is its author (pseudonymised when the export is;
  empty stays empty) and its meta the JSON Lines record of the comment
  (``jsonl.CommentRecords``: labels per annotator and the majority, or the final answers,
  gold, tree position, split, context, predictions) without the fields ConvoKit holds
  itself (``id``, ``text``, ``author``), plus ``comment_id``. ``timestamp`` is Unix
  seconds (int), never null: ConvoKit sorts each utterance's replies by it and fails on a
  null (``UtteranceNode.set_children``), so an undated comment takes its parent's timestamp
  (the article's for a top-level one; 0 when nothing above is dated) and keeps its place
  among its siblings; ``meta.posted_at`` (null there) tells the real time.
* ``conversations.json``: per conversation ``{"meta": {article_id, title, url, source,
  published_at, split, meta}, "vectors": []}``.
* ``speakers.json``: per speaker ``{"meta": {}, "vectors": []}``.
* ``corpus.json``: the corpus meta: project name and slug, export time, options.
* ``index.json``: the meta fields' types as ConvoKit records them, ``version`` 1, no vectors.

Ids are corpus-wide (``thread_ids``): the source ids, unless some repeat in the project.
Utterances stream into the ZIP as rows come; the conversations go to a temporary file
meanwhile (a ZIP is written one file at a time); the speakers' names are held, one string
per distinct author, to write ``speakers.json`` once at the end.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from typing import Any

import orjson
from django.utils import timezone

from annotator.datasets.exporters import Folder
from annotator.datasets.exporters.jsonl import CommentRecords, Lines, dumps
from annotator.datasets.exporters.thread_ids import CorpusIds
from annotator.datasets.rows import ArticleRow, CommentRow, RowSource

FILENAME = "convokit-corpus/"
KEEPS_TREES = True  # a reply-to must name an utterance of the corpus
COMPRESS = True
FOLDER = True
SPOOL_BYTES = 1 << 20  # conversations past this go to disk

ARTICLE_SPEAKER = "article"
# Fields of the JSON Lines comment record that ConvoKit keeps outside ``meta``.
OWN_FIELDS = ("id", "text", "author")

STR, INT, BOOL, DICT, LIST = (
    f"<class '{name}'>" for name in ("str", "int", "bool", "dict", "list")
)
# The types ConvoKit's index records for each meta field (of a value that is not null).
CONVERSATION_INDEX = {
    "article_id": [STR],
    "title": [STR],
    "url": [STR],
    "source": [STR],
    "published_at": [STR],
    "split": [STR],
    "meta": [DICT],
}
CORPUS_INDEX = {"name": [STR], "slug": [STR], "exported_at": [STR], "options": [DICT]}


def utterance_index(source: RowSource) -> dict[str, list[str]]:
    """The utterance meta fields of this export and their types."""
    index = {
        "type": [STR],
        "article_id": [STR],
        "comment_id": [STR],
        "parent_id": [STR],
        "posted_at": [STR],
        "meta": [DICT],
        "depth": [INT],
        "position": [INT],
        "split": [STR],
        "context": [BOOL],
        "n_annotations": [INT],
        "gold": [DICT],
    }
    if source.carries_predictions:
        index["predictions"] = [DICT]
    if source.final:
        index["final"] = [DICT]
    else:
        index["annotations"] = [LIST]
        index["majority"] = [DICT]
    return index


def unix_seconds(moment: datetime | None, otherwise: int = 0) -> int:
    """ConvoKit's timestamp: whole seconds since the epoch, ``otherwise`` when undated."""
    return int(moment.timestamp()) if moment is not None else otherwise


def article_utterance(row: ArticleRow, ids: CorpusIds) -> dict[str, Any]:
    """The article as the root utterance of its conversation."""
    utterance_id = ids.article(row.source_id)
    return {
        "id": utterance_id,
        "conversation_id": utterance_id,
        "text": f"{row.title}\n\n{row.body}" if row.body else row.title,
        "speaker": row.source or ARTICLE_SPEAKER,
        "meta": {"type": "article", "article_id": row.source_id},
        "reply-to": None,
        "timestamp": unix_seconds(row.published_at),
        "vectors": [],
    }


def conversation_meta(row: ArticleRow) -> dict[str, Any]:
    """What ConvoKit keeps of a conversation: the article's fields."""
    return {
        "article_id": row.source_id,
        "title": row.title,
        "url": row.url,
        "source": row.source,
        "published_at": row.published_at,
        "split": row.split,
        "meta": orjson.Fragment(row.meta),
    }


def comment_utterance(
    row: CommentRow, record: dict[str, Any], ids: CorpusIds, parent_timestamp: int
) -> dict[str, Any]:
    """A comment as an utterance; ``record`` is its JSON Lines record (labels and all)."""
    meta = {key: value for key, value in record.items() if key not in OWN_FIELDS}
    meta["comment_id"] = row.comment_id
    return {
        "id": ids.comment(row.article_id, row.comment_id),
        "conversation_id": ids.article(row.article_id),
        "text": row.text,
        "speaker": row.author,
        "meta": meta,
        "reply-to": ids.parent(row.article_id, row.parent_id),
        "timestamp": unix_seconds(row.posted_at, parent_timestamp),
        "vectors": [],
    }


def write(source: RowSource, folder: Folder) -> list[str]:
    """Write the corpus folder of ``source`` into ``folder``; the card's note on ids."""
    ids = CorpusIds(source.project)
    comment_record = CommentRecords(source.final, source.carries_predictions)
    speakers: dict[str, None] = {}  # the distinct speakers, in order of first appearance
    with tempfile.SpooledTemporaryFile(SPOOL_BYTES) as conversations:
        conversations.write(b"{")
        first_conversation = True
        with folder.open("utterances.jsonl") as out:
            lines = Lines(out)
            # The timestamps of the open ancestors: the article, then one per depth.
            timestamps: list[int] = [0]
            for row in source.records():
                if isinstance(row, CommentRow):
                    depth = min(row.depth + 1, len(timestamps))
                    del timestamps[depth:]
                    record = comment_record(row)
                    utterance = comment_utterance(row, record, ids, timestamps[-1])
                    timestamps.append(utterance["timestamp"])
                else:
                    utterance = article_utterance(row, ids)
                    timestamps = [utterance["timestamp"]]
                    entry = {utterance["id"]: {"meta": conversation_meta(row), "vectors": []}}
                    encoded = dumps(entry)[1:-1]  # "id":{...}, to go inside the one object
                    conversations.write(encoded if first_conversation else b"," + encoded)
                    first_conversation = False
                speakers.setdefault(utterance["speaker"])
                lines.write(dumps(utterance))
            lines.flush()
        conversations.write(b"}")
        conversations.seek(0)
        with folder.open("conversations.json") as out:
            shutil.copyfileobj(conversations, out, SPOOL_BYTES)
    folder.write("speakers.json", dumps({name: {"meta": {}, "vectors": []} for name in speakers}))
    corpus_meta = {
        "name": source.project.name,
        "slug": source.project.slug,
        "exported_at": timezone.now(),
        "options": source.options.to_json(),
    }
    folder.write("corpus.json", dumps(corpus_meta))
    index = {
        "utterances-index": utterance_index(source),
        "speakers-index": {},
        "conversations-index": CONVERSATION_INDEX,
        "overall-index": CORPUS_INDEX,
        "version": 1,
        "vectors": [],
    }
    folder.write("index.json", dumps(index))
    if ids.qualified:
        return [
            "Some comment ids repeat in this project (in two threads, or as an article's id), "
            "so every comment's utterance id is `ARTICLE_ID/COMMENT_ID`; `meta.comment_id` "
            "is the comment's own id."
        ]
    return []
