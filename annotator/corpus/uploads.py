"""Storing an uploaded import file in MEDIA_ROOT: whole, or not at all.

Django's ``FileSystemStorage`` creates the file before it writes the first byte, and leaves
whatever it wrote when the disk fills up: a job pointing at a 0-byte (or half) file, and a
bare 500. Here a full disk, whether MEDIA_ROOT's or the database's, becomes ``NoSpaceLeft``
with the one message the browser, the API and the command line all show, and the partial
file is removed before the error goes up.
"""

from __future__ import annotations

import contextlib
import errno

from django.core.files import File
from django.db import models

NO_SPACE_MESSAGE = (
    "The server has no space left: nothing was imported. Free some space or ask an administrator."
)
# SQLSTATE of PostgreSQL's disk_full and SQLite's message for SQLITE_FULL.
PG_DISK_FULL = "53100"
SQLITE_FULL = "database or disk is full"


class NoSpaceLeft(Exception):
    """The disk (MEDIA_ROOT or the database's) is full; nothing of the upload was kept."""

    def __init__(self, message: str = NO_SPACE_MESSAGE):
        super().__init__(message)


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

    Raises ``NoSpaceLeft`` with nothing left in storage when the disk is full; any other
    error goes up unchanged (after the partial file is removed as well).
    """
    field_file = getattr(instance, field)
    storage = field_file.storage
    name = storage.get_available_name(
        field_file.field.generate_filename(instance, upload.name),
        max_length=field_file.field.max_length,
    )
    try:
        stored = storage.save(name, upload, max_length=field_file.field.max_length)
    except Exception as error:
        with contextlib.suppress(OSError):
            if storage.exists(name):
                storage.delete(name)
        if is_disk_full(error):
            raise NoSpaceLeft() from error
        raise
    setattr(instance, field, stored)
    return stored


def discard_upload(instance: models.Model, field: str) -> None:
    """Remove the file of ``instance``'s ``field`` from storage (a row that could not be
    written must not leave its upload behind)."""
    field_file = getattr(instance, field)
    if field_file.name:
        with contextlib.suppress(OSError):
            field_file.storage.delete(field_file.name)
