"""A full disk while Django spools an upload to FILE_UPLOAD_TEMP_DIR: a 507, nothing left.

The disk is made full at the lowest level there is: the temporary file Django creates is
real, but its descriptor is pointed at ``/dev/full``, so the kernel itself answers every
write with ENOSPC, as a full file system does.
"""

import errno
import os
from pathlib import Path

import orjson
import pytest
from django.core.files import temp
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from annotator.corpus.models import ImportJob
from annotator.corpus.uploads import NO_SPACE_MESSAGE
from tests.factories import make_token

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full"),
]


@pytest.fixture(autouse=True)
def spool(settings, tmp_path) -> Path:
    """Where Django spools uploads in these tests (empty when nothing was left behind)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir()
    return Path(settings.FILE_UPLOAD_TEMP_DIR)


@pytest.fixture
def full_spool_disk(monkeypatch):
    """Every temporary file Django creates from now on sits on a full disk."""
    real = temp.NamedTemporaryFile

    def on_a_full_disk(*args, **kwargs):
        spooled = real(*args, **kwargs)
        full = os.open("/dev/full", os.O_WRONLY)
        os.dup2(full, spooled.fileno())
        os.close(full)
        return spooled

    monkeypatch.setattr(temp, "NamedTemporaryFile", on_a_full_disk)


def big_upload(settings) -> SimpleUploadedFile:
    """A JSON Lines thread larger than FILE_UPLOAD_MAX_MEMORY_SIZE: spooled to disk."""
    line = orjson.dumps({"type": "article", "id": "a-1", "title": "An article"}) + b"\n"
    records = [line]
    size = len(line)
    number = 0
    while size <= settings.FILE_UPLOAD_MAX_MEMORY_SIZE:
        comment = {"type": "comment", "id": f"c{number}", "article_id": "a-1", "text": "w " * 200}
        records.append(orjson.dumps(comment) + b"\n")
        size += len(records[-1])
        number += 1
    return SimpleUploadedFile("big.jsonl", b"".join(records))


def files_in(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_the_simulated_disk_is_full_for_real(full_spool_disk):
    with temp.NamedTemporaryFile() as spooled, pytest.raises(OSError) as error:
        spooled.write(b"x" * 100_000)
        spooled.flush()
    assert error.value.errno == errno.ENOSPC


def test_an_upload_that_fills_the_spool_disk_is_507_on_the_imports_page(
    admin_client, project, settings, spool, full_spool_disk
):
    response = admin_client.post(
        reverse("corpus:import_list", args=[project.slug]),
        {"file": big_upload(settings), "format": "auto"},
    )

    assert response.status_code == 507
    html = response.content.decode()
    assert NO_SPACE_MESSAGE in html
    assert "This field is required" not in html
    assert 'name="file"' in html  # the form, to try again once there is space
    assert files_in(spool) == []
    assert files_in(Path(settings.MEDIA_ROOT)) == []
    assert ImportJob.objects.count() == 0


def test_an_upload_that_fills_the_spool_disk_is_507_in_the_api(
    project, project_admin, settings, spool, full_spool_disk
):
    client = Client(headers={"authorization": f"Token {make_token(project_admin)}"})

    response = client.post(
        reverse("api:import_list", args=[project.slug]), {"file": big_upload(settings)}
    )

    assert response.status_code == 507
    assert response.json()["detail"] == NO_SPACE_MESSAGE
    assert files_in(spool) == []
    assert ImportJob.objects.count() == 0


def test_a_spooled_upload_on_a_disk_with_space_is_imported_as_before(
    admin_client, project, settings, spool
):
    response = admin_client.post(
        reverse("corpus:import_list", args=[project.slug]),
        {"file": big_upload(settings), "format": "auto"},
    )

    assert response.status_code == 302
    assert ImportJob.objects.get().total_bytes > settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    assert files_in(spool) == []  # Django's own temporary file, gone with the request
