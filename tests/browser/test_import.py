"""In a real browser: an admin imports a scraped thread after fixing it, then a broken file."""

import json
import re
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from annotator.corpus.importers import ACCEPTED
from annotator.corpus.models import Article, Comment, ImportJob

SEED = Path(__file__).resolve().parents[2] / "fixtures" / "seed_thread.txt"


def test_an_admin_fixes_a_scraped_thread_in_the_preview_and_imports_it(
    page, login, screenshot, admin_and_project, page_errors, tmp_path
):
    from annotator.corpus.importers.text import reconstruct_thread

    admin, project = admin_and_project
    reading = reconstruct_thread(SEED.read_text("utf-8"), SEED.name)
    # The comment the admin corrects: one whose second candidate is another comment.
    target = next(
        c
        for c in reading.comments
        if len(c.candidates) > 1 and c.candidates[1].parent_line is not None
    )
    new_parent = target.candidates[1].parent_line

    login(admin)
    page.goto(f"/p/{project.slug}/")
    page.get_by_role("link", name="Imports").click()
    page.get_by_label("File to import").set_input_files(SEED)
    page.get_by_role("button", name="Upload").click()

    # The preview: the article with its end marked, the comments with how sure each link is.
    expect(page.get_by_role("heading", name="Check the reconstructed thread")).to_be_visible()
    expect(page.locator("#preview-title")).to_have_text(reading.title)
    expect(page.locator("input[name=article_end]:checked")).to_have_value(str(reading.article_end))
    expect(page.locator(".preview-thread > li.comment")).to_have_count(len(reading.comments))
    expect(page.locator(".badge.confidence").first).to_be_visible()
    screenshot("preview")
    page.set_viewport_size({"width": 768, "height": 1024})
    screenshot("preview-768")
    page.set_viewport_size({"width": 1280, "height": 800})

    # The first comment is article text after all; then the admin changes their mind.
    paragraphs = page.locator(".preview-paragraph")
    expect(paragraphs).to_have_count(len(reading.article_paragraphs))
    page.get_by_label("This is still article text").first.check()
    expect(paragraphs).to_have_count(len(reading.article_paragraphs) + 1)
    expect(page.locator(".preview-thread > li.comment")).to_have_count(len(reading.comments) - 1)
    paragraphs.nth(len(reading.article_paragraphs) - 1).get_by_label(
        "The article ends here"
    ).check()
    expect(paragraphs).to_have_count(len(reading.article_paragraphs))
    # The article's last paragraph is a reader's after all: it becomes a comment of its own,
    # the first reader comment stays as it was, and the choice can be undone.
    comments = page.locator(".preview-thread > li.comment")
    first_text = comments.first.locator(".comment-text").first.inner_text()
    paragraphs.nth(len(reading.article_paragraphs) - 2).get_by_label(
        "The article ends here"
    ).check()
    expect(paragraphs).to_have_count(len(reading.article_paragraphs) - 1)
    expect(comments).to_have_count(len(reading.comments) + 1)
    last_paragraph = reading.article_paragraphs[-1].text
    expect(comments.first.locator(".comment-text").first).to_have_text(last_paragraph)
    expect(comments.nth(1).locator(".comment-text").first).to_have_text(first_text)
    released_end = str(reading.article_paragraphs[-1].line)
    back = page.locator(f"#preview-comment-{released_end}").get_by_label(
        "This is still article text"
    )
    expect(back).to_have_value(released_end)  # its own end, not the next comment's
    page.wait_for_load_state("networkidle")
    back.check()
    expect(paragraphs).to_have_count(len(reading.article_paragraphs))
    expect(comments).to_have_count(len(reading.comments))
    expect(page.locator("input[name=article_end]:checked")).to_have_value(str(reading.article_end))

    # One choice fixes a wrong parent: the next candidate in the comment's menu.
    box = page.locator(f"#preview-comment-{target.line}")
    box.get_by_label("Answers").select_option(str(new_parent))
    expect(box.locator(".changed-badge")).to_have_text("changed by you")
    expect(box.get_by_label("Answers")).to_have_value(str(new_parent))
    screenshot("preview-corrected")
    # A parent far above, out of the menu: typed by its line number.
    last, first = reading.comments[-1], reading.comments[0]
    far = page.locator(f"#preview-comment-{last.line}")
    far.get_by_label("or any comment above").fill(str(first.line))
    far.get_by_label("or any comment above").press("Tab")
    far = page.locator(f"#preview-comment-{last.line}")
    expect(far.locator(".changed-badge")).to_have_text("changed by you")
    expect(far.get_by_label("Answers")).to_have_value(str(first.line))
    expect(far).to_contain_text(f"answers line {first.line}")
    # A reload (or leaving and coming back) keeps every correction made so far.
    page.wait_for_load_state("networkidle")
    page.reload()
    for line, parent in ((target.line, new_parent), (last.line, first.line)):
        kept = page.locator(f"#preview-comment-{line}")
        expect(kept.locator(".changed-badge")).to_have_text("changed by you")
        expect(kept.get_by_label("Answers")).to_have_value(str(parent))

    page.get_by_role("button", name="Confirm and import").first.click()
    expect(page.get_by_role("heading", name="Imported")).to_be_visible()
    counts = page.locator(".import-counts")
    expect(counts).to_contain_text("Articles added")
    expect(counts.locator("dd").nth(1)).to_have_text(str(len(reading.comments)))
    screenshot("imported")
    by_line = {c.line: c for c in reading.comments}
    saved = Comment.objects.get(text__startswith=target.text.strip()[:40])
    assert saved.parent.text.startswith(by_line[new_parent].text.strip()[:40])
    far_saved = Comment.objects.get(text__startswith=last.text.strip()[:40])
    assert far_saved.parent.text.startswith(first.text.strip()[:40])

    # A broken JSON Lines file is refused with its line, and nothing is written.
    before = (Article.objects.count(), Comment.objects.count())
    broken = tmp_path / "broken.jsonl"
    broken.write_text(
        json.dumps({"type": "article", "id": "b-1", "title": "Broken"}) + "\n{not json\n"
    )
    page.get_by_role("link", name="Import another file").click()
    page.get_by_label("File to import").set_input_files(broken)
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="Refused")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("broken.jsonl, line 2")
    expect(page.get_by_text("Nothing was imported")).to_be_visible()
    screenshot("refused")
    assert (Article.objects.count(), Comment.objects.count()) == before

    # The log lists both imports.
    page.get_by_role("link", name="Upload a corrected file").click()
    log = page.locator(".import-log")
    expect(log.get_by_role("link", name=SEED.name)).to_be_visible()
    expect(log.get_by_role("link", name="broken.jsonl")).to_be_visible()
    assert page_errors == []


