"""The Import labels pages: who may use them, upload, preview with the mapping, confirm,
summary, and refusals that store nothing."""

from pathlib import Path

import pytest
from django.urls import reverse

from annotator.corpus.importers.loader import import_file
from annotator.labelling.models import Annotation, LabelImport
from tests.corpus.test_permissions import PEOPLE, Page, expected, outcome, person

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def pheme_project(project):
    import_file(project, SAMPLES / "pheme_thread.jsonl")
    return project


def upload(client, name="pheme_annotations.json", content=None, **data):
    content = content if content is not None else (SAMPLES / name).read_bytes()
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        reverse("labelling:labels_import", args=["aleppo"]),
        {"file": SimpleUploadedFile(name, content), **data},
    )


def stored_files(media) -> list[Path]:
    return [p for p in Path(media).rglob("*") if p.is_file()]


def selected_options(page: str) -> dict[str, str]:
    """The mapping form as the browser would post it untouched: each select's selection."""
    rows = [row for row in page.split("<tr") if 'name="map-' in row]
    return {
        row.split('name="')[1].split('"')[0]: row.split('" selected>')[0].rsplit('value="', 1)[1]
        for row in rows
    }


PAGES = [
    Page("labelling:labels_import", "import", lambda w: [w]),
    Page("labelling:labels_import", "import", lambda w: [w], method="post", data={}),
    Page("labelling:labels_import_detail", "import", lambda w: [w, 0]),
    Page("labelling:labels_import_detail", "import", lambda w: [w, 0], method="post"),
]


@pytest.mark.parametrize("who", PEOPLE)
@pytest.mark.parametrize("page", PAGES, ids=str)
def test_only_project_admins_and_superusers_import_labels(
    client, project, other_project, page, who
):
    from annotator.corpus.permissions import Action

    label_import = LabelImport.objects.create(
        project=project,
        original_name="key.json",
        status=LabelImport.Status.IMPORTED,
        summary={"imported": 0, "annotators": []},
    )
    user = person(who, project, other_project)
    if user is not None:
        client.force_login(user)
    args = [project.slug, label_import.pk][: len(page.args("x"))]
    response = getattr(client, page.method)(reverse(page.name, args=args), page.data)
    needs = Page(page.name, Action.IMPORT)
    assert outcome(response) == expected(needs, who, user)


def test_the_journey_upload_preview_change_a_value_confirm_summary(
    client, pheme_project, project_admin, media
):
    client.force_login(project_admin)
    response = upload(client)
    label_import = LabelImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "labelling:labels_import_detail", args=["aleppo", label_import.pk]
    )
    page = client.get(response["Location"]).content.decode()
    assert "Format: <strong>PHEME annotations</strong>, 19 labels." in page
    assert "<strong>ext:PHEME</strong> (19 labels)" in page
    assert "<strong>5</strong> matched in this project, <strong>2</strong> not in it" in page
    assert '<option value="stance_article=support" selected>' in page
    assert "1 value not mapped." in page  # PHEME's source-tweet support
    assert Annotation.objects.count() == 0
    # The admin maps PHEME's "underspecified" certainty elsewhere than its default, confirms.
    defaults = selected_options(page)
    row = next(r for r in page.split("<tr") if "<code>underspecified</code>" in r)
    defaults[row.split('name="')[1].split('"')[0]] = "speculation=uncertain"
    response = client.post(response["Location"], defaults)
    assert response.status_code == 302
    summary = client.get(response["Location"]).content.decode()
    assert '<dd id="imported-count">5</dd>' in summary
    assert '<td>ext:PHEME</td><td class="num">5</td>' in summary
    assert (
        Annotation.objects.get(comment__source_id="552786226097389568").answers["speculation"]
        == "uncertain"
    )
    label_import.refresh_from_db()
    assert label_import.status == LabelImport.Status.IMPORTED
    assert stored_files(media) == []  # the file goes once imported
    # Posting again (a second tab) imports nothing more.
    client.post(response["Location"], defaults)
    assert Annotation.objects.count() == 5


def test_unmapped_values_are_reported_in_the_summary(client, pheme_project, project_admin):
    client.force_login(project_admin)
    location = upload(client)["Location"]
    page = client.get(location).content.decode()
    # The admin leaves PHEME's "underspecified" certainty unmapped.
    choices = selected_options(page)
    row = next(r for r in page.split("<tr") if "<code>underspecified</code>" in r)
    choices[row.split('name="')[1].split('"')[0]] = ""
    client.post(location, choices)
    summary = client.get(location).content.decode()
    assert "<code>certainty=underspecified</code>: 1 label" in summary
    assert "Comments not in the project: 2 (552783667052167168, 552791196247269376)" in summary


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("thread.pdf", b"%PDF-1.4 ...", "not UTF-8"),
        ("labels.json", b'{"unknown": {"x": 1}}', "not a label file this tool reads"),
        ("doccano_export_cp1252.jsonl", None, "it looks like Windows-1252 (cp1252)"),
    ],
)
def test_a_bad_file_is_refused_with_a_400_and_nothing_stored(
    client, project, project_admin, media, name, content, message
):
    client.force_login(project_admin)
    response = upload(client, name, content)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not LabelImport.objects.exists()
    assert stored_files(media) == []


def test_a_windows_1252_file_reads_in_the_encoding_chosen(client, project, project_admin):
    client.force_login(project_admin)
    response = upload(client, "doccano_export_cp1252.jsonl", encoding="cp1252")
    assert response.status_code == 302
    assert (
        "doccano JSON Lines export</strong>, 2 labels"
        in client.get(response["Location"]).content.decode()
    )


def test_a_target_not_in_the_scheme_is_refused_and_nothing_written(
    client, pheme_project, project_admin
):
    client.force_login(project_admin)
    location = upload(client)["Location"]
    response = client.post(location, {"map-0": "stance_article=maybe"})
    assert response.status_code == 400
    assert "not a choice of this project&#x27;s scheme" in response.content.decode()
    assert Annotation.objects.count() == 0


def test_the_preview_reads_in_a_few_queries(
    client, pheme_project, project_admin, django_assert_max_num_queries
):
    client.force_login(project_admin)
    location = upload(client)["Location"]
    with django_assert_max_num_queries(8):
        assert client.get(location).status_code == 200
