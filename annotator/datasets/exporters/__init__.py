"""One module per export format, each writing a data file from a ``RowSource``.

Every exporter module has the same small interface, so ``package.build_export`` (and anyone
else) can treat them alike:

* ``FILENAME``: the data file's name inside the export;
* ``KEEPS_TREES``: whether the format needs whole trees (filtered exports then carry the
  ancestors of kept comments as context rows, see ``rows.py``);
* ``COMPRESS``: whether deflating the file in the ZIP is worth it (Parquet is compressed
  already);
* ``write(source, out)``: stream the rows into the binary file object ``out``.

A format whose layout is a folder of files (ConvoKit's corpus directory, RumourEval's thread
folders) says ``FOLDER = True``: its ``FILENAME`` is the folder's name (ending in ``/``) and
``write(source, folder)`` gets a ``Folder`` to add files to, one at a time (a ZIP can be
written one member at a time only: what a format fills in while another file streams goes
to a temporary file first). It may return Markdown lines for the dataset card's *Files*
section (what it left out, for instance).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from importlib import import_module
from types import ModuleType
from typing import BinaryIO, Protocol

from annotator.datasets.options import ExportFormat

# Modules are imported when their format is first asked for: pyarrow alone takes about
# 0.2 s to import, which a JSON Lines export (and every process that never exports) need
# not pay.
EXPORTERS: dict[ExportFormat, str] = {
    ExportFormat.JSONL: "annotator.datasets.exporters.jsonl",
    ExportFormat.JSON: "annotator.datasets.exporters.nested_json",
    ExportFormat.CSV: "annotator.datasets.exporters.csv",
    ExportFormat.PARQUET: "annotator.datasets.exporters.parquet",
    ExportFormat.CONVOKIT: "annotator.datasets.exporters.convokit",
    ExportFormat.RUMOUREVAL: "annotator.datasets.exporters.rumoureval",
}


class Folder(Protocol):
    """Where a folder-layout exporter writes its files (``package.ZipFolder`` in the ZIP)."""

    def open(self, name: str) -> AbstractContextManager[BinaryIO]:
        """A file of the folder to stream into (``name`` may hold ``/``)."""
        ...

    def write(self, name: str, data: bytes) -> None:
        """A small file of the folder, written at once."""
        ...


def is_folder(exporter: ModuleType) -> bool:
    """Whether ``exporter`` writes a folder of files rather than one data file."""
    return getattr(exporter, "FOLDER", False)


def exporter_for(fmt: ExportFormat | str) -> ModuleType:
    """The exporter module of ``fmt``; ``ValueError`` for a format we do not write."""
    return import_module(EXPORTERS[ExportFormat(fmt)])
