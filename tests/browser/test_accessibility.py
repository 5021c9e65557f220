"""In a real browser: axe-core finds no serious or critical accessibility problem on the
annotator's pages, and the workspace fits a laptop and a tablet without sideways scrolling.
"""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from annotator.labelling.annotations import project_comments
from tests.factories import make_comment

BLOCKING = {"serious", "critical"}
FOCUS_IN_ACTIVE_QUESTION = (
    "() => { const el = document.activeElement;"
    " return Boolean(el && el.matches('fieldset.question.is-active input')); }"
)


@pytest.fixture(scope="module")
def axe():
    return Axe()


def blocking_violations(axe, page) -> list[str]:
    """axe-core's serious and critical findings on the page, one readable line per element."""
    results = axe.run(page)
    lines = []
    for violation in results.response["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        for node in violation["nodes"]:
            lines.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']}\n"
                f"    at {', '.join(map(str, node['target']))}: {node['html'][:200]}\n"
                f"    {node.get('failureSummary', '').replace(chr(10), ' ')}"
            )
    return lines


def report(found: dict[str, list[str]]) -> str:
    return "\n".join(
        f"\n== {where}: {len(lines)} serious/critical ==\n" + "\n".join(lines)
        for where, lines in found.items()
        if lines
    )


def test_axe_finds_nothing_serious_on_the_annotators_pages(
    page, login, screenshot, axe, demo_project, annotator
):
    comments = list(project_comments(demo_project)[:3])
    top, reply = comments[0], comments[2]
    assert reply.parent_id is not None
    # axe is injected with page.evaluate, which the page's Content-Security-Policy
    # (script-src 'self') does not apply to: no bypass_csp needed, the real policy stays on.
    login(annotator)
    found: dict[str, list[str]] = {}

    page.goto(f"/p/{demo_project.slug}/")
    found["project page"] = blocking_violations(axe, page)

    page.goto(f"/p/{demo_project.slug}/label/{top.pk}/")
    page.wait_for_function(FOCUS_IN_ACTIVE_QUESTION)
    found["workspace, top-level comment"] = blocking_violations(axe, page)

    # The error state: Enter with nothing answered.
    page.keyboard.press("Enter")
    expect(page.locator("#label-form .q-error").first).to_be_visible()
    page.wait_for_function(FOCUS_IN_ACTIVE_QUESTION)
    found["workspace, missing answers"] = blocking_violations(axe, page)
    screenshot("errors")

    page.goto(f"/p/{demo_project.slug}/label/{reply.pk}/")
    page.wait_for_function(FOCUS_IN_ACTIVE_QUESTION)
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    found["workspace, reply, keys panel open"] = blocking_violations(axe, page)
    screenshot("reply-keys")
    page.keyboard.press("Escape")
    page.keyboard.press("s")
    expect(page.locator("#skip")).to_be_visible()
    found["workspace, skip panel open"] = blocking_violations(axe, page)
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    expect(page.locator("#report-dialog .report-form")).to_be_visible()
    found["workspace, wrong-parent report open"] = blocking_violations(axe, page)
    page.keyboard.press("Escape")
    page.wait_for_function(FOCUS_IN_ACTIVE_QUESTION)

    # A deep reply (root, "N more" opened, parent), with a save that failed.
    article = top.article
    parent = None
    for depth in range(5):
        parent = make_comment(article, parent, author=f"deep{depth}", text=f"Depth {depth} " * 30)
    page.goto(f"/p/{demo_project.slug}/label/{parent.pk}/")
    page.wait_for_function(FOCUS_IN_ACTIVE_QUESTION)
    page.locator("#chain-more > summary").click()
    page.context.set_offline(True)
    page.keyboard.press("1")
    expect(page.locator("#save-status")).to_contain_text("Not saved")
    found["workspace, deep reply, save failing"] = blocking_violations(axe, page)
    screenshot("deep-not-saved")
    page.context.set_offline(False)
    expect(page.locator("#save-status")).to_contain_text("Saved", timeout=15_000)

    page.goto(f"/p/{demo_project.slug}/articles/{top.article_id}/labels/")
    found["thread labels page"] = blocking_violations(axe, page)

    page.goto(f"/p/{demo_project.slug}/guidelines/")
    found["guidelines page"] = blocking_violations(axe, page)

    problems = report(found)
    print(problems or "axe: no serious or critical violations on " + ", ".join(found))
    assert not problems, problems


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (768, 1024)], ids=["laptop", "tablet"])
def test_the_workspace_fits_without_sideways_scrolling(
    page, login, screenshot, demo_project, annotator, width, height
):
    reply = project_comments(demo_project).filter(parent__isnull=False).first()
    page.set_viewport_size({"width": width, "height": height})
    login(annotator)
    page.goto(f"/p/{demo_project.slug}/label/{reply.pk}/")
    page.wait_for_function(FOCUS_IN_ACTIVE_QUESTION)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    )
    screenshot(f"{width}x{height}")

    # The first question is there to answer, and the submit button can be reached.
    first = page.locator("#q-stance_article")
    expect(first).to_be_visible()
    expect(first).to_have_class(re.compile(r"\bis-active\b"))
    for target in [first.locator("legend"), page.locator("#submit-button")]:
        target.scroll_into_view_if_needed()
        expect(target).to_be_in_viewport()
        box = target.bounding_box()
        assert box is not None
        assert box["x"] >= 0, box
        assert box["x"] + box["width"] <= width, box
    expect(page.locator("#submit-button")).to_be_enabled()
    screenshot(f"{width}x{height}-submit")
