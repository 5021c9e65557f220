"""The import pages with compressed files, archives, other encodings and lenient dumps
(the rest of the import pages: test_import_views.py)."""

import gzip
import io
import zipfile

import orjson
import pytest

from annotator.corpus.models import Article, Comment, ImportJob
from tests.corpus.test_import_views import (
    JSONL,
    SAMPLES,
    detail_url,
    list_url,
    retry_url,
    upload,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("uploads_in_tmp")]

WINDOWS = "“Quoted” café"
CP1252 = (
    b"".join(
        orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        for record in [
            {"type": "article", "id": "a-1", "title": "Title"},
            *(
                {"type": "comment", "id": f"p-{n}", "article_id": "a-1", "text": "ok"}
                for n in range(60)
            ),
            {"type": "comment", "id": "c-1", "article_id": "a-1", "text": WINDOWS},
        ]
    )
    .decode()
    .encode("cp1252")
)


def test_a_gzip_upload_is_imported_with_the_format_found_inside(importer_client, project):
    response = upload(importer_client, project, "thread.jsonl.gz", gzip.compress(JSONL))

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.format == "auto"  # what is inside is found when it runs
    assert Comment.objects.filter(article__project=project).count() == 3
    assert "<dt>Comments added</dt><dd>3</dd>" in response.content.decode()


def test_a_zip_upload_imports_every_file_in_it(importer_client, project):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.jsonl", JSONL)
        archive.writestr(
            "b.csv",
            b"article_id,article_title,comment_id,parent_id,author,text,"
            b"posted_at\na-2,Other,c-9,,,Hello,\n",
        )

    upload(importer_client, project, "threads.zip", buffer.getvalue())

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert Article.objects.filter(project=project).count() == 2
    assert Comment.objects.filter(article__project=project).count() == 4


def test_a_windows_1252_upload_is_refused_with_a_way_to_import_it_in_that_encoding(
    importer_client, project
):
    response = upload(importer_client, project, "export.jsonl", CP1252)

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert job.options["encoding_found"] == "cp1252"
    html = response.content.decode()
    assert "it looks like Windows-1252 (cp1252)" in html
    assert '<option value="cp1252" selected>' in html
    assert Comment.objects.count() == 0

    response = importer_client.post(retry_url(job), {"encoding": "cp1252"}, follow=True)

    retry = ImportJob.objects.exclude(pk=job.pk).get()
    assert retry.status == ImportJob.Status.SUCCEEDED, retry.error
    assert retry.options == {"encoding": "cp1252"}
    assert Comment.objects.get(source_id="c-1").text == WINDOWS
    assert response.redirect_chain[-1][0] == detail_url(retry)


def test_retrying_in_an_encoding_not_offered_changes_nothing(importer_client, project):
    upload(importer_client, project, "export.jsonl", CP1252)
    job = ImportJob.objects.get()

    response = importer_client.post(retry_url(job), {"encoding": "rot13"}, follow=True)

    assert ImportJob.objects.count() == 1
    assert "Choose one of the encodings offered" in response.content.decode()


def test_the_encoding_can_be_chosen_on_the_upload_form(importer_client, project):
    head_refused = CP1252.replace(b'"Title"', '"Café"'.encode("cp1252"))
    refused = upload(importer_client, project, "export.jsonl", head_refused)
    assert "it looks like" in refused.content.decode()
    assert ImportJob.objects.count() == 0  # refused by the form: its first bytes are not UTF-8

    importer_client.post(
        list_url(project),
        {"file": _file("export.jsonl", head_refused), "format": "auto", "encoding": "cp1252"},
    )

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert Article.objects.get().title == "Café"


def test_an_encoding_that_is_not_offered_is_refused_by_the_form(importer_client, project):
    response = importer_client.post(
        list_url(project), {"file": _file("t.jsonl", JSONL), "format": "auto", "encoding": "x"}
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_the_notices_of_an_import_are_shown_with_its_counts(importer_client, project):
    from annotator.corpus.importers.tree import MISSING_PARENT_NOTICE

    job = ImportJob.objects.create(
        project=project,
        original_name="dump.zst",
        status=ImportJob.Status.SUCCEEDED,
        notices=[MISSING_PARENT_NOTICE.replace("{count}", "3"), "<b>12</b> stubs"],
    )

    html = importer_client.get(detail_url(job)).content.decode()

    assert "<li>3 comments answer a comment that is neither in the file" in html
    assert "<li>&lt;b&gt;12&lt;/b&gt; stubs</li>" in html


def _file(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def test_a_windows_1252_doccano_export_is_detected_once_its_encoding_is_chosen(
    importer_client, project
):
    export = (SAMPLES / "doccano_export_cp1252.jsonl").read_bytes()

    importer_client.post(
        list_url(project),
        {"file": _file("export.jsonl", export), "format": "auto", "encoding": "cp1252"},
    )

    job = ImportJob.objects.get()
    assert (job.format, job.status) == ("doccano", ImportJob.Status.SUCCEEDED), job.error
    assert Comment.objects.get(source_id="11").text.startswith("“Voilà” \u2013 the ceasefire")


def test_the_article_field_of_the_upload_form_groups_an_export_into_articles(
    importer_client, project
):
    export = (SAMPLES / "labelstudio_export.json").read_bytes()
    field = "article"

    importer_client.post(
        list_url(project),
        {"file": _file("ls.json", export), "format": "auto", "article_field": field},
    )

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.options == {"article_field": field}
    values = {str(task["data"][field]) for task in orjson.loads(export)}
    assert set(Article.objects.values_list("source_id", flat=True)) == values
