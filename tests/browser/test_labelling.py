"""In a real browser: an annotator labels the seed thread with the keyboard alone.

Follows the annotator's journey in /work/shared/journeys.md: start from the project page with
``l``, one key per answer, Enter for the next comment; autosave, two tabs, skip, flag, note,
previous/next, wrong-parent reports, the keys panel, missing answers; and hostile comment
text that must stay text.
"""

import re

import pytest
from playwright.sync_api import expect

from annotator.corpus.models import Role
from annotator.labelling.annotations import project_comments
from annotator.labelling.models import Annotation, AnnotationEvent, ParentReport
from tests.browser.conftest import collect_errors

# The document's focus is on an answer of the highlighted question.
FOCUS_IN_ACTIVE_QUESTION = (
    "() => { const el = document.activeElement;"
    " return Boolean(el && el.matches('fieldset.question.is-active input')); }"
)

# What the annotator types on the first five comments of the seed thread (top, top, reply,
# top, top) and what must be stored. Keys: stance 1-4 (support/deny/query/comment); claim
# type 1-7; check-worthy y/n (factual and prediction only); speculation 1-4; sources 1-7, 0.
LABELLING = [
    (
        ["1", "3", "2", "0"],
        {
            "stance_article": "support",
            "claim_type": "opinion",
            "speculation": "somewhat_certain",
            "source_cited": ["none"],
        },
    ),
    (
        ["2", "1", "y", "1", "2"],
        {
            "stance_article": "deny",
            "claim_type": "factual",
            "checkworthy": "yes",
            "speculation": "certain",
            "source_cited": ["named_source"],
        },
    ),
    (
        ["1", "4", "3", "3", "7"],
        {
            "stance_article": "support",
            "stance_parent": "comment",
            "claim_type": "opinion",
            "speculation": "uncertain",
            "source_cited": ["reasoning"],
        },
    ),
    (
        ["4", "7", "4", "0"],
        {
            "stance_article": "comment",
            "claim_type": "no_claim",
            "speculation": "not_applicable",
            "source_cited": ["none"],
        },
    ),
    (
        ["3", "6", "4", "0"],
        {
            "stance_article": "query",
            "claim_type": "question",
            "speculation": "not_applicable",
            "source_cited": ["none"],
        },
    ),
]


def workspace_url(project, comment) -> str:
    return f"/p/{project.slug}/label/{comment.pk}/"


def url_of(project, comment) -> re.Pattern:
    return re.compile(re.escape(workspace_url(project, comment)) + "$")


def expect_ready_on(page, project, comment, active: str | None = None) -> None:
    """The workspace shows ``comment``, its URL is in the address bar and the keys work."""
    expect(page).to_have_url(url_of(project, comment))
    expect(page.locator("#workspace")).to_have_attribute("data-comment-id", str(comment.pk))
    page.wait_for_function(FOCUS_IN_ACTIVE_QUESTION)
    if active:
        expect(page.locator("fieldset.question.is-active")).to_have_attribute("data-key", active)


def expect_answers_checked(page, answers: dict) -> None:
    """Exactly ``answers`` are checked in the label form, and shown as checked."""
    form = page.locator("#label-form")
    for key, value in answers.items():
        for one in value if isinstance(value, list) else [value]:
            expect(form.locator(f"#a-{key}-{one}")).to_be_checked()
            expect(form.locator(f"label[for='a-{key}-{one}']")).to_have_class(
                re.compile(r"\bis-checked\b")
            )
    expected = sum(len(v) if isinstance(v, list) else 1 for v in answers.values())
    expect(form.locator("fieldset.question input:checked")).to_have_count(expected)


def wait_until_saved(page, revision: int) -> None:
    """The autosave of ``revision`` came back (the server's answer updates #revision)."""
    expect(page.locator("#revision")).to_have_value(str(revision))
    expect(page.locator("#save-status")).to_contain_text(re.compile(r"Saved \d\d:\d\d:\d\d"))


