"""The bench scripts still import: they are run by hand, so a rename elsewhere (a helper moved
between bench modules, an argument dropped) would otherwise be found only by the next person
measuring."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(path for path in BENCH.glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_the_bench_script_imports_and_answers_help(script):
    # A fresh interpreter with bench/ first on the path, as `python bench/x.py` runs it.
    result = subprocess.run(
        [sys.executable, str(script), "--help"],
        cwd=BENCH.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    modules = {"benchdb", "multi_clients", "multi_hosts", "proc_cpu", "save_clients", "save_server"}
    if script.stem in modules:  # helpers, not scripts: importing them is the check
        result = subprocess.run(
            [sys.executable, "-c", f"import {script.stem}"],
            cwd=BENCH,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr[-2000:]


def smoke_database_url() -> str:
    """A bench database on the PostgreSQL of ``DATABASE_URL`` (else the local one); skips
    the test when no PostgreSQL answers."""
    import psycopg

    configured = urlsplit(os.environ.get("DATABASE_URL", ""))
    if configured.scheme not in {"postgres", "postgresql"}:
        configured = urlsplit("postgres://postgres@127.0.0.1:5432/postgres")
    try:
        psycopg.connect(configured._replace(path="/postgres").geturl(), connect_timeout=3).close()
    except psycopg.Error:
        pytest.skip("the multi-instance bench needs PostgreSQL")
    return configured._replace(path="/bench_multi_smoke").geturl()


def test_the_multi_instance_bench_runs_two_instances_and_its_checks_hold(tmp_path):
    # Tiny sizes: two gunicorns and two workers, 4 annotators for 12 s, an import of 500
    # comments and the export, through the same code as the 5-minute proof.
    arguments = ["--minutes", "0.2", "--annotators", "4", "--comments", "200"]
    arguments += ["--import-comments", "500", "--instances", "2"]
    arguments += ["--database-url", smoke_database_url()]  # dropped and re-created
    result = subprocess.run(
        [sys.executable, str(BENCH / "multi_instance.py"), *arguments],
        cwd=BENCH.parent,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    for check in ("HTTP errors", "no comment handed to more than k", "every save in the history"):
        assert f"[ok] {check}" in result.stdout
    assert "[ok] the import complete: job succeeded, 500 comments added" in result.stdout
    assert "[ok] the export complete: job succeeded, 700 comment rows" in result.stdout
    assert "verdict: every check held" in result.stdout
    assert not list(tmp_path.iterdir())  # its temporary folder is gone, processes stopped
