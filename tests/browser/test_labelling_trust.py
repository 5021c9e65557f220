"""In a real browser: labelling records what the annotator meant, or says that it did not.

Follows "Annotator: a bad day" in journeys.md and what was seen when people used the
workspace: the comment being labelled (and the parent its stance question is about) in view
at any depth on a laptop and a tablet, depth shown, panels that open where they can be seen
and take the keys, keys typed right after Enter landing on the new comment's questions, Space
and the arrows never changing an answer, no scroll jump after a swap, numbered questions
without gaps, and saves that fail (a 5xx, the network) saying so, kept and retried until the
server has exactly what was chosen.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from django.db import OperationalError, connection
from playwright.sync_api import expect

from annotator.labelling import views as labelling_views
from annotator.labelling.annotations import project_comments
from annotator.labelling.models import Annotation, ParentReport
from tests.browser.test_labelling import (
    FOCUS_IN_ACTIVE_QUESTION,
    LABELLING,
    expect_ready_on,
    wait_until_saved,
    workspace_url,
)
from tests.factories import make_comment

VIEWPORTS = {"laptop": (1280, 800), "tablet": (768, 1024)}
# What a person must see of the comment being labelled without scrolling: all of it, or this
# much of a long one (a dozen lines).
MIN_VISIBLE_PX = 240

LONG_TEXT = (
    "I have read the article twice and I still do not see where the ceasefire numbers come "
    "from. The piece quotes an unnamed official, then a monitoring group, then a minister, "
    "and each gives a different count of the convoys that got through. Which is it? If the "
    "reporter had a document they should link it, and if not they should say so. "
)


def box(page, selector: str) -> dict:
    """The bounding box of ``selector`` relative to the viewport (CSS pixels)."""
    return page.evaluate(
        "(s) => { const r = document.querySelector(s).getBoundingClientRect();"
        " return {top: r.top, bottom: r.bottom, left: r.left, height: r.height}; }",
        selector,
    )


def visible_px(page, selector: str) -> float:
    rect = box(page, selector)
    height = page.viewport_size["height"]
    return max(0.0, min(rect["bottom"], height) - max(rect["top"], 0.0))


def expect_fully_in_view(page, selector: str) -> dict:
    rect = box(page, selector)
    height = page.viewport_size["height"]
    assert rect["top"] >= 0 and rect["bottom"] <= height, (selector, rect, height)
    return rect


def expect_uncovered(page, selector: str) -> None:
    """Nothing (a pinned footer, a panel) lies over the top and bottom of ``selector``."""
    covered = page.evaluate(
        """(s) => { const el = document.querySelector(s); const r = el.getBoundingClientRect();
        const bottom = Math.min(r.bottom, window.innerHeight) - 4;
        return [[r.left + 6, r.top + 4], [r.left + 6, bottom], [r.right - 6, bottom]]
          .filter(([x, y]) => !el.contains(document.elementFromPoint(x, y)))
          .map(([x, y]) => [x, y, document.elementFromPoint(x, y)?.className]); }""",
        selector,
    )
    assert covered == [], (selector, covered)


def expect_comment_in_view(page) -> dict:
    """The comment being labelled is on screen: all of it, or MIN_VISIBLE_PX of a long one."""
    rect = box(page, "#current-comment")
    assert rect["top"] >= 0, rect
    shown = visible_px(page, "#current-comment")
    assert shown >= min(rect["height"], MIN_VISIBLE_PX) - 1, (rect, shown)
    return rect


@pytest.fixture
def deep_chain(demo_project):
    """A new thread at the end of the seed article: a long comment and six nested replies."""
    article = project_comments(demo_project).first().article
    chain = []
    parent = None
    for depth in range(7):
        parent = make_comment(
            article,
            parent,
            source_id=f"deep-{depth}",
            author=f"reader{depth}",
            text=f"Depth {depth}. " + LONG_TEXT * (1 + depth % 2),
        )
        chain.append(parent)
    return chain


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_comment_its_parent_and_the_first_question_are_in_view_at_every_depth(
    viewport, open_page, demo_project, annotator, deep_chain, screenshot_of
):
    width, height = VIEWPORTS[viewport]
    tab = open_page(annotator, viewport={"width": width, "height": height})
    tab.goto(workspace_url(demo_project, deep_chain[0]))
    positions = {}
    for depth, comment in enumerate(deep_chain):
        if depth == 3:
            tab.keyboard.press("Enter")  # answers missing: "4 required answers missing"...
            expect(tab.locator("#save-status")).to_contain_text("missing")
            expect_ready_on(tab, demo_project, deep_chain[depth - 1])
            expect_fully_in_view(tab, "#save-status")  # ...where it can be read
            tab.wait_for_timeout(500)  # and is read: keys right after it would be refused
        if depth:
            tab.keyboard.press("]")  # the next comment in tree order is the deeper one
        expect_ready_on(tab, demo_project, comment, active="stance_article")
        # No scroll after the swap: the page's bar (progress, Next, Keys) is still there.
        assert tab.evaluate("window.scrollY") == 0
        expect_fully_in_view(tab, ".ws-bar")
        positions[depth] = round(expect_comment_in_view(tab)["top"])
        expect_uncovered(tab, "#current-comment")
        expect_fully_in_view(tab, "fieldset.question.is-active")
        expect_uncovered(tab, "fieldset.question.is-active")
        if depth:
            # The parent the stance-to-parent question is about, beside that question.
            expect_fully_in_view(tab, "#target-parent")
            tab.keyboard.press("1")  # stance toward the article: next is toward the parent
            expect(tab.locator("fieldset.question.is-active")).to_have_attribute(
                "data-key", "stance_parent"
            )
            expect_fully_in_view(tab, "#q-stance_parent")
            expect_uncovered(tab, "#q-stance_parent")
            expect_fully_in_view(tab, "#target-parent")
            expect_uncovered(tab, "#target-parent")
            expect(tab.locator("#target-parent")).to_have_class(re.compile("is-current-target"))
        if depth in (0, 2, 6):
            screenshot_of(tab, f"depth-{depth}")
    print(f"\n{viewport} {width}x{height}: top of the labelled comment by depth {positions}")

    # The whole article (a) is remembered for the session; the comment stays in view.
    tab.keyboard.press("a")
    expect(tab.locator("#target-article")).to_have_attribute("open", "")
    tab.goto(workspace_url(demo_project, deep_chain[6]))
    expect_ready_on(tab, demo_project, deep_chain[6])
    expect(tab.locator("#target-article")).to_have_attribute("open", "")
    assert box(tab, "#current-comment")["top"] < height - 100
    tab.keyboard.press("a")
    tab.reload()
    expect_ready_on(tab, demo_project, deep_chain[6])
    expect(tab.locator("#target-article")).not_to_have_attribute("open", "")


def test_the_chain_shows_depth_and_who_answers_whom(
    page, login, demo_project, annotator, deep_chain
):
    login(annotator)
    page.goto(workspace_url(demo_project, deep_chain[5]))
    expect_ready_on(page, demo_project, deep_chain[5])
    chain = page.locator(".ws-chain").first
    # Root, "3 more", parent: the middle is behind the expander.
    expect(chain.locator(":scope > li.chain-comment")).to_have_count(2)
    more = page.locator("#chain-more > summary")
    expect(more).to_have_text("3 more comments in between")
    expect(page.locator("#chain-more .chain-comment").first).to_be_hidden()
    more.click()
    comments = page.locator(".ws-chain .chain-comment")
    expect(comments).to_have_count(5)
    expect(comments.first).to_contain_text("answers the article")
    for depth in range(1, 5):
        expect(page.locator(".chain-comment").filter(has_text=f"Depth {depth}.")).to_contain_text(
            f"↳ reply to reader{depth - 1}"
        )
    expect(page.locator("#current-comment")).to_contain_text("↳ reply to reader4")
    expect(page.locator("#current-comment")).to_contain_text("depth 5")
    lefts = [
        page.locator(".chain-comment").filter(has_text=f"Depth {depth}.").bounding_box()["x"]
        for depth in range(5)
    ]
    lefts.append(page.locator("#current-comment").bounding_box()["x"])
    assert lefts == sorted(lefts) and len(set(lefts)) == 6, lefts
    # The parent (four lines here) is whole: no "Show all".
    expect(page.locator("#target-parent .clamp-toggle")).to_be_hidden()
    # A longer one is clamped, and opens in full on "Show all".
    page.goto(workspace_url(demo_project, deep_chain[6]))
    expect_ready_on(page, demo_project, deep_chain[6])
    expect(page.locator("#chain-more > summary")).to_have_text("4 more comments in between")
    parent_text = page.locator("#target-parent .comment-text")
    assert parent_text.evaluate("e => e.scrollHeight > e.clientHeight + 1")
    toggle = page.locator("#target-parent .clamp-toggle")
    toggle.click()
    expect(toggle).to_have_text("Show less")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    assert parent_text.evaluate("e => e.scrollHeight <= e.clientHeight + 1")


PANELS = {
    "r": ("#report-dialog", "#report-dialog input[type=radio]"),
    "s": ("#skip", "#skip-reason"),
    "?": ("#shortcuts", "#shortcuts"),
}


@pytest.mark.parametrize("key", list(PANELS))
def test_every_panel_opens_in_view_takes_the_focus_and_esc_gives_it_back(
    key, page, login, demo_project, annotator, page_errors
):
    reply = project_comments(demo_project).filter(parent__isnull=False).first()
    login(annotator)
    page.goto(workspace_url(demo_project, reply))
    expect_ready_on(page, demo_project, reply, active="stance_article")
    panel, inside = PANELS[key]
    page.keyboard.press(key)
    expect(page.locator(panel)).to_be_visible()
    expect_fully_in_view(page, panel)
    page.wait_for_function(
        "(s) => document.querySelector(s).contains(document.activeElement)", arg=panel
    )
    if key != "?":
        expect(page.locator(inside).first).to_be_in_viewport()
    page.keyboard.press("Escape")
    expect(page.locator(panel)).to_be_hidden()
    page.wait_for_function(FOCUS_IN_ACTIVE_QUESTION)
    # The next digit answers the question, and files nothing.
    page.keyboard.press("2")
    expect(page.locator("#a-stance_article-deny")).to_be_checked()
    assert ParentReport.objects.count() == 0
    assert page_errors == []


def test_the_note_opens_in_view_and_esc_returns_to_the_question(open_page, demo_project, annotator):
    tab = open_page(annotator, viewport={"width": 768, "height": 1024})
    reply = project_comments(demo_project).filter(parent__isnull=False).first()
    tab.goto(workspace_url(demo_project, reply))
    expect_ready_on(tab, demo_project, reply, active="stance_article")
    tab.keyboard.press("t")
    expect(tab.locator("#note")).to_be_focused()
    expect_fully_in_view(tab, "#note")
    tab.keyboard.type("12")  # typed into the note, not answers
    tab.keyboard.press("Escape")
    tab.wait_for_function(FOCUS_IN_ACTIVE_QUESTION)
    expect(tab.locator("fieldset.question.is-active")).to_have_attribute(
        "data-key", "stance_article"
    )
    expect(tab.locator("#note")).to_have_value("12")
    expect(tab.locator("fieldset.question input:checked")).to_have_count(0)


@pytest.fixture
def slow_next_comment(monkeypatch):
    """The server takes 0.4 s to choose the next comment, as a busy one does."""
    real = labelling_views.claim_next

    def slow(*args, **kwargs):
        time.sleep(0.4)
        return real(*args, **kwargs)

    monkeypatch.setattr(labelling_views, "claim_next", slow)


def test_keys_typed_right_after_enter_land_on_the_next_comments_questions(
    page, login, demo_project, annotator, slow_next_comment, page_errors, live_server_requests
):
    comments = list(project_comments(demo_project)[:5])
    login(annotator)
    page.goto(f"/p/{demo_project.slug}/label/")
    expect_ready_on(page, demo_project, comments[0])
    # Five comments (top, factual top with check-worthy, reply, top, top), typed in one go
    # without waiting for anything: every key right after the Enter before it.
    for keys, _answers in LABELLING:
        for key in [*keys, "Enter"]:
            page.keyboard.press(key)
    # Five saves one after the other, each 0.4 s or more: on a loaded machine that is longer
    # than an expect's 5 s. The sixth comment on screen means all five were answered; the
    # database is read once the server is idle (SQLite shares it with the test).
    following = list(project_comments(demo_project)[:6])[5]
    expect(page.locator("#workspace")).to_have_attribute(
        "data-comment-id", str(following.pk), timeout=30_000
    )
    expect_ready_on(page, demo_project, following)
    live_server_requests.wait_until_idle()
    stored = {a.comment_id: a.answers for a in Annotation.objects.filter(annotator=annotator)}
    assert stored == {c.pk: answers for c, (_k, answers) in zip(comments, LABELLING, strict=True)}
    expect(page.locator("#typeahead")).to_be_hidden()
    # The swap scrolled nothing: "Saved comment #N. Back to it" and the bar are in view.
    assert page.evaluate("window.scrollY") == 0
    expect(page.locator(".ws-saved")).to_contain_text(f"Saved comment #{comments[4].pk}")
    expect_fully_in_view(page, ".ws-saved")
    expect_fully_in_view(page, ".ws-bar")
    assert page_errors == []


@pytest.fixture
def failing_saves(monkeypatch):
    """Switch the server's saves into failure (a database gone away: a 500) and back."""
    state = {"failing": False, "failed": 0}
    real = labelling_views.save_annotation

    def save(**kwargs):
        if state["failing"]:
            state["failed"] += 1
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(labelling_views, "save_annotation", save)
    return state