def test_an_annotator_labels_five_comments_with_the_keyboard_alone(
    page, login, screenshot, demo_project, annotator, page_errors
):
    comments = list(project_comments(demo_project)[:6])
    assert [c.parent_id is not None for c in comments[:5]] == [False, False, True, False, False]
    login(annotator)
    page.goto(f"/p/{demo_project.slug}/")
    # No clicks from here on: the keys are on screen.
    page.keyboard.press("l")
    expect_ready_on(page, demo_project, comments[0], active="stance_article")
    expect(page.locator("#q-stance_parent")).to_have_count(0)  # not a reply
    expect(page.locator("#q-checkworthy")).to_be_hidden()
    screenshot("first-comment")

    pressed_per_comment = []
    for number, (comment, (keys, answers)) in enumerate(
        zip(comments, LABELLING, strict=False), start=1
    ):
        pressed = []
        for key in keys:
            page.keyboard.press(key)
            pressed.append(key)
            if comment == comments[1] and pressed == ["2", "1"]:
                # A factual claim: "check-worthy?" appears and is the next question.
                expect(page.locator("#q-checkworthy")).to_be_visible()
                expect(page.locator("fieldset.question.is-active")).to_have_attribute(
                    "data-key", "checkworthy"
                )
                screenshot("checkworthy-appears")
        expect_answers_checked(page, answers)
        if comment.parent_id:
            expect(page.locator("#q-stance_parent")).to_be_visible()
            screenshot("reply-answered")
        page.keyboard.press("Enter")
        pressed.append("Enter")
        pressed_per_comment.append(pressed)
        # The next comment is there at once, with its URL, and the keys go on working.
        expect_ready_on(page, demo_project, comments[number], active="stance_article")
        expect(page.locator(".ws-progress")).to_contain_text(f"{number} / 63 done")
        expect(page.locator("#label-form input:checked")).to_have_count(0)
    screenshot("after-five")
    # A reply with one source cited: five answers and Enter, nothing more.
    assert len(pressed_per_comment[2]) == 6

    # Every answer is stored and shown again as saved, after a reload of each comment.
    for comment, (_keys, answers) in zip(comments, LABELLING, strict=False):
        page.goto(workspace_url(demo_project, comment))
        expect_answers_checked(page, answers)
        expect(page.locator("#save-status")).to_contain_text("done")
    page.goto(workspace_url(demo_project, comments[1]))
    expect(page.locator("#q-checkworthy")).to_be_visible()
    screenshot("revisited")

    stored = {
        a.comment_id: a
        for a in Annotation.objects.filter(annotator=annotator).prefetch_related("events")
    }
    assert set(stored) == {c.pk for c in comments[:5]}
    for comment, (_keys, answers) in zip(comments, LABELLING, strict=False):
        annotation = stored[comment.pk]
        assert annotation.status == Annotation.Status.SUBMITTED
        assert annotation.answers == answers
        assert annotation.time_spent_ms > 0
        assert annotation.submitted_at is not None
        kinds = [e.kind for e in annotation.events.all()]
        assert kinds and kinds[-1] == AnnotationEvent.Kind.SUBMIT
    assert page_errors == []


def test_half_done_answers_are_autosaved_and_there_the_next_day(
    page, login, screenshot_of, demo_project, annotator, open_page, page_errors
):
    comment = project_comments(demo_project).filter(parent__isnull=True).first()
    login(annotator)
    page.goto(workspace_url(demo_project, comment))
    expect_ready_on(page, demo_project, comment, active="stance_article")
    expect(page.locator("#save-status")).to_contain_text("Not saved yet")
    page.keyboard.press("2")
    wait_until_saved(page, 1)
    expect(page.locator("#save-status")).to_contain_text("in progress")
    page.keyboard.press("5")
    wait_until_saved(page, 2)
    screenshot_of(page, "autosaved")
    annotation = Annotation.objects.get(annotator=annotator, comment=comment)
    assert annotation.status == Annotation.Status.DRAFT
    assert annotation.answers == {"stance_article": "deny", "claim_type": "personal_experience"}
    # The laptop is closed mid-comment; the next day, another browser, another login.
    page.context.close()

    tomorrow = open_page(annotator)
    tomorrow_errors = collect_errors(tomorrow)
    tomorrow.goto(f"/p/{demo_project.slug}/label/")
    # The half-done comment is still the one waiting, with its answers, at the next question.
    expect_ready_on(tomorrow, demo_project, comment, active="speculation")
    expect_answers_checked(
        tomorrow, {"stance_article": "deny", "claim_type": "personal_experience"}
    )
    expect(tomorrow.locator("#save-status")).to_contain_text("in progress")
    screenshot_of(tomorrow, "next-day")
    assert page_errors == []
    assert tomorrow_errors == []


