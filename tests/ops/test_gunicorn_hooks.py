"""The gunicorn hooks of multiprocess metrics: a clean directory at start, dead workers marked."""

from types import SimpleNamespace
from unittest import mock

from annotator.ops import gunicorn_hooks


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
