"""dev.py, the quick-start script: choosing the port, a busy port, stopping the worker."""

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 (parsed and printed, never bound)


def load_dev():
    """dev.py as a module (it is a script at the top of the repository, not a package)."""
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dev = load_dev()


@pytest.fixture
def busy_port():
    """A port someone else is listening on, as a second `dev.py run` would be."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ("127.0.0.1", 8000)),
        (["--port", "8001"], ("127.0.0.1", 8001)),
        (["--port", "8001", "--host", EVERY_INTERFACE], (EVERY_INTERFACE, 8001)),
        (["8002"], ("127.0.0.1", 8002)),
        ([f"{EVERY_INTERFACE}:8003"], (EVERY_INTERFACE, 8003)),
        (["[::1]:8004"], ("::1", 8004)),
    ],
)
def test_the_port_and_host_come_from_the_options_or_runservers_address(args, expected):
    assert dev.parse_run_args(args) == expected


@pytest.mark.parametrize("args", [["--port", "0"], ["--port", "70000"], ["localhost:http"]])
def test_a_port_that_is_no_port_is_refused_with_usage(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        dev.parse_run_args(args)

    assert exit_info.value.code == 2
    assert "python3 dev.py run" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 8001, "http://127.0.0.1:8001/"),
        (EVERY_INTERFACE, 8080, "http://127.0.0.1:8080/"),
        ("::1", 8000, "http://[::1]:8000/"),
    ],
)
def test_the_url_printed_is_the_one_served(host, port, url):
    assert dev.site_url(host, port) == url


def test_a_free_port_has_no_problem():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert dev.port_problem("127.0.0.1", port) is None


def test_a_busy_port_says_so_and_what_to_do(busy_port):
    problem = dev.port_problem("127.0.0.1", busy_port)

    assert problem.startswith(f"Port {busy_port} on 127.0.0.1 is already in use")
    assert "python3 dev.py run --port " in problem


def test_run_on_a_busy_port_stops_before_installing_or_printing_a_login(
    busy_port, monkeypatch, capsys
):
    def must_not_run(*args, **kwargs):
        raise AssertionError("run went on past a busy port")

    monkeypatch.setattr(dev, "ensure_installed", must_not_run)
    monkeypatch.setattr(dev, "manage", must_not_run)
    monkeypatch.setattr(dev, "start", must_not_run)

    assert dev.run(["--port", str(busy_port)]) == 1

    out, err = capsys.readouterr()
    assert out == ""
    assert f"Port {busy_port} on 127.0.0.1 is already in use" in err
    assert "Traceback" not in err


def test_run_serves_on_the_port_given_and_prints_its_url(monkeypatch, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started: list[list[str]] = []
    stopped: list[object] = []

    class Finished:
        def wait(self):
            return 0

    def fake_start(command, env):
        started.append(command)
        return Finished()

    monkeypatch.setattr(dev, "ensure_installed", lambda extras: None)
    monkeypatch.setattr(dev, "manage", lambda *args, env: None)
    monkeypatch.setattr(dev, "start", fake_start)
    monkeypatch.setattr(dev, "stop", stopped.append)
    monkeypatch.setattr(dev.signal, "signal", lambda *args: None)

    assert dev.run(["--port", str(port)]) == 0

    assert f"Open http://127.0.0.1:{port}/" in capsys.readouterr().out
    worker, server = started
    assert worker[-3:] == ["db_worker", "--interval", "0.2"]  # polls often: uploads wait less
    assert server[-3:] == ["runserver", f"127.0.0.1:{port}", "--noreload"]
    assert len(stopped) == 2  # the server and the worker


def test_run_prints_only_the_url_it_serves_with_the_demo_login(db, monkeypatch, capsys, tmp_path):
    """load_demo once printed runserver's default address whatever port was chosen."""
    pytest.importorskip("annotator.corpus.importers.text")  # the seed is scraped text
    from django.core.management import call_command

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    class Finished:
        def wait(self):
            return 0

    def manage(*args, env):
        if args[0] != "migrate":  # the test database is migrated already
            call_command(*args, stdout=sys.stdout)

    monkeypatch.setattr(dev, "LOCAL", tmp_path)
    monkeypatch.setattr(dev, "ensure_installed", lambda extras: None)
    monkeypatch.setattr(dev, "manage", manage)
    monkeypatch.setattr(dev, "start", lambda command, env: Finished())
    monkeypatch.setattr(dev, "stop", lambda process: None)
    monkeypatch.setattr(dev.signal, "signal", lambda *args: None)

    assert dev.run(["--port", str(port)]) == 0

    out = capsys.readouterr().out
    assert "Username: admin" in out
    urls = set(re.findall(r"http://\S+/", out))
    assert urls == {f"http://127.0.0.1:{port}/"}, out


@pytest.mark.skipif(os.name == "nt", reason="process groups are POSIX")
def test_stopping_a_child_also_stops_the_children_it_started(tmp_path):
    """The worker left orphaned under the autoreloader: its own child outlived it."""
    pid_file = tmp_path / "grandchild.pid"
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"  # a child that ignores Ctrl-C
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    process = dev.start([sys.executable, "-c", script], dict(os.environ))
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())

    dev.stop(process, timeout=1)

    assert process.returncode is not None
    for _ in range(100):
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(grandchild, signal.SIGKILL)
        pytest.fail("the child's own child was left running")


@pytest.mark.skipif(os.name == "nt", reason="process groups are POSIX")
def test_a_child_that_stops_on_ctrl_c_is_stopped_with_sigint(tmp_path):
    process = dev.start(
        [
            sys.executable,
            "-c",
            "import time\ntry:\n time.sleep(60)\nexcept KeyboardInterrupt:\n pass",
        ],
        dict(os.environ),
    )
    time.sleep(0.3)

    dev.stop(process)

    assert process.returncode == 0
    assert isinstance(process, subprocess.Popen)


def test_the_suite_runs_on_one_worker_a_core_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("TEST_WORKERS", raising=False)
    assert dev.pytest_args(["-k", "import"]) == [
        "-n",
        "auto",
        "--dist",
        "worksteal",
        "-k",
        "import",
    ]
    monkeypatch.setenv("TEST_WORKERS", "3")
    assert dev.pytest_args([])[:2] == ["-n", "3"]
    monkeypatch.setenv("TEST_WORKERS", "0")
    assert dev.pytest_args(["-x"]) == ["-x"]


@pytest.mark.parametrize(
    "args", [["-n", "4"], ["-n4"], ["--numprocesses=4"], ["-p", "no:xdist"], ["--dist", "load"]]
)
def test_workers_chosen_on_the_command_line_are_left_as_given(args, monkeypatch):
    monkeypatch.delenv("TEST_WORKERS", raising=False)
    assert dev.pytest_args(args) == args


def test_a_failing_test_on_a_worker_fails_the_run_and_is_named(tmp_path):
    (tmp_path / "test_sample.py").write_text(
        "def test_that_passes():\n    pass\n\n\ndef test_that_breaks():\n    assert 1 == 2\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    args = ["-p", "no:django", "-p", "no:cacheprovider", "-q", "test_sample.py"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *dev.pytest_args(args, workers="2")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED test_sample.py::test_that_breaks" in done.stdout
    assert re.search(r"1 failed, 1 passed", done.stdout)
    assert "bringing up nodes" in done.stdout  # it did run on xdist workers
