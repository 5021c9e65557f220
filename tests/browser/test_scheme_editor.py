"""In a real browser: an admin builds the default scheme's four questions in the form editor,
from an empty scheme, by keyboard and by mouse; the annotator's workspace then asks exactly
what the preview showed. A key typed twice is marked as it is typed and cannot be saved."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from annotator.corpus.models import Role
from annotator.labelling.schemes import current_scheme_for, default_definition
from tests.browser.conftest import answer_late, collect_errors, log_in_on
from tests.factories import (
    ArticleFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_comment,
)

# (title, key, kind, choices as (label, value, key)); built in this order, then reordered.
STANCE = (
    "Stance toward the article",
    "stance_article",
    "single",
    [("Support", "support", "1"), ("Deny", "deny", "2"), ("Query", "query", "3"),
     ("Comment", "comment", "4")],
)  # fmt: skip
SOURCES = (
    "Source cited",
    "source_cited",
    "multiple",
    [("Link", "link", "1"), ("Named source", "named_source", "2"), ("Article", "article", "3"),
     ("Unnamed source", "unnamed_source", "4"), ("First hand", "first_hand", "5"),
     ("Media", "media", "6"), ("Reasoning", "reasoning", "7"), ("None", "none", "0")],
)  # fmt: skip
CLAIM = (
    "Claim type",
    "claim_type",
    "single",
    [("Factual", "factual", "1"), ("Prediction", "prediction", "2"), ("Opinion", "opinion", "3"),
     ("Policy", "policy", "4"), ("Personal experience", "personal_experience", "5"),
     ("Question", "question", "6"), ("No claim", "no_claim", "7")],
)  # fmt: skip
SPECULATION = (
    "Speculation",
    "speculation",
    "single",
    [("Certain", "certain", "1"), ("Somewhat certain", "somewhat_certain", "2"),
     ("Uncertain", "uncertain", "3"), ("Not applicable", "not_applicable", "4")],
)  # fmt: skip
FINAL_ORDER = ["stance_article", "claim_type", "speculation", "source_cited"]

# The keys of each question's choices in a form, as the annotator sees them (<kbd>).
FORM_OF = """(root) => Array.from(document.querySelectorAll(root + ' fieldset.question')).map(
  (f) => [f.dataset.key, f.dataset.showIf || '', (f.dataset.showIfValues || ''),
          Array.from(f.querySelectorAll('label.choice')).map((l) =>
            l.querySelector('kbd').textContent + ' '
            + l.querySelector('.choice-label').textContent)])"""


@pytest.fixture
def scheme_project():
    project = ProjectFactory(name="Aleppo ceasefire", slug="aleppo")
    admin = UserFactory(username="ada")
    MembershipFactory(project=project, user=admin, role=Role.ADMIN)
    annotator = UserFactory(username="nina")
    MembershipFactory(project=project, user=annotator, role=Role.ANNOTATOR)
    make_comment(ArticleFactory(project=project, title="Ceasefire"), text="I doubt it holds.")
    return project, admin, annotator


def press(button, by_keyboard: bool) -> None:
    if by_keyboard:
        button.focus()
        button.press("Enter")
    else:
        button.click()


def redrawn(response) -> bool:
    """The form editor's answer to one of its buttons or menus."""
    return response.url.endswith("/scheme/form/")


def add_question(page, spec, by_keyboard: bool) -> None:
    title, key, kind, choices = spec
    count = page.locator(".se-question").count()
    press(page.get_by_role("button", name="Add a question"), by_keyboard)
    question = page.locator(".se-question").nth(count)
    expect(
        question.get_by_label(re.compile("^Question key"))
    ).to_be_focused()  # where typing goes on
    page.keyboard.type(key)
    question.get_by_label("Title", exact=True).fill(title)
    if kind != "single":
        # The editor is redrawn for the new kind: wait for it before typing on.
        with page.expect_response(redrawn):
            question.get_by_label("Kind").select_option(kind)
    for index, (label, value, choice_key) in enumerate(choices):
        if index:
            press(question.get_by_role("button", name="Add a choice"), by_keyboard)
            expect(question.locator(".se-choice")).to_have_count(index + 1)
            expect(question.locator(".se-choice").nth(index).get_by_label("Value")).to_be_focused()
        row = question.locator(".se-choice").nth(index)
        row.get_by_label(re.compile("^Value")).fill(value)
        row.get_by_label("Label", exact=True).fill(label)
        row.get_by_label("Key", exact=True).fill(choice_key)
    if kind == "multiple":
        question.locator(".se-choice").last.get_by_label(re.compile("Stands alone")).check()


