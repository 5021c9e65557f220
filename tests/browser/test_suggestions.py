"""In a real browser: an annotator labels with a model's suggestions, first shown only after
answering, then pre-selected; what they were shown is recorded with their labels.

What a person sees: the model's answer is not on the page (not even hidden) before their own
is saved; once it comes it is on screen beside the question; a pre-selected answer is marked
as the model's, and the keys still start at the first question, so a key never lands on a
question the person did not mean.
"""

import re

import pytest
from playwright.sync_api import expect

from annotator.assist.models import MachineLabeller
from annotator.labelling.annotations import project_comments
from annotator.labelling.models import Annotation
from tests.browser.conftest import collect_errors
from tests.browser.test_labelling import expect_ready_on
from tests.factories import make_model, make_prediction

pytestmark = pytest.mark.browser


def in_viewport(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return bool(
        box
        and box["y"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and box["x"] >= 0
        and box["x"] + box["width"] <= size["width"]
    )


def test_an_annotator_labels_with_suggestions_after_answering_then_preselected(
    page, login, screenshot, demo_project, annotator, researcher
):
    errors = collect_errors(page)
    first, second, *_ = project_comments(demo_project)[:3]
    model = make_model(demo_project, "gpt-judge", suggestions="after")
    make_prediction(model, first, "stance_article", "deny", 0.8)
    make_prediction(model, second, "stance_article", "deny", 0.7)
    make_prediction(model, second, "claim_type", "factual", 0.64)
    login(annotator)
    page.goto(f"/p/{demo_project.slug}/")
    page.keyboard.press("l")
    expect_ready_on(page, demo_project, first, active="stance_article")

    # "After": the model's answer is nowhere in the page before the annotator's own.
    assert "gpt-judge" not in page.content()
    page.keyboard.press("1")  # support
    note = page.locator("#s-stance_article")
    expect(note).to_be_visible()
    expect(note).to_contain_text("gpt-judge@1 answered “Deny” (80% sure)")
    assert in_viewport(page, "#s-stance_article")
    screenshot("shown-after-answering")
    for key in ["3", "2", "0"]:
        page.keyboard.press(key)
    # The admin switches the model to pre-selecting before the next comment comes.
    MachineLabeller.objects.filter(pk=model.pk).update(suggestions="preselect")
    page.keyboard.press("Enter")

    # "Pre-select": the model's answers are chosen and marked, and the keys start at the
    # first question all the same.
    expect_ready_on(page, demo_project, second, active="stance_article")
    expect(page.locator("#a-stance_article-deny")).to_be_checked()
    expect(page.locator("#a-claim_type-factual")).to_be_checked()
    expect(page.locator("#s-stance_article")).to_contain_text("Pre-selected by the model")
    assert in_viewport(page, "#s-stance_article")
    screenshot("preselected")
    page.keyboard.press("2")  # deny: the annotator keeps the model's answer
    expect(page.locator("fieldset.question.is-active")).to_have_attribute("data-key", "claim_type")
    page.keyboard.press("3")  # opinion: the annotator changes the model's answer
    for key in ["1", "0"]:
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    expect(page.locator("#workspace")).not_to_have_attribute("data-comment-id", str(second.pk))

    first_label = Annotation.objects.get(comment=first, annotator=annotator)
    assert first_label.status == "submitted"
    assert first_label.answers["stance_article"] == "support"
    assert first_label.suggestions["stance_article"] | {"model": None} == {
        "model": None,
        "label": "gpt-judge@1",
        "answer": "deny",
        "confidence": 0.8,
        "mode": "after",
        "before": "support",
        "equals": False,
    }
    second_label = Annotation.objects.get(comment=second, annotator=annotator)
    assert second_label.answers["stance_article"] == "deny"
    assert second_label.answers["claim_type"] == "opinion"
    assert {k: (v["mode"], v["equals"]) for k, v in second_label.suggestions.items()} == {
        "stance_article": ("preselect", True),
        "claim_type": ("preselect", False),
    }
    # A researcher reads the anchoring comparison on the dashboard: the stance the model
    # pre-selected was kept (1 of 1), the one shown only after answering was not (0 of 1).
    page.context.clear_cookies()
    login(researcher)
    page.goto(f"/p/{demo_project.slug}/dashboard/")
    anchoring = page.locator("#models table.anchoring-table")
    expect(anchoring).to_be_visible()
    stance = anchoring.locator("tbody tr", has_text="Stance toward the article")
    expect(stance.locator("td")).to_have_text(
        [re.compile(r"^100"), "1", re.compile(r"^0"), "1", re.compile(r".")]
    )
    anchoring.scroll_into_view_if_needed()
    screenshot("anchoring-on-the-dashboard")
    assert errors == []


@pytest.fixture
def researcher(demo_project):
    from annotator.corpus.models import Role
    from tests.factories import MembershipFactory, UserFactory

    user = UserFactory(username="rhea")
    MembershipFactory(project=demo_project, user=user, role=Role.RESEARCHER)
    return user