def stored_unsaved(page) -> list:
    return page.evaluate(
        "() => Object.keys(localStorage).filter(k => k.startsWith('annotator:unsaved:'))"
        ".map(k => JSON.parse(localStorage.getItem(k)))"
    )


def test_keys_typed_after_an_enter_whose_save_failed_are_refused_visibly(
    page, login, demo_project, annotator, failing_saves
):
    first, second = project_comments(demo_project)[:2]
    login(annotator)
    page.goto(workspace_url(demo_project, first))
    expect_ready_on(page, demo_project, first)
    for key in LABELLING[0][0]:
        page.keyboard.press(key)
    failing_saves["failing"] = True
    page.keyboard.press("Enter")
    page.keyboard.press("2")
    page.keyboard.press("3")
    notice = page.locator("#typeahead")
    expect(notice).to_contain_text("Not applied: 2 3")
    expect(page.locator("#save-status")).to_contain_text("Not saved")
    # Still on the first comment, its answers untouched by the refused keys.
    expect(page.locator("#workspace")).to_have_attribute("data-comment-id", str(first.pk))
    expect(page.locator("#a-stance_article-support")).to_be_checked()
    expect(page.locator("#a-claim_type-opinion")).to_be_checked()
    failing_saves["failing"] = False
    expect(page.locator("#save-status")).to_contain_text(
        re.compile(r"Saved \d\d:\d\d:\d\d"), timeout=15_000
    )
    annotation = Annotation.objects.get(annotator=annotator, comment=first)
    assert annotation.answers == LABELLING[0][1]
    assert not Annotation.objects.filter(comment=second).exists()


