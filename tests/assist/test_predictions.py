"""Predictions are written in bulk and replace the same version's earlier answers."""

import pytest

from annotator.assist.answers import CheckedAnswer
from annotator.assist.models import Prediction
from annotator.assist.predictions import PredictionItem, write_predictions
from tests.factories import ArticleFactory, make_comment, make_model

pytestmark = pytest.mark.django_db


def test_a_second_answer_of_the_same_version_replaces_the_first_and_clears_staleness(project):
    from django.utils import timezone

    comment = make_comment(ArticleFactory(project=project))
    model = make_model(project)
    write_predictions(
        model,
        [PredictionItem(comment.pk, [CheckedAnswer("stance_article", "deny", 0.4)])],
        scheme_version=1,
    )
    Prediction.objects.update(stale_since=timezone.now())

    written = write_predictions(
        model,
        [PredictionItem(comment.pk, [CheckedAnswer("stance_article", "support", 0.9)])],
        scheme_version=2,
    )

    assert written == 1
    (stored,) = Prediction.objects.all()
    assert (stored.answer, stored.confidence, stored.scheme_version) == ("support", 0.9, 2)
    assert stored.stale_since is None


def test_the_newest_version_of_each_model_name_is_the_one_in_use(project):
    from annotator.assist.models import MachineLabeller

    make_model(project, "learner", version="1")
    newest = make_model(project, "learner", version="2")
    other = make_model(project, "gpt", version="a")

    assert list(MachineLabeller.objects.filter(project=project).newest()) == [other, newest]


def test_one_batch_naming_a_question_twice_keeps_its_last_answer(project):
    comment = make_comment(ArticleFactory(project=project))
    model = make_model(project)
    write_predictions(
        model,
        [
            PredictionItem(comment.pk, [CheckedAnswer("stance_article", "deny", 0.4)]),
            PredictionItem(comment.pk, [CheckedAnswer("stance_article", "query", 0.6)]),
        ],
        scheme_version=1,
    )

    (stored,) = Prediction.objects.all()
    assert (stored.answer, stored.confidence) == ("query", 0.6)


def test_answers_of_every_kind_are_stored_as_given(project):
    comment = make_comment(ArticleFactory(project=project))
    model = make_model(project)
    written = [
        CheckedAnswer("source_cited", ["link", "named_source"], None),
        CheckedAnswer("stance_article", "deny", 1.0),
    ]
    write_predictions(
        model,
        [PredictionItem(comment.pk, written, prompt_version="p1", raw_response="{}")],
        scheme_version=3,
    )

    stored = {p.question: p for p in Prediction.objects.all()}
    assert stored["source_cited"].answer == ["link", "named_source"]
    assert stored["source_cited"].confidence is None
    assert (stored["stance_article"].prompt_version, stored["stance_article"].scheme_version) == (
        "p1",
        3,
    )
