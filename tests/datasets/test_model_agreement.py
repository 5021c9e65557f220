"""A model's agreement with gold for the card: accuracy and Cohen's kappa, counted as rows
stream."""

import pytest

from annotator.datasets.model_agreement import (
    ModelGoldCounter,
    cohens_kappa,
    model_agreement_for_card,
)
from annotator.labelling.default_scheme import default_scheme


def questions():
    return default_scheme().questions


def prediction(answer):
    return {"answer": answer, "confidence": 0.5}


def test_kappa_matches_the_textbook_example():
    # Two raters, yes/no: 20 yes-yes, 5 yes-no, 10 no-yes, 15 no-no (Wikipedia's example).
    pairs = {("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15}

    assert cohens_kappa(pairs) == pytest.approx(0.4, abs=1e-4)


def test_kappa_is_undefined_when_both_always_give_the_same_single_answer():
    assert cohens_kappa({("yes", "yes"): 7}) is None
    assert cohens_kappa({}) is None


def test_counter_compares_only_questions_with_a_gold_answer_and_whole_choice_sets():
    counter = ModelGoldCounter(questions())
    counter.add(
        {"stance_article": "support", "source_cited": ["none", "reasoning"]},
        {
            "m@1": {
                "stance_article": prediction("support"),
                "source_cited": prediction(["reasoning", "none"]),  # same set, other order
                "claim_type": prediction("fact"),  # no gold answer: not compared
            }
        },
    )
    counter.add(
        {"stance_article": "deny", "source_cited": ["none"]},
        {"m@1": {"stance_article": prediction("support"), "source_cited": prediction(["none"])}},
    )

    figures = {(f.model, f.question): f for f in model_agreement_for_card(counter)}

    assert set(figures) == {("m@1", "stance_article"), ("m@1", "source_cited")}
    assert figures[("m@1", "stance_article")].comments == 2
    assert figures[("m@1", "stance_article")].accuracy == 0.5
    assert figures[("m@1", "source_cited")].accuracy == 1.0
    assert [f.question for f in model_agreement_for_card(counter)] == [
        "stance_article",
        "source_cited",
    ]


def test_no_gold_gives_no_figures():
    counter = ModelGoldCounter(questions())
    counter.add({}, {"m@1": {"stance_article": prediction("support")}})

    assert model_agreement_for_card(counter) == []