def test_two_tabs_on_one_comment_never_overwrite_each_other_silently(
    page, login, screenshot_of, demo_project, annotator, page_errors
):
    comment = project_comments(demo_project).filter(parent__isnull=True).first()
    login(annotator)
    tab_a = page
    tab_b = page.context.new_page()
    errors_b = collect_errors(tab_b)
    tab_a.goto(workspace_url(demo_project, comment))
    tab_b.goto(workspace_url(demo_project, comment))
    expect_ready_on(tab_a, demo_project, comment)
    expect_ready_on(tab_b, demo_project, comment)

    tab_a.keyboard.press("1")  # support
    wait_until_saved(tab_a, 1)
    tab_b.keyboard.press("2")  # deny, from a form loaded before A's save
    status_b = tab_b.locator("#save-status")
    expect(status_b).to_contain_text("changed in another tab or window")
    expect(status_b).to_contain_text("Nothing was overwritten")
    expect(status_b).to_contain_text("Stance toward the article: deny")
    expect(status_b).to_have_attribute("role", "alert")
    screenshot_of(tab_b, "conflict")
    annotation = Annotation.objects.get(annotator=annotator, comment=comment)
    assert annotation.answers == {"stance_article": "support"}
    assert annotation.revision == 1

    # B decides its answer is the right one.
    tab_b.get_by_role("button", name="Overwrite it with my answers").click()
    wait_until_saved(tab_b, 2)
    screenshot_of(tab_b, "overwritten")
    annotation.refresh_from_db()
    assert annotation.answers == {"stance_article": "deny"}
    assert annotation.events.count() == 2
    # A is now the stale one: its next change is refused in turn.
    tab_a.keyboard.press("1")
    expect(tab_a.locator("#save-status")).to_contain_text("changed in another tab or window")
    annotation.refresh_from_db()
    assert annotation.answers == {"stance_article": "deny"}
    # A chooses the saved version instead: no warning on leaving, nothing offered again.
    tab_a.get_by_role("link", name="Load the saved version").click()
    expect_ready_on(tab_a, demo_project, comment)
    expect_answers_checked(tab_a, {"stance_article": "deny"})
    expect(tab_a.locator("#save-status")).to_contain_text("Saved")
    assert not tab_a.evaluate(
        "() => Object.keys(localStorage).some(k => k.startsWith('annotator:unsaved:'))"
    )
    # The 409s are expected answers that the page shows; nothing else went wrong.
    unexpected = [e for e in page_errors + errors_b if "409" not in e]
    assert unexpected == []