def keys_in_editor(page) -> list[str]:
    return [field.input_value() for field in page.locator("[data-question-key]").all()]


def test_an_admin_builds_the_scheme_by_keyboard_and_mouse_and_annotators_get_the_preview(
    page, scheme_project, screenshot, open_page
):
    project, admin, annotator = scheme_project
    errors = collect_errors(page)
    page.on("dialog", lambda dialog: dialog.accept())
    log_in_on(page, admin)
    page.goto(f"/p/{project.slug}/scheme/")
    expect(page.get_by_text("docs/scheme.md")).to_have_count(0)
    page.get_by_role("button", name="Start from an empty scheme").click()
    expect(page.get_by_text("No questions yet")).to_be_visible()

    add_question(page, STANCE, by_keyboard=True)
    page.locator(".se-question").nth(0).get_by_label("Judged against").select_option("article")
    add_question(page, SOURCES, by_keyboard=False)
    add_question(page, CLAIM, by_keyboard=True)
    add_question(page, SPECULATION, by_keyboard=False)
    assert keys_in_editor(page) == ["stance_article", "source_cited", "claim_type", "speculation"]

    # Keyboard: Alt+Up in the claim type's title moves it above the sources; focus stays.
    claim_title = page.locator(".se-question").nth(2).get_by_label("Title", exact=True)
    claim_title.focus()
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("[data-question-key]").nth(1)).to_have_value("claim_type")
    expect(page.locator(".se-question").nth(1).get_by_label("Title", exact=True)).to_be_focused()
    # ... and the Move down / Move up buttons with Enter.
    press(page.get_by_role("button", name="Move question 2 down"), by_keyboard=True)
    expect(page.locator("[data-question-key]").nth(2)).to_have_value("claim_type")
    expect(page.get_by_role("button", name="Move question 3 down")).to_be_focused()
    press(page.get_by_role("button", name="Move question 3 up"), by_keyboard=True)
    expect(page.locator("[data-question-key]").nth(1)).to_have_value("claim_type")

    # Mouse: the speculation question dragged by its handle above the sources. (Playwright
    # cannot scroll while it drags, so the screen is tall enough to hold both questions.)
    page.set_viewport_size({"width": 1280, "height": 6000})
    speculation = page.locator(".se-question").nth(3)
    speculation.locator(".se-handle").drag_to(
        page.locator(".se-question").nth(2), target_position={"x": 20, "y": 5}
    )
    expect(page.locator("[data-question-key]").nth(2)).to_have_value("speculation")
    expect(page.get_by_role("heading", name="Question 3: Speculation")).to_be_visible()
    assert keys_in_editor(page) == FINAL_ORDER
    page.set_viewport_size({"width": 1280, "height": 800})

    # The condition, from menus: speculation only for factual and prediction claims.
    speculation = page.locator(".se-question").nth(2)
    with page.expect_response(redrawn):
        speculation.get_by_label("Shown only when this question is answered").select_option(
            label="Claim type (claim_type) is…"
        )
    speculation.get_by_label("Factual").check()
    speculation.get_by_label("Prediction").check()

    # The preview follows: same order, keys, condition; picking "Factual" shows speculation.
    preview = page.locator("#scheme-preview")
    expect(preview.locator("fieldset.question")).to_have_count(4)
    expect(preview.locator("#q-speculation")).to_have_attribute(
        "data-show-if-values", "factual prediction"
    )
    expect(preview.locator("#q-speculation")).to_be_hidden()
    preview.get_by_text("Factual", exact=True).click()
    expect(preview.locator("#q-speculation")).to_be_visible()
    previewed = page.evaluate(FORM_OF, "#scheme-preview")
    assert [row[0] for row in previewed] == FINAL_ORDER
    screenshot("built")

    page.get_by_role("button", name="Save the scheme").click()
    expect(page.get_by_text("Saved version 1 in place")).to_be_visible()
    expect(page.locator("h1")).to_have_count(1)  # a page of its own, not swapped into the preview
    scheme = current_scheme_for(project).scheme
    assert [q.key for q in scheme.questions] == FINAL_ORDER
    assert scheme.question("speculation").show_if.values == ("factual", "prediction")
    assert [c.exclusive for c in scheme.question("source_cited").choices][-1] is True

    # The annotator's workspace asks the same questions, in the same order, with the same keys.
    workspace = open_page(annotator)
    workspace.goto(f"/p/{project.slug}/label/")
    expect(workspace.locator("fieldset.question").first).to_be_visible()
    assert workspace.evaluate(FORM_OF, "#label-form") == previewed
    assert errors == []


