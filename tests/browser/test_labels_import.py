"""In a real browser: an admin imports PHEME's gold labels onto a PHEME thread, changing the
mapping of one value in the preview."""

from pathlib import Path

from playwright.sync_api import expect

from annotator.corpus.importers.loader import import_file
from annotator.labelling.models import Annotation

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"


def test_an_admin_previews_maps_and_imports_external_labels(
    page, login, screenshot, admin_and_project, page_errors
):
    admin, project = admin_and_project
    import_file(project, SAMPLES / "pheme_thread.jsonl")

    login(admin)
    page.goto(f"/p/{project.slug}/")
    page.get_by_role("link", name="Import labels").click()
    page.get_by_label("Label file").set_input_files(SAMPLES / "pheme_annotations.json")
    page.get_by_role("button", name="Preview").click()

    # The preview: format, annotator, matched comments and the mapping with its defaults.
    expect(page.get_by_role("heading", name="Labels from pheme_annotations.json")).to_be_visible()
    expect(page.get_by_text("PHEME annotations", exact=True)).to_be_in_viewport()
    expect(page.locator("#comment-counts")).to_contain_text(
        "5 matched in this project, 2 not in it"
    )
    expect(page.locator("#unmapped-count")).to_have_text("1 value not mapped.")
    agreed = page.get_by_label("responsetype-vs-source = agreed")
    expect(agreed).to_have_value("stance_article=support")
    underspecified = page.get_by_label("certainty = underspecified")
    expect(underspecified).to_have_value("speculation=not_applicable")
    underspecified.scroll_into_view_if_needed()
    expect(underspecified).to_be_in_viewport()
    screenshot("preview")
    assert Annotation.objects.count() == 0

    underspecified.select_option(label="Speculation: Uncertain")
    page.get_by_role("button", name="Confirm and import").click()

    # The summary: what was imported, per annotator, and what was not.
    expect(
        page.get_by_role("heading", name="Labels imported from pheme_annotations.json")
    ).to_be_visible()
    expect(page.locator("#imported-count")).to_have_text("5")
    expect(page.locator("#imported-count")).to_be_in_viewport()
    expect(page.get_by_role("cell", name="ext:PHEME")).to_be_visible()
    # Every value of the comments found was mapped; the source tweet is the article.
    expect(page.locator("#unmapped-values")).to_have_count(0)
    expect(page.get_by_text("Comments not in the project: 2 (552783667052167168")).to_be_visible()
    screenshot("summary")
    assert (
        Annotation.objects.get(comment__source_id="552786226097389568").answers["speculation"]
        == "uncertain"
    )
    assert page_errors == []
