"""Behind PgBouncer in transaction pooling mode (settings' "Connection pooling").

The checks are bench/pgbouncer_check.py's, run in a fresh process on the test database
through a PgBouncer of their own, with ``DATABASE_POOLER=pgbouncer-transaction``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.worker import database_url

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "pgbouncer_check.py"
POOLER = "DATABASE_POOLER=pgbouncer-transaction"


def bench_module():
    """bench/pgbouncer_check.py, imported as ``python bench/...`` would (bench/ on the path)."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        spec = importlib.util.spec_from_file_location("pgbouncer_check", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return module


def settings_of(**env: str) -> subprocess.CompletedProcess:
    """The production settings' database in a fresh process with ``env``."""
    code = (
        "import json; from annotator import settings as s; "
        "d = s.DATABASES['default']; "
        "print(json.dumps([d['ENGINE'], d.get('DISABLE_SERVER_SIDE_CURSORS', False), "
        "d.get('OPTIONS', {}).get('prepare_threshold', 'unset')]))"
    )
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_POOLER"}
    environment.update(SECRET_KEY="pooling-test", **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def test_the_pooler_setting_picks_the_pgbouncer_backend_only_for_postgresql():
    postgres = "postgres://postgres@127.0.0.1:5432/anything"

    direct = settings_of(DATABASE_URL=postgres)
    pooled = settings_of(DATABASE_URL=postgres, DATABASE_POOLER="pgbouncer-transaction")
    unknown = settings_of(DATABASE_URL=postgres, DATABASE_POOLER="pgpool")
    sqlite = settings_of(
        DATABASE_URL="sqlite:///x.sqlite3", DATABASE_POOLER="pgbouncer-transaction"
    )

    assert json.loads(direct.stdout) == ["django.db.backends.postgresql", False, "unset"]
    # Server-side cursors stay on (inside transactions); Django already leaves psycopg's
    # prepared statements off.
    assert json.loads(pooled.stdout) == ["annotator.pgbouncer", False, "unset"]
    assert unknown.returncode != 0
    assert "DATABASE_POOLER='pgpool': the one value known is 'pgbouncer-transaction'" in (
        unknown.stderr
    )
    assert sqlite.returncode != 0
    assert "DATABASE_POOLER needs a PostgreSQL DATABASE_URL" in sqlite.stderr


@pytest.mark.django_db(transaction=True)
def test_through_pgbouncer_in_transaction_mode_the_app_works_with_the_setting():
    if connection.vendor != "postgresql":
        pytest.skip("PgBouncer pools PostgreSQL connections")
    if not shutil.which("pgbouncer") and not os.access("/usr/sbin/pgbouncer", os.X_OK):
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)")
    bench = bench_module()

    with bench.start_pgbouncer(database_url(), pool_size=2) as pooled:
        child = subprocess.run(
            [sys.executable, str(SCRIPT), "--child", "checks", pooled, POOLER, "1000"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert child.returncode == 0, child.stderr[-3000:]
    results = json.loads(child.stdout.strip().splitlines()[-1])

    # What PgBouncer breaks whatever the settings: proof that the pool really mixed clients.
    session = {"a session's SET seen by other clients", "session pg_try_advisory_lock, 8 threads"}
    assert all(results.pop(check).startswith("FAIL") for check in session), results
    # Prepared statements asked for in OPTIONS break too (most runs; not the app's settings).
    results.pop("the same query 10 times, server_side_binding, prepare_threshold 5")
    # Everything the app does works: migrations, held-cursor reads, exports, claims' locks,
    # the heartbeat connection and three db_workers each running every task once.
    assert {check: outcome for check, outcome in results.items() if outcome != "OK"} == {}
    assert len(results) == 9
