"""In a real browser: a researcher exports a project's labels and loads them with pandas."""

import io
import re
import zipfile

import pandas
import pytest
import requests
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from annotator.corpus.models import Role
from annotator.datasets.jobs import create_export_job, run_export_job
from annotator.datasets.models import ExportJob
from annotator.datasets.options import ExportOptions
from tests.datasets.corpus import make_labelled_corpus
from tests.factories import MembershipFactory, ProjectFactory, UserFactory


@pytest.fixture
def researcher_and_project(settings, tmp_path):
    """A researcher of a project with two threads, two of whose comments are labelled."""
    settings.MEDIA_ROOT = tmp_path / "media"
    project = ProjectFactory(name="Aleppo ceasefire", slug="aleppo")
    make_labelled_corpus(project)
    researcher = UserFactory(username="rosa")
    MembershipFactory(project=project, user=researcher, role=Role.RESEARCHER)
    return researcher, project


def serious_accessibility_problems(page) -> list[str]:
    """axe-core's serious and critical findings on the page: rule and element."""
    violations = Axe().run(page).response["violations"]
    return [
        f"{violation['id']}: {node['html'][:120]}"
        for violation in violations
        if violation["impact"] in {"serious", "critical"}
        for node in violation["nodes"]
    ]


def read_csv_from(path) -> pandas.DataFrame:
    """The one CSV data file of an export's zip, as the researcher would load it."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert "README.md" in names
        assert "agreement.csv" in names
        (data,) = [name for name in names if name.startswith("comments.")]
        with archive.open(data) as stream:
            return pandas.read_csv(stream)


def test_a_researcher_exports_a_pseudonymised_split_csv_and_loads_it(
    page, login, screenshot, researcher_and_project, page_errors, tmp_path
):
    researcher, project = researcher_and_project

    login(researcher)
    page.goto(f"/p/{project.slug}/")
    page.get_by_role("link", name="Exports").click()
    expect(page.get_by_role("heading", name="Export the corpus")).to_be_visible()
    # Every question is checked to begin with.
    questions = page.locator("input[name=questions]")
    expect(questions.first).to_be_checked()
    assert questions.count() == questions.and_(page.locator(":checked")).count()

    page.get_by_label("CSV", exact=True).check()
    page.get_by_label("Pseudonymise annotators and comment authors").check()
    page.get_by_label("Split into train, dev and test by thread").check()
    screenshot("options")
    assert serious_accessibility_problems(page) == []
    page.get_by_role("button", name="Export").click()

    # Small projects are exported during the request: the page opens on the finished job.
    expect(page.get_by_role("heading", name="Ready")).to_be_visible()
    expect(page.locator(".export-counts")).to_contain_text("Comments")
    screenshot("ready")
    assert serious_accessibility_problems(page) == []
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the zip").click()
    download = download_info.value
    job = ExportJob.objects.get()
    assert download.suggested_filename == job.filename
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)

    frame = read_csv_from(saved)
    assert len(frame) == 6
    assert "The ceasefire will hold." in set(frame["text"])
    # Comment authors and annotators (named in the per-annotator columns) are pseudonymised.
    assert not frame.astype(str).isin(["Rami", "Lina"]).any().any()
    assert not [column for column in frame.columns if "lab_one" in column]
    assert set(frame["split"]) <= {"train", "dev", "test"}

    # The export log lists it with its options and a download link.
    page.get_by_role("link", name="Exports").click()
    row = page.locator(".export-log tbody tr").first
    expect(row).to_contain_text("CSV")
    expect(row).to_contain_text("pseudonymised")
    expect(row).to_contain_text("split 0.8/0.1/0.1")
    expect(row).to_contain_text("rosa")
    expect(row.get_by_role("link", name="Download")).to_be_visible()
    screenshot("log")
    assert page_errors == []


def test_the_progress_bar_follows_a_background_export_until_it_is_ready(
    page, login, screenshot, researcher_and_project, page_errors
):
    researcher, project = researcher_and_project
    job = create_export_job(project, researcher, ExportOptions())

    login(researcher)
    page.goto(f"/p/{project.slug}/exports/{job.pk}/")
    expect(page.get_by_role("heading", name="Waiting for the background worker…")).to_be_visible()
    bar = page.locator("progress#export-bar")
    expect(bar).to_have_attribute("value", "0")

    # What the worker writes shows up without reloading the page.
    ExportJob.objects.filter(pk=job.pk).update(status="running", comments_done=3)
    expect(page.get_by_role("status")).to_contain_text("3 of 6 comments")
    expect(bar).to_have_attribute("value", "50")
    screenshot("running")

    ExportJob.objects.filter(pk=job.pk).update(status="queued")
    run_export_job(job.pk)
    expect(page.get_by_role("heading", name="Ready")).to_be_visible()
    expect(page.locator("#export-progress")).not_to_have_attribute("hx-trigger", re.compile("."))
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the zip").click()
    assert download_info.value.suggested_filename.endswith(".zip")
    assert page_errors == []


def call_api(base: str, path: str, key: str, body: dict | None = None) -> requests.Response:
    """What a researcher's script does: one HTTP request with the token, over the network."""
    url = path if path.startswith("http") else base + path
    headers = {"Authorization": f"Token {key}"}
    if body is None:
        return requests.get(url, headers=headers, timeout=30)
    return requests.post(url, json=body, headers=headers, timeout=30)


def test_a_researcher_makes_a_token_and_exports_from_a_script(
    page, login, live_server, screenshot, researcher_and_project, page_errors
):
    """Researcher journey, step 3: a personal token from the browser, the OpenAPI docs, then
    a script that starts an export, follows it, downloads the zip and loads it with pandas."""
    researcher, project = researcher_and_project

    login(researcher)
    page.goto("/api/tokens/")
    page.get_by_label("Name").fill("notebook")
    page.get_by_role("button", name="Make token").click()
    key = page.locator("#new-key").input_value()
    assert len(key) >= 32
    screenshot("token")
    assert serious_accessibility_problems(page) == []

    page.get_by_role("link", name="API documentation").click()
    expect(page.get_by_text("Comment annotator API").first).to_be_visible()
    expect(page.get_by_text("/api/projects/{slug}/exports/").first).to_be_visible()

    base = live_server.url
    started = call_api(base, f"/api/projects/{project.slug}/exports/", key, {"format": "jsonl"})
    assert started.status_code == 202
    job = call_api(base, started.headers["Location"], key).json()
    assert job["status"] == "succeeded", job
    download = call_api(base, job["download"], key)
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert "README.md" in archive.namelist()
        with archive.open("comments.jsonl") as stream:
            frame = pandas.read_json(stream, lines=True)
    comments = frame[frame["type"] == "comment"]
    assert len(comments) == 6
    assert "The ceasefire will hold." in set(comments["text"])

    # Revoked in the browser, the key stops working for the script at once.
    page.goto("/api/tokens/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke notebook").click()
    expect(page.get_by_text("You have no tokens yet.")).to_be_visible()
    assert call_api(base, f"/api/projects/{project.slug}/", key).status_code == 401
    assert page_errors == []
