"""The scheme and guidelines a new project starts with (values from /work/shared/scheme.md)."""

import pytest

from annotator.labelling.default_scheme import (
    DEFAULT_SCHEME_DATA,
    default_scheme,
    guidelines_from_scheme,
)
from annotator.labelling.scheme import RESERVED_KEYS, Kind, Target, parse_scheme, scheme_to_data

STANCE = ["support", "deny", "query", "comment"]
EXPECTED_VALUES = {
    "stance_article": STANCE,
    "stance_parent": STANCE,
    "claim_type": [
        "factual",
        "prediction",
        "opinion",
        "policy",
        "personal_experience",
        "question",
        "no_claim",
    ],
    "checkworthy": ["yes", "no"],
    "speculation": ["certain", "somewhat_certain", "uncertain", "not_applicable"],
    "source_cited": [
        "link",
        "named_source",
        "article",
        "unnamed_source",
        "first_hand",
        "media",
        "reasoning",
        "none",
    ],
}


def test_it_parses_with_the_questions_of_the_scheme_document_in_order():
    scheme = default_scheme()
    assert [q.key for q in scheme.questions] == list(EXPECTED_VALUES)
    for question in scheme.questions:
        assert [c.value for c in question.choices] == EXPECTED_VALUES[question.key]


def test_it_asks_each_question_in_the_documented_way():
    scheme = default_scheme()
    assert scheme.question("stance_article").target == Target.ARTICLE
    parent = scheme.question("stance_parent")
    assert (parent.target, parent.replies_only) == (Target.PARENT, True)
    checkworthy = scheme.question("checkworthy")
    assert (checkworthy.kind, checkworthy.required) == (Kind.YES_NO, False)
    assert checkworthy.show_if.question == "claim_type"
    assert set(checkworthy.show_if.values) == {"factual", "prediction"}
    sources = scheme.question("source_cited")
    assert sources.kind == Kind.MULTIPLE
    assert [c.value for c in sources.choices if c.exclusive] == ["none"]
    assert all(
        q.kind == Kind.SINGLE
        for q in scheme.questions
        if q.key in {"stance_article", "stance_parent", "claim_type", "speculation"}
    )


@pytest.mark.parametrize("key", list(EXPECTED_VALUES))
def test_every_choice_has_its_own_key_that_the_workspace_does_not_keep(key):
    question = default_scheme().question(key)
    keys = [c.key for c in question.choices]
    assert all(keys)
    assert len(set(keys)) == len(keys)
    assert not set(keys) & RESERVED_KEYS


def test_it_survives_a_round_trip_through_its_stored_form():
    scheme = default_scheme()
    assert parse_scheme(DEFAULT_SCHEME_DATA) == scheme
    assert parse_scheme(scheme_to_data(scheme)) == scheme


def test_the_guidelines_mention_every_question_and_value_with_its_key():
    scheme = default_scheme()
    text = guidelines_from_scheme(scheme)
    for question in scheme.questions:
        assert f"{question.title} (`{question.key}`)" in text
        for choice in question.choices:
            assert f"**{choice.label}** (`{choice.value}`, key {choice.key})" in text


def test_the_guidelines_say_which_questions_are_optional_and_keep_the_rules():
    text = guidelines_from_scheme(default_scheme())
    checkworthy_section = text.split("(`checkworthy`)")[1].split("\n## ")[0]
    assert "Yes or no. Optional." in checkworthy_section
    assert "Pick every one that applies." in text.split("(`source_cited`)")[1]
    assert "## General rules" in text
