"""Parsing scheme definitions and checking answers against them: plain data, no database."""

import copy

import pytest

from annotator.labelling.scheme import (
    FORM_FIELD_NAMES,
    RESERVED_KEYS,
    Kind,
    SchemeError,
    Target,
    clean_answers,
    missing_answers,
    parse_scheme,
    scheme_to_data,
)


def single(key="stance", **fields):
    question = {
        "key": key,
        "title": "Stance",
        "kind": "single",
        "choices": [{"value": "support"}, {"value": "deny"}],
    }
    question.update(fields)
    return question


def scheme_of(*questions):
    return parse_scheme({"questions": list(questions)})


SMALL = {
    "questions": [
        single("stance", target="article"),
        {
            "key": "claim",
            "title": "Claim",
            "kind": "single",
            "choices": [{"value": "factual"}, {"value": "opinion"}, {"value": "no_claim"}],
        },
        {
            "key": "checkworthy",
            "title": "Check-worthy?",
            "kind": "yes_no",
            "required": False,
            "show_if": {"question": "claim", "in": ["factual"]},
        },
        single("parent_stance", target="parent"),
        {
            "key": "sources",
            "title": "Sources",
            "kind": "multiple",
            "choices": [
                {"value": "link"},
                {"value": "named_source"},
                {"value": "none", "exclusive": True, "key": "0"},
            ],
        },
        {"key": "note_text", "title": "Why?", "kind": "text", "required": False},
    ]
}


# --- parse_scheme: what it reads ---------------------------------------------------------------


def test_it_reads_a_scheme_with_defaults_filled_in():
    scheme = parse_scheme(SMALL)
    stance = scheme.question("stance")
    assert stance.kind == Kind.SINGLE
    assert stance.target == Target.ARTICLE
    assert stance.required is True
    assert stance.replies_only is False
    assert [(c.value, c.label, c.key) for c in stance.choices] == [
        ("support", "Support", "1"),
        ("deny", "Deny", "2"),
    ]


def test_it_gives_yes_no_questions_their_two_choices():
    checkworthy = parse_scheme(SMALL).question("checkworthy")
    assert [(c.value, c.key) for c in checkworthy.choices] == [("yes", "y"), ("no", "n")]
    assert checkworthy.required is False


def test_it_asks_parent_questions_only_for_replies_unless_told_otherwise():
    assert parse_scheme(SMALL).question("parent_stance").replies_only is True
    told = scheme_of(single(target="parent", replies_only=False))
    assert told.question("stance").replies_only is False


def test_it_numbers_choices_without_a_key_around_the_keys_given():
    question = scheme_of(
        single(choices=[{"value": "a"}, {"value": "b", "key": "1"}, {"value": "c", "key": " "}])
    ).question("stance")
    assert [c.key for c in question.choices] == ["2", "1", "3"]


def test_it_strips_text_and_makes_a_label_from_the_value():
    question = scheme_of(
        single(title="  Stance  ", choices=[{"value": "no_claim"}, {"value": "x"}])
    ).question("stance")
    assert question.title == "Stance"
    assert question.choices[0].label == "No claim"


