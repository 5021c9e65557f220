"""The round trip between installations: SQLite to PostgreSQL and back, every row compared.

The rich project is archived from the test database, restored by ``manage.py
restore_project`` into a fresh PostgreSQL database, archived from there by ``manage.py
archive_project``, restored into a fresh SQLite file, and its canonical form read there
(``canonical.py``: every archived row, ids replaced by positions) must equal the original's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from annotator.archives.writing import archive_project
from tests.archives.builders import MEMBERS, rich_project
from tests.archives.canonical import PRINT, canonical

ROOT = Path(__file__).resolve().parents[2]
PG_SERVER = os.environ.get("ARCHIVE_RT_SERVER", "postgres://postgres@127.0.0.1:5432")
PG_NAME = os.environ.get("ARCHIVE_RT_DATABASE", "wt_archive_rt")

pytestmark = pytest.mark.django_db


def fresh_postgres() -> str:
    """A new, empty PostgreSQL database for the round trip, or skip when there is none."""
    psycopg = pytest.importorskip("psycopg")
    try:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=3) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{PG_NAME}"')
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL at {PG_SERVER} is not reachable ({error})")
    return f"{PG_SERVER}/{PG_NAME}"


def manage(database_url: str, tmp_path: Path, *args: str) -> str:
    """``manage.py ARGS`` against ``database_url`` with the production settings."""
    env = {k: v for k, v in os.environ.items() if k not in {"TASKS_BACKEND", "DEBUG"}}
    env.update(
        DJANGO_SETTINGS_MODULE="annotator.settings",
        DATABASE_URL=database_url,
        LOCAL_DIR=str(tmp_path / "local"),
        SECRET_KEY="round-trip",
    )
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return done.stdout.decode()


def install(database_url: str, tmp_path: Path) -> None:
    """Migrate an empty database and give it the project's members (not the others)."""
    manage(database_url, tmp_path, "manage.py", "migrate", "-v", "0")
    names = repr(sorted(MEMBERS))
    create = (
        "from django.contrib.auth import get_user_model as g\n"
        f"[g().objects.create_user(n, password=None) for n in {names}]"
    )
    manage(database_url, tmp_path, "manage.py", "shell", "-v", "0", "-c", create)


def test_a_project_goes_from_sqlite_to_postgresql_and_back_unchanged(tmp_path):
    project = rich_project()
    original = canonical(project.slug)
    first = tmp_path / "from-test-db.jsonl.gz"
    with first.open("wb") as out:
        archive_project(project, out)

    postgres = fresh_postgres()
    install(postgres, tmp_path)
    manage(postgres, tmp_path, "manage.py", "restore_project", str(first))
    second = tmp_path / "from-postgres.jsonl.gz"
    manage(postgres, tmp_path, "manage.py", "archive_project", project.slug, str(second))

    sqlite = f"sqlite:///{tmp_path / 'back.sqlite3'}"
    install(sqlite, tmp_path)
    output = manage(sqlite, tmp_path, "manage.py", "restore_project", str(second))
    assert "former_annotator" in output  # kept as an inactive account there too

    for url in (postgres, sqlite):
        there = orjson.loads(
            manage(
                url,
                tmp_path,
                "manage.py",
                "shell",
                "-v",
                "0",
                "-c",
                PRINT.format(slug=project.slug),
            )
        )
        assert there.keys() == original.keys()
        for table in original:
            assert there[table] == original[table], (url.split(":")[0], table)
    assert all(original.values())
