"""A model's answer about a comment's parent is set aside when the comment moves."""

import pytest

from annotator.assist.models import Prediction
from tests.factories import ArticleFactory, make_comment, make_model, make_prediction

pytestmark = pytest.mark.django_db


def test_moving_a_comment_marks_its_predictions_about_the_parent_stale_and_no_others(project):
    article = ArticleFactory(project=project)
    first = make_comment(article)
    second = make_comment(article)
    reply = make_comment(article, parent=first)
    model = make_model(project)
    make_prediction(model, reply, "stance_parent", "deny", 0.9)
    make_prediction(model, reply, "stance_article", "support", 0.8)

    reply.move_under(second)

    by_question = {p.question: p for p in Prediction.objects.filter(comment=reply)}
    assert by_question["stance_parent"].stale_since is not None
    assert by_question["stance_article"].stale_since is None


def test_the_move_confirmation_says_how_many_predictions_it_sets_aside(project):
    from annotator.corpus.moves import impact_of_move

    article = ArticleFactory(project=project)
    first, second = make_comment(article), make_comment(article)
    reply = make_comment(article, parent=first)
    model = make_model(project)
    make_prediction(model, reply, "stance_parent", "deny", 0.9)
    make_prediction(model, reply, "stance_article", "support", 0.8)

    impact = impact_of_move(reply, second)

    assert impact.predictions == 1 and not impact.is_empty
    assert impact.describe("#3", "#2") == (
        "Moving #3 under #2 sets aside 1 model prediction about its parent."
    )
