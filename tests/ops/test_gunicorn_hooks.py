"""The gunicorn hooks of multiprocess metrics: a clean directory at start, dead workers marked."""

import os
import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from unittest import mock

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from annotator.ops import gunicorn_hooks
from tests.worker import ROOT, database_url, wait_for


def test_starting_empties_the_multiprocess_directory(tmp_path, monkeypatch):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "counter_123.db").write_bytes(b"old")
    (directory / "README").write_text("kept")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    gunicorn_hooks.on_starting(server=None)
    assert sorted(p.name for p in directory.iterdir()) == ["README"]


def test_starting_creates_a_missing_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "new"))
    gunicorn_hooks.on_starting(server=None)
    assert (tmp_path / "new").is_dir()


def test_a_dead_workers_live_gauges_are_dropped(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    (tmp_path / "gauge_livesum_4243.db").write_bytes(b"")
    (tmp_path / "counter_4242.db").write_bytes(b"")
    gunicorn_hooks.child_exit(server=None, worker=SimpleNamespace(pid=4242))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "counter_4242.db",
        "gauge_livesum_4243.db",
    ]


def test_without_the_directory_the_hooks_do_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    with mock.patch("prometheus_client.multiprocess.mark_process_dead") as mark:
        gunicorn_hooks.on_starting(server=None)
        gunicorn_hooks.child_exit(server=None, worker=SimpleNamespace(pid=1))
    mark.assert_not_called()
    assert list(tmp_path.iterdir()) == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_under_gunicorn_with_two_workers_metrics_are_summed_over_both(tmp_path):
    """A real gunicorn, two worker processes, the hooks as its config: /metrics (served by
    either) counts every request, whichever worker answered it."""
    url = database_url()
    port = free_port()
    directory = tmp_path / "prometheus"
    env = {k: v for k, v in os.environ.items() if k not in {"TASKS_BACKEND", "DEBUG"}}
    env.update(
        DJANGO_SETTINGS_MODULE="annotator.settings",
        DATABASE_URL=url,
        SECRET_KEY="gunicorn-test",
        METRICS_TOKEN="tok",
        PROMETHEUS_MULTIPROC_DIR=str(directory),
        LOCAL_DIR=str(tmp_path / "local"),
        CONN_MAX_AGE="0",
    )
    gunicorn = [sys.executable, "-m", "gunicorn", "annotator.wsgi"]
    server = subprocess.Popen(
        [
            *gunicorn,
            "-c",
            "python:annotator.ops.gunicorn_hooks",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{base}/healthz"), 60, "gunicorn to serve", worker=server)
        sent = 1
        # Until both workers have answered (each writes its own file), in parallel bursts.
        with ThreadPoolExecutor(max_workers=4) as pool:
            while len(set(directory.glob("histogram_*.db"))) < 2 and sent < 2000:
                sent += sum(pool.map(lambda _: _answers(f"{base}/healthz"), range(8)))
        assert len(set(directory.glob("histogram_*.db"))) == 2
        text = requests.get(
            f"{base}/metrics", headers={"Authorization": "Bearer tok"}, timeout=30
        ).text
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    counted = {
        sample.labels["view"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "django_http_requests_latency_seconds_by_view_method"
        for sample in family.samples
        if sample.name.endswith("_count")
    }
    assert counted["ops:healthz"] == sent


def _answers(url: str) -> int:
    try:
        return int(requests.get(url, timeout=60).status_code == 200)
    except requests.ConnectionError:
        return 0
