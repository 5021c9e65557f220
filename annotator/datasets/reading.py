"""Reading an export's rows from the database: streamed ``values_list`` rows with psycopg's
C loaders, and chunks of ids passed as one parameter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.backends.postgresql.psycopg_any import is_psycopg3
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL


def stream_rows(queryset: QuerySet, chunk_size: int, *, server_side: bool = True) -> Iterator[list]:
    """The rows of a ``values_list`` queryset, ``chunk_size`` at a time, from a streaming
    cursor (server-side on PostgreSQL unless ``server_side`` is off), with the fastest value
    loaders.

    Why not ``queryset.iterator()``: Django loads PostgreSQL timestamps through its own
    subclass of psycopg's loader, which keeps them in pure Python; an export reads several per
    comment, and parsing them took a third of its time. This cursor gets psycopg's C loader
    instead (same values: aware, in the session's UTC). Django's converters still run where a
    backend needs them (SQLite keeps timestamps as text).
    """
    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return
    converters = compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])
    database = connections[queryset.db]
    with database.chunked_cursor() if server_side else database.cursor() as cursor:
        use_c_loaders(database, cursor)
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            yield list(compiler.apply_converters(rows, converters)) if converters else rows


def fetch_rows(queryset: QuerySet) -> list:
    """All rows of a small ``values_list`` queryset (one query, no server-side cursor)."""
    return [row for chunk in stream_rows(queryset, 100_000, server_side=False) for row in chunk]


def use_c_loaders(database: Any, cursor: Any) -> None:
    if database.vendor == "postgresql" and is_psycopg3:
        from psycopg.types.datetime import TimestamptzLoader

        # Registering psycopg's own class makes psycopg pick its C version.
        cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)


def id_list(ids: list[int], vendor: str) -> RawSQL:
    """``ids`` as a subquery with one parameter (an ``IN`` of 2,000 placeholders costs more
    to build and parse than to run)."""
    if vendor == "postgresql":  # an array literal: psycopg would check every element
        return RawSQL("SELECT unnest(%s::bigint[])", ("{" + ",".join(map(str, ids)) + "}",))
    return RawSQL("SELECT value FROM json_each(%s)", (orjson.dumps(ids).decode(),))
