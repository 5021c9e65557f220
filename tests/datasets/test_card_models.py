"""The card's Models section: each model, its settings, counts, quality and agreement with gold."""

from datetime import UTC, datetime

from django.utils import timezone

from annotator.datasets.card import dataset_card
from annotator.datasets.options import ExportFormat, ExportOptions
from annotator.datasets.rows import RowSource
from tests.datasets.corpus import make_gold
from tests.factories import (
    ArticleFactory,
    UserFactory,
    make_comment,
    make_label,
    make_model,
    make_prediction,
)

EXPORTED_AT = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


def card_for(project, **options) -> str:
    source = RowSource(project, ExportOptions(**options))
    for _ in source.records():
        pass
    return dataset_card(source, data_file="comments.jsonl", exported_at=EXPORTED_AT)


def corpus(project):
    reviewer, zoe = UserFactory(username="rev"), UserFactory(username="zoe")
    article = ArticleFactory(project=project)
    comments = [make_comment(article, source_id=f"c-{n}") for n in range(4)]
    for comment in comments:
        make_label(comment, zoe, {"stance_article": "support"})
    for comment, gold in zip(comments, ["support", "support", "deny", "deny"], strict=True):
        make_gold(comment, reviewer, {"stance_article": gold})
    learner = make_model(
        project,
        "learner",
        kind="learner",
        config={"features": "tf-idf | words", "C": 1.0},
        quality={"stance_article": {"macro_f1": 0.61, "accuracy": 0.7, "labels": 40}},
    )
    for comment, answer in zip(comments, ["support", "deny", "deny", "deny"], strict=True):
        make_prediction(learner, comment, "stance_article", answer, 0.8)
    make_prediction(learner, comments[0], "source_cited", ["none"], 0.5, stale_since=timezone.now())
    return comments


def test_it_lists_each_model_with_kind_counts_and_settings_escaped(project):
    corpus(project)
    make_model(project, "llm", version="2", kind="llm", config={"model": "gpt\nx"})

    card = card_for(project)

    models = card.split("## Models", 1)[1]
    assert "| `learner@1` | built-in learner | 4 | 1 |" in models
    assert "| `llm@2` | LLM endpoint | 0 | 0 |" in models
    assert "| features | tf-idf \\| words |" in models  # escaped for the table
    assert "| model | gpt x |" in models
    assert "never labels" in models
    assert "- model predictions: included" in card


def test_it_shows_cross_validated_quality_and_agreement_with_gold(project):
    corpus(project)

    card = card_for(project)

    assert "| `stance_article` | 0.610 | 0.700 | 40 | false |" in card
    # gold support, support, deny, deny; model support, deny, deny, deny: 3 of 4 right,
    # kappa = (0.75 - 0.5) / 0.5 = 0.5.
    assert "| `learner@1` | `stance_article` | 4 | 0.750 | 0.500 |" in card


def test_predictions_never_enter_the_human_figures(project):
    corpus(project)

    with_models = card_for(project)
    without = card_for(project, predictions=False)

    assert (
        with_models.split("## Label distribution")[1].split("## Gold labels")[0]
        == (without.split("## Label distribution")[1].split("## Gold labels")[0])
    )
    assert "## Models" not in without
    assert "pred__" not in without


def test_fields_list_the_prediction_fields_per_format(project):
    corpus(project)

    assert "- `predictions`: per model" in card_for(project)
    assert "- `pred__MODEL__KEY`" in card_for(project, format=ExportFormat.CSV)


def test_a_project_without_models_has_no_models_section(project):
    make_comment(ArticleFactory(project=project))

    card = card_for(project)

    assert "## Models" not in card
    assert "`predictions`" not in card and "model predictions" not in card
