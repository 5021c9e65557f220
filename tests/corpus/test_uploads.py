"""Storing an upload: whole or not at all, and a full disk recognised whatever wraps it."""

import errno
import gc
import os
import time
import tracemalloc
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError

from annotator.corpus.models import ImportJob
from annotator.corpus.uploads import (
    STORE_UNAVAILABLE_MESSAGE,
    NoSpaceLeft,
    StoreUnavailable,
    is_disk_full,
    is_store_failure,
    store_reachable,
    store_upload,
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_a_stored_upload_is_in_the_field_whole(project, settings):
    job = ImportJob(project=project)

    name = store_upload(job, "file", SimpleUploadedFile("t.jsonl", b"abc"))

    assert job.file.name == name
    assert (Path(settings.MEDIA_ROOT) / name).read_bytes() == b"abc"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_leaves_no_partial_file(project, settings, monkeypatch, code):
    def half_written(self, name, content):
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"ab")
        raise OSError(code, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", half_written)

    with pytest.raises(NoSpaceLeft):
        store_upload(ImportJob(project=project), "file", SimpleUploadedFile("t.jsonl", b"abc"))

    assert [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()] == []


def test_other_storage_errors_go_up_unchanged_without_a_partial_file(
    project, settings, monkeypatch
):
    def denied(self, name, content):
        Path(self.path(name)).parent.mkdir(parents=True, exist_ok=True)
        Path(self.path(name)).touch()
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(FileSystemStorage, "_save", denied)

    with pytest.raises(PermissionError):
        store_upload(ImportJob(project=project), "file", SimpleUploadedFile("t.jsonl", b"abc"))
    assert [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()] == []


class DiskFull(Exception):
    sqlstate = "53100"  # what psycopg's errors.DiskFull carries


def test_full_disks_are_recognised_through_the_wrappers():
    wrapped = OperationalError("could not extend file")
    wrapped.__cause__ = DiskFull()

    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(wrapped)
    assert is_disk_full(OperationalError("database or disk is full"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(ValueError("no"))


# --- The object store -------------------------------------------------------------------------


def test_an_upload_to_a_bucket_that_is_gone_is_store_unavailable_and_keeps_nothing(
    project, s3_store, settings, monkeypatch
):
    s3_store.client.delete_bucket(Bucket=s3_store.name)

    with pytest.raises(StoreUnavailable) as refused:
        store_upload(ImportJob(project=project), "file", SimpleUploadedFile("t.jsonl", b"abc"))

    assert str(refused.value) == STORE_UNAVAILABLE_MESSAGE
    assert refused.value.status == 503
    assert [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()] == []


def test_an_upload_to_the_bucket_is_stored_whole(project, s3_store):
    job = ImportJob(project=project)

    name = store_upload(job, "file", SimpleUploadedFile("t.jsonl", b"abc"))

    assert s3_store.read(f"media/{name}") == b"abc"


def test_a_store_failure_is_recognised_whatever_wraps_it():
    from botocore.exceptions import EndpointConnectionError

    try:
        try:
            raise EndpointConnectionError(endpoint_url="http://store")
        except EndpointConnectionError as error:
            raise RuntimeError("saving failed") from error
    except RuntimeError as wrapped:
        assert is_store_failure(wrapped)
    assert not is_store_failure(OSError(errno.EACCES, "Permission denied"))


def test_the_store_is_reachable_when_its_bucket_answers(s3_store):
    assert store_reachable()


def test_the_store_is_unreachable_without_its_bucket(s3_store, settings, monkeypatch):
    from tests.s3_server import use_store

    use_store(settings, monkeypatch, {**s3_store.environ, "STORAGE_BUCKET": "no-such-bucket"})

    assert not store_reachable()


def test_the_store_is_unreachable_when_nothing_listens(s3_store, settings, monkeypatch):
    from tests.s3_server import free_port, use_store

    endpoint = f"http://127.0.0.1:{free_port()}"
    use_store(settings, monkeypatch, {**s3_store.environ, "STORAGE_ENDPOINT_URL": endpoint})
    started = time.monotonic()

    assert not store_reachable()
    assert time.monotonic() - started < 10  # a readiness probe must not hang


def test_media_root_is_reachable_when_writable_even_before_the_first_upload(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "not-yet" / "media"

    assert store_reachable()


def test_media_root_that_cannot_be_written_is_unreachable(settings, tmp_path):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o500)
    settings.MEDIA_ROOT = read_only / "media"
    try:
        if os.access(read_only, os.W_OK):
            pytest.skip("running as root: every directory is writable")
        assert not store_reachable()
    finally:
        read_only.chmod(0o700)


def upload_peak(project, size: int, tmp_path) -> int:
    """Peak of Python allocations while a ``size``-byte upload (on disk, as Django spools a
    large one) is stored in the bucket."""
    from django.core.files.uploadedfile import TemporaryUploadedFile

    upload = TemporaryUploadedFile("big.jsonl", "application/octet-stream", size, None)
    chunk = os.urandom(1024 * 1024)
    for _ in range(size // len(chunk)):
        upload.write(chunk)
    upload.seek(0)
    gc.collect()
    tracemalloc.start()
    try:
        store_upload(ImportJob(project=project), "file", upload)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        upload.close()


def test_a_large_upload_goes_to_the_bucket_in_parts_with_flat_memory(project, s3_store, tmp_path):
    part = int(s3_store.environ["STORAGE_PART_BYTES"])
    # The first use of the store loads boto3's model of the S3 API: not the upload's cost.
    store_upload(ImportJob(project=project), "file", SimpleUploadedFile("warm.jsonl", b"{}"))

    small, large = (
        upload_peak(project, 6 * part, tmp_path),
        upload_peak(project, 18 * part, tmp_path),
    )

    print(f"upload peaks: {small / 2**20:.1f} MiB for 30 MiB, {large / 2**20:.1f} MiB for 90 MiB")
    assert large < small + part, (small, large)
    assert large < 8 * part, large  # four parts and their copies; s3transfer would hold ten
    assert len(s3_store.keys()) == 3