def test_space_and_arrows_never_change_an_answer_and_backspace_clears_one(
    page, login, demo_project, annotator
):
    first = project_comments(demo_project).first()
    login(annotator)
    page.goto(workspace_url(demo_project, first))
    expect_ready_on(page, demo_project, first, active="stance_article")
    active = page.locator("fieldset.question.is-active")
    for key in [" ", "ArrowDown", "ArrowUp", "ArrowRight", "ArrowLeft", "PageDown"]:
        page.keyboard.press(key)
    expect(page.locator("fieldset.question input:checked")).to_have_count(0)
    page.keyboard.press("1")  # support; claim type is next
    expect(active).to_have_attribute("data-key", "claim_type")
    page.keyboard.press("ArrowUp")
    expect(active).to_have_attribute("data-key", "stance_article")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    page.keyboard.press(" ")
    expect(active).to_have_attribute("data-key", "claim_type")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")  # no question above the first: stays
    expect(active).to_have_attribute("data-key", "stance_article")
    expect(page.locator("#label-form input:checked")).to_have_count(1)
    expect(page.locator("#a-stance_article-support")).to_be_checked()
    wait_until_saved(page, 1)
    page.keyboard.press("Backspace")
    expect(page.locator("#label-form fieldset.question input:checked")).to_have_count(0)
    wait_until_saved(page, 2)
    assert Annotation.objects.get(annotator=annotator, comment=first).answers == {}


