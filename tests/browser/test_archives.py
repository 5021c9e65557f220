"""In a real browser: a site admin archives a labelled project, downloads the archive, and
restores it under another slug, as when moving a project to another installation."""

from pathlib import Path

from playwright.sync_api import expect

from annotator.corpus.importers.loader import import_file
from annotator.corpus.models import Comment, Project
from annotator.labelling.models import Annotation
from tests.factories import UserFactory, make_label

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"


def test_a_site_admin_archives_a_project_downloads_it_and_restores_it_as_a_copy(
    page, login, screenshot, admin_and_project, page_errors, tmp_path
):
    _, project = admin_and_project
    import_file(project, SAMPLES / "thread.jsonl")
    labeller = UserFactory(username="lena")
    for comment in Comment.objects.filter(article__project=project)[:3]:
        make_label(comment, labeller, {"claim_type": "opinion"})
    site_admin = UserFactory(username="sam", is_staff=True, is_superuser=True)

    login(site_admin)
    page.goto(f"/p/{project.slug}/")
    page.get_by_role("link", name="Archive", exact=True).click()
    page.get_by_role("button", name="Create an archive").click()

    # The job page: done (the test's tasks run at once), its counts and the download.
    expect(page.get_by_role("heading", name="Done")).to_be_visible()
    download_link = page.get_by_role("link", name="Download archive")
    expect(download_link).to_be_in_viewport()
    screenshot("archived")
    with page.expect_download() as download:
        download_link.click()
    archive = tmp_path / download.value.suggested_filename
    download.value.save_as(archive)
    assert archive.name.startswith(f"{project.slug}-") and archive.name.endswith(".jsonl.gz")

    page.goto("/archives/restore/")
    page.get_by_label("Archive:").set_input_files(archive)
    page.get_by_label("Restore as (slug):").fill("aleppo-copy")
    page.get_by_role("button", name="Restore").click()

    restored_link = page.locator("#archive-progress").get_by_role("link", name=project.name)
    expect(page.get_by_text("Restored as")).to_be_in_viewport()
    expect(restored_link).to_have_attribute("href", "/p/aleppo-copy/")
    screenshot("restored")
    copy = Project.objects.get(slug="aleppo-copy")
    assert Comment.objects.filter(article__project=copy).count() == (
        Comment.objects.filter(article__project=project).count()
    )
    assert Annotation.objects.filter(project=copy, annotator=labeller).count() == 3
    assert page_errors == []


def test_a_project_admin_who_is_not_a_site_admin_sees_no_archive_link(
    page, login, admin_and_project
):
    admin, project = admin_and_project
    login(admin)
    page.goto(f"/p/{project.slug}/")
    expect(page.get_by_role("heading", name=project.name)).to_be_visible()
    expect(page.get_by_role("link", name="Archive", exact=True)).to_have_count(0)
    response = page.goto(f"/p/{project.slug}/archives/")
    assert response.status == 403
