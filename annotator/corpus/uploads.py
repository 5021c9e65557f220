"""Storing an uploaded file in the storage (MEDIA_ROOT or the object store): whole, or not at all.

Django's ``FileSystemStorage`` creates the file before it writes the first byte, and leaves
whatever it wrote when the disk fills up: a job pointing at a 0-byte (or half) file, and a
bare 500. Here a full disk, whether MEDIA_ROOT's or the database's, becomes ``NoSpaceLeft``
with the one message the browser, the API and the command line all show, and the partial
file is removed before the error goes up. An object store that cannot be reached or
refuses the write (settings.py, STORAGE_BUCKET) becomes ``StoreUnavailable`` the same way: a
clear message and a 503, nothing kept (a multipart upload that fails is aborted by boto3).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os

from django.core.files import File
from django.db import models

logger = logging.getLogger(__name__)

NO_SPACE_MESSAGE = (
    "The server has no space left: nothing was imported. Free some space or ask an administrator."
)
# SQLSTATE of PostgreSQL's disk_full and SQLite's message for SQLITE_FULL.
PG_DISK_FULL = "53100"
SQLITE_FULL = "database or disk is full"


STORE_UNAVAILABLE_MESSAGE = (
    "The file store could not be reached: nothing was kept. Try again in a moment or ask an "
    "administrator."
)


class StoreFailed(Exception):
    """The upload could not be stored, the server's fault; nothing of it was kept.
    ``status`` is the HTTP status a view answers with."""

    status = 503

    def __init__(self, message: str = STORE_UNAVAILABLE_MESSAGE):
        super().__init__(message)


class StoreUnavailable(StoreFailed):
    """The object store did not answer, or refused the write."""


class NoSpaceLeft(StoreFailed):
    """The disk (MEDIA_ROOT or the database's) is full; nothing of the upload was kept."""

    status = 507  # Insufficient Storage

    def __init__(self, message: str = NO_SPACE_MESSAGE):
        super().__init__(message)


def is_store_failure(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) came from the object store's client: a
    connection refused or timed out, a missing bucket, denied credentials."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return False
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (BotoCoreError, ClientError)):
            return True
        current = current.__cause__ or current.__context__
    return False


def store_reachable() -> bool:
    """Whether the default storage answers, cheaply, for a readiness check: a HEAD of the
    bucket for an object store (at most a few seconds when it is down: settings.py's
    timeouts and retries), MEDIA_ROOT being writable otherwise."""
    from django.core.files.storage import storages

    from annotator.corpus.stored_files import is_object_store

    storage = storages["default"]
    if is_object_store(storage):
        try:
            storage.connection.meta.client.head_bucket(Bucket=storage.bucket_name)
        except Exception:
            return False
        return True
    location = getattr(storage, "location", None)
    if location is None:
        return True
    # FileSystemStorage makes MEDIA_ROOT on its first save: what must be writable is the
    # nearest directory that exists.
    path = os.path.abspath(location)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says a disk is full: ENOSPC, PostgreSQL's
    ``disk_full`` or SQLite's ``SQLITE_FULL``, which reach us wrapped in Django's errors."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in {errno.ENOSPC, errno.EDQUOT}:
            return True
        if getattr(current, "sqlstate", None) == PG_DISK_FULL:
            return True
        if SQLITE_FULL in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def store_upload(instance: models.Model, field: str, upload: File) -> str:
    """Save ``upload`` into ``instance``'s file field ``field`` (not the row) and return its name.

    Raises ``NoSpaceLeft`` with nothing left in storage when the disk is full, and
    ``StoreUnavailable`` when the object store fails; any other error goes up unchanged
    (after the partial file is removed as well).
    """
    field_file = getattr(instance, field)
    storage = field_file.storage
    name = ""
    try:
        name = storage.get_available_name(
            field_file.field.generate_filename(instance, upload.name),
            max_length=field_file.field.max_length,
        )
        stored = storage.save(name, upload, max_length=field_file.field.max_length)
    except Exception as error:
        if name:
            with contextlib.suppress(Exception):  # the store may be down for this too
                if storage.exists(name):
                    storage.delete(name)
        if is_disk_full(error):
            raise NoSpaceLeft() from error
        if is_store_failure(error):
            logger.warning("the file store refused the upload %s: %s", name, error)
            raise StoreUnavailable() from error
        raise
    setattr(instance, field, stored)
    return stored


def discard_upload(instance: models.Model, field: str) -> None:
    """Remove the file of ``instance``'s ``field`` from storage (a row that could not be
    written must not leave its upload behind)."""
    field_file = getattr(instance, field)
    if field_file.name:
        with contextlib.suppress(Exception):  # an orphan object, rather than a second error
            field_file.storage.delete(field_file.name)
