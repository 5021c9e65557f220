"""Agreement figures of an export: counted as the rows stream, the same as the dashboard's."""

import csv
import io
import random

import pytest

from annotator.datasets import figures as figures_module
from annotator.datasets.figures import AgreementFigures, agreement_csv, agreement_records
from annotator.datasets.options import ExportOptions
from annotator.datasets.rows import RowSource
from annotator.review.measures import agreement_report
from tests.factories import ArticleFactory, UserFactory, make_comment, make_label

STANCES = ["support", "deny", "query", "comment"]
SOURCES = ["link", "reasoning", "quote"]


@pytest.fixture
def labelled(project):
    """Three annotators label 40 comments (top-level and replies) with some disagreement."""
    rng = random.Random(7)
    people = [UserFactory(username=name) for name in ("zoe", "adam", "mia")]
    for thread in range(4):
        article = ArticleFactory(project=project, source_id=f"a-{thread}")
        parent = None
        for n in range(10):
            comment = make_comment(article, parent=parent if n % 3 else None)
            parent = comment
            for person in people[: 2 + n % 2]:
                answers = {
                    "stance_article": rng.choice(STANCES[:2] if n % 2 else STANCES),
                    "source_cited": rng.sample(SOURCES, rng.randint(1, 2)),
                }
                if comment.parent_id:
                    answers["stance_parent"] = rng.choice(STANCES)
                make_label(comment, person, answers)
    return project


def streamed(project, **options) -> AgreementFigures:
    source = RowSource(project, ExportOptions(**options))
    for _ in source.comments():
        pass
    return source.agreement.figures()


def test_a_full_export_counts_the_same_figures_as_the_dashboard(labelled):
    table, stance = agreement_report(labelled)

    figures = streamed(labelled)

    assert figures.table == table
    assert figures.stance == stance
    assert any(row.alpha.value is not None for row in table)
    assert set(stance) == {"stance_article", "stance_parent"}


def test_folding_often_changes_nothing(labelled, monkeypatch):
    whole = streamed(labelled)
    monkeypatch.setattr(figures_module, "COMBO_LIMIT", 1)

    assert streamed(labelled) == whole


def test_only_the_exported_comments_and_questions_count(labelled):
    figures = streamed(labelled, questions=["stance_article"])

    assert {row.question for row in figures.table} == {"stance_article"}
    assert figures.stance == {}  # stance_parent was not exported
    full = {(r.question, r.subset): r for r in streamed(labelled).table}
    assert [r.percent for r in figures.table] == [
        full[("stance_article", subset)].percent for subset in ("all", "top-level", "replies")
    ]


def test_the_csv_names_people_as_asked_and_defuses_formulas(labelled):
    figures = streamed(labelled)

    text = agreement_csv(agreement_records(figures, lambda pk: "=HYPERLINK()" if pk else ""))

    rows = list(csv.DictReader(io.StringIO(text)))
    pairs = [row for row in rows if row["measure"] == "cohen_kappa"]
    assert pairs and all(row["annotator_a"] == "'=HYPERLINK()" for row in pairs)
    assert {row["measure"] for row in rows} >= {"krippendorff_alpha", "fleiss_kappa"}