# --- parse_scheme: every refusal and its message -------------------------------------------


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ([], "A scheme is an object with a list of 'questions'."),
        ({"questions": "stance"}, "A scheme is an object with a list of 'questions'."),
        ({}, "A scheme is an object with a list of 'questions'."),
        ({"questions": []}, "A scheme needs at least one question."),
        ({"questions": ["stance"]}, "Question 1: must be an object."),
        ({"questions": [{"title": "T", "kind": "text"}]}, "Question 1: 'key' is required."),
        ({"questions": [single(key=7)]}, "Question 1: 'key' must be text."),
        ({"questions": [single(key="x" * 51)]}, "Question 1: 'key' is longer than 50 characters."),
    ],
)
def test_it_refuses_a_badly_shaped_scheme(definition, message):
    with pytest.raises(SchemeError) as error:
        parse_scheme(definition)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("question", "message"),
    [
        (
            single(key="Stance"),
            "Question 'Stance': a key starts with a letter and uses lower-case letters, "
            "digits and '_'.",
        ),
        (
            single(key="1st"),
            "Question '1st': a key starts with a letter and uses lower-case letters, "
            "digits and '_'.",
        ),
        (
            single(key="note"),
            "Question 'note': 'note' is a name the workspace form uses; pick another.",
        ),
        (
            single(kind="scale"),
            "Question 'stance': 'kind' must be one of single, multiple, yes_no, text.",
        ),
        (
            single(kind=None),
            "Question 'stance': 'kind' must be one of single, multiple, yes_no, text.",
        ),
        (
            single(target="thread"),
            "Question 'stance': 'target' must be one of comment, article, parent.",
        ),
        (single(title=""), "Question 'stance': 'title' is required."),
        (single(title=["T"]), "Question 'stance': 'title' must be text."),
        (single(title="T" * 201), "Question 'stance': 'title' is longer than 200 characters."),
        (single(help="h" * 2001), "Question 'stance': 'help' is longer than 2000 characters."),
        (single(required="yes"), "Question 'stance': 'required' must be true or false."),
        (single(replies_only=1), "Question 'stance': 'replies_only' must be true or false."),
        (single(choices=[]), "Question 'stance': needs a list of choices."),
        (single(choices={"value": "a"}), "Question 'stance': needs a list of choices."),
        (
            {"key": "why", "title": "Why", "kind": "text", "choices": [{"value": "a"}]},
            "Question 'why': a free-text question has no choices.",
        ),
        (
            single(kind="yes_no", choices=[{"value": "yes"}, {"value": "maybe"}]),
            "Question 'stance': a yes/no question has the choices 'yes' and 'no'.",
        ),
        (
            single(choices=["support"]),
            "Question 'stance', choice: a choice must be an object.",
        ),
        (
            single(choices=[{"label": "Support"}]),
            "Question 'stance', choice: 'value' is required.",
        ),
        (
            single(choices=[{"value": "Support"}]),
            "Question 'stance', choice 'Support': a value uses lower-case letters, digits, "
            "'_' and '-' (at most 50).",
        ),
        (
            single(choices=[{"value": "a", "key": "12"}]),
            "Question 'stance', choice 'a': 'key' is longer than 1 characters.",
        ),
        (
            single(choices=[{"value": "a", "label": "L" * 101}]),
            "Question 'stance', choice 'a': 'label' is longer than 100 characters.",
        ),
        (
            single(choices=[{"value": "a", "exclusive": "yes"}]),
            "Question 'stance', choice 'a': 'exclusive' must be true or false.",
        ),
        (
            single(choices=[{"value": "a"}, {"value": "a"}]),
            "Question 'stance': two choices share a value.",
        ),
        (
            single(choices=[{"value": "a", "key": "x"}, {"value": "b", "key": "x"}]),
            "Question 'stance': two choices share a keyboard key.",
        ),
        (
            single(choices=[{"value": "a", "exclusive": True}, {"value": "b"}]),
            "Question 'stance': only a multiple-choice question has exclusive choices.",
        ),
        (
            single(show_if="claim"),
            "Question 'stance': 'show_if' needs a 'question' and a list 'in'.",
        ),
        (
            single(show_if={"in": ["a"]}),
            "Question 'stance': 'show_if' needs a 'question' and a list 'in'.",
        ),
        (
            single(show_if={"question": "claim", "in": "factual"}),
            "Question 'stance': 'show_if' needs a list of values in 'in'.",
        ),
        (
            single(show_if={"question": "claim", "in": [1]}),
            "Question 'stance': 'show_if' needs a list of values in 'in'.",
        ),
    ],
)
def test_it_refuses_a_bad_question_naming_it_and_the_field(question, message):
    with pytest.raises(SchemeError) as error:
        scheme_of(question)
    assert str(error.value) == message


@pytest.mark.parametrize("key", sorted(RESERVED_KEYS))
def test_it_refuses_choice_keys_the_workspace_keeps(key):
    with pytest.raises(SchemeError, match=r"is kept for the workspace; pick another\."):
        scheme_of(single(choices=[{"value": "a", "key": key}]))


@pytest.mark.parametrize("name", sorted(FORM_FIELD_NAMES))
def test_it_refuses_question_keys_the_workspace_form_uses(name):
    with pytest.raises(SchemeError, match="is a name the workspace form uses"):
        scheme_of(single(key=name))


def test_it_refuses_two_questions_with_one_key():
    with pytest.raises(SchemeError) as error:
        scheme_of(single(), single())
    assert str(error.value) == "Question 'stance': two questions share this key."


def test_it_refuses_a_condition_on_a_question_below_or_missing():
    later = single("later", show_if={"question": "stance", "in": ["support"]})
    with pytest.raises(SchemeError) as error:
        scheme_of(later, single())
    assert str(error.value) == "Question 'later': 'show_if' must name a question above it."


def test_it_refuses_a_condition_on_values_the_question_does_not_have():
    later = single("later", show_if={"question": "stance", "in": ["support", "maybe", "agree"]})
    with pytest.raises(SchemeError) as error:
        scheme_of(single(), later)
    assert str(error.value) == "Question 'later': 'stance' has no choice agree, maybe."


# --- scheme_to_data --------------------------------------------------------------------------


def test_it_writes_a_scheme_back_as_data_that_reads_the_same():
    scheme = parse_scheme(SMALL)
    data = scheme_to_data(scheme)
    assert parse_scheme(data) == scheme
    assert scheme_to_data(parse_scheme(data)) == data


