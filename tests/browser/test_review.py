"""In a real browser: a reviewer settles disagreements with the keyboard and accepts the rest.

Follows the reviewer's journey in /work/shared/journeys.md: open the disagreement queue from
the project page, work through it worst first with every annotator's answers side by side,
set each gold answer with one key and Enter, then accept the unanimous comments in bulk.
"""

import re

import pytest
from playwright.sync_api import expect

from annotator.corpus.models import Role
from annotator.labelling.annotations import project_comments
from annotator.review.models import GoldLabel
from tests.factories import MembershipFactory, UserFactory, make_label
from tests.review.adjudication_data import REPLY, TOP, TOP_DENY

FOCUS_IN_ACTIVE_ROW = (
    "() => { const el = document.activeElement;"
    " return Boolean(el && el.matches('tr.is-active fieldset.question input')); }"
)


@pytest.fixture
def reviewer(demo_project):
    user = UserFactory(username="rita")
    MembershipFactory(project=demo_project, user=user, role=Role.REVIEWER)
    return user


@pytest.fixture
def labelled(demo_project):
    """Two disagreeing comments (the worst second in the thread) and three unanimous ones."""
    people = []
    for name in ("nina", "omar"):
        user = UserFactory(username=name)
        MembershipFactory(project=demo_project, user=user, role=Role.ANNOTATOR)
        people.append(user)
    nina, omar = people
    comments = list(project_comments(demo_project)[:5])
    mild, worst, reply, top3, top4 = comments
    assert reply.parent_id and not (mild.parent_id or worst.parent_id)
    make_label(mild, nina, TOP)
    make_label(mild, omar, TOP_DENY, note="<b>not sure</b> about the stance")
    make_label(worst, nina, TOP)
    make_label(
        worst, omar, {**TOP_DENY, "claim_type": "policy", "speculation": "uncertain"}, flagged=True
    )
    for comment in (top3, top4):
        make_label(comment, nina, TOP)
        make_label(comment, omar, TOP)
    make_label(reply, nina, REPLY)
    make_label(reply, omar, REPLY)
    return worst, mild, [reply, top3, top4]


def adjudicate_url(project, comment) -> re.Pattern:
    return re.compile(re.escape(f"/p/{project.slug}/review/{comment.pk}/") + "$")


def expect_ready_on(page, project, comment, active: str) -> None:
    expect(page).to_have_url(adjudicate_url(project, comment))
    expect(page.locator("#adjudication")).to_have_attribute("data-comment-id", str(comment.pk))
    page.wait_for_function(FOCUS_IN_ACTIVE_ROW)
    expect(page.locator("tr.is-active fieldset.question")).to_have_attribute("data-key", active)


def test_a_reviewer_settles_disagreements_with_the_keyboard_and_accepts_the_rest(
    page, login, screenshot, demo_project, reviewer, labelled, page_errors
):
    worst, mild, unanimous = labelled
    login(reviewer)
    page.goto(f"/p/{demo_project.slug}/")
    page.get_by_role("link", name="Review").click()
    expect(page.locator("#count-disagreeing")).to_have_text("2")
    expect(page.locator("#count-unanimous")).to_have_text("3")
    expect(page.locator("tr.queue-item").first).to_have_attribute("data-comment-id", str(worst.pk))
    screenshot("queue")

    # From here on the keyboard alone: "n" opens the worst comment.
    page.keyboard.press("n")
    # Both chose "none" for sources: preselected; the first question without an answer is
    # active.
    expect_ready_on(page, demo_project, worst, active="stance_article")
    expect(page.locator("#a-source_cited-none")).to_be_checked()
    expect(page.locator("thead")).to_contain_text("nina")
    expect(page.locator("thead")).to_contain_text("omar")
    expect(page.locator("#row-claim_type")).to_contain_text("Policy")
    expect(page.locator("#row-claim_type")).to_contain_text("Opinion")
    expect(page.locator(".notes-row")).to_contain_text("flagged for review")
    screenshot("worst")
    for key in ["2", "4", "3"]:  # deny, policy (no check-worthy question), uncertain
        page.keyboard.press(key)
    expect(page.locator("#row-checkworthy")).to_be_hidden()
    expect(page.locator("#a-speculation-uncertain")).to_be_checked()
    page.keyboard.press("Enter")

    # The next comment of the queue swaps in; the URL follows.
    expect_ready_on(page, demo_project, mild, active="stance_article")
    expect(page.locator(".ws-saved")).to_contain_text(f"Gold saved for comment #{worst.pk}")
    expect(page.locator(".notes-row")).to_contain_text("<b>not sure</b> about the stance")
    expect(page.locator("#a-claim_type-opinion")).to_be_checked()
    page.keyboard.press("1")  # support
    screenshot("mild")
    page.keyboard.press("Enter")

    # The queue is empty: back on the queue page, where the rest is accepted in bulk.
    expect(page).to_have_url(re.compile(rf"/p/{demo_project.slug}/review/$"))
    expect(page.locator(".messages")).to_contain_text("every disagreement is settled")
    expect(page.locator("#count-gold")).to_have_text("2")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Accept 3 unanimous comments").click()
    expect(page.locator(".messages")).to_contain_text("Accepted 3 unanimous comments as gold.")
    expect(page.locator("#count-gold")).to_have_text("5")
    expect(page.locator("#count-unanimous")).to_have_text("0")
    screenshot("accepted")

    gold = {g.comment_id: g for g in GoldLabel.objects.select_related("decided_by")}
    assert gold[worst.pk].answers == {
        "stance_article": "deny",
        "claim_type": "policy",
        "speculation": "uncertain",
        "source_cited": ["none"],
    }
    assert gold[mild.pk].answers == TOP
    assert gold[worst.pk].method == gold[mild.pk].method == GoldLabel.Method.ADJUDICATED
    for comment in unanimous:
        assert gold[comment.pk].method == GoldLabel.Method.ACCEPTED
        assert gold[comment.pk].answers == (REPLY if comment.parent_id else TOP)
    assert {g.decided_by for g in gold.values()} == {reviewer}

    # The settled comment shows its gold history under the form.
    page.goto(f"/p/{demo_project.slug}/review/{worst.pk}/")
    page.get_by_text("Gold history: 1 change").click()
    history = page.locator("#gold-history")
    expect(history).to_contain_text(reviewer.username)
    expect(history).to_contain_text("Stance toward the article: Deny")
    expect(history).to_contain_text("Claim type: Policy")
    screenshot("history")
    from axe_playwright_python.sync_playwright import Axe

    from tests.browser.test_accessibility import blocking_violations

    assert blocking_violations(Axe(), page) == []
    assert page_errors == []


def test_axe_finds_nothing_serious_on_the_reviewers_pages(
    page, login, demo_project, reviewer, labelled
):
    from axe_playwright_python.sync_playwright import Axe

    from tests.browser.test_accessibility import blocking_violations, report

    worst, *_ = labelled
    axe = Axe()
    login(reviewer)
    found = {}
    page.goto(f"/p/{demo_project.slug}/review/?spot=1")
    found["queue"] = blocking_violations(axe, page)
    page.goto(f"/p/{demo_project.slug}/review/{worst.pk}/")
    page.wait_for_function(FOCUS_IN_ACTIVE_ROW)
    found["adjudication"] = blocking_violations(axe, page)
    page.keyboard.press("Enter")  # required answers missing: the errors are shown
    expect(page.locator("#gold-status")).to_contain_text("required answer")
    found["adjudication with errors"] = blocking_violations(axe, page)
    assert not any(found.values()), report(found)
