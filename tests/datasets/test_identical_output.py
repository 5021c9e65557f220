"""The speed-ups of the row stream and the exporters change no byte of any data file.

Labels are shared between rows (``building.py``: answers parsed once per text, majorities
counted once per combination) and exporters convert each shared object once
(``records.IdentityMemo``, Arrow ``take``). Each of those paths has a plain fallback that
works every row out on its own (past ``INTERN_LIMIT``). So an export with nothing shared
(every table and memo limited to 0 entries, chunks and Parquet batches of one comment) is
the reference, and the usual export must be byte for byte the same, on a corpus with ties,
stale answers, gold, drafts, pseudonyms, unicode and text that breaks naive writers.
"""

import io
import zipfile
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from annotator.corpus.models import Role
from annotator.datasets import building, records, rows
from annotator.datasets.exporters import exporter_for, parquet
from annotator.datasets.options import ExportOptions, LabelSet
from annotator.datasets.package import build_export
from annotator.labelling.models import Annotation
from tests.datasets.corpus import make_gold, make_moved_reply
from tests.datasets.loading import HOSTILE
from tests.factories import (
    COMPLETE_REPLY,
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    MembershipFactory,
    UserFactory,
    make_comment,
    make_label,
)

AT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def awkward_corpus(project):
    """Two threads labelled by three annotators who agree, tie, leave questions out and
    write hostile notes; gold on two comments; a re-parented reply with stale answers."""
    people = []
    for name in ("ünïcode-ann", "bob", "carol"):
        user = UserFactory(username=name)
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
        people.append(user)
    reviewer = UserFactory(username="rev")
    article = ArticleFactory(project=project, source_id="a-1", title=HOSTILE, meta={"k": "ü"})
    top = make_comment(article, source_id="t-1", author=HOSTILE, text=HOSTILE)
    replies = [
        make_comment(article, parent=top, source_id=f"r-{n}", author="Lina", text=f"{n} 🙂")
        for n in range(1, 5)
    ]
    make_comment(article, parent=replies[0], source_id="rr-1", author="", text="")
    other = ArticleFactory(project=project, source_id="a-2", title="second")
    lone = make_comment(other, source_id="o-1", author="Rami", text="no labels here")
    deny = {**COMPLETE_REPLY, "stance_parent": "support", "source_cited": ["named_source"]}
    partial = {"stance_article": "deny", "source_cited": ["none", "reasoning"]}
    answers = {
        top: [COMPLETE_TOP_LEVEL, COMPLETE_TOP_LEVEL, {**COMPLETE_TOP_LEVEL, "claim_type": "fact"}],
        replies[0]: [COMPLETE_REPLY, deny],  # a tie on two questions
        replies[1]: [COMPLETE_REPLY, deny, partial],
        replies[2]: [partial],
        replies[3]: [deny, deny, COMPLETE_REPLY],
    }
    for comment, given in answers.items():
        for user, answer in zip(people, given, strict=False):
            make_label(comment, user, answer, note=HOSTILE if user is people[0] else "")
    make_label(lone, people[1], COMPLETE_TOP_LEVEL, status="draft")
    Annotation.objects.update(created_at=AT, updated_at=AT, submitted_at=AT)
    make_gold(replies[0], reviewer, {"stance_parent": "deny"})
    make_gold(top, reviewer, COMPLETE_TOP_LEVEL, method="accepted")
    make_moved_reply(project)
    return project


def data_file(project, options: ExportOptions) -> bytes:
    archive = io.BytesIO()
    build_export(project, options, archive)
    with zipfile.ZipFile(archive) as opened:
        return opened.read(exporter_for(options.format).FILENAME)


def unshared(monkeypatch) -> None:
    """Nothing remembered: every label parsed, counted and converted row by row."""
    monkeypatch.setattr(building, "INTERN_LIMIT", 0)
    monkeypatch.setattr(records.IdentityMemo.__init__, "__defaults__", (0,))
    monkeypatch.setattr(rows, "CHUNK_SIZE", 1)
    monkeypatch.setattr(parquet, "BATCH_ROWS", 1)  # batches without gold take their own path


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet"])
@pytest.mark.parametrize("labels", [LabelSet.ALL, LabelSet.FINAL, LabelSet.GOLD])
@pytest.mark.parametrize("pseudonymise", [False, True])
def test_shared_labels_write_the_same_bytes_as_rows_worked_out_one_by_one(
    awkward_corpus, monkeypatch, fmt, labels, pseudonymise
):
    monkeypatch.setattr(timezone, "now", lambda: AT)  # the nested JSON's header says when
    options = ExportOptions(format=fmt, labels=labels, pseudonymise=pseudonymise, split=True)
    usual = data_file(awkward_corpus, options)
    with monkeypatch.context() as patched:
        unshared(patched)
        reference = data_file(awkward_corpus, options)
    assert usual == reference
    if fmt in ("jsonl", "csv") and labels == LabelSet.ALL:
        text = usual.decode("utf-8")
        assert "🙂" in text
        assert ("ünïcode-ann" in text) is not pseudonymise


def test_the_reference_really_shares_nothing(awkward_corpus, monkeypatch):
    """Guard for the test above: with the limits at 0 no table or memo keeps anything."""
    unshared(monkeypatch)
    source = rows.RowSource(awkward_corpus, ExportOptions(format="jsonl"))
    assert len(list(source.comments())) == 9
    assert source._parsed_answers == {} and source._labels_of == {} and source._majorities == {}
    memo = records.IdentityMemo(str)
    memo({})
    assert memo.known == {}