def test_questions_are_numbered_as_shown(page, login, demo_project, annotator):
    first = project_comments(demo_project).first()
    login(annotator)
    page.goto(workspace_url(demo_project, first))
    expect_ready_on(page, demo_project, first)

    def numbers() -> list[str]:
        return page.locator("fieldset.question:visible .q-number").all_inner_texts()

    assert numbers() == ["1", "2", "3", "4"]
    page.keyboard.press("1")
    page.keyboard.press("1")  # factual: "check-worthy?" appears after claim type
    expect(page.locator("#q-checkworthy")).to_be_visible()
    assert numbers() == ["1", "2", "3", "4", "5"]
    expect(page.locator("#q-checkworthy .q-number")).to_have_text("3")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("4")  # opinion: it goes again
    expect(page.locator("#q-checkworthy")).to_be_hidden()
    assert numbers() == ["1", "2", "3", "4"]
    page.reload()
    expect_ready_on(page, demo_project, first)
    assert numbers() == ["1", "2", "3", "4"]


def test_a_failed_autosave_says_so_is_kept_and_retried_until_saved(
    page, login, demo_project, annotator, failing_saves, screenshot
):
    first = project_comments(demo_project).first()
    login(annotator)
    page.goto(workspace_url(demo_project, first))
    expect_ready_on(page, demo_project, first)
    failing_saves["failing"] = True
    started = time.monotonic()
    page.keyboard.press("2")  # deny
    status = page.locator("#save-status")
    expect(status).to_contain_text("Not saved — the server failed (500)")
    assert time.monotonic() - started < 1.5
    expect(status).to_contain_text("Retrying")
    # Seen where the person is looking, however far the form is scrolled.
    expect_fully_in_view(page, "#save-status")
    expect_fully_in_view(page, "#submit-button")
    expect_uncovered(page, "fieldset.question.is-active")  # nor does it hide the question
    screenshot("not-saved")
    # Kept in the page and in the browser's storage, against the revision it was made on.
    assert [entry["revision"] for entry in stored_unsaved(page)] == ["0"]
    assert ["stance_article", "deny"] in stored_unsaved(page)[0]["fields"]
    page.keyboard.press("5")  # a second answer while the server is down
    # Save and next during the outage: visibly not done, still here.
    page.keyboard.press("Enter")
    expect(status).to_contain_text("Not saved")
    expect(page.locator("#workspace")).to_have_attribute("data-comment-id", str(first.pk))
    assert not Annotation.objects.filter(annotator=annotator).exists()
    # Leaving now asks first.
    assert page.evaluate(
        "() => { const e = new Event('beforeunload', {cancelable: true});"
        " window.dispatchEvent(e); return e.defaultPrevented; }"
    )
    tries = failing_saves["failed"]
    page.wait_for_timeout(2500)
    assert failing_saves["failed"] > tries  # it keeps trying
    failing_saves["failing"] = False
    expect(status).to_contain_text(re.compile(r"Saved \d\d:\d\d:\d\d"), timeout=20_000)
    annotation = Annotation.objects.get(annotator=annotator, comment=first)
    assert annotation.answers == {"stance_article": "deny", "claim_type": "personal_experience"}
    assert stored_unsaved(page) == []
    assert not page.evaluate(
        "() => { const e = new Event('beforeunload', {cancelable: true});"
        " window.dispatchEvent(e); return e.defaultPrevented; }"
    )


