"""Writing a restore's rows with ``COPY`` on PostgreSQL, their ids reserved up front.

``bulk_create`` spent most of a large restore adapting Python values (Django 5.2 sends
PostgreSQL arrays for ``UNNEST``, and psycopg quotes every element in Python); ``COPY``
streams the rows as they are. The ids come from the table's own sequence first (as the
importer's ``row_writers._reserve`` does), so concurrent writers never get the same ones
and a reply can be given its parent's id before either is written.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.db import connection, models

RESERVE_BATCH = 20_000


class CopyWriter:
    """Inserts rows (dicts of column attnames) into a model's table with ``COPY``."""

    def __init__(self) -> None:
        connection.ensure_connection()
        self._sequences: dict[str, str] = {}
        self._json: dict[type[models.Model], dict[str, bool]] = {}

    def reserve(self, model: type[models.Model], count: int) -> list[int]:
        """``count`` fresh ids of ``model``'s table."""
        table = model._meta.db_table
        ids: list[int] = []
        with connection.cursor() as cursor:
            if table not in self._sequences:
                cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
                self._sequences[table] = cursor.fetchone()[0]
            while len(ids) < count:
                size = min(RESERVE_BATCH, count - len(ids))
                cursor.execute(
                    "SELECT nextval(%s::regclass) FROM generate_series(1, %s)",
                    [self._sequences[table], size],
                )
                ids.extend(key for (key,) in cursor.fetchall())
        return ids

    def write(
        self, model: type[models.Model], rows: list[dict[str, Any]], ids: list[int] | None = None
    ) -> list[int]:
        """Insert ``rows`` (all with the same columns) under ``ids`` (reserved when not
        given); the ids."""
        if not rows:
            return []
        ids = ids if ids is not None else self.reserve(model, len(rows))
        json = self._json_columns(model)
        columns = list(rows[0])
        quote = connection.ops.quote_name
        sql = (
            f"COPY {quote(model._meta.db_table)} (id, {', '.join(map(quote, columns))}) FROM STDIN"
        )
        # Per column: None (not JSON), True (JSON that may be NULL), False (never NULL).
        adapt = [(column, json.get(column)) for column in columns]
        # As Django's own cursors do: psycopg's errors raised as Django's (IntegrityError ...).
        with (
            connection.wrap_database_errors,
            connection.connection.cursor() as cursor,
            cursor.copy(sql) as copy,
        ):
            for pk, row in zip(ids, rows, strict=True):
                copy.write_row(
                    (
                        pk,
                        *(
                            _json(row[column], nullable) if nullable is not None else row[column]
                            for column, nullable in adapt
                        ),
                    )
                )
        return ids

    def _json_columns(self, model: type[models.Model]) -> dict[str, bool]:
        if model not in self._json:
            self._json[model] = {
                f.attname: f.null
                for f in model._meta.concrete_fields
                if isinstance(f, models.JSONField)
            }
        return self._json[model]


def _json(value: Any, nullable: bool) -> str | None:
    """A JSON column's text, as Django writes it: None is SQL NULL where the column may be
    NULL, JSON ``null`` where it may not."""
    if value is None and nullable:
        return None
    return orjson.dumps(value).decode()