def test_a_key_collision_is_marked_as_it_is_typed_and_cannot_be_saved(page, scheme_project):
    project, admin, _ = scheme_project
    errors = collect_errors(page)
    log_in_on(page, admin)
    page.goto(f"/p/{project.slug}/scheme/")
    first = page.locator(".se-question").first
    deny_key = first.locator(".se-choice").nth(1).get_by_label("Key", exact=True)
    deny_key.fill("")
    deny_key.press_sequentially("1")  # Support has 1
    message = first.locator(".se-choice").nth(1).get_by_text("Choice 1 has this key.")
    expect(message).to_be_visible()
    expect(deny_key).to_have_attribute("aria-invalid", "true")
    # A question key typed twice, and a key the workspace keeps, are marked too.
    second_key = page.locator("[data-question-key]").nth(1)
    second_key.fill("")
    second_key.press_sequentially("stance_article")
    expect(page.get_by_text("Question 1 has this key.")).to_be_visible()

    page.get_by_role("button", name="Save the scheme").click()
    expect(page.get_by_text(re.compile(r"Not saved: 2 keys to fix"))).to_be_visible()
    expect(deny_key).to_be_focused()
    assert current_scheme_for(project).definition == default_definition()

    # Fixed as typed: the messages go, and Save works.
    deny_key.fill("")
    deny_key.press_sequentially("2")
    expect(message).to_have_count(0)
    second_key.fill("stance_parent")
    expect(page.get_by_text("Question 1 has this key.")).to_have_count(0)
    page.get_by_role("button", name="Save the scheme").click()
    expect(page.get_by_text("Nothing to save: this is version 1 as it is.")).to_be_visible()
    assert errors == []


def test_what_is_typed_while_the_editor_is_redrawn_is_kept_and_every_press_counts(
    page, scheme_project
):
    project, admin, _ = scheme_project
    errors = collect_errors(page)
    page.on("dialog", lambda dialog: dialog.accept())
    log_in_on(page, admin)
    page.goto(f"/p/{project.slug}/scheme/")
    page.get_by_role("button", name="Start from an empty scheme").click()
    page.get_by_role("button", name="Add a question").click()
    question = page.locator(".se-question").first
    expect(question.get_by_label(re.compile("^Question key"))).to_be_focused()
    page.keyboard.type("source_cited")
    question.get_by_label("Title", exact=True).fill("Source cited")

    # The kind changes; its redraw is slow, and the admin types on into the first choice
    # meanwhile. The redraw must not wipe out what was typed.
    answer_late(page, "**/scheme/form/", 1.0)  # the editor's redraws come late
    with page.expect_response(redrawn):
        question.get_by_label("Kind").select_option("multiple")
        row = question.locator(".se-choice").first
        row.get_by_label(re.compile("^Value")).fill("link")
        row.get_by_label("Label", exact=True).fill("Link")
    expect(question.get_by_label(re.compile("Stands alone"))).to_have_count(1)  # redrawn
    row = question.locator(".se-choice").first
    expect(row.get_by_label(re.compile("^Value"))).to_have_value("link")
    expect(row.get_by_label("Label", exact=True)).to_have_value("Link")
    expect(page.locator("#scheme-preview").get_by_text("Link", exact=True)).to_be_visible()

    # "Add a choice" pressed twice before the first redraw came: two choices more.
    add = question.get_by_role("button", name="Add a choice")
    add.click()
    add.click()
    expect(question.locator(".se-choice")).to_have_count(3)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)
    expect(question.locator(".se-choice")).to_have_count(3)
    assert errors == []
