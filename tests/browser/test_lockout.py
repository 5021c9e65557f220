"""In a real browser: a person who mistypes their password too often is told when to retry."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, UserFactory


@pytest.fixture(autouse=True)
def lockout(settings):
    """Axes on (the test settings turn it off), with the production defaults."""
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def submit(page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 800}, {"width": 375, "height": 700}]
)
def test_too_many_typos_show_when_to_try_again(open_page, screenshot_of, viewport):
    UserFactory(username="nina")
    page = open_page(viewport=viewport)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/accounts/login/")
    for _ in range(4):
        submit(page, "nina", "wrong password")
        expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()

    submit(page, "nina", "wrong password")
    expect(page.get_by_role("heading", name="Too many failed logins")).to_be_visible()
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(re.compile(r"Try again after \d\d:\d\d UTC, in 15 minutes\."))
    expect(alert).to_be_in_viewport()
    expect(page.get_by_role("link", name="Comment annotator")).to_be_visible()  # site layout
    screenshot_of(page, f"locked-out-{viewport['width']}")

    # The right password does not get in until the wait is over.
    page.get_by_role("link", name="Back to the login page").click()
    submit(page, "nina", PASSWORD)
    expect(page.get_by_role("heading", name="Too many failed logins")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    assert errors == [] or all("429" in error for error in errors)
