"""In a real browser: a refused or lost person reads why, and the links on the error pages
take them somewhere useful; every page has its icon and asks for nothing that is missing."""

import re

import pytest
from playwright.sync_api import expect

from annotator.corpus.models import Role
from tests.browser.conftest import collect_errors
from tests.factories import (
    ArticleFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_comment,
)


@pytest.fixture
def newsroom():
    """Two projects, a comment in each; an admin of the first; an annotator of both."""
    first = ProjectFactory(name="Aleppo ceasefire", slug="aleppo")
    second = ProjectFactory(name="Other newsroom", slug="other")
    admin = UserFactory(username="ada")
    MembershipFactory(project=first, user=admin, role=Role.ADMIN)
    both = UserFactory(username="nina")
    MembershipFactory(project=first, user=both, role=Role.ANNOTATOR)
    MembershipFactory(project=second, user=both, role=Role.ANNOTATOR)
    only_first = UserFactory(username="omar")
    MembershipFactory(project=first, user=only_first, role=Role.ANNOTATOR)
    comment = make_comment(ArticleFactory(project=second, title="Convoys"), text="Elsewhere")
    return {
        "first": first,
        "second": second,
        "nina": both,
        "omar": only_first,
        "elsewhere": comment,
    }


def test_a_refused_annotator_reads_why_and_whom_to_ask_and_goes_back(open_page, newsroom):
    page = open_page(newsroom["nina"], viewport={"width": 768, "height": 1024})
    response = page.goto("/p/aleppo/members/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(
        "Your role in Aleppo ceasefire does not allow this."
    )
    expect(page.get_by_role("alert")).to_contain_text("ask an admin of Aleppo ceasefire (ada)")
    page.get_by_role("link", name="Back to Aleppo ceasefire").click()
    expect(page).to_have_url(re.compile(r"/p/aleppo/$"))
    page.go_back()
    page.get_by_role("link", name="Your projects").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()


def test_a_link_to_a_comment_of_another_project_says_where_it_is(open_page, newsroom):
    comment = newsroom["elsewhere"]
    page = open_page(newsroom["nina"])
    response = page.goto(f"/p/aleppo/label/{comment.pk}/")
    assert response.status == 404
    expect(page.get_by_text("This comment is in project Other newsroom")).to_be_visible()
    page.get_by_role("link", name="Open it in Other newsroom").click()
    expect(page).to_have_url(re.compile(rf"/p/other/label/{comment.pk}/$"))
    expect(page.locator("#label-form")).to_be_visible()


def test_a_comment_of_a_project_the_person_is_not_in_stays_a_plain_404(open_page, newsroom):
    page = open_page(newsroom["omar"])
    response = page.goto(f"/p/aleppo/comments/{newsroom['elsewhere'].pk}/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Other newsroom")
    page.get_by_role("link", name="Your projects").click()
    expect(page.get_by_role("link", name="Aleppo ceasefire")).to_be_visible()


def test_pages_show_the_icon_and_ask_for_nothing_missing(open_page, newsroom):
    page = open_page()
    errors = collect_errors(page)
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    page.goto("/accounts/login/")
    page.wait_for_load_state("networkidle")
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert icon.endswith("favicon.svg")
    assert page.request.get(icon).ok
    assert page.request.get("/favicon.ico").ok  # followed to the SVG
    assert missing == [], missing
    assert errors == [], errors