def test_flag_note_previous_next_and_skip_with_the_keyboard(
    page, login, screenshot, demo_project, annotator, page_errors
):
    first, second, third = project_comments(demo_project)[:3]
    login(annotator)
    page.goto(f"/p/{demo_project.slug}/label/")
    expect_ready_on(page, demo_project, first)

    # f flags; t writes a note; Esc goes back to the questions.
    page.keyboard.press("f")
    expect(page.locator("#flagged")).to_be_checked()
    page.keyboard.press("t")
    expect(page.locator("#note")).to_be_focused()
    page.keyboard.type("Sarcasm? Not sure of the stance.")
    page.keyboard.press("Escape")
    page.wait_for_function(FOCUS_IN_ACTIVE_QUESTION)
    page.keyboard.press("2")  # deny
    screenshot("flag-and-note")

    # ] and [ move between comments, and the address bar follows. Moving on at once, before
    # the autosave's pause is over, loses nothing.
    page.keyboard.press("]")
    expect_ready_on(page, demo_project, second)
    page.keyboard.press("[")
    expect_ready_on(page, demo_project, first)
    expect(page.locator("#flagged")).to_be_checked()
    expect(page.locator("#note")).to_have_value("Sarcasm? Not sure of the stance.")
    expect_answers_checked(page, {"stance_article": "deny"})
    annotation = Annotation.objects.get(annotator=annotator, comment=first)
    assert annotation.answers == {"stance_article": "deny"}
    assert annotation.flagged is True
    assert annotation.note == "Sarcasm? Not sure of the stance."
    assert annotation.status == Annotation.Status.DRAFT
    page.keyboard.press("]")
    expect_ready_on(page, demo_project, second)
    page.reload()
    expect_ready_on(page, demo_project, second)
    # The browser's Back shows the comment as saved, not as first loaded; answering on
    # keeps the earlier answers.
    page.go_back()
    expect_ready_on(page, demo_project, first, active="claim_type")
    expect_answers_checked(page, {"stance_article": "deny"})
    expect(page.locator("#flagged")).to_be_checked()
    revision = int(page.locator("#revision").input_value())
    page.keyboard.press("3")  # opinion
    wait_until_saved(page, revision + 1)
    annotation.refresh_from_db()
    assert annotation.answers == {"stance_article": "deny", "claim_type": "opinion"}
    assert annotation.note == "Sarcasm? Not sure of the stance."

    # s opens the skip reason; Enter there skips and moves on.
    page.goto(workspace_url(demo_project, second))
    expect_ready_on(page, demo_project, second)
    page.keyboard.press("s")
    reason = page.locator("#skip-reason")
    expect(reason).to_be_focused()
    page.keyboard.type("Needs context I don't have")
    screenshot("skip-reason")
    page.keyboard.press("Enter")
    expect_ready_on(page, demo_project, third)
    skipped = Annotation.objects.get(annotator=annotator, comment=second)
    assert skipped.status == Annotation.Status.SKIPPED
    assert skipped.skip_reason == "Needs context I don't have"
    assert skipped.events.get().kind == AnnotationEvent.Kind.SKIP

    # The thread page shows where the annotator stands.
    page.goto(f"/p/{demo_project.slug}/articles/{first.article_id}/labels/")
    expect(page.locator(f"#comment-{first.pk}")).to_contain_text("in progress")
    expect(page.locator(f"#comment-{first.pk}")).to_contain_text("flagged")
    expect(page.locator(f"#comment-{second.pk}")).to_contain_text("skipped")
    expect(page.locator(".status-summary")).to_contain_text("1 skipped")
    screenshot("thread-labels")
    assert page_errors == []


def test_a_wrong_parent_is_reported_in_two_keys(
    page, login, screenshot, demo_project, annotator, page_errors
):
    reply = project_comments(demo_project).filter(parent__isnull=False).first()
    login(annotator)
    page.goto(workspace_url(demo_project, reply))
    expect_ready_on(page, demo_project, reply)
    page.keyboard.press("r")
    report = page.locator("#report-slot .report-form")
    expect(report).to_be_visible()
    expect(report.locator("input[data-key='0']")).to_be_visible()
    expect(report.locator("input[data-key='9']")).to_be_visible()
    screenshot("report-form")
    page.keyboard.press("0")  # the article itself
    expect(page.locator("#report-status")).to_contain_text(
        f"Reported #{reply.pk} as attached to the wrong parent"
    )
    expect(page.locator("#report-dialog")).to_be_hidden()
    screenshot("reported")
    report_row = ParentReport.objects.get()
    assert report_row.comment == reply
    assert report_row.reported_by == annotator
    assert report_row.suggests_article is True
    assert report_row.suggested_parent is None
    # Back to the questions: the next key answers again.
    page.wait_for_function(FOCUS_IN_ACTIVE_QUESTION)
    page.keyboard.press("1")
    expect(page.locator("#a-stance_article-support")).to_be_checked()
    assert page_errors == []


def test_question_mark_shows_the_keys(page, login, screenshot, demo_project, annotator):
    login(annotator)
    page.goto(f"/p/{demo_project.slug}/label/")
    panel = page.locator("#shortcuts")
    expect(panel).to_be_hidden()
    page.wait_for_function(FOCUS_IN_ACTIVE_QUESTION)
    page.keyboard.press("?")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("report a wrong parent")
    expect(page.locator(".kbd-hint")).to_have_count(0)  # not the generic hint as well
    screenshot("keys")
    page.keyboard.press("?")
    expect(panel).to_be_hidden()
    page.wait_for_function(FOCUS_IN_ACTIVE_QUESTION)


