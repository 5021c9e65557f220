#!/usr/bin/env python3
"""The two quick-start commands, needing nothing but Python 3.11+.

    python3 dev.py run    install, migrate, load the seed thread, print a login, serve
    python3 dev.py test   install with the test extras and run the whole suite

Both create a virtualenv in .venv on first use and reinstall only when pyproject.toml
changes. Local state (SQLite database, uploads, the generated secret key and admin password)
lives in .local/. Set DATABASE_URL to use PostgreSQL instead of the embedded SQLite.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCAL = ROOT / ".local"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_installed(extras: str) -> None:
    """Create .venv and install the project (with ``extras``) unless already up to date."""
    # dev.py is run by whatever python3 the machine has, so this check is not dead code.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit(f"Python 3.11 or newer is needed (this is {sys.version.split()[0]}).")
    if not PYTHON.exists():
        print("Creating a virtualenv in .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / f".installed-{extras or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print("Installing dependencies (first run takes a minute) ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    target = f".[{extras}]" if extras else "."
    subprocess.run([*pip, "install", "-e", target], check=True, cwd=ROOT)
    stamp.write_text(digest)


def local_secret(name: str, length: int = 32) -> str:
    """A random secret kept in .local/ so it survives restarts."""
    LOCAL.mkdir(exist_ok=True)
    path = LOCAL / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(length))
        path.chmod(0o600)
    return path.read_text().strip()


def local_env() -> dict[str, str]:
    """Environment for running the app on a laptop."""
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    env.setdefault("SECRET_KEY", local_secret("secret_key", 50))
    env.setdefault("SECURE_COOKIES", "0")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([str(PYTHON), "manage.py", *args], check=True, cwd=ROOT, env=env)


def run(args: list[str]) -> int:
    """Install, prepare the database and demo data, then serve with a worker beside it."""
    ensure_installed("")
    env = local_env()
    address = args[0] if args else "127.0.0.1:8000"
    manage("migrate", "--noinput", env=env)
    manage("load_demo", "--password-file", str(LOCAL / "admin-password"), env=env)
    worker = subprocess.Popen([str(PYTHON), "manage.py", "db_worker"], cwd=ROOT, env=env)
    print(f"\nOpen http://{address}/ (Ctrl-C stops the server and the worker)\n", flush=True)
    try:
        server = subprocess.run(
            [str(PYTHON), "manage.py", "runserver", address, "--noreload"], cwd=ROOT, env=env
        )
        return server.returncode
    except KeyboardInterrupt:
        return 0
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()


def test(args: list[str]) -> int:
    """Install with the test extras and run pytest (extra arguments go to pytest)."""
    ensure_installed("test")
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return subprocess.run([str(PYTHON), "-m", "pytest", *args], cwd=ROOT, env=env).returncode


def main() -> int:
    commands = {"run": run, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
