"""The form editor's draft, without a database: reading fields, the buttons' edits, the
messages beside fields, and the definition a draft becomes."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from annotator.labelling.default_scheme import default_scheme
from annotator.labelling.scheme import SchemeError, parse_scheme, scheme_to_data
from annotator.labelling.scheme_editor import (
    MAX_CHOICES,
    MAX_QUESTIONS,
    ChoiceDraft,
    Draft,
    DraftError,
    QuestionDraft,
    apply_edit,
    definition_from_draft,
    draft_from_definition,
    draft_from_post,
    field_errors,
    fit_choices_to_kind,
    prepare_for_display,
)


def as_post(draft: Draft) -> QueryDict:
    """The fields the editor's page sends for ``draft`` (what a browser would post)."""
    post = QueryDict(mutable=True)
    for q in draft.questions:
        post.appendlist("question", q.id)
        for name in ("key", "title", "kind", "help", "target", "show_if"):
            post[f"{q.id}-{name}"] = getattr(q, name)
        if q.required:
            post[f"{q.id}-required"] = "on"
        if q.replies_only:
            post[f"{q.id}-replies_only"] = "on"
        post.setlist(f"{q.id}-show_if_in", q.show_if_in)
        for c in q.choices:
            post.appendlist(f"{q.id}-choice", c.id)
            for name in ("value", "label", "description", "example", "key"):
                post[f"{c.id}-{name}"] = getattr(c, name)
            if c.exclusive:
                post[f"{c.id}-exclusive"] = "on"
    return post


def two_questions() -> Draft:
    return Draft(
        [
            QuestionDraft(
                "q1",
                key="claim",
                title="Claim",
                choices=[ChoiceDraft("c2", "fact", "Fact", key="1"), ChoiceDraft("c3", "none")],
            ),
            QuestionDraft(
                "q4",
                key="check",
                title="Check it?",
                kind="yes_no",
                show_if="q1",
                show_if_in=["c2"],
                choices=[ChoiceDraft("c5", "yes", "Yes", key="y"), ChoiceDraft("c6", "no")],
            ),
        ]
    )


def test_the_default_scheme_goes_through_the_form_and_comes_back_the_same():
    draft = draft_from_post(as_post(draft_from_definition(default_scheme())))
    assert field_errors(draft) == {}
    assert parse_scheme(definition_from_draft(draft)) == default_scheme()
    assert scheme_to_data(parse_scheme(definition_from_draft(draft))) == scheme_to_data(
        default_scheme()
    )


def test_a_condition_names_its_question_and_answers_by_key_and_value():
    definition = definition_from_draft(two_questions())
    assert definition["questions"][1]["show_if"] == {"question": "claim", "in": ["fact"]}


def test_renaming_a_key_or_value_keeps_the_condition_on_it():
    draft = two_questions()
    draft.questions[0].key = "claim_type"
    draft.questions[0].choices[0].value = "factual"
    condition = parse_scheme(definition_from_draft(draft)).questions[1].show_if
    assert (condition.question, condition.values) == ("claim_type", ("factual",))


def test_the_order_of_the_fields_sent_is_the_order_of_questions_and_choices():
    post = as_post(two_questions())
    post.setlist("question", ["q4", "q1"])
    post.setlist("q1-choice", ["c3", "c2"])
    draft = draft_from_post(post)
    assert [q.key for q in draft.questions] == ["check", "claim"]
    assert [c.value for c in draft.questions[1].choices] == ["none", "fact"]
    # The condition now points below its question: said beside the menu.
    assert field_errors(draft) == {"q4-show_if": "Move this question below the one it depends on."}


def test_adding_a_question_gives_it_a_fresh_id_and_one_empty_choice():
    draft = two_questions()
    focus = apply_edit(draft, "add-question")
    new = draft.questions[-1]
    assert (new.id, focus, [c.id for c in new.choices]) == ("q7", "q7-key", ["c8"])


def test_adding_a_choice_focuses_its_value():
    draft = two_questions()
    assert apply_edit(draft, "add-choice:q1") == "c7-value"
    assert [c.id for c in draft.questions[0].choices] == ["c2", "c3", "c7"]


def test_moving_a_question_keeps_the_focus_on_the_button_unless_at_the_edge():
    draft = two_questions()
    draft.questions.append(QuestionDraft("q9", key="third", title="Third"))
    assert apply_edit(draft, "down:q1") == "q1-down"
    assert [q.id for q in draft.questions] == ["q4", "q1", "q9"]
    assert apply_edit(draft, "down:q1") == "q1-up"  # now last: its Move down is disabled
    assert apply_edit(draft, "up:q1") == "q1-up"
    assert apply_edit(draft, "up:q1") == "q1-down"  # now first: its Move up is disabled
    assert draft.questions[0].id == "q1"


def test_moving_a_choice_and_removing_one():
    draft = two_questions()
    assert apply_edit(draft, "choice-down:c2") == "c2-down"
    assert [c.id for c in draft.questions[0].choices] == ["c3", "c2"]
    assert apply_edit(draft, "remove-choice:c2") == "q1-add-choice"
    assert [c.id for c in draft.questions[0].choices] == ["c3"]
    assert draft.questions[1].show_if_in == []  # the answer it depended on is gone


