"""Every archived row of a project with its ids replaced by positions, for comparisons.

Ids differ between installations; a row's position in its table's archive order does not
(a restore writes rows in that order), nor a person's username. So two projects hold the
same rows exactly when their canonical forms are equal. ``PRINT`` is the one line a
``manage.py shell -c`` runs to print it from another installation (test_round_trip.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model

from annotator.archives.tables import PROJECT_COLUMNS, TABLES
from annotator.corpus.models import Project

PRINT = (
    "import sys, orjson; from tests.archives.canonical import canonical; "
    "sys.stdout.buffer.write(orjson.dumps(canonical({slug!r})))"
)


def canonical(slug: str) -> dict[str, Any]:
    """The project's settings and every archived row, ids replaced (JSON-ready)."""
    project = Project.objects.get(slug=slug)
    User = get_user_model()
    users = dict(User._base_manager.values_list("pk", User.USERNAME_FIELD))
    positions: dict[str, dict[int, int]] = {}
    out: dict[str, Any] = {
        "project": {c: _plain(getattr(project, c)) for c in PROJECT_COLUMNS if c != "slug"}
    }

    def lookup(target: str, pk: Any) -> Any:
        if target == "user":
            return users[pk]
        return positions[target].get(pk, ("missing", pk))

    for table in TABLES:
        columns = table.columns
        rows = [dict(zip(columns, values, strict=True)) for values in table.rows_of(project.pk)]
        positions[table.name] = {row["id"]: index for index, row in enumerate(rows)}
        for row in rows:
            row["id"] = positions[table.name][row["id"]]
            for column, target in table.refs.items():
                if row[column] is not None:
                    row[column] = lookup(target, row[column])
            for column, mapper in table.json_refs.items():
                row[column] = mapper(row[column], lookup)
            for column, value in row.items():
                row[column] = _plain(value)
        out[table.name] = rows
    return out


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
