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

from importlib import import_module
from types import ModuleType

from annotator.datasets.options import ExportFormat

# Modules are imported when their format is first asked for: pyarrow alone takes about
# 0.2 s to import, which a JSON Lines export (and every process that never exports) need
# not pay.
EXPORTERS: dict[ExportFormat, str] = {
    ExportFormat.JSONL: "annotator.datasets.exporters.jsonl",
    ExportFormat.JSON: "annotator.datasets.exporters.nested_json",
    ExportFormat.CSV: "annotator.datasets.exporters.csv",
    ExportFormat.PARQUET: "annotator.datasets.exporters.parquet",
}


def exporter_for(fmt: ExportFormat | str) -> ModuleType:
    """The exporter module of ``fmt``; ``ValueError`` for a format we do not write."""
    return import_module(EXPORTERS[ExportFormat(fmt)])