def test_removing_a_question_drops_the_conditions_on_it():
    draft = two_questions()
    assert apply_edit(draft, "remove-question:q1") == "q4-title"
    assert (draft.questions[0].show_if, draft.questions[0].show_if_in) == ("", [])
    assert apply_edit(draft, "remove-question:q4") == "add-question"
    assert draft.questions == []


def test_an_edit_naming_an_unknown_id_changes_nothing():
    draft = two_questions()
    before = definition_from_draft(draft)
    for op in ("up:q99", "remove-question:q99", "remove-choice:c99", "choice-up:c99", "x"):
        apply_edit(draft, op)
    assert definition_from_draft(draft) == before


def test_choosing_yes_or_no_gives_the_choices_yes_and_no_and_free_text_none():
    draft = two_questions()
    draft.questions[0].kind = "yes_no"
    fit_choices_to_kind(draft)
    assert [(c.value, c.key) for c in draft.questions[0].choices] == [("yes", "y"), ("no", "n")]
    draft.questions[0].kind = "text"
    fit_choices_to_kind(draft)
    assert draft.questions[0].choices == []
    assert "choices" not in definition_from_draft(draft)["questions"][0]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: setattr(d.questions[1], "key", "claim"), "q4-key", "Question 1 has this key."),
        (lambda d: setattr(d.questions[0], "key", "note"), "q1-key", "a name the workspace"),
        (lambda d: setattr(d.questions[0], "key", "Claim!"), "q1-key", "Lower-case"),
        (lambda d: setattr(d.questions[0].choices[1], "key", "1"), "c3-key", "Choice 1 has"),
        (lambda d: setattr(d.questions[0].choices[1], "key", "g"), "c3-key", "shortcut"),
        (lambda d: setattr(d.questions[0].choices[1], "value", "fact"), "c3-value", "Choice 1"),
        (lambda d: setattr(d.questions[0], "kind", "slider"), "q1-kind", "Pick a kind"),
        (lambda d: setattr(d.questions[0], "title", "x" * 201), "q1-title", "At most 200"),
        (lambda d: setattr(d.questions[1], "show_if", "q4"), "q4-show_if", "itself"),
        (lambda d: setattr(d.questions[1], "show_if", "q77"), "q4-show_if", "was removed"),
        (lambda d: setattr(d.questions[0].choices[0], "exclusive", True), "c2-exclusive", "Only"),
        (lambda d: d.questions[0].choices.clear(), "q1-choices", "at least one choice"),
    ],
)
def test_each_problem_is_said_beside_its_field_and_the_scheme_refuses_it(change, field, message):
    draft = two_questions()
    change(draft)
    errors = field_errors(draft)
    assert message in errors[field]
    with pytest.raises(SchemeError):
        parse_scheme(definition_from_draft(draft))


def test_a_condition_without_answers_is_refused_beside_the_field():
    # parse_scheme would take it (a question never asked); the form editor says so instead.
    draft = two_questions()
    draft.questions[1].show_if_in = []
    assert field_errors(draft) == {"q4-show_if_in": "Tick the answers that show this question."}


def test_a_cycle_of_conditions_is_refused():
    draft = two_questions()
    draft.questions[0].show_if, draft.questions[0].show_if_in = "q4", ["c5"]
    assert "Move this question below" in field_errors(draft)["q1-show_if"]
    with pytest.raises(SchemeError):
        parse_scheme(definition_from_draft(draft))


def test_huge_texts_are_cut_just_past_their_limit_and_refused():
    post = as_post(two_questions())
    post["q1-title"] = "x" * 1_000_000
    post["c2-key"] = "12345678"
    draft = draft_from_post(post)
    assert len(draft.questions[0].title) == 201
    assert field_errors(draft)["q1-title"] == "At most 200 characters."
    assert field_errors(draft)["c2-key"] == "One character."


@pytest.mark.parametrize(
    "forge",
    [
        lambda p: p.setlist("question", ["q1", "q1"]),
        lambda p: p.setlist("question", ["x1"]),
        lambda p: p.setlist("question", ["c2"]),
        lambda p: p.setlist("q4-choice", ["c2"]),  # a choice of another question
        lambda p: p.setlist("question", [f"q{i}" for i in range(MAX_QUESTIONS + 1)]),
        lambda p: p.setlist("q1-choice", [f"c{i}" for i in range(MAX_CHOICES + 1)]),
    ],
)
def test_fields_the_page_cannot_have_sent_are_refused(forge):
    post = as_post(two_questions())
    forge(post)
    with pytest.raises(DraftError):
        draft_from_post(post)


def test_too_many_questions_or_choices_cannot_be_added():
    draft = Draft([QuestionDraft(f"q{i}") for i in range(1, MAX_QUESTIONS + 1)])
    with pytest.raises(DraftError):
        apply_edit(draft, "add-question")
    draft = Draft([QuestionDraft("q1", choices=[ChoiceDraft(f"c{i}") for i in range(MAX_CHOICES)])])
    with pytest.raises(DraftError):
        apply_edit(draft, "add-choice:q1")


def test_the_display_offers_only_questions_above_with_choices():
    draft = two_questions()
    draft.questions.insert(0, QuestionDraft("q8", key="free", title="Free", kind="text"))
    prepare_for_display(draft, {"c2-key": "Choice 1 has this key."})
    check = draft.questions[2]
    assert [q.id for q in check.options] == ["q1"]
    assert check.depends_on is draft.questions[1]
    assert draft.questions[1].choices[0].errors == {"key": "Choice 1 has this key."}
