"""The dataset card: what the export holds, what the labels mean, and loading code that runs."""

import re
import zipfile
from datetime import UTC, datetime

import pytest

from annotator.datasets.card import dataset_card
from annotator.datasets.options import ExportFormat, ExportOptions, LabelSet
from annotator.datasets.package import build_export
from annotator.datasets.rows import RowSource
from annotator.labelling.default_scheme import default_scheme
from annotator.labelling.models import LabelScheme
from annotator.labelling.scheme import scheme_to_data
from tests.datasets.corpus import make_gold
from tests.datasets.loading import offline_datasets
from tests.factories import ArticleFactory, UserFactory, make_comment, make_label

EXPORTED_AT = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


@pytest.fixture
def labelled(project):
    zoe, adam = UserFactory(username="zoe"), UserFactory(username="adam")
    for n in range(4):
        article = ArticleFactory(project=project, source_id=f"a-{n}")
        top = make_comment(article, author="Rami")
        reply = make_comment(article, parent=top, author="Lina")
        make_label(top, zoe, {"stance_article": "deny", "source_cited": ["link", "reasoning"]})
        make_label(top, adam, {"stance_article": "deny", "source_cited": ["link", "reasoning"]})
        make_label(reply, zoe, {"stance_article": "support", "stance_parent": "deny"})
    return project


def card_for(project, **options) -> str:
    source = RowSource(project, ExportOptions(**options))
    for _ in source.records():
        pass
    return dataset_card(source, data_file="comments.jsonl", exported_at=EXPORTED_AT)


def test_it_says_what_was_exported_when_and_how(labelled):
    card = card_for(labelled, split=True, split_seed=5, questions=["stance_article"])

    assert card.startswith("# Aleppo ceasefire: reader comments and their labels\n")
    assert "project `aleppo` on 2026-11-30 09:15 UTC" in card
    assert "- format: `jsonl`" in card
    assert "- questions: `stance_article`" in card
    assert "train / dev / test = 0.8 / 0.1 / 0.1, seed 5" in card
    assert "| articles (threads) | 4 |" in card
    assert "| comments | 8 |" in card
    assert "| labelled comments (at least one submitted annotation) | 8 |" in card
    assert "| submitted annotations | 12 |" in card
    assert "| annotators | 2 |" in card
    splits = re.findall(r"^\| (train|dev|test) \| (\d+) \| (\d+) \|$", card, re.MULTILINE)
    assert [name for name, _, _ in splits] == ["train", "dev", "test"]
    assert sum(int(articles) for _, articles, _ in splits) == 4
    assert sum(int(comments) for _, _, comments in splits) == 8


def test_it_defines_every_question_with_its_choices(labelled):
    card = card_for(labelled)

    assert "### Scheme version 1 (current)" in card
    for question in default_scheme().questions:
        assert f"#### `{question.key}`: {question.title}" in card
        for choice in question.choices:
            assert f"| `{choice.value}` | {choice.label} |" in card
    assert "Multiple choice (any number of choices)." in card
    assert "Yes / no; optional; asked only when `claim_type` is `factual`, `prediction`." in card
    assert "Bare assertion. (cannot be combined)" in card


def test_it_gives_the_label_distribution(labelled):
    card = card_for(labelled)

    distribution = card.split("## Label distribution\n")[1]
    section = distribution.split("### `stance_article`\n")[1].split("###")[0]
    assert "| `deny` | 4 | 8 |" in section
    assert "| `support` | 4 | 4 |" in section
    assert "| `query` | 0 | 0 |" in section
    assert "| (not answered) | 0 | |" in section
    cited = distribution.split("### `source_cited`\n")[1].split("##")[0]
    assert "| `link` | 4 | 8 |" in cited
    assert "| (not answered) | 4 | |" in cited  # the replies


def test_final_labels_count_final_answers(labelled):
    card = card_for(labelled, labels=LabelSet.FINAL)

    assert "- labels: `final` (one final answer per question" in card
    assert "| value | final answer | all answers |" in card


def test_it_counts_gold_labels_and_their_distribution(labelled):
    reviewer = UserFactory(username="rev")
    tops = [a.comments.get(depth=0) for a in labelled.articles.order_by("source_id")]
    make_gold(tops[0], reviewer, {"stance_article": "deny", "claim_type": "opinion"})
    make_gold(tops[1], reviewer, {"stance_article": "deny"}, method="accepted")
    make_gold(tops[2], reviewer, {"stance_article": "support"})

    card = card_for(labelled, labels=LabelSet.FINAL)

    assert "| comments with a gold label (settled by a reviewer) | 3 |" in card
    assert "3 comments have a gold label: 2 settled by a reviewer" in card
    assert "1 accepted because every annotator gave the same answers" in card
    gold = card.split("## Gold labels")[1].split("## How to load it")[0]
    assert "| `deny` | 2 |" in gold and "| `support` | 1 |" in gold
    assert "| `opinion` | 1 |" in gold
    assert "the gold answer where a reviewer set one" in card


def test_a_card_without_gold_says_so_in_its_counts_only(labelled):
    card = card_for(labelled)

    assert "| comments with a gold label (settled by a reviewer) | 0 |" in card
    assert "## Gold labels" not in card


def test_it_lists_older_scheme_versions_that_answers_were_given_under(labelled):
    newer = scheme_to_data(default_scheme())
    newer["questions"][0]["title"] = "Stance toward the article's claim"
    LabelScheme.objects.create(project=labelled, version=2, definition=newer)

    card = card_for(labelled)

    assert "### Scheme version 2 (current)" in card
    assert "### Scheme version 1\n" in card
    assert "#### `stance_article`: Stance toward the article's claim" in card
    assert "#### `stance_article`: Stance toward the article\n" in card


def test_a_pseudonymised_card_says_how_people_were_renamed(labelled):
    card = card_for(labelled, pseudonymise=True, include_unlabelled=False)

    assert "- pseudonymised: yes" in card
    assert "`annotator-1`" in card and "`author-1`" in card
    assert "zoe" not in card and "adam" not in card
    assert "- unlabelled comments: left out" in card


def test_table_cells_cannot_break_the_table(project):
    definition = scheme_to_data(default_scheme())
    definition["questions"][0]["choices"][0]["description"] = "for | against\nmaybe"
    LabelScheme.objects.create(project=project, version=2, definition=definition)

    card = card_for(project)

    assert "| Support | for \\| against maybe |" in card


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_the_loading_code_runs(labelled, fmt, tmp_path, monkeypatch):
    with (tmp_path / "export.zip").open("wb") as out:
        build_export(labelled, ExportOptions(format=fmt, split=True), out)
    with zipfile.ZipFile(tmp_path / "export.zip") as archive:
        archive.extractall(tmp_path / "export")
    card = (tmp_path / "export" / "README.md").read_text(encoding="utf-8")
    # The first block needs only pandas and datasets (ConvoKit's own, second, is run by
    # tests/datasets/test_convokit.py where convokit is installed).
    code = re.findall(r"```python\n(.*?)```", card, re.DOTALL)[0]
    offline_datasets(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path / "export")
    namespace: dict = {}

    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own card's code

    assert namespace["ds"].num_rows > 0
