"""Uploads and exports in an S3-compatible store (STORAGE_BUCKET), end to end: through the
pages, the API and a worker process of its own, against moto's server (tests/s3_server.py).

Nothing may land in MEDIA_ROOT: the web process's and the worker's are different empty
directories, as on two hosts that share only the database and the store.
"""

import gc
import io
import secrets
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import orjson
import pytest
from botocore.exceptions import EndpointConnectionError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from annotator.corpus.models import Comment, ImportJob, path_segment
from annotator.corpus.uploads import STORE_UNAVAILABLE_MESSAGE
from annotator.datasets import rows
from annotator.datasets.jobs import STORE_FAILED, create_export_job, run_export_job
from annotator.datasets.models import ExportJob
from annotator.datasets.options import ExportFormat, ExportOptions
from annotator.datasets.package import BackgroundWriter
from tests.factories import ArticleFactory, ProjectFactory, make_thread, make_token
from tests.s3_server import files_in, moto_server, s3_client, use_store
from tests.worker import database_tasks, finish, start_worker

PART_BYTES = 5 * 1024 * 1024
SAMPLES = (
    Path(__file__).resolve().parents[2] / "fixtures" / "samples"
)  # the s3_store fixture's STORAGE_PART_BYTES


def jsonl_thread(comments: int) -> bytes:
    records = [{"type": "article", "id": "a-1", "title": "An article"}]
    for i in range(comments):
        parent = f"c{i - 1}" if i % 4 else None
        records.append(
            {
                "type": "comment",
                "id": f"c{i}",
                "article_id": "a-1",
                "parent_id": parent,
                "text": f"Comment {i}",
            }
        )
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


