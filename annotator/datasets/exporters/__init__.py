"""One module per export format, each writing a data file from a ``RowSource``.

Every exporter module has the same small interface, so ``package.build_export`` (and anyone
else) can treat them alike:

* ``FILENAME``: the data file's name inside the export;
* ``KEEPS_TREES``: whether the format needs whole trees (filtered exports then carry the
  ancestors of kept comments as context rows, see ``rows.py``);
* ``COMPRESS``: whether deflating the file in the ZIP is worth it (Parquet is compressed
  already);
* ``write(source, out)``: stream the rows into the binary file object ``out``.
"""

from __future__ import annotations

from types import ModuleType

from annotator.datasets.exporters import csv, jsonl, nested_json, parquet
from annotator.datasets.options import ExportFormat

EXPORTERS: dict[ExportFormat, ModuleType] = {
    ExportFormat.JSONL: jsonl,
    ExportFormat.JSON: nested_json,
    ExportFormat.CSV: csv,
    ExportFormat.PARQUET: parquet,
}


def exporter_for(fmt: ExportFormat | str) -> ModuleType:
    """The exporter module of ``fmt``; ``ValueError`` for a format we do not write."""
    return EXPORTERS[ExportFormat(fmt)]
