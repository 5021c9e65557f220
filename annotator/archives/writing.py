"""Writing a project's archive: every archived table streamed from the database.

Each table is read once with a streaming cursor (server-side on PostgreSQL, see
``datasets/reading.stream_rows``), a chunk at a time, and written as it is read, so the
memory used does not grow with the project and the number of queries is the same for ten
comments or a million. The reads share one transaction, on PostgreSQL in ``REPEATABLE
READ``, so the archive is one consistent picture of the project even while people label.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

import orjson
from django.contrib.auth import get_user_model
from django.db import connections, transaction
from django.db.models import QuerySet
from django.utils import timezone

from annotator.archives.format import ArchiveWriter, header
from annotator.archives.tables import PROJECT_COLUMNS, TABLES, Table
from annotator.corpus.models import Project
from annotator.datasets.reading import fetch_rows, stream_rows

CHUNK_ROWS = 2000

# Called with (table name, rows written so far) after each chunk: jobs report progress.
Progress = Callable[[str, int], None]


def archive_project(
    project: Project,
    fileobj: IO[bytes],
    *,
    progress: Progress | None = None,
    using: str = "default",
) -> dict[str, int]:
    """Write ``project``'s archive to the binary file ``fileobj``; the rows per type."""
    database = connections[using]
    # The isolation level can only be set by a transaction's first statement: not when the
    # caller already has one open (a test's, say), which then decides the snapshot.
    outermost = not database.in_atomic_block
    with transaction.atomic(using=using):
        if database.vendor == "postgresql" and outermost:
            with database.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        writer = ArchiveWriter(fileobj)
        project = Project.objects.using(using).get(pk=project.pk)
        writer.write_header(header(project.slug, timezone.now().isoformat()))
        row = {c: getattr(project, c) for c in PROJECT_COLUMNS}
        writer.write_rows("project", [{"t": "project", **row}])
        writer.write_rows("user", _user_records(project.pk, using))
        for table in TABLES:
            _write_table(writer, table, project.pk, using, progress)
        writer.close()
    return writer.counts


def _user_records(project_id: int, using: str) -> list[dict]:
    """Every person an archived row names, by id and username (one query per column that
    names a person, and one for their names)."""
    ids: set[int] = set()
    for table in TABLES:
        for column, target in table.refs.items():
            if target == "user":
                queryset = (
                    table.model._base_manager.using(using)
                    .filter(**{table.scope: project_id, f"{column}__isnull": False})
                    .order_by()
                    .values_list(column)
                    .distinct()
                )
                ids.update(pk for (pk,) in fetch_rows(queryset))
    User = get_user_model()
    users = User._base_manager.using(using).filter(pk__in=sorted(ids)).order_by("pk")
    field = User.USERNAME_FIELD
    return [
        {"t": "user", "id": pk, "username": name}
        for pk, name in fetch_rows(users.values_list("pk", field))
    ]


def _write_table(
    writer: ArchiveWriter, table: Table, project_id: int, using: str, progress: Progress | None
) -> None:
    columns = table.columns
    queryset: QuerySet = table.rows_of(project_id, json_text=True).using(using)
    json = [i for i, column in enumerate(columns) if column in table.json_columns]
    written = 0
    name = table.name
    for chunk in stream_rows(queryset, CHUNK_ROWS):
        records = []
        for values in chunk:
            if json:
                values = list(values)
                for i in json:
                    if values[i] is not None:  # the database's JSON text, written as it is
                        values[i] = orjson.Fragment(values[i])
            records.append({"t": name, **dict(zip(columns, values, strict=True))})
        writer.write_rows(name, records)
        written += len(records)
        if progress is not None:
            progress(name, written)
