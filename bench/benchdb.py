"""What every bench script shares: its own PostgreSQL database and Django set up on it.

The scripts run as ``python bench/NAME.py``, so this directory is on ``sys.path`` and they
import this module by name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def safe_url(url: str) -> str:
    """The database URL without its password, for printing."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    return url


def bench_database_name(url: str) -> str:
    """The database's name; exits unless it is PostgreSQL and the name starts with "bench"."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in {"postgres", "postgresql"} or not name.startswith("bench"):
        sys.exit(
            f"refusing to use {safe_url(url)}: the bench needs a PostgreSQL database of its "
            f"own, whose name starts with 'bench'"
        )
    return name


def create_database(url: str, *, drop: bool) -> None:
    """Create the bench's own database if missing; drop it first with ``drop``."""
    import psycopg
    from psycopg import sql

    name = bench_database_name(url)
    maintenance = urlsplit(url)._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as connection:
        if drop:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if exists.fetchone() is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def run_step(script: str, step: str, *arguments: str) -> dict:
    """Run ``script --child step ARGUMENTS`` in a fresh Python process (so each step's memory
    and imports are its own) and return the JSON it prints last; exit with its error output
    when it fails."""
    output = subprocess.run(
        [sys.executable, script, "--child", step, *arguments],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if output.returncode != 0:
        sys.exit(f"the {step} step failed:\n{output.stderr}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def recreate_database(url: str) -> None:
    """Drop and create the bench's own database (and refuse any other)."""
    create_database(url, drop=True)


def server_environment(database_url: str, folder: Path) -> dict[str, str]:
    """Production-like settings (DEBUG off, plain HTTP on the loopback) on the bench database,
    for this process and for a gunicorn it starts; local state goes under ``folder``."""
    return {
        "DJANGO_SETTINGS_MODULE": "annotator.settings",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-only-secret-key-not-for-production",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_COOKIES": "0",
        "BEHIND_TLS_PROXY": "0",
        "LOG_LEVEL": "WARNING",
        "LOCAL_DIR": str(folder / "local"),
        "STATIC_ROOT": str(folder / "static"),
        "MEDIA_ROOT": str(folder / "media"),
    }


def setup_django(**defaults: str) -> None:
    """``django.setup()`` for the project, with environment ``defaults`` where unset."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    import django

    django.setup()