def test_enter_with_nothing_answered_shows_what_is_missing(
    page, login, screenshot, demo_project, annotator, page_errors
):
    first = project_comments(demo_project).first()
    login(annotator)
    page.goto(workspace_url(demo_project, first))
    expect_ready_on(page, demo_project, first)
    page.keyboard.press("Enter")
    errors = page.locator("#label-form .q-error")
    expect(errors).to_have_count(4)
    expect(errors.first).to_have_text("This question needs an answer.")
    expect(page.locator("#save-status")).to_contain_text("4 required answers missing")
    expect(page.locator("fieldset.question.has-error")).to_have_count(4)
    expect(page.locator("#q-stance_article")).to_have_attribute(
        "aria-describedby", "q-stance_article-error"
    )
    # Still on the same comment, keys still working.
    expect_ready_on(page, demo_project, first, active="stance_article")
    screenshot("missing")
    # A person reads the message before answering (keys typed on in the same burst as the
    # Enter are refused: they were meant for the next comment).
    page.wait_for_timeout(500)
    page.keyboard.press("1")
    expect(page.locator("#a-stance_article-support")).to_be_checked()
    page.keyboard.press("Enter")
    expect(errors).to_have_count(3)
    expect_ready_on(page, demo_project, first, active="claim_type")
    annotation = Annotation.objects.get(annotator=annotator, comment=first)
    assert annotation.status == Annotation.Status.DRAFT
    assert annotation.answers == {"stance_article": "support"}
    # 422 is how the server says "missing answers"; the page shows it.
    assert [e for e in page_errors if "422" not in e] == []


XSS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    '<a href="javascript:window.__xss=1">click</a>',
    "<svg onload=window.__xss=1>",
    "<div><b>unclosed",
    '"><script>window.__xss=1</script>',
]
# Nothing of the payloads may become an element, and nothing may have run.
INJECTED = (
    "() => document.querySelectorAll("
    '\'script:not([src]), img[src="x"], svg, a[href^="javascript"], [onerror], [onload]\''
    ").length"
)


@pytest.fixture
def hostile_thread(annotator):
    """A project whose names and texts are all attacks: comments, a reply chain, guidelines."""
    from annotator.labelling.models import Guidelines
    from tests.factories import ArticleFactory, MembershipFactory, ProjectFactory, make_comment

    project = ProjectFactory(name=XSS[5] + " project", slug="hostile")
    MembershipFactory(project=project, user=annotator, role=Role.ANNOTATOR)
    article = ArticleFactory(
        project=project,
        title=XSS[0] + " title",
        source=XSS[1],
        body="\n\n".join(XSS),
    )
    comments = [
        make_comment(article, author=XSS[(i + 1) % len(XSS)], text=payload)
        for i, payload in enumerate(XSS)
    ]
    reply = make_comment(article, comments[2], author=XSS[4], text=XSS[3] + "\n" + XSS[1])
    Guidelines.objects.filter(project=project).update(
        text="# Rules\n\n" + "\n\n".join(XSS) + "\n\n[click me](javascript:window.__xss=1)\n"
    )
    return project, article, comments, reply


