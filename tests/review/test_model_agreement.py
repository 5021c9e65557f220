"""A model's agreement with people, majority and gold, by depth, its confusion with gold,
and anchoring: known small cases checked against values worked out by hand."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotator.labelling.schemes import current_scheme_for
from annotator.review.agreement import cohen_kappa, krippendorff_alpha
from annotator.review.model_agreement import (
    majority,
    model_figures,
)
from tests.factories import (
    ArticleFactory,
    make_comment,
    make_gold_label,
    make_label,
    make_model,
    make_prediction,
    make_thread,
)
from tests.review.adjudication_data import REPLY, TOP, annotators

RESAMPLES = 200


@pytest.fixture
def article(project):
    return ArticleFactory(project=project)


@pytest.fixture
def people(project):
    return annotators(project, 3)


def figures(project, **options):
    scheme = current_scheme_for(project).scheme
    return model_figures(project, scheme, resamples=RESAMPLES, **options)


def question(project, key="stance_article", model=0):
    return next(q for q in figures(project)[model].questions if q.key == key)


def stance(value, reply=False):
    return {**(REPLY if reply else TOP), "stance_article": value}


@pytest.fixture
def model(project):
    return make_model(project)


def gold_and_model(model, article, reviewer, pairs, *, parent=None):
    """One comment per (gold, model) stance pair; returns the comments."""
    comments = []
    for gold, said in pairs:
        comment = make_comment(article, parent=parent)
        make_gold_label(comment, reviewer, stance(gold, reply=parent is not None))
        make_prediction(model, comment, "stance_article", said)
        comments.append(comment)
    return comments


def test_a_model_that_always_matches_gold_has_alpha_and_kappa_1(project, article, reviewer, model):
    gold_and_model(model, article, reviewer, [("support", "support"), ("deny", "deny")] * 3)
    vs_gold = question(project).gold["all"]
    assert vs_gold.alpha.value == pytest.approx(1.0)
    assert vs_gold.kappa.value == pytest.approx(1.0)
    assert vs_gold.percent.value == pytest.approx(1.0)
    assert vs_gold.units == 6
    assert vs_gold.kappa.low == pytest.approx(1.0)


def test_a_model_no_better_than_chance_has_kappa_0(project, article, reviewer, model):
    # Gold s s d d, model s d s d: half right, exactly what chance gives with these margins.
    pairs = [("support", "support"), ("support", "deny"), ("deny", "support"), ("deny", "deny")]
    gold_and_model(model, article, reviewer, pairs)
    vs_gold = question(project).gold["all"]
    assert vs_gold.kappa.value == pytest.approx(0.0)
    assert vs_gold.percent.value == pytest.approx(0.5)
    # The people's alpha on the same two coders: (n-1) Do / De by hand is 7/8 of 1.
    units = {i: {"model": said, "gold": gold} for i, (gold, said) in enumerate(pairs)}
    assert vs_gold.alpha.value == pytest.approx(krippendorff_alpha(units))
    assert vs_gold.alpha.value == pytest.approx(0.125)


def test_stale_predictions_never_count(project, article, reviewer, model):
    comments = gold_and_model(model, article, reviewer, [("support", "support")] * 3)
    wrong = gold_and_model(model, article, reviewer, [("support", "deny")] * 2)
    from annotator.assist.models import Prediction

    Prediction.objects.filter(comment__in=wrong).update(stale_since=timezone.now())
    vs_gold = question(project).gold["all"]
    assert vs_gold.units == len(comments)
    assert vs_gold.percent.value == pytest.approx(1.0)


def test_top_level_comments_and_replies_are_measured_apart(project, article, reviewer, model):
    tops = gold_and_model(
        model, article, reviewer, [("support", "support"), ("deny", "deny"), ("query", "query")]
    )
    gold_and_model(
        model,
        article,
        reviewer,
        [("support", "deny"), ("deny", "support"), ("query", "query")],
        parent=tops[0],
    )
    found = question(project)
    assert found.gold["top-level"].percent.value == pytest.approx(1.0)
    assert found.gold["top-level"].units == 3
    assert found.gold["replies"].percent.value == pytest.approx(1 / 3)
    assert found.gold["replies"].units == 3
    assert found.gold["all"].units == 6
    assert found.gold["all"].percent.value == pytest.approx(4 / 6)


def test_the_majority_drops_ties_and_single_labels():
    assert majority({1: "a", 2: "a", 3: "b"}) == "a"
    assert majority({1: "a", 2: "b"}) is None
    assert majority({1: "a"}) is None
    assert majority({1: "a", 2: "b", 3: "b", 4: "a"}) is None


def test_the_model_is_compared_with_the_majority_and_each_annotator(project, article, people):
    ann, bob, cy = people
    model = make_model(project)
    # (ann, bob, cy, model): majority support / support / tie (dropped) / deny.
    rows = [
        ("support", "support", "deny", "support"),
        ("support", "deny", "support", "deny"),
        ("support", "deny", None, "support"),
        ("deny", "deny", "deny", "deny"),
    ]
    for labels in rows:
        comment = make_comment(article)
        for person, label in zip(people, labels[:3], strict=True):
            if label is not None:
                make_label(comment, person, stance(label))
        make_prediction(model, comment, "stance_article", labels[3])
    found = question(project)
    assert found.majority["all"].units == 3
    assert found.majority["all"].percent.value == pytest.approx(2 / 3)
    by_person = {e.annotator_id: e for e in found.annotators}
    assert set(by_person) == {ann.pk, bob.pk, cy.pk}
    assert by_person[ann.pk].percent.value == pytest.approx(3 / 4)
    assert by_person[bob.pk].percent.value == pytest.approx(3 / 4)
    assert by_person[cy.pk].units == 3
    units = {
        i: {"model": r[3], "bob": r[1]} for i, r in enumerate(rows)
    }  # the people's kappa of the same pairs
    assert by_person[bob.pk].kappa.value == pytest.approx(cohen_kappa(units, "model", "bob"))
    assert found.gold["all"].units == 0
    assert found.gold["all"].alpha.value is None


def test_the_confusion_matrix_counts_model_labels_against_gold(project, article, reviewer, model):
    pairs = [("support", "support")] * 3 + [("support", "deny")] * 2 + [("deny", "deny")]
    gold_and_model(model, article, reviewer, pairs)
    assert question(project).confusion == {("support", "support"): 3, ("deny", "support"): 2,
                                           ("deny", "deny"): 1}  # fmt: skip


def test_only_values_the_current_scheme_has_are_compared(project, article, reviewer, model):
    comments = gold_and_model(model, article, reviewer, [("support", "support")] * 2)
    # A choice an older scheme had: left out, not counted as the model being wrong.
    gold_and_model(model, article, reviewer, [("support", "agree")])
    found = question(project)
    assert found.gold["all"].units == len(comments)
    assert found.gold["all"].percent.value == pytest.approx(1.0)


def test_a_multiple_choice_question_is_compared_choice_by_choice(project, article, reviewer):
    model = make_model(project)
    for gold, said in [(["link"], ["link"]), (["link", "media"], ["media"])]:
        comment = make_comment(article)
        make_gold_label(comment, reviewer, {**TOP, "source_cited": gold})
        make_prediction(model, comment, "source_cited", said)
    assert question(project, "source_cited=link").gold["all"].percent.value == 0.5
    assert question(project, "source_cited=media").gold["all"].percent.value == 1.0


def test_only_the_newest_version_of_each_model_is_measured(project, article, reviewer):
    old = make_model(project, "bert", version="1")
    new = make_model(project, "bert", version="2")
    for _ in range(2):
        comment = make_comment(article)
        make_gold_label(comment, reviewer, stance("support"))
        make_prediction(old, comment, "stance_article", "deny")
        make_prediction(new, comment, "stance_article", "support")
    (found,) = figures(project)
    assert found.labeller == new
    vs_gold = next(q for q in found.questions if q.key == "stance_article").gold["all"]
    assert vs_gold.percent.value == 1.0


def test_gold_a_move_sent_back_to_review_is_not_settled(project, article, reviewer, model):
    comments = gold_and_model(model, article, reviewer, [("support", "support")] * 3)
    from annotator.review.models import GoldLabel

    GoldLabel.objects.filter(comment=comments[0]).update(needs_review=True)
    assert question(project).gold["all"].units == 2


def test_a_project_without_models_has_no_figures(project, article):
    assert figures(project) == []


# -- reading -----------------------------------------------------------------------------------


def test_comments_with_gold_and_a_prediction_but_no_labels_count(project, article, people, model):
    reviewer = people[0]
    labelled = make_comment(article)
    make_label(labelled, people[1], stance("deny"))
    gold_and_model(model, article, reviewer, [("support", "support"), ("deny", "deny")])
    make_prediction(model, labelled, "stance_article", "deny")
    found = question(project)
    assert found.gold["all"].units == 2
    assert [e.units for e in found.annotators] == [1]


def models_project(slug: str, size: int):
    from tests.factories import ProjectFactory

    project = ProjectFactory(slug=slug)
    people = annotators(project, 2, prefix=f"{slug}-")
    thread = make_thread(ArticleFactory(project=project), size)
    model = make_model(project)
    for index, comment in enumerate(thread):
        answers = stance(["support", "deny"][index % 2], reply=comment.parent_id is not None)
        for person in people:
            make_label(comment, person, answers)
        make_prediction(model, comment, "stance_article", "support")
        if index % 3 == 0:
            make_gold_label(comment, people[0], answers)
    return project


def test_the_figures_read_with_the_same_queries_for_10_or_60_comments(db):
    counts = []
    for slug, size in (("small", 10), ("large", 60)):
        project = models_project(slug, size)
        scheme = current_scheme_for(project).scheme
        with CaptureQueriesContext(connection) as queries:
            found = model_figures(project, scheme, resamples=RESAMPLES)
        assert found[0].questions[0].majority["all"].units == size
        counts.append(len(queries))
    # Models, their versions, the labels, the predictions and gold.
    assert counts == [5, 5]
