"""Spooling uploads to disk without a 500 when the disk is full.

Django writes an upload larger than ``FILE_UPLOAD_MAX_MEMORY_SIZE`` to a temporary file in
``FILE_UPLOAD_TEMP_DIR`` while it parses the request, before any view runs. When that disk
fills up, the ``OSError`` came out of ``request.POST`` as a bare 500 and left the half
file behind. ``FullDiskAwareUploadHandler`` removes the temporary file, stops the upload
(the rest of the request body is read and thrown away, so the browser gets the answer)
and marks the request; the view asks ``upload_ran_out_of_space(request)`` and answers 507
with ``uploads.NO_SPACE_MESSAGE``, as it does when storing the upload fills the disk.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest

from annotator.corpus.uploads import is_disk_full

NO_SPACE_FLAG = "upload_ran_out_of_space"  # the attribute set on the request


def upload_ran_out_of_space(request: Any) -> bool:
    """Whether spooling this request's upload to disk stopped on a full disk (``request``
    is Django's, or Django REST framework's, which passes the attribute through). Read it
    after the request's files were parsed (``request.FILES``, ``request.data``)."""
    return bool(getattr(request, NO_SPACE_FLAG, False))


class FullDiskAwareUploadHandler(TemporaryFileUploadHandler):
    """Django's temporary-file upload handler, except that a full disk stops the upload
    cleanly: nothing of it is left in the temporary directory, and the request says why."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().new_file(*args, **kwargs)
        except OSError as error:
            self._give_up(error)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        try:
            self.file.write(raw_data)
        except OSError as error:
            self._give_up(error)

    def file_complete(self, file_size: int) -> Any:
        try:
            return super().file_complete(file_size)  # its seek writes out the last buffer
        except OSError as error:
            self._give_up(error)

    def _give_up(self, error: OSError) -> None:
        """On a full disk: remove the temporary file, mark the request, stop the upload.
        Any other error goes up unchanged."""
        if not is_disk_full(error):
            raise error
        self._remove_file()
        if isinstance(self.request, HttpRequest):
            setattr(self.request, NO_SPACE_FLAG, True)
        raise StopUpload(connection_reset=False) from error

    def _remove_file(self) -> None:
        """Close and delete the half-written temporary file, whatever the full disk says."""
        upload = getattr(self, "file", None)
        if upload is None:
            return
        path = upload.temporary_file_path()
        with contextlib.suppress(OSError):  # closing writes the buffer: the disk is still full
            upload.close()
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