def test_a_large_upload_goes_to_the_background_and_shows_its_counts(
    page, login, admin_and_project, settings, page_errors, tmp_path
):
    admin, project = admin_and_project
    settings.IMPORT_BACKGROUND_BYTES = 10  # every file is "large"
    dump = tmp_path / "dump.jsonl"
    dump.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"type": "article", "id": "a-1", "title": "Ceasefire holds"},
                {"type": "comment", "id": "c-1", "article_id": "a-1", "text": "Good."},
                {"type": "comment", "id": "c-2", "article_id": "a-1", "text": "Bad."},
            ]
        )
    )

    login(admin)
    page.goto(f"/p/{project.slug}/imports/")
    page.get_by_label("File to import").set_input_files(dump)
    page.get_by_role("button", name="Upload").click()

    # The test settings run tasks at once, so the page finds the import already finished.
    expect(page.get_by_role("heading", name="Imported")).to_be_visible()
    expect(page.locator(".import-counts dd").nth(1)).to_have_text("2")
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert page_errors == []


def test_the_progress_bar_follows_the_worker_and_stops_polling_when_done(
    page, login, screenshot, admin_and_project, page_errors
):
    admin, project = admin_and_project
    job = ImportJob.objects.create(
        project=project,
        created_by=admin,
        format="jsonl",
        status=ImportJob.Status.QUEUED,
        file=SimpleUploadedFile("big.jsonl", b"{}\n" * 100),
        original_name="big.jsonl",
        total_bytes=300,
    )

    login(admin)
    page.goto(f"/p/{project.slug}/imports/{job.pk}/")
    bar = page.locator("progress#import-bar")
    expect(bar).to_have_attribute("value", "0")

    # What the worker writes as it reads the file shows up without reloading the page.
    ImportJob.objects.filter(pk=job.pk).update(status="running", processed_bytes=150)
    expect(page.get_by_role("status")).to_contain_text("50%")
    expect(bar).to_have_attribute("value", "50")
    screenshot("running")

    ImportJob.objects.filter(pk=job.pk).update(
        status="succeeded", processed_bytes=300, articles_added=1, comments_added=99
    )
    expect(page.get_by_role("heading", name="Imported")).to_be_visible()
    expect(page.locator(".import-counts dd").nth(1)).to_have_text("99")
    expect(page.locator("#import-progress")).not_to_have_attribute("hx-trigger", re.compile("."))

    # Polling has stopped: later changes to the row no longer reach the page.
    ImportJob.objects.filter(pk=job.pk).update(comments_added=5)
    page.wait_for_timeout(2500)
    expect(page.locator(".import-counts dd").nth(1)).to_have_text("99")
    assert page_errors == []


def test_an_admin_uploading_a_pdf_is_told_it_is_a_pdf_and_nothing_is_stored(
    page, login, screenshot, admin_and_project, page_errors
):
    admin, project = admin_and_project
    pdf = SEED.parents[0] / "samples" / "refused" / "article.pdf"

    login(admin)
    page.goto(f"/p/{project.slug}/imports/")
    page.get_by_label("File to import").set_input_files(pdf)
    page.get_by_role("button", name="Upload").click()

    refusal = page.locator(".upload-form .errorlist")
    expect(refusal).to_have_text(
        f"article.pdf: This is a PDF document, not a comment thread. {ACCEPTED}"
    )
    expect(page.get_by_text("not valid UTF-8")).to_have_count(0)
    expect(page.get_by_text("Nothing imported yet.")).to_be_visible()
    screenshot("pdf-refused")
    assert not ImportJob.objects.exists()
    assert not Article.objects.exists()
    assert page_errors == []
