"""In a real browser: a reviewer reads the project dashboard, compares two other annotators
in the confusion matrix (swapped in by htmx) and downloads a chart's numbers as CSV."""

import csv
import re
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from annotator.corpus.models import Role
from tests.factories import (
    ArticleFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_comment,
    make_label,
)

STANCES = ["support", "deny", "query", "comment"]
CLAIMS = ["factual", "opinion", "prediction"]


@pytest.fixture
def reviewer_and_project():
    """A project with twelve comments labelled over three days by three annotators."""
    project = ProjectFactory(name="Aleppo ceasefire", slug="aleppo")
    reviewer = UserFactory(username="rita")
    MembershipFactory(project=project, user=reviewer, role=Role.REVIEWER)
    people = []
    for name in ("ann", "bob", "cy"):
        user = UserFactory(username=name)
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
        people.append(user)
    article = ArticleFactory(project=project, title="Ceasefire in Aleppo")
    tops = [make_comment(article, text=f"Top {n}") for n in range(8)]
    comments = tops + [make_comment(article, parent=tops[n], text=f"Reply {n}") for n in range(4)]
    start = timezone.now() - timedelta(days=3)
    for index, comment in enumerate(comments):
        for offset, person in enumerate(people):
            if offset == 2 and index % 3 == 0:
                continue  # cy skips some
            stance = STANCES[(index + (offset if index % 2 else 0)) % 4]
            answers = {
                "stance_article": stance,
                "claim_type": CLAIMS[index % 3],
                "speculation": "certain",
                "source_cited": ["none"] if index % 2 else ["reasoning"],
            }
            if comment.parent_id:
                answers["stance_parent"] = STANCES[(index + offset) % 4]
            make_label(
                comment,
                person,
                answers,
                updated_at=start + timedelta(days=index // 4, minutes=5 * index + offset),
                time_spent_ms=20_000 + 5_000 * offset,
            )
    return reviewer, project, people


def settled(page) -> None:
    """Wait until htmx has finished swapping the matrix and wired up the new form."""
    page.wait_for_function(
        "() => { const form = document.querySelector('#confusion form');"
        " return Boolean(form && form['htmx-internal-data'])"
        " && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling'); }"
    )


def blocking_accessibility_problems(page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [
        f"{violation['id']} ({violation['impact']}): {node['html'][:160]}"
        for violation in violations
        if violation["impact"] in {"serious", "critical"}
        for node in violation["nodes"]
    ]


def test_a_reviewer_reads_the_dashboard_and_compares_two_annotators(
    page, login, screenshot, page_errors, reviewer_and_project, tmp_path
):
    reviewer, project, (_ann, bob, cy) = reviewer_and_project
    login(reviewer)
    page.goto(f"/p/{project.slug}/")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()

    # The agreement table, the worst questions and the charts are there.
    agreement = page.locator("table.agreement-table").first
    expect(agreement).to_be_visible()
    stance_row = agreement.get_by_role("rowheader", name=re.compile("Stance toward the article"))
    expect(stance_row.first).to_be_visible()
    expect(page.get_by_role("heading", name="Where annotators disagree most")).to_be_visible()
    expect(
        page.get_by_role("img", name=re.compile("Submitted annotations per day"))
    ).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Claim type: labels given"))).to_be_visible()
    expect(page.locator("#pace").get_by_role("rowheader", name="cy")).to_be_visible()
    caption = page.locator("#confusion .confusion-summary")
    expect(caption).to_contain_text("rows are ann\u2019s labels, columns bob\u2019s")
    screenshot("dashboard")
    problems = blocking_accessibility_problems(page)
    assert not problems, "\n".join(problems)

    # Compare bob with cy instead: each choice swaps the matrix in place.
    page.get_by_label("Annotator B").select_option(label="cy")
    expect(caption).to_contain_text("columns cy\u2019s")
    settled(page)
    page.get_by_label("Annotator A").select_option(label="bob")
    expect(caption).to_contain_text("rows are bob\u2019s labels, columns cy\u2019s")
    settled(page)
    page.locator("#confusion").get_by_label("Question").select_option(label="Claim type")
    expect(caption).to_contain_text("Claim type: rows are bob\u2019s labels")
    expect(page).to_have_url(re.compile(rf"question=claim_type&a={bob.pk}&b={cy.pk}"))
    # Only the matrix was swapped: the rest of the page is still the one first loaded.
    expect(page.locator("#progress")).to_be_visible()
    expect(page.locator("table.confusion-table td.agree").first).to_be_visible()
    screenshot("confusion")

    # Download the matrix just shown as CSV, and the pace table.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV of this confusion matrix").click()
    download = download_info.value
    assert download.suggested_filename == f"aleppo-confusion-claim_type-{bob.pk}-{cy.pk}.csv"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    with path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert {(r["annotator_a"], r["annotator_b"]) for r in rows} == {("bob", "cy")}
    shared = sum(int(r["count"]) for r in rows)
    expect(caption).to_contain_text(f"on the {shared} comments both labelled")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV of pace per annotator").click()
    path = tmp_path / "pace.csv"
    download_info.value.save_as(path)
    with path.open(newline="") as stream:
        pace = {r["annotator"]: r for r in csv.DictReader(stream)}
    assert pace["ann"]["submitted"] == "12"
    assert pace["cy"]["submitted"] == "8"

    assert page_errors == []
