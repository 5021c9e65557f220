"""Stored files: read from the object store in ranges (seekable, flat memory), and removed
with the rows that hold them. Against moto's S3 server (tests/s3_server.py)."""

import gc
import io
import os
import tracemalloc
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction

from annotator.corpus.models import ImportJob
from annotator.corpus.stored_files import (
    READ_BUFFER_BYTES,
    RangedObjectReader,
    is_object_store,
    open_stored,
)
from annotator.datasets.models import ExportJob
from tests.factories import ProjectFactory
from tests.s3_server import files_in


def stored(content: bytes, name: str = "imports/data.bin") -> str:
    return default_storage.save(name, ContentFile(content))


def test_the_default_storage_follows_the_settings(s3_store, settings):
    # FileField's storage is Django's lazy default_storage, re-read when STORAGES changes.
    assert is_object_store(default_storage)
    assert is_object_store(ImportJob._meta.get_field("file").storage)

    name = stored(b"hello")

    assert s3_store.keys() == [f"media/{name}"]
    assert files_in(settings.MEDIA_ROOT) == []


def test_it_reads_an_object_whole_with_one_request(s3_store):
    content = os.urandom(3 * READ_BUFFER_BYTES + 123)
    name = stored(content)

    with open_stored(default_storage, name) as stream:
        assert stream.read() == content
        assert stream.raw.requests == 1


def test_it_seeks_with_a_ranged_request_and_reads_on_from_there(s3_store):
    content = bytes(range(256)) * 4096  # 1 MiB
    name = stored(content)

    with open_stored(default_storage, name) as stream:
        stream.seek(700_000)
        assert stream.read(10) == content[700_000:700_010]
        assert stream.tell() == 700_010
        stream.seek(-5, io.SEEK_END)
        assert stream.read() == content[-5:]
        assert stream.read() == b""
        stream.seek(10)
        assert stream.read(3) == content[10:13]


def test_a_zip_in_the_store_is_read_by_seeking_member_by_member(s3_store):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.jsonl", b"first\n" * 1000)
        archive.writestr("b.jsonl", b"second\n" * 1000)
    name = stored(buffer.getvalue(), "imports/threads.zip")

    with open_stored(default_storage, name) as stream, zipfile.ZipFile(stream) as archive:
        assert archive.namelist() == ["a.jsonl", "b.jsonl"]
        assert archive.read("b.jsonl") == b"second\n" * 1000
        assert archive.read("a.jsonl") == b"first\n" * 1000


def test_a_zip_with_large_members_costs_a_request_per_member_not_per_read(s3_store):
    members = {"a.bin": os.urandom(3 * READ_BUFFER_BYTES), "b.bin": os.urandom(READ_BUFFER_BYTES)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    name = stored(buffer.getvalue(), "imports/large.zip")

    with open_stored(default_storage, name) as stream, zipfile.ZipFile(stream) as archive:
        for member, content in members.items():
            with archive.open(member) as inner:
                while inner.read(64 * 1024):
                    pass
            assert archive.read(member) == content
        # The end record and the central directory, then a GET each time a member is
        # started (twice each here); none for the reads in between.
        assert stream.raw.requests <= 2 + 2 * len(members), stream.raw.requests


def test_a_missing_object_is_file_not_found(s3_store):
    with pytest.raises(FileNotFoundError):
        open_stored(default_storage, "imports/never-uploaded.jsonl")


def test_an_empty_object_reads_as_empty(s3_store):
    name = stored(b"")

    with open_stored(default_storage, name) as stream:
        assert stream.read() == b""
        assert stream.raw.requests == 0  # nothing to ask for: S3 refuses a range of nothing


def read_peak(name: str) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        with open_stored(default_storage, name) as stream:
            while stream.read(64 * 1024):
                pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_a_large_object_keeps_memory_flat(s3_store):
    # django-storages' own S3File would hold the whole object (max_memory_size 0) or spool
    # it to disk before the first byte; the ranged reader holds one buffer.
    small = stored(os.urandom(4 * 1024 * 1024), "imports/small.bin")
    large = stored(os.urandom(40 * 1024 * 1024), "imports/large.bin")

    small_peak, large_peak = read_peak(small), read_peak(large)

    assert large_peak < 4 * READ_BUFFER_BYTES, large_peak
    assert large_peak < small_peak * 1.5 + 256 * 1024, (small_peak, large_peak)


def test_on_the_file_system_it_is_the_storages_own_file(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    storage = FileSystemStorage()
    name = storage.save("imports/a.txt", ContentFile(b"abc"))

    with open_stored(storage, name) as stream:
        assert stream.read() == b"abc"
    assert not is_object_store(storage)


def test_reader_refuses_a_negative_position(s3_store):
    name = stored(b"abc")
    raw = RangedObjectReader(default_storage.connection.meta.client, s3_store.name, f"media/{name}")
    with pytest.raises(OSError):
        raw.seek(-1)
    raw.close()


# --- Deleted with their rows -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_deleted_job_takes_its_object_with_it(s3_store):
    project = ProjectFactory(slug="gone")
    job = ImportJob.objects.create(project=project, original_name="t.jsonl", format="jsonl")
    job.file.save("t.jsonl", ContentFile(b"{}\n"))
    kept = ImportJob.objects.create(project=project, original_name="k.jsonl", format="jsonl")
    kept.file.save("k.jsonl", ContentFile(b"{}\n"))

    job.delete()

    assert s3_store.keys() == [f"media/{kept.file.name}"]


@pytest.mark.django_db(transaction=True)
def test_a_deleted_project_takes_the_objects_of_its_imports_and_exports(s3_store):
    project = ProjectFactory(slug="gone")
    other = ProjectFactory(slug="stays")
    for owner in (project, other):
        job = ImportJob.objects.create(project=owner, original_name="t.jsonl", format="jsonl")
        job.file.save("t.jsonl", ContentFile(b"{}\n"))
        export = ExportJob.objects.create(project=owner, format="jsonl")
        export.file.save("e.zip", ContentFile(b"PK"))
    left = sorted(
        f"media/{name}"
        for name in [
            *ImportJob.objects.filter(project=other).values_list("file", flat=True),
            *ExportJob.objects.filter(project=other).values_list("file", flat=True),
        ]
    )

    project.delete()

    assert s3_store.keys() == left


@pytest.mark.django_db(transaction=True)
def test_a_deletion_rolled_back_keeps_the_object(s3_store):
    project = ProjectFactory(slug="kept")
    job = ImportJob.objects.create(project=project, original_name="t.jsonl", format="jsonl")
    job.file.save("t.jsonl", ContentFile(b"{}\n"))

    with pytest.raises(RuntimeError), transaction.atomic():
        ImportJob.objects.filter(pk=job.pk).delete()
        raise RuntimeError("changed my mind")

    assert s3_store.keys() == [f"media/{job.file.name}"]
    assert ImportJob.objects.filter(pk=job.pk).exists()
