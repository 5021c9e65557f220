"""Files kept through Django's storage API: read streamed, removed with their rows.

Uploads and exports live in ``STORAGES["default"]``: MEDIA_ROOT's file system, or an
S3-compatible bucket (settings.py). django-storages' ``S3File`` downloads the whole object
into a ``SpooledTemporaryFile`` on its first read, which for a 2 GB upload means 2 GB of
memory (or the worker's disk) before the first byte is parsed. ``open_stored`` reads an
object with ranged GETs instead: one streaming GET that is followed while reads are
sequential, and a fresh one from the new offset after a seek. Memory stays at one buffer
whatever the size, and the file is seekable, as ``zipfile`` needs for the central directory
of a ZIP upload. On the file system it is ``storage.open`` as before.

``delete_stored_file`` is connected (apps.py) to every model with an upload or export, so a
row deleted (a job, or a whole project by cascade) takes its file with it once the
transaction commits.
"""

from __future__ import annotations

import contextlib
import io
import logging
from typing import Any, BinaryIO

from django.core.files.storage import Storage
from django.db import models, transaction

logger = logging.getLogger(__name__)

READ_BUFFER_BYTES = 1024 * 1024  # what one read asks of the store, and all a reader holds


def is_object_store(storage: Storage) -> bool:
    """Whether ``storage`` is django-storages' S3 backend (not a local file system)."""
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:  # pragma: no cover - django-storages is a dependency
        return False
    return isinstance(storage, S3Storage)


def open_stored(storage: Storage, name: str) -> BinaryIO:
    """Open the stored file ``name`` for reading, seekable, in flat memory.

    Raises ``FileNotFoundError`` when there is no such file, as ``storage.open`` does.
    """
    if not is_object_store(storage):
        return storage.open(name, "rb")
    from storages.utils import clean_name

    key = storage._normalize_name(clean_name(name))
    raw = RangedObjectReader(storage.connection.meta.client, storage.bucket_name, key)
    return io.BufferedReader(raw, buffer_size=READ_BUFFER_BYTES)


class RangedObjectReader(io.RawIOBase):
    """An object of a bucket as a seekable raw file: ``Range`` GETs from the position.

    The size comes from a HEAD at opening (a missing key is ``FileNotFoundError`` there).
    A seek only moves the position; the next read opens a new GET from it, unless the
    position did not change, so sequential reads (``_SharedFile`` in zipfile seeks to where
    it already is before each read) follow one response body.
    """

    def __init__(self, client: Any, bucket: str, key: str):
        from botocore.exceptions import ClientError

        super().__init__()
        self._client, self._bucket, self._key = client, bucket, key
        try:
            head = client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                raise FileNotFoundError(f"No such stored file: {key}") from None
            raise
        self.size: int = head["ContentLength"]
        self.name = key
        self._position = 0
        self._body: Any = None  # the open GET's streaming body, at self._position
        self.requests = 0  # GETs made, for the tests

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._position + offset
        elif whence == io.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if target < 0:
            raise OSError(f"negative seek position {target}")
        if target != self._position:
            self._drop_body()
            self._position = target
        return self._position

    def readinto(self, buffer: Any) -> int:
        wanted = len(buffer)
        if not wanted or self._position >= self.size:
            return 0
        if self._body is None:
            response = self._client.get_object(
                Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-"
            )
            self.requests += 1
            self._body = response["Body"]
        data = self._body.read(wanted)
        if not data:  # the object ended early (replaced meanwhile): say so, not a short file
            raise OSError(f"{self._key}: the stored file ended at byte {self._position}")
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        self._drop_body()
        super().close()

    def _drop_body(self) -> None:
        if self._body is not None:
            with contextlib.suppress(Exception):
                self._body.close()
            self._body = None


def delete_stored_file(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    """``post_delete`` receiver: remove the files of the deleted row once its deletion
    commits (a rollback keeps row and file together). A store that fails then is logged:
    the row is gone either way, and an orphan object is cheaper than a lost deletion."""
    for field in instance._meta.get_fields():
        if isinstance(field, models.FileField):
            stored = getattr(instance, field.name)
            if stored and stored.name:
                storage, name = stored.storage, stored.name
                transaction.on_commit(lambda s=storage, n=name: _delete_quietly(s, n))


def _delete_quietly(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:
        logger.exception("could not remove the stored file %s of a deleted row", name)