def test_answers_given_offline_survive_a_reload_and_are_saved_when_back(
    page, login, demo_project, annotator
):
    first = project_comments(demo_project).first()
    login(annotator)
    page.goto(workspace_url(demo_project, first))
    expect_ready_on(page, demo_project, first)
    page.keyboard.press("1")
    wait_until_saved(page, 1)
    page.context.set_offline(True)
    page.keyboard.press("ArrowUp")  # back to the stance...
    page.keyboard.press("3")  # ...query; claim type next
    page.keyboard.press("6")  # question
    expect(page.locator("#save-status")).to_contain_text("Not saved")
    saved = json.dumps(stored_unsaved(page))
    assert '"claim_type", "question"' in saved.replace("\\", "")
    page.context.set_offline(False)
    # The tab is reloaded before the retry (a crash, a closed lid): nothing is lost.
    page.evaluate("() => { window.stop(); }")
    page.goto(workspace_url(demo_project, first))
    expect(page.locator("#save-status")).to_contain_text(
        re.compile(r"Saved \d\d:\d\d:\d\d"), timeout=15_000
    )
    expect(page.locator("#a-claim_type-question")).to_be_checked()
    annotation = Annotation.objects.get(annotator=annotator, comment=first)
    assert annotation.answers == {"stance_article": "query", "claim_type": "question"}
    assert stored_unsaved(page) == []