def zipped(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", "Not a thread.")
        archive.writestr(name, content)
    return buffer.getvalue()


def post_upload(client, project, name: str, content: bytes):
    return client.post(
        reverse("corpus:import_list", args=[project.slug]),
        {"file": SimpleUploadedFile(name, content), "format": "auto"},
    )


# --- Uploads ----------------------------------------------------------------------------------


def test_an_upload_through_the_page_is_kept_in_the_bucket_and_imported(
    s3_store, settings, importer_client, project
):
    response = post_upload(importer_client, project, "thread.jsonl", jsonl_thread(3))

    job = ImportJob.objects.get()
    assert response.status_code == 302, response.content.decode()[:500]
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert Comment.objects.filter(article__project=project).count() == 3
    assert s3_store.keys() == [f"media/{job.file.name}"]
    assert job.file.name.startswith("imports/")
    assert s3_store.read(f"media/{job.file.name}") == jsonl_thread(3)
    assert files_in(settings.MEDIA_ROOT) == []


def test_an_upload_through_the_api_is_kept_in_the_bucket(
    s3_store, settings, project_admin, project
):
    client = Client(headers={"authorization": f"Token {make_token(project_admin)}"})
    upload = SimpleUploadedFile("thread.jsonl", jsonl_thread(2))

    response = client.post(
        reverse("api:import_list", args=[project.slug]),
        {"file": upload},
    )

    assert response.status_code == 201, response.content
    job = ImportJob.objects.get()
    assert s3_store.keys() == [f"media/{job.file.name}"]
    assert files_in(settings.MEDIA_ROOT) == []


@pytest.mark.django_db(transaction=True)
def test_a_worker_with_an_empty_media_root_of_its_own_imports_a_zip_from_the_bucket(
    s3_store, settings, client, tmp_path
):
    # The worker is another host: it shares the database and the bucket, not the disk.
    project = ProjectFactory(slug="elsewhere")
    from annotator.corpus.models import Role
    from tests.factories import MembershipFactory, UserFactory

    admin = UserFactory(username="wes_admin")
    MembershipFactory(project=project, user=admin, role=Role.ADMIN)
    client.force_login(admin)
    settings.IMPORT_BACKGROUND_BYTES = 1  # every upload goes to the worker
    content = zipped("thread.jsonl", jsonl_thread(500))
    with database_tasks():
        response = post_upload(client, project, "threads.zip", content)
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert job.status == ImportJob.Status.QUEUED
    worker_media = tmp_path / "worker-media"
    worker_media.mkdir()

    finish(start_worker(worker_media, "--batch"))

    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.comments_added == Comment.objects.filter(article__project=project).count() == 500
    assert files_in(worker_media) == files_in(settings.MEDIA_ROOT) == []
    assert s3_store.keys() == [f"media/{job.file.name}"]


def test_an_upload_to_a_missing_bucket_says_the_store_failed_and_keeps_nothing(
    s3_store, settings, monkeypatch, importer_client, project
):
    use_store(settings, monkeypatch, {**s3_store.environ, "STORAGE_BUCKET": "no-such-bucket"})

    response = post_upload(importer_client, project, "thread.jsonl", jsonl_thread(3))

    assert response.status_code == 503
    assert STORE_UNAVAILABLE_MESSAGE in response.content.decode()
    assert not ImportJob.objects.exists()
    assert s3_store.keys() == []
    assert files_in(settings.MEDIA_ROOT) == []


def test_the_api_says_503_when_the_store_is_down(settings, monkeypatch, project_admin, project):
    with moto_server() as endpoint:
        s3_client(endpoint).create_bucket(Bucket="short-lived")
        environ = {
            "STORAGE_BUCKET": "short-lived",
            "STORAGE_ENDPOINT_URL": endpoint,
            "STORAGE_ACCESS_KEY_ID": "testing",
            "STORAGE_SECRET_ACCESS_KEY": "testing",
        }
    use_store(settings, monkeypatch, environ)  # the server is stopped now
    client = Client(headers={"authorization": f"Token {make_token(project_admin)}"})

    response = client.post(
        reverse("api:import_list", args=[project.slug]),
        {"file": SimpleUploadedFile("thread.jsonl", jsonl_thread(2))},
    )

    assert response.status_code == 503
    assert response.json()["detail"] == STORE_UNAVAILABLE_MESSAGE
    assert not ImportJob.objects.exists()


def test_a_label_file_is_kept_in_the_bucket_and_previewed_from_it(
    s3_store, settings, client, project, project_admin
):
    from annotator.corpus.importers.loader import import_file
    from annotator.labelling.models import LabelImport

    import_file(project, SAMPLES / "pheme_thread.jsonl")
    client.force_login(project_admin)
    content = (SAMPLES / "pheme_annotations.json").read_bytes()

    response = client.post(
        reverse("labelling:labels_import", args=[project.slug]),
        {"file": SimpleUploadedFile("pheme_annotations.json", content)},
    )

    label_import = LabelImport.objects.get()
    assert response.status_code == 302
    assert s3_store.keys() == [f"media/{label_import.file.name}"]
    page = client.get(response["Location"]).content.decode()
    assert "Format: <strong>PHEME annotations</strong>, 19 labels." in page
    assert files_in(settings.MEDIA_ROOT) == []


# --- Exports ----------------------------------------------------------------------------------


def large_texts(project, comments: int, chars: int) -> None:
    """``comments`` top-level comments of ``chars`` random characters (they barely
    compress), written in bulk."""
    article = ArticleFactory(project=project)
    Comment.objects.bulk_create(
        (
            Comment(
                article=article,
                source_id=f"big-{i}",
                text=secrets.token_urlsafe(chars)[:chars],
                position=i + 1,
                depth=0,
                path=path_segment(i + 1),
            )
            for i in range(comments)
        ),
        batch_size=200,
    )


def export_peak(project) -> tuple[ExportJob, int]:
    """Run an export of ``project`` into the store; the job and the peak of Python
    allocations while it ran (the build and the multipart upload's threads)."""
    job = create_export_job(project, None, ExportOptions(format=ExportFormat.JSONL))
    gc.collect()
    tracemalloc.start()
    try:
        job = run_export_job(job.pk)
        return job, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def parts_of(bucket, key: str) -> int:
    """How many parts the object was uploaded in (a multipart ETag ends in -N)."""
    etag = bucket.client.head_object(Bucket=bucket.name, Key=key)["ETag"].strip('"')
    return int(etag.rsplit("-", 1)[1]) if "-" in etag else 1


def test_a_large_export_goes_to_the_store_in_parts_with_flat_memory(
    db, s3_store, settings, monkeypatch
):
    monkeypatch.setattr(rows, "CHUNK_SIZE", 50)  # a chunk of 50 comments of 40 kB: 2 MB
    monkeypatch.setattr(BackgroundWriter, "BLOCK_BYTES", 1 << 16)
    smaller, larger = ProjectFactory(slug="smaller"), ProjectFactory(slug="larger")
    large_texts(smaller, 750, 40_000)  # 30 MB of text
    large_texts(larger, 2_250, 40_000)  # 90 MB
    warm = ProjectFactory(slug="warm")  # the first export imports the package's modules
    large_texts(warm, 1, 100)
    _, floor = export_peak(warm)

    small_job, small_peak = export_peak(smaller)
    large_job, large_peak = export_peak(larger)

    for job in (small_job, large_job):
        assert job.status == ExportJob.Status.SUCCEEDED, job.error
        assert s3_store.client.head_object(Bucket=s3_store.name, Key=f"media/{job.file.name}")
    assert large_job.size_bytes > 60 * 1024 * 1024
    assert parts_of(s3_store, f"media/{large_job.file.name}") > 10
    assert parts_of(s3_store, f"media/{small_job.file.name}") >= 4
    # Three times the data, and the peak is the same: a few parts of 5 MiB in flight.
    print(
        f"export peaks: {floor / 2**20:.1f} MiB for 1 comment, {small_peak / 2**20:.1f} MiB "
        f"for {small_job.size_bytes / 2**20:.0f} MiB, {large_peak / 2**20:.1f} MiB for "
        f"{large_job.size_bytes / 2**20:.0f} MiB"
    )
    assert large_peak < small_peak + PART_BYTES, (small_peak, large_peak)
    assert large_peak < 8 * PART_BYTES, large_peak
    assert files_in(settings.MEDIA_ROOT) == []
    assert not list(Path(tempfile.gettempdir()).glob(f"export-{large_job.pk}-*.zip.part"))


def test_an_export_that_the_store_refuses_midway_fails_cleanly_and_keeps_nothing(
    s3_store, settings, monkeypatch, project
):
    large_texts(project, 400, 40_000)  # 16 MB of text: four parts
    client = default_storage.connection.meta.client
    seen: list[int] = []

    def refuse_the_third_part(params, **kwargs):
        seen.append(params["PartNumber"])
        if params["PartNumber"] == 3:
            raise EndpointConnectionError(endpoint_url=params["Bucket"])

    client.meta.events.register("before-parameter-build.s3.UploadPart", refuse_the_third_part)
    try:
        job = create_export_job(project, None, ExportOptions(format=ExportFormat.JSONL))
        job = run_export_job(job.pk)
    finally:
        client.meta.events.unregister("before-parameter-build.s3.UploadPart", refuse_the_third_part)

    assert 3 in seen
    assert job.status == ExportJob.Status.FAILED
    assert job.error == STORE_FAILED
    assert job.file.name == ""
    assert s3_store.keys() == []
    assert s3_store.unfinished_uploads() == []  # the multipart upload was aborted
    assert files_in(settings.MEDIA_ROOT) == []
    assert not list(Path(tempfile.gettempdir()).glob(f"export-{job.pk}-*.zip.part"))


def test_an_export_whose_store_is_down_fails_with_a_clear_message(
    settings, monkeypatch, project, tmp_path
):
    make_thread(ArticleFactory(project=project), 20)
    with moto_server() as endpoint:
        s3_client(endpoint).create_bucket(Bucket="short-lived")
        environ = {
            "STORAGE_BUCKET": "short-lived",
            "STORAGE_ENDPOINT_URL": endpoint,
            "STORAGE_ACCESS_KEY_ID": "testing",
            "STORAGE_SECRET_ACCESS_KEY": "testing",
        }
    settings.MEDIA_ROOT = tmp_path / "media"
    use_store(settings, monkeypatch, environ)  # the server is stopped now

    job = run_export_job(create_export_job(project, None, ExportOptions()).pk)

    assert job.status == ExportJob.Status.FAILED
    assert job.error == STORE_FAILED
    assert not list(Path(tempfile.gettempdir()).glob(f"export-{job.pk}-*.zip.part"))


@pytest.mark.django_db(transaction=True)
def test_an_export_built_by_a_worker_of_its_own_is_downloaded_from_the_web(
    s3_store, settings, client, tmp_path
):
    from annotator.corpus.models import Role
    from annotator.datasets.jobs import start_export
    from tests.factories import MembershipFactory, UserFactory

    project = ProjectFactory(slug="far-away")
    researcher = UserFactory(username="rey_researcher")
    MembershipFactory(project=project, user=researcher, role=Role.RESEARCHER)
    make_thread(ArticleFactory(project=project), 40)
    settings.EXPORT_BACKGROUND_COMMENTS = 1  # every export goes to the worker
    with database_tasks():
        job = start_export(project, researcher, ExportOptions())
    assert job.status == ExportJob.Status.QUEUED
    worker_media = tmp_path / "worker-media"
    worker_media.mkdir()

    finish(start_worker(worker_media, "--batch"))

    job.refresh_from_db()
    assert job.status == ExportJob.Status.SUCCEEDED, job.error
    assert s3_store.keys() == [f"media/{job.file.name}"]
    client.force_login(researcher)
    response = download(client, job)
    body = b"".join(response.streaming_content)
    assert body == s3_store.read(f"media/{job.file.name}")
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
    assert files_in(worker_media) == files_in(settings.MEDIA_ROOT) == []


# --- Downloads --------------------------------------------------------------------------------


@pytest.fixture
def stored_export(s3_store, project, researcher) -> ExportJob:
    make_thread(ArticleFactory(project=project), 30)
    job = run_export_job(create_export_job(project, researcher, ExportOptions()).pk)
    assert job.status == ExportJob.Status.SUCCEEDED, job.error
    return job


def download(client, job, api: bool = False):
    name = "api:export_download" if api else "datasets:export_download"
    return client.get(reverse(name, args=[job.project.slug, job.pk]))


def test_a_researcher_downloads_an_export_from_the_store(client, researcher, stored_export):
    client.force_login(researcher)

    response = download(client, stored_export)

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{stored_export.filename}"'
    assert int(response["Content-Length"]) == stored_export.size_bytes
    body = b"".join(response.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
    assert len(body) == stored_export.size_bytes


def test_the_api_streams_an_export_from_the_store(researcher, stored_export, s3_store):
    client = Client(headers={"authorization": f"Token {make_token(researcher)}"})

    response = download(client, stored_export, api=True)

    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body == s3_store.read(f"media/{stored_export.file.name}")


@pytest.mark.parametrize(("role", "status"), [("outsider", 404), ("annotator", 403)])
def test_an_export_in_the_store_is_refused_to_whoever_may_not_export(
    request, client, stored_export, role, status
):
    client.force_login(request.getfixturevalue(role))

    assert download(client, stored_export).status_code == status


def test_a_download_while_the_store_is_down_says_so(
    client, researcher, stored_export, s3_store, settings, monkeypatch
):
    use_store(
        settings, monkeypatch, {**s3_store.environ, "STORAGE_ENDPOINT_URL": "http://127.0.0.1:9"}
    )
    client.force_login(researcher)

    response = client.get(
        reverse("datasets:export_download", args=[stored_export.project.slug, stored_export.pk]),
        follow=True,
    )

    assert response.status_code == 200
    assert "The file store could not be reached" in response.content.decode()
    api = Client(headers={"authorization": f"Token {make_token(researcher)}"})
    assert download(api, stored_export, api=True).status_code == 503
