"""Fixtures the import pages' tests share (the project's cast of users is in tests/conftest.py)."""

import pytest

from tests.s3_server import s3_endpoint, s3_store  # noqa: F401 - the S3 tests' fixtures


@pytest.fixture
def uploads_in_tmp(settings, tmp_path):
    """Uploads go to a temporary directory, never to the developer's media folder, and files
    of 1 MiB or more go to the background worker."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_BACKGROUND_BYTES = 1024 * 1024


@pytest.fixture
def importer_client(client, project_admin):
    """A client logged in as the project's admin (who may import)."""
    client.force_login(project_admin)
    return client
