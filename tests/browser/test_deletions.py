"""In a real browser: an admin reads what deleting an article takes, then deletes it."""

import pytest
from playwright.sync_api import expect

from annotator.corpus.models import Article, Comment, DeletedArticle, Role
from annotator.labelling.models import Annotation
from annotator.review.models import GoldLabel
from tests.factories import (
    COMPLETE_REPLY,
    ArticleFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_comment,
    make_gold_label,
    make_label,
)


@pytest.fixture
def labelled_thread():
    """A project admin and an article with 3 comments, 3 answers by 2 people, 1 gold label."""
    project = ProjectFactory(name="Aleppo ceasefire", slug="aleppo")
    admin = UserFactory(username="ada")
    MembershipFactory(project=project, user=admin, role=Role.ADMIN)
    article = ArticleFactory(project=project, title="Why did the army stop?", source_id="sf-1")
    first = make_comment(article, text="From SANA.")
    second = make_comment(article, parent=first, text="Hopefully.")
    make_comment(article, text="Nothing changes.")
    zoe, adam = UserFactory(username="zoe"), UserFactory(username="adam")
    make_label(first, zoe, COMPLETE_REPLY)
    make_label(first, adam, COMPLETE_REPLY)
    make_label(second, zoe, COMPLETE_REPLY)
    make_gold_label(first, admin, COMPLETE_REPLY)
    return admin, project, article


def test_an_admin_reads_the_counts_then_deletes_an_article(
    page, login, screenshot, labelled_thread
):
    admin, project, article = labelled_thread

    login(admin)
    page.goto(f"/p/{project.slug}/articles/{article.pk}/")
    page.get_by_role("link", name="Delete this article…").click()

    expect(page.get_by_role("heading", name="Delete “Why did the army stop?”?")).to_be_visible()
    expect(page.locator("#delete-impact")).to_have_text(
        "Deletes 3 comments, 3 annotations by 2 annotators, 1 gold label."
    )
    screenshot("confirm")
    # Cancel first: nothing is deleted by reading the counts.
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", name="Why did the army stop?")).to_be_visible()
    assert Comment.objects.count() == 3

    page.get_by_role("link", name="Delete this article…").click()
    page.get_by_role("button", name="Delete the article and its labels").click()

    expect(page.get_by_text("Deleted “Why did the army stop?”: 3 comments")).to_be_visible()
    assert page.url.endswith(f"/p/{project.slug}/")
    assert not Article.objects.exists()
    assert (Comment.objects.count(), Annotation.objects.count(), GoldLabel.objects.count()) == (
        0,
        0,
        0,
    )
    record = DeletedArticle.objects.get()
    assert (record.deleted_by, record.annotations, record.annotators) == (admin, 3, 2)

    # The import log keeps who deleted what.
    page.goto(f"/p/{project.slug}/imports/")
    log = page.locator("table.deleted-log")
    expect(log).to_contain_text("Why did the army stop?")
    expect(log).to_contain_text("sf-1")
    expect(log).to_contain_text("ada")
    screenshot("log")
