"""A model's answers are checked against the scheme whole: any part that does not fit
refuses the prediction, with a reason naming the question."""

import math

import pytest

from annotator.assist.answers import PredictionError, check_answers
from annotator.labelling.default_scheme import default_scheme


@pytest.fixture
def scheme():
    return default_scheme()


def test_answers_that_fit_the_scheme_are_kept_with_their_confidences(scheme):
    checked = check_answers(
        scheme,
        {"stance_article": "deny", "source_cited": ["link", "named_source"]},
        {"stance_article": 0.75},
    )
    assert [(c.question, c.answer, c.confidence) for c in checked] == [
        ("stance_article", "deny", 0.75),
        ("source_cited", ["link", "named_source"], None),
    ]


@pytest.mark.parametrize(
    ("answers", "confidences", "reason"),
    [
        ({"stance_article": "maybe"}, None, "'stance_article': not a choice: maybe."),
        ({"nonsense": "deny"}, None, "The scheme has no question 'nonsense'."),
        ({"stance_article": ["deny"]}, None, "'stance_article' takes one choice, as a string."),
        ({"source_cited": ["none", "link"]}, None, "'none' cannot be combined"),
        ({"stance_article": "deny"}, {"stance_article": 1.5}, "from 0 to 1, not 1.5"),
        ({"stance_article": "deny"}, {"stance_article": math.nan}, "must be a number"),
        ({"stance_article": "deny"}, {"stance_article": True}, "must be a number"),
        ({"stance_article": "deny"}, {"claim_type": 0.4}, "a question not answered: claim_type"),
        ({}, None, "at least one answer"),
        (["deny"], None, "must be an object"),
    ],
)
def test_an_answer_that_does_not_fit_refuses_the_whole_prediction(
    scheme, answers, confidences, reason
):
    with pytest.raises(PredictionError, match=None) as refused:
        check_answers(scheme, answers, confidences)
    assert reason in str(refused.value)


def test_a_question_for_replies_only_is_refused_for_a_top_level_comment(scheme):
    with pytest.raises(PredictionError, match="asked only of replies"):
        check_answers(scheme, {"stance_parent": "support"}, is_reply=False)
    assert check_answers(scheme, {"stance_parent": "support"}, is_reply=True)[0].answer == "support"
