"""Storing an upload: whole or not at all, and a full disk recognised whatever wraps it."""

import errno
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError

from annotator.corpus.models import ImportJob
from annotator.corpus.uploads import NoSpaceLeft, is_disk_full, store_upload


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
