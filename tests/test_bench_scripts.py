"""The bench scripts still import: they are run by hand, so a rename elsewhere (a helper moved
between bench modules, an argument dropped) would otherwise be found only by the next person
measuring."""

import subprocess
import sys
from pathlib import Path

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
    modules = {"benchdb", "proc_cpu", "save_clients", "save_server"}
    if script.stem in modules:  # helpers, not scripts: importing them is the check
        result = subprocess.run(
            [sys.executable, "-c", f"import {script.stem}"],
            cwd=BENCH,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr[-2000:]