def test_hostile_comment_text_stays_text_everywhere(
    page, login, screenshot, annotator, hostile_thread, page_errors
):
    project, article, comments, reply = hostile_thread
    dialogs: list[str] = []

    def note_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", note_dialog)

    def expect_inert() -> None:
        assert page.evaluate("typeof window.__xss") == "undefined"
        assert page.evaluate(INJECTED) == 0
        assert dialogs == []

    def click_link_text() -> None:
        # The javascript: "link" is text; clicking it does nothing.
        text = page.get_by_text(XSS[2]).first
        if text.count():
            text.click()

    login(annotator)
    for comment in [*comments, reply]:
        page.goto(workspace_url(project, comment))
        expect_ready_on(page, project, comment)
        # Line breaks become <br>: the text itself is all there, as text.
        expect(page.locator("#current-comment .comment-text")).to_have_text(
            comment.text.replace("\n", "")
        )
        expect(page.locator("#current-comment .author")).to_have_text(comment.author)
        expect(page.locator(".ws-article-title")).to_have_text(article.title)
        if page.locator("#target-article[open]").count() == 0:
            page.keyboard.press("a")  # the whole article, with its text: stays open from now
        expect(page.locator("#target-article")).to_have_attribute("open", "")
        click_link_text()
        expect_inert()
    # The reply shows its parent (twice: in the chain and in the question) as text too.
    expect(page.locator("#target-parent .comment-text")).to_have_text(XSS[2])
    expect(page.locator("#q-stance_parent .q-target")).to_contain_text(XSS[2])
    for payload in XSS:
        expect(page.get_by_text(payload).first).to_be_visible()
    screenshot("workspace")

    # The wrong-parent form lists candidates' texts.
    page.keyboard.press("r")
    expect(page.locator("#report-slot .report-form")).to_be_visible()
    expect(page.locator("#report-slot")).to_contain_text(XSS[2])
    expect_inert()
    page.keyboard.press("Escape")

    # A note and a skip reason typed by the annotator come back as text.
    page.goto(workspace_url(project, comments[0]))
    expect_ready_on(page, project, comments[0])
    page.keyboard.press("t")
    page.keyboard.type(XSS[1] + " " + XSS[0])
    page.keyboard.press("Escape")
    wait_until_saved(page, 1)
    page.keyboard.press("s")
    page.keyboard.type(XSS[5])
    page.keyboard.press("Enter")
    expect_ready_on(page, project, comments[1])
    page.goto(workspace_url(project, comments[0]))
    expect(page.locator("#note")).to_have_value(XSS[1] + " " + XSS[0])
    expect(page.locator("#skip-reason")).to_have_value(XSS[5])
    expect_inert()
    assert Annotation.objects.get(comment=comments[0]).skip_reason == XSS[5]

    # The annotator's thread page, the corpus thread page, the project page, the guidelines.
    for url in [
        f"/p/{project.slug}/articles/{article.pk}/labels/",
        f"/p/{project.slug}/articles/{article.pk}/",
        f"/p/{project.slug}/",
        f"/p/{project.slug}/guidelines/",
    ]:
        page.goto(url)
        expect(page.get_by_text(project.name).first).to_be_visible()
        click_link_text()
        expect_inert()
        if "/articles/" in url:
            expect(page.get_by_role("heading", name=article.title)).to_be_visible()
            for payload in XSS:
                expect(page.get_by_text(payload).first).to_be_visible()
        screenshot(url.strip("/").replace("/", "-"))
    # The guidelines' Markdown link to javascript: is not a link at all.
    expect(page.get_by_role("link", name="click me")).to_have_count(0)
    for payload in XSS:
        expect(page.locator(".guidelines").get_by_text(payload).first).to_be_visible()
    expect_inert()
    assert page_errors == []


def test_a_change_made_just_before_leaving_the_page_is_still_saved(
    open_page, demo_project, annotator, live_server_requests
):
    first = project_comments(demo_project).first()
    tab = open_page(annotator)
    tab.goto(workspace_url(demo_project, first))
    expect_ready_on(tab, demo_project, first)
    tab.keyboard.press("2")  # autosave waits 300 ms for more keys...
    tab.goto(f"/p/{demo_project.slug}/")  # ...but the page is left at once
    expect(tab.get_by_role("heading", level=1)).to_be_visible()
    for _ in range(50):
        # Read only while the server writes nothing (SQLite: the test shares its database).
        live_server_requests.wait_until_idle()
        annotation = Annotation.objects.filter(comment=first, annotator=annotator).first()
        if annotation is not None:
            break
        tab.wait_for_timeout(100)
    assert annotation is not None
    assert annotation.answers == {"stance_article": "deny"}


def test_on_a_narrow_screen_the_article_starts_closed(open_page, demo_project, annotator):
    tab = open_page(annotator, viewport={"width": 768, "height": 1024})
    tab.goto(f"/p/{demo_project.slug}/label/")
    expect(tab.locator("#target-article")).not_to_have_attribute("open", "")
    expect(tab.locator("fieldset.question.is-active")).to_be_in_viewport()
