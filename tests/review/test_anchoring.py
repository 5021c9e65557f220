"""Anchoring: how often annotators keep a pre-selected answer against how often they agree
with the model unseen, and the Wilson and Newcombe intervals, on known small cases."""

from __future__ import annotations

import pytest

from annotator.labelling.schemes import current_scheme_for
from annotator.review.anchoring import Rate, difference_interval, wilson_interval
from annotator.review.model_agreement import model_figures
from tests.factories import ArticleFactory, make_comment, make_label, make_model, make_prediction
from tests.review.adjudication_data import TOP, annotators


@pytest.fixture
def article(project):
    return ArticleFactory(project=project)


@pytest.fixture
def people(project):
    return annotators(project, 3)


def figures(project):
    return model_figures(project, current_scheme_for(project).scheme, resamples=50)


def stance(value):
    return {**TOP, "stance_article": value}


def suggested(model, answer, mode):
    return {"model": model.pk, "label": model.label, "answer": answer, "confidence": 0.9,
            "mode": mode, "equals": False}  # fmt: skip


def test_anchoring_compares_kept_preselected_answers_with_agreement_when_not_shown(
    project, article, people
):
    model = make_model(project)
    # Pre-selected on 4 annotations, kept on 3.
    for index, kept in enumerate([True, True, True, False]):
        comment = make_comment(article)
        make_prediction(model, comment, "stance_article", "support")
        answer = "support" if kept else "deny"
        make_label(
            comment,
            people[index % 3],
            stance(answer),
            suggestions={"stance_article": suggested(model, "support", "preselect")},
        )
    # Not shown first on 5 annotations (2 shown after, 3 with nothing recorded): equal on 2.
    for index, (answer, mode) in enumerate(
        [("support", "after"), ("deny", "after"), ("support", None), ("deny", None),
         ("query", None)]
    ):  # fmt: skip
        comment = make_comment(article)
        make_prediction(model, comment, "stance_article", "support")
        shown = {"stance_article": suggested(model, "support", mode)} if mode else {}
        make_label(comment, people[index % 3], stance(answer), suggestions=shown)
    rates = {a.question: a for a in figures(project)[0].anchoring}
    found = rates["stance_article"]
    assert (found.preselected.kept, found.preselected.total) == (3, 4)
    assert (found.not_shown.kept, found.not_shown.total) == (2, 5)
    assert found.difference == pytest.approx(0.75 - 0.4)
    low, high = found.difference_interval
    assert low < found.difference < high
    # Questions the model never answered: nothing either way.
    assert rates["claim_type"].preselected.total == 0
    assert rates["claim_type"].not_shown.total == 0


def test_a_suggestion_from_an_older_version_counts_for_its_model(project, article, people):
    old = make_model(project, "bert", version="1")
    new = make_model(project, "bert", version="2")
    comment = make_comment(article)
    make_label(
        comment,
        people[0],
        stance("deny"),
        suggestions={"stance_article": suggested(old, "deny", "preselect")},
    )
    (found,) = figures(project)
    assert found.labeller == new
    rate = next(a for a in found.anchoring if a.question == "stance_article").preselected
    assert (rate.kept, rate.total) == (1, 1)


def test_wilson_and_newcombe_intervals_match_published_values():
    low, high = wilson_interval(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    assert wilson_interval(0, 0) == (None, None)
    # Newcombe (1998), table II, example (a): 56/70 against 48/80.
    low, high = difference_interval(Rate(56, 70), Rate(48, 80))
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)
    assert difference_interval(Rate(1, 2), Rate(0, 0)) == (None, None)


def test_in_mode_after_the_answer_before_the_suggestion_is_what_counts(project, article, people):
    model = make_model(project)
    comment = make_comment(article)
    make_prediction(model, comment, "stance_article", "support")
    # Answered "deny", saw the model say "support", then changed to "support".
    entry = {**suggested(model, "support", "after"), "before": "deny", "equals": True}
    make_label(comment, people[0], stance("support"), suggestions={"stance_article": entry})
    rate = next(a for a in figures(project)[0].anchoring if a.question == "stance_article")
    assert (rate.not_shown.kept, rate.not_shown.total) == (0, 1)
