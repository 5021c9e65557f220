#!/usr/bin/env python3
"""The two quick-start commands, needing nothing but Python 3.11+.

    python3 dev.py run [--port N] [--host H]
                          install, migrate, load the seed thread, print a login, serve
    python3 dev.py test   install with the test extras and run the whole suite on
                          parallel workers (TEST_WORKERS=N, default one a core)

Both create a virtualenv in .venv on first use and reinstall only when pyproject.toml
changes. Local state (SQLite database, uploads, the generated secret key and admin password)
lives in .local/. Set DATABASE_URL to use PostgreSQL instead of the embedded SQLite.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCAL = ROOT / ".local"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


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


def parse_run_args(args: list[str]) -> tuple[str, int]:
    """Where ``run`` serves: ``--port``/``--host``, or runserver's own ``[HOST:]PORT``."""
    parser = argparse.ArgumentParser(
        prog="python3 dev.py run", description="Serve the app with its worker on a laptop."
    )
    parser.add_argument("address", nargs="?", help="[HOST:]PORT, as runserver takes it")
    parser.add_argument("--port", type=int, help=f"port to serve on (default {DEFAULT_PORT})")
    parser.add_argument("--host", help=f"address to listen on (default {DEFAULT_HOST})")
    options = parser.parse_args(args)
    host, port = DEFAULT_HOST, DEFAULT_PORT
    if options.address:
        given_host, _, given_port = options.address.rpartition(":")
        if not given_port.isdigit():
            parser.error(f"{options.address!r} is not [HOST:]PORT (e.g. 8001 or 0.0.0.0:8001)")
        host, port = given_host.strip("[]") or host, int(given_port)
    host = options.host or host
    port = options.port if options.port is not None else port
    if not 1 <= port <= 65535:
        parser.error(f"the port must be between 1 and 65535, not {port}")
    return host, port


def port_is_free(host: str, port: int) -> bool:
    """Whether runserver could listen on ``host:port`` now (it also sets SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def port_problem(host: str, port: int) -> str | None:
    """What to tell someone whose port is taken, before anything else is printed, or None.

    Checking first means the login and URL are never printed for a server that then fails
    to start with a traceback.
    """
    if port_is_free(host, port):
        return None
    free = next((p for p in range(port + 1, min(port + 50, 65536)) if port_is_free(host, p)), None)
    advice = f"python3 dev.py run --port {free}" if free else "python3 dev.py run --port PORT"
    return (
        f"Port {port} on {host} is already in use (another `python3 dev.py run`, or another "
        f"server). Stop that one, or serve on another port: {advice}"
    )


def site_url(host: str, port: int) -> str:
    """The URL to open for a server listening on ``host:port``."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (a wildcard is reached via loopback)
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start a child in a process group of its own, so ``stop`` reaches its children too.

    runserver's autoreloader and the worker can run children of their own; signalling only
    the direct child once left the worker orphaned. Ctrl-C then reaches dev.py alone, which
    stops each group in turn.
    """
    if os.name == "nt":
        return subprocess.Popen(command, cwd=ROOT, env=env)
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """Interrupt ``process`` and its whole group as Ctrl-C would; kill what is left after.

    SIGTERM follows when SIGINT does not work within ``timeout`` (a shell starts background
    jobs with SIGINT ignored, and children inherit that), SIGKILL last.
    """
    if os.name == "nt":
        process.terminate()
        process.wait()
        return
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT is ignored when run in background
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, signum)
            process.wait(timeout=timeout)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            continue
        except ProcessLookupError:
            break
    # The group outlives its leader when a child is still running: clear it either way.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _interrupted(signum: int, frame: object) -> None:
    """SIGTERM stops ``run`` as Ctrl-C does, so its children are stopped with it."""
    raise KeyboardInterrupt


def run(args: list[str]) -> int:
    """Install, prepare the database and demo data, then serve with a worker beside it."""
    host, port = parse_run_args(args)
    problem = port_problem(host, port)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    ensure_installed("")
    env = local_env()
    manage("migrate", "--noinput", env=env)
    url = site_url(host, port)
    # load_demo prints the login with the address: the one served, not runserver's default.
    manage("load_demo", "--password-file", str(LOCAL / "admin-password"), "--url", url, env=env)
    signal.signal(signal.SIGTERM, _interrupted)
    worker = start([str(PYTHON), "manage.py", "db_worker", "--interval", "0.2"], env)
    print(f"\nOpen {url} (Ctrl-C stops the server and the worker)\n", flush=True)
    try:
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        server = start([str(PYTHON), "manage.py", "runserver", address, "--noreload"], env)
        try:
            return server.wait()
        finally:
            stop(server)
    except KeyboardInterrupt:
        return 0
    finally:
        stop(worker)


def pytest_args(args: list[str], workers: str | None = None) -> list[str]:
    """pytest's arguments for ``test``: ``args``, run on parallel workers unless they say how.

    Most of a test's time is spent waiting (on the browser, the live server, the database),
    so pytest-xdist workers (one a core, or ``TEST_WORKERS``) finish the suite in far less
    time than one process. ``worksteal`` evens out modules of very different lengths. Give
    ``-n 0`` (or ``TEST_WORKERS=0``) to run in this process, e.g. under a debugger.
    """
    chosen = any(
        arg in ("-n", "--numprocesses", "--dist") or arg.startswith(("-n", "--numprocesses="))
        for arg in args
    )
    if chosen or "no:xdist" in args:
        return args
    workers = workers if workers is not None else os.environ.get("TEST_WORKERS", "auto")
    if workers in ("", "0"):
        return args
    return ["-n", workers, "--dist", "worksteal", *args]


def test(args: list[str]) -> int:
    """Install with the test extras and run pytest on parallel workers (extra arguments go
    to pytest; see ``pytest_args``)."""
    ensure_installed("test")
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    command = [str(PYTHON), "-m", "pytest", *pytest_args(args)]
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def main() -> int:
    commands = {"run": run, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
