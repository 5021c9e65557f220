"""In a real browser: a project admin invites someone by e-mail and copies the link; the
newcomer opens it, chooses a password and starts labelling; a site admin deactivates them."""

import re

from playwright.sync_api import expect

from annotator.accounts.models import Invitation
from annotator.corpus.models import Membership, Role
from tests.browser.test_accessibility import blocking_violations
from tests.factories import UserFactory

NEW_PASSWORD = "a long and unusual pass phrase 7"


def test_an_invited_newcomer_sets_a_password_and_lands_in_the_project(
    open_page, demo_project, settings, mailoutbox, screenshot_of
):
    from axe_playwright_python.sync_playwright import Axe

    settings.EMAIL_ENABLED = True
    stella = UserFactory(username="stella")
    Membership.objects.create(project=demo_project, user=stella, role=Role.ADMIN)
    page = open_page(stella, permissions=["clipboard-read", "clipboard-write"])
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))

    # The admin invites nina by e-mail as annotator.
    page.goto(f"/p/{demo_project.slug}/members/")
    page.get_by_label("Username or e-mail").fill("nina@example.org")
    page.get_by_label(re.compile(r"^Role:?$")).select_option("annotator")
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Invited nina@example.org as annotator. We e-mailed the link to nina@example.org"
    )
    row = page.get_by_role("row").filter(has_text="nina@example.org")
    expect(row).to_contain_text("Annotator")
    expect(row).to_contain_text("stella")
    screenshot_of(page, "pending-invitation")
    assert blocking_violations(Axe(), page) == []

    # ... copies the link shown (the same link went out by e-mail).
    row.get_by_role("button", name="Copy link").click()
    expect(row.get_by_role("button", name="Copied")).to_be_visible()
    link = page.evaluate("navigator.clipboard.readText()")
    invitation = Invitation.objects.get()
    assert link.endswith(invitation.get_absolute_url())
    (message,) = mailoutbox
    assert message.to == ["nina@example.org"]
    assert link in message.body

    # ... and logs out. Nina opens the link: the username is filled in for her.
    page.get_by_role("button", name="Log out").click()
    page.goto(link)
    expect(page.get_by_role("heading", name=f"Join {demo_project.name}")).to_be_visible()
    expect(page.get_by_text("as annotator")).to_be_visible()
    username = page.get_by_label("Username")
    expect(username).to_have_value("nina")
    expect(username).to_be_focused()
    assert blocking_violations(Axe(), page) == []

    # A password too much like her address is refused, saying why; a good one gets her in.
    page.get_by_label(re.compile(r"^Password:?$")).fill("ninaexampleorg")
    page.get_by_label("Password confirmation").fill("ninaexampleorg")
    page.get_by_role("button", name="Create account and join").click()
    expect(page.get_by_text("The password is too similar")).to_be_visible()
    page.get_by_label(re.compile(r"^Password:?$")).fill(NEW_PASSWORD)
    page.get_by_label("Password confirmation").fill(NEW_PASSWORD)
    screenshot_of(page, "sign-up")
    page.get_by_role("button", name="Create account and join").click()

    # She lands in the project as an annotator, logged in, and can start labelling.
    expect(page).to_have_url(re.compile(f"/p/{demo_project.slug}/$"))
    expect(
        page.get_by_text(f"Welcome to {demo_project.name}! You joined as annotator.")
    ).to_be_visible()
    expect(page.locator(".account .who")).to_have_text("nina")
    expect(page.get_by_role("link", name="Members")).to_have_count(0)
    screenshot_of(page, "landed")
    page.get_by_role("link", name="Start labelling").click()
    expect(page).to_have_url(re.compile(f"/p/{demo_project.slug}/label/\\d+/"))
    expect(page.locator("#q-stance_article")).to_be_visible()
    nina = Membership.objects.get(project=demo_project, role=Role.ANNOTATOR).user
    assert (nina.username, nina.email) == ("nina", "nina@example.org")

    # The link works once.
    page.goto(link)
    expect(page.get_by_role("heading", name="This invitation cannot be used")).to_be_visible()
    expect(page.get_by_text("has already been used")).to_be_visible()
    # The refused password (400) and the used link (410) are logged as such; nothing else is.
    assert [e for e in errors if "responded with a status of 4" not in e] == []


def test_someone_with_an_account_logs_in_from_the_link_and_joins(open_page, demo_project):
    UserFactory(username="bob", email="bob@example.org")
    stella = UserFactory(username="stella")
    Membership.objects.create(project=demo_project, user=stella, role=Role.ADMIN)
    from annotator.accounts.invitations import invite

    invitation = invite(demo_project, "bob", Role.REVIEWER, stella)
    page = open_page()
    page.goto(invitation.get_absolute_url())
    page.get_by_role("link", name="Log in to join with it").click()
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name=f"Join {demo_project.name} as bob").click()
    expect(
        page.get_by_text(f"Welcome to {demo_project.name}! You joined as reviewer.")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Review")).to_be_visible()


def test_a_site_admin_deactivates_an_account_after_confirming(open_page, demo_project):
    UserFactory(username="bob")
    admin = UserFactory(username="stella", is_staff=True)
    page = open_page(admin)
    page.get_by_role("link", name="People").click()
    bob = page.get_by_role("row").filter(has_text="bob")
    expect(page.get_by_role("row").filter(has_text="stella").get_by_role("button")).to_have_count(0)
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    bob.get_by_role("button", name="Deactivate").click()
    assert asked and asked[0].startswith("Deactivate bob?")
    expect(bob.get_by_role("button", name="Deactivate")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    bob.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_text("Deactivated bob: they are logged out")).to_be_visible()
    expect(bob.get_by_role("button", name="Reactivate")).to_be_visible()