def test_it_writes_only_what_differs_from_the_defaults():
    data = scheme_to_data(parse_scheme(SMALL))
    by_key = {q["key"]: q for q in data["questions"]}
    assert "required" not in by_key["stance"]
    assert by_key["checkworthy"]["required"] is False
    assert "replies_only" not in by_key["parent_stance"]
    assert by_key["sources"]["choices"][2] == {
        "value": "none",
        "label": "None",
        "key": "0",
        "exclusive": True,
    }
    assert "choices" not in by_key["note_text"]
    assert by_key["checkworthy"]["show_if"] == {"question": "claim", "in": ["factual"]}


def test_it_does_not_change_the_definition_it_reads():
    definition = copy.deepcopy(SMALL)
    parse_scheme(definition)
    assert definition == SMALL


# --- clean_answers and missing_answers ----------------------------------------------------------


@pytest.fixture
def scheme():
    return parse_scheme(SMALL)


def test_it_keeps_valid_answers_and_trims_text(scheme):
    answers, errors = clean_answers(
        scheme,
        {"stance": "support", "claim": "opinion", "sources": ["link"], "note_text": "  why  "},
        is_reply=False,
    )
    assert errors == {}
    assert answers == {
        "stance": "support",
        "claim": "opinion",
        "sources": ["link"],
        "note_text": "why",
    }


def test_it_reports_values_that_are_not_choices(scheme):
    answers, errors = clean_answers(
        scheme, {"stance": "agree", "sources": ["link", "tv"]}, is_reply=False
    )
    assert answers == {}
    assert errors == {"stance": "Not a choice: agree.", "sources": "Not a choice: tv."}


def test_it_wants_one_value_for_a_single_choice(scheme):
    _, errors = clean_answers(scheme, {"stance": ["support", "deny"]}, is_reply=False)
    assert errors == {"stance": "Pick one choice."}


def test_it_refuses_an_exclusive_choice_combined_with_others(scheme):
    answers, errors = clean_answers(scheme, {"sources": ["none", "link"]}, is_reply=False)
    assert "sources" not in answers
    assert errors == {"sources": "“None” cannot be combined with other choices."}
    answers, errors = clean_answers(scheme, {"sources": ["none"]}, is_reply=False)
    assert (answers, errors) == ({"sources": ["none"]}, {})


def test_it_accepts_a_single_string_for_multiple_choice_and_drops_repeats(scheme):
    answers, _ = clean_answers(scheme, {"sources": "link"}, is_reply=False)
    assert answers == {"sources": ["link"]}
    answers, _ = clean_answers(scheme, {"sources": ["link", "link", ""]}, is_reply=False)
    assert answers == {"sources": ["link"]}


def test_it_limits_free_text(scheme):
    _, errors = clean_answers(scheme, {"note_text": "x" * 501}, is_reply=False)
    assert errors == {"note_text": "At most 500 characters."}


def test_it_drops_answers_to_questions_that_are_not_shown(scheme):
    answers, _ = clean_answers(
        scheme,
        {"claim": "opinion", "checkworthy": "yes", "parent_stance": "deny"},
        is_reply=False,
    )
    assert answers == {"claim": "opinion"}
    answers, _ = clean_answers(
        scheme,
        {"claim": "factual", "checkworthy": "yes", "parent_stance": "deny"},
        is_reply=True,
    )
    assert answers == {"claim": "factual", "checkworthy": "yes", "parent_stance": "deny"}


def test_it_keeps_a_value_from_an_earlier_version_only_as_it_was(scheme):
    kept = {"stance": "query", "sources": ["unnamed_source"]}
    answers, errors = clean_answers(
        scheme,
        {"stance": "query", "sources": ["unnamed_source", "link"]},
        is_reply=False,
        kept=kept,
    )
    assert errors == {}
    assert answers == {"stance": "query", "sources": ["unnamed_source", "link"]}
    _, errors = clean_answers(scheme, {"stance": "comment"}, is_reply=False, kept=kept)
    assert errors == {"stance": "Not a choice: comment."}


def test_it_lists_required_questions_that_are_shown_and_unanswered(scheme):
    assert missing_answers(scheme, {}, is_reply=False) == ["stance", "claim", "sources"]
    assert missing_answers(scheme, {}, is_reply=True) == [
        "stance",
        "claim",
        "parent_stance",
        "sources",
    ]
    done = {"stance": "deny", "claim": "factual", "sources": ["none"]}
    # checkworthy is shown now, but optional
    assert missing_answers(scheme, done, is_reply=False) == []
    assert missing_answers(scheme, {**done, "sources": []}, is_reply=False) == ["sources"]


def test_it_asks_a_conditional_required_question_only_when_its_condition_holds():
    scheme = scheme_of(
        single("claim", choices=[{"value": "factual"}, {"value": "opinion"}]),
        single("certainty", show_if={"question": "claim", "in": ["factual"]}),
    )
    assert missing_answers(scheme, {"claim": "opinion"}, is_reply=False) == []
    assert missing_answers(scheme, {"claim": "factual"}, is_reply=False) == ["certainty"]
