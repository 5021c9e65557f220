"""In a real browser: a long scraped thread read in the background, then checked a page at a
time, with a parent found by searching and every choice kept across pages and a reload."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from annotator.corpus.models import Comment, ImportJob
from annotator.corpus.previews import PAGE_SIZE, build_reading
from tests.browser.conftest import answer_late
from tests.corpus.test_previews import long_thread


def test_the_page_shows_the_reading_then_turns_into_the_preview_when_it_is_done(
    page, login, admin_and_project, page_errors
):
    admin, project = admin_and_project
    content = long_thread(120)
    job = ImportJob.objects.create(
        project=project,
        created_by=admin,
        format="text",
        status=ImportJob.Status.READING,
        file=SimpleUploadedFile("long.txt", content),
        original_name="long.txt",
        total_bytes=len(content),
        processed_bytes=len(content) // 2,
    )

    login(admin)
    page.goto(f"/p/{project.slug}/imports/{job.pk}/")
    expect(page.get_by_role("heading", name="Reading the thread…")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("50%")
    expect(page.get_by_text("nothing is imported before you confirm")).to_be_visible()

    build_reading(job)  # what the worker does; the page's poll then shows the preview
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.PREVIEW)

    expect(page.get_by_role("heading", name="Check the reconstructed thread")).to_be_visible()
    expect(page.locator(".preview-thread > li.comment")).to_have_count(PAGE_SIZE)
    assert page_errors == []


def test_an_admin_pages_through_a_long_thread_and_finds_a_far_parent_by_its_words(
    page, login, screenshot, admin_and_project, page_errors
):
    admin, project = admin_and_project
    login(admin)
    page.goto(f"/p/{project.slug}/imports/")
    page.set_input_files(
        "input[type=file]",
        files=[{"name": "long.txt", "mimeType": "text/plain", "buffer": long_thread(250)}],
    )
    # The upload reads all 250 comments before it answers: on a loaded CI machine (the suite
    # runs on parallel workers) that has taken longer than the 10 s default.
    page.get_by_role("button", name="Upload").click(timeout=30_000)

    expect(page.get_by_role("heading", name="Check the reconstructed thread")).to_be_visible()
    comments = page.locator(".preview-thread > li.comment")
    expect(comments).to_have_count(PAGE_SIZE)
    pager = page.get_by_role("navigation", name="Pages of comments").first
    expect(pager).to_contain_text(f"Comments 1\u2013{PAGE_SIZE} of 250")
    job = ImportJob.objects.get()
    rows = list(job.preview_comments.order_by("position"))
    far_parent, child = rows[3], rows[2 * PAGE_SIZE + 10]

    # Page 3 holds the comment; its far parent is on page 1: search by its words.
    pager.get_by_role("link", name="Next →").click()
    page.get_by_role("navigation", name="Pages of comments").first.get_by_role(
        "link", name="Next →"
    ).click()
    expect(page.get_by_role("navigation", name="Pages of comments").first).to_contain_text(
        f"Comments {2 * PAGE_SIZE + 1}\u2013250 of 250"
    )
    box = page.locator(f"#preview-comment-{child.line}")
    field = box.get_by_label("or any comment above")
    field.scroll_into_view_if_needed()
    words = " ".join(far_parent.text.split()[:4])
    field.press_sequentially(words, delay=20)
    option = page.locator(f'#preview-comments option[value="{far_parent.line}"]')
    expect(option).to_have_count(1)
    assert option.text_content().startswith(f"line {far_parent.line} · ")
    screenshot("preview-search")

    # Picking it from the list puts its line in the field; leaving the field keeps it. The
    # save's answer comes after the search the typing sent (a slow server): that search's
    # swap must not use up where the admin was looking.
    # The search (250 ms after the typing) settles while the save's answer is on its way.
    answer_late(page, f"**/imports/{job.pk}/preview/", 1.0)
    field.fill(str(far_parent.line))
    before = box.bounding_box()["y"]
    with page.expect_response(lambda r: "/preview/comments/" in r.url):
        field.press("Tab")
    box = page.locator(f"#preview-comment-{child.line}")
    expect(box.locator(".changed-badge")).to_have_text("changed by you")
    expect(box).to_contain_text(f"answers line {far_parent.line}")
    expect(box).to_be_in_viewport()  # the re-render did not move the admin away
    assert abs(box.bounding_box()["y"] - before) < 2  # it stayed where the admin was looking

    # Back to page 1 and forward again, then a reload: the choice is still there.
    page.wait_for_load_state("networkidle")
    page.goto(f"/p/{project.slug}/imports/{job.pk}/")
    expect(comments).to_have_count(PAGE_SIZE)
    page.goto(f"/p/{project.slug}/imports/{job.pk}/?page=3")
    page.reload()
    kept = page.locator(f"#preview-comment-{child.line}")
    expect(kept.locator(".changed-badge")).to_have_text("changed by you")
    expect(kept.get_by_label("Answers")).to_have_value(str(far_parent.line))

    # Only the links to check, then confirm: the whole thread is imported with the choice.
    page.get_by_role("link", name="Show only the links to check").click()
    expect(page.get_by_text("Showing only the links to check.")).to_be_visible()
    page.get_by_role("button", name="Confirm and import").first.click()
    expect(page.get_by_role("heading", name="Imported")).to_be_visible()
    expect(page.locator(".import-counts dd").nth(1)).to_have_text("250")
    saved = Comment.objects.select_related("parent").get(article__project=project, text=child.text)
    assert saved.parent.text == far_parent.text
    assert page_errors == []