def test_a_moved_reply_comes_back_with_its_old_parent_answer_set_aside(
    page, login, demo_project, annotator, page_errors, live_server_requests
):
    from tests.factories import COMPLETE_REPLY, make_label

    comments = list(project_comments(demo_project))
    reply = next(c for c in comments if c.parent_id)
    for comment in comments:  # everything else is done: the queue has nothing but the reply
        if comment != reply:
            make_label(comment, annotator, {"stance_article": "comment"})
    old_parent = reply.parent
    new_parent = next(c for c in comments if c.parent_id is None and c.pk != old_parent.pk)
    login(annotator)
    page.goto(workspace_url(demo_project, reply))
    expect_ready_on(page, demo_project, reply)
    answers = {**COMPLETE_REPLY, "stance_parent": "support"}
    make_label(reply, annotator, answers, revision=1)
    page.reload()
    expect_ready_on(page, demo_project, reply)
    # An admin moves it under another comment while the annotator still has it open.
    reply.refresh_from_db()
    reply.move_under(new_parent)
    page.keyboard.press("ArrowUp")
    page.keyboard.press("2")  # a change made from the page loaded before the move
    expect(page.locator("#save-status")).to_contain_text("changed in another tab or window")
    annotation = Annotation.objects.get(annotator=annotator, comment=reply)
    assert "stance_parent" not in annotation.answers  # not written back
    assert annotation.stale_answers["stance_parent"]["value"] == "support"
    assert annotation.status == Annotation.Status.DRAFT

    # The queue hands it back; the page says what was set aside, and against which parent.
    page.goto(f"/p/{demo_project.slug}/label/")
    expect_ready_on(page, demo_project, reply, active="stance_parent")
    notice = page.locator("#stale-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("moved to another parent")
    expect(notice).to_contain_text(f"Support, given toward #{old_parent.pk}")
    expect(page.locator("#q-stance_parent input:checked")).to_have_count(0)
    expect(page.locator("#target-parent")).to_contain_text(new_parent.text[:40])
    expect_fully_in_view(page, "fieldset.question.is-active")
    page.keyboard.press("2")  # deny, toward the new parent
    page.keyboard.press("Enter")
    expect(page).to_have_title(re.compile("All done"))  # nothing else waits for this person
    live_server_requests.wait_until_idle()
    annotation.refresh_from_db()
    assert annotation.status == Annotation.Status.SUBMITTED
    assert annotation.answers["stance_parent"] == "deny"
    assert annotation.stale_answers["stance_parent"]["parent_id"] == old_parent.pk
    assert [e for e in page_errors if "409" not in e] == []


def test_looking_at_a_comment_holds_it_only_while_someone_works_on_it(
    page, login, demo_project, annotator, live_server_requests
):
    from annotator.corpus.models import Role
    from annotator.labelling.models import Claim
    from tests.factories import MembershipFactory, UserFactory

    admin = UserFactory(username="ada")
    MembershipFactory(project=demo_project, user=admin, role=Role.ADMIN)
    first, second = project_comments(demo_project)[:2]
    login(admin)
    page.goto(f"/p/{demo_project.slug}/")
    page.keyboard.press("l")  # an admin opens the workspace only to look
    expect_ready_on(page, demo_project, first)
    assert Claim.objects.filter(annotator=admin, comment=first).exists()
    page.keyboard.press("]")  # looks at the next one, answers nothing
    expect_ready_on(page, demo_project, second)
    page.goto(f"/p/{demo_project.slug}/")  # and leaves
    live_server_requests.wait_until_idle()
    assert not Claim.objects.filter(annotator=admin).exists()

    # Someone who answers keeps the hold when they leave.
    page.goto(workspace_url(demo_project, first))
    expect_ready_on(page, demo_project, first)
    page.keyboard.press("1")
    wait_until_saved(page, 1)
    page.goto(f"/p/{demo_project.slug}/")
    live_server_requests.wait_until_idle()
    assert Claim.objects.filter(annotator=admin, comment=first).exists()
    assert not Annotation.objects.filter(annotator=annotator).exists()


ON_POSTGRESQL = connection.vendor == "postgresql"


@pytest.mark.skipif(not ON_POSTGRESQL, reason="kills a real PostgreSQL backend")
def test_a_save_whose_database_connection_is_killed_mid_save_is_retried_and_lands(
    page, login, demo_project, annotator, monkeypatch
):
    """PostgreSQL drops the web process's connection (a restart, a failover) just as a save
    runs: the page says it is not saved, retries on a fresh connection, and the database
    ends up with exactly what was chosen."""
    import psycopg

    kills = {"left": 1}
    real = labelling_views.save_annotation
    settings = connection.settings_dict

    def save_on_a_dying_connection(**kwargs):
        if kills["left"]:
            kills["left"] -= 1
            server = connection  # in the live server thread: its own connection
            server.ensure_connection()
            with server.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            with psycopg.connect(
                host=settings["HOST"] or "127.0.0.1",
                port=settings["PORT"] or 5432,
                user=settings["USER"],
                dbname=settings["NAME"],
                autocommit=True,
            ) as killer:
                killer.execute("SELECT pg_terminate_backend(%s)", [pid])
        return real(**kwargs)

    monkeypatch.setattr(labelling_views, "save_annotation", save_on_a_dying_connection)
    first = project_comments(demo_project).first()
    login(annotator)
    page.goto(workspace_url(demo_project, first))
    expect_ready_on(page, demo_project, first)
    page.keyboard.press("3")  # query
    expect(page.locator("#save-status")).to_contain_text("Not saved")
    expect(page.locator("#save-status")).to_contain_text(
        re.compile(r"Saved \d\d:\d\d:\d\d"), timeout=15_000
    )
    assert kills["left"] == 0
    annotation = Annotation.objects.get(annotator=annotator, comment=first)
    assert annotation.answers == {"stance_article": "query"}
    assert annotation.revision == 1
