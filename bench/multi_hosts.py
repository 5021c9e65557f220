"""The hosts of ``multi_instance.py``: gunicorn and ``manage.py db_worker`` processes with
the settings of one host each, moto's S3 server, readiness checks, and the CPU they use.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from benchdb import ROOT, server_environment
from proc_cpu import CpuMonitor

CACHE_URL = "redis://127.0.0.1:6379/10"  # this bench's own Redis database
WORKER_INTERVAL = "0.2"  # as docker-compose.yml runs the worker


class Processes:
    """Every process the bench starts (gunicorns, workers, moto), stopped on exit."""

    def __init__(self) -> None:
        self.running: list[tuple[str, subprocess.Popen, Path]] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all(everything=True)

    def start(self, name: str, command: list[str], env: dict, log: Path) -> subprocess.Popen:
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches this script, which stops them in order
            )
        self.running.append((name, process, log))
        return process

    def stop_all(self, everything: bool = False) -> None:
        """SIGTERM to each (moto kept between passes unless ``everything``), then SIGKILL to
        its own process group if it hangs."""
        keep = [] if everything else [entry for entry in self.running if entry[0] == "moto"]
        stopping = [entry for entry in self.running if entry not in keep]
        for _, process, _ in stopping:
            if process.poll() is None:
                process.terminate()
        for _, process, _ in stopping:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.running = keep

    def crashed(self) -> list[str]:
        """Processes that exited during the run, with the tail of their log."""
        return [
            f"{name} exited with {process.returncode}:\n{tail(log)}"
            for name, process, log in self.running
            if process.poll() is not None
        ]


def tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(port: int, process: subprocess.Popen, log: Path, timeout: float = 120) -> str:
    """Until the instance answers ``/readyz`` with 200 (or, where there is no ``/readyz``
    yet, a 404, the login page with 200); which of the two answered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn on :{port} exited:\n{tail(log)}")
        try:
            status = get_status(port, "/readyz")
            if status == 200:
                return "/readyz"
            if status == 404 and get_status(port, "/accounts/login/") == 200:
                return "login page (no /readyz)"
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn on :{port} not ready within {timeout:.0f} s:\n{tail(log)}")


def get_status(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def start_s3(procs: Processes, folder: Path) -> dict:
    """moto's S3 server on a free port; its endpoint and the credentials it accepts."""
    port = free_port()
    log = folder / "moto.log"
    process = procs.start(
        "moto", [sys.executable, "-m", "moto.server", "-p", str(port)], os.environ.copy(), log
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            get_status(port, "/")
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto did not start:\n{tail(log)}") from None
            time.sleep(0.3)
    return {"endpoint": f"http://127.0.0.1:{port}", "key": "bench", "secret": "bench-secret"}


def s3_client(storage: dict):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=storage["endpoint"],
        region_name="us-east-1",
        aws_access_key_id=storage["key"],
        aws_secret_access_key=storage["secret"],
    )


def host_environment(
    args: argparse.Namespace, folder: Path, host: int, storage: dict | None, bucket: str
) -> dict[str, str]:
    """One host's settings: its own local folder, files on the shared folder or in S3, the
    shared cache when asked, and imports and exports always in the worker."""
    env = os.environ.copy()
    env.update(server_environment(args.database_url, folder))
    env["LOCAL_DIR"] = str(folder / f"host{host}" / "local")
    env["MEDIA_ROOT"] = str(folder / (f"host{host}/media" if args.separate_disks else "media"))
    env["STATIC_ROOT"] = os.environ["STATIC_ROOT"]  # collected once, by this process
    env["IMPORT_BACKGROUND_BYTES"] = "0"
    env["EXPORT_BACKGROUND_COMMENTS"] = "0"
    env["LOG_LEVEL"] = "WARNING"
    if args.cache:
        env["CACHE_URL"] = CACHE_URL
        env["CACHE_KEY_PREFIX"] = "bench-multi"
    if storage:
        env.update(
            STORAGE_BUCKET=bucket,
            STORAGE_ENDPOINT_URL=storage["endpoint"],
            STORAGE_REGION="us-east-1",
            STORAGE_ACCESS_KEY_ID=storage["key"],
            STORAGE_SECRET_ACCESS_KEY=storage["secret"],
        )
    return env


class TreeMonitor(CpuMonitor):
    """``CpuMonitor`` counting the whole tree of this script's processes as ``bench`` (its
    gunicorns' workers too, whose parent is their master, not this script)."""

    def _processes(self) -> dict[int, tuple[str, str, float]]:
        found = super()._processes()
        ours = {os.getpid()}
        parents = {}
        for pid in found:
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    parents[pid] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
        changed = True
        while changed:  # the tree is three deep: this script, gunicorn, its workers
            changed = False
            for pid, parent in parents.items():
                if parent in ours and pid not in ours:
                    ours.add(pid)
                    changed = True
        return {
            pid: ("bench", name, seconds) if pid in ours and kind == "other" else entry
            for pid, entry in found.items()
            for kind, name, seconds in [entry]
        }
