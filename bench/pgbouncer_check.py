"""What works through PgBouncer in transaction pooling mode, with and without our setting.

Drops and re-creates the database in ``--database-url`` (its name must start with "bench"),
writes a pgbouncer.ini of its own in a temporary folder (pool_mode = transaction, listening
on 127.0.0.1 at a free port, auth_type = trust with an auth_file, ``--pool-size`` server
connections, 4 by default, so that the clients really share them), starts Debian's
``pgbouncer`` as a child process (as the postgres user when run as root: PgBouncer refuses
root) and, through it, in a fresh Python process for each setting (none, then
``DATABASE_POOLER=pgbouncer-transaction``):

- migrations, and a corpus of ``--comments`` comments imported;
- ``QuerySet.iterator()`` outside a transaction (Django's WITH HOLD server-side cursor),
  while other threads keep the pool busy, and inside one (must stay server-side);
- a real export (``package.build_export``: server-side cursors inside one transaction);
- prepared statements: Django's cursors, server-side binding, and with prepare_threshold 5;
- a session's ``SET`` seen by other clients, and the heartbeat connection's lock timeout;
- advisory locks from several threads: the claims' ``pg_try_advisory_xact_lock`` and,
  for comparison, a session-level ``pg_advisory_lock``;
- three ``manage.py db_worker`` processes claiming 30 tasks: each must run once;

(the session SET and the session lock fail under any setting: that is transaction pooling;
the app uses neither), then queries per second from ``--threads`` threads for ``--seconds``
seconds, directly and through PgBouncer, in the same run. Prints one line per check: OK,
or FAIL and why.
``start_pgbouncer`` is also used by tests/test_connection_pooling.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from benchdb import ROOT, recreate_database, run_step, safe_url

POOLER = {"DATABASE_POOLER": "pgbouncer-transaction"}
SETTINGS = {"none": {}, "DATABASE_POOLER=pgbouncer-transaction": POOLER}
NOTE = """
A session's SET and a session-level advisory lock stay on the server connection, where the
next client finds them: that is transaction pooling, whatever the settings. The app uses
neither (the heartbeat's lock timeout is SET LOCAL; claims take pg_try_advisory_xact_lock).
Prepared statements break when OPTIONS sets prepare_threshold (Django's default is None)
with server_side_binding: PgBouncer 1.18 does not carry them between server connections."""
PREPARING = {
    "Django's cursors": {},
    "server_side_binding": {"server_side_binding": True},
    "server_side_binding, prepare_threshold 5": {
        "server_side_binding": True,
        "prepare_threshold": 5,
    },
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def start_pgbouncer(database_url: str, pool_size: int = 4) -> Iterator[str]:
    """PgBouncer in transaction mode in front of ``database_url``'s server; yields the same
    URL through it. Exits with PgBouncer's log if it does not start."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not os.access(binary, os.X_OK):
        raise FileNotFoundError("pgbouncer is not installed (apt-get install pgbouncer)")
    target = urlsplit(database_url)
    user = target.username or "postgres"
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    (folder / "userlist.txt").write_text(f'"{user}" "{target.password or ""}"\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={target.hostname or '127.0.0.1'} port={target.port or 5432}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {folder / 'userlist.txt'}\n"
        "pool_mode = transaction\n"
        "max_client_conn = 500\n"
        f"default_pool_size = {pool_size}\n"
        "reserve_pool_size = 0\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"logfile = {folder / 'pgbouncer.log'}\n"
        f"pidfile = {folder / 'pgbouncer.pid'}\n"
    )
    command = [binary, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer will not run as root
        shutil.chown(folder, "postgres")
        for path in folder.iterdir():
            shutil.chown(path, "postgres")
        command[1:1] = ["-u", "postgres"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                log = (
                    (folder / "pgbouncer.log").read_text()
                    if (folder / "pgbouncer.log").exists()
                    else ""
                )
                output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                raise RuntimeError(f"pgbouncer did not start:\n{output}\n{log}")
            time.sleep(0.05)
        netloc = f"{target.username or ''}{':' + target.password if target.password else ''}"
        yield target._replace(netloc=f"{netloc}@127.0.0.1:{port}").geturl()
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


# --- The checks, in a child process with Django set up on the URL through PgBouncer ---------


def setup_django(url: str, pooler: dict[str, str]) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="annotator.settings",
        DATABASE_URL=url,
        SECRET_KEY="pgbouncer-check",
        CONN_MAX_AGE="0",
        MEDIA_ROOT=tempfile.mkdtemp(prefix="pgbouncer-media-"),
        **pooler,
    )
    for name in ("TASKS_BACKEND", "DEBUG") + (() if pooler else ("DATABASE_POOLER",)):
        os.environ.pop(name, None)  # the production settings' own (a test run sets these)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def busy(stop: threading.Event, threads: int = 6) -> list[threading.Thread]:
    """Threads that keep running short transactions, so that every server connection is
    taken by turns and one client's statements land on several."""
    from django.db import connection

    def loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception), connection.cursor() as cursor:
                cursor.execute("SELECT pg_sleep(0.002)")
        connection.close()

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    return workers


@contextlib.contextmanager
def contention() -> Iterator[None]:
    stop = threading.Event()
    workers = busy(stop)
    try:
        yield
    finally:
        stop.set()
        for worker in workers:
            worker.join()


def attempt(check, repeat: int = 1) -> str:
    """Run ``check`` ``repeat`` times; "OK", or "FAIL n/repeat: the first error"."""
    errors = []
    for _ in range(repeat):
        try:
            problem = check()
        except Exception as error:  # the point is to report what breaks
            problem = f"{type(error).__name__}: {str(error).strip().splitlines()[0][:160]}"
        if problem:
            errors.append(problem)
    if not errors:
        return "OK"
    return f"FAIL {len(errors)}/{repeat}: {errors[0]}"


def check_migrate() -> str | None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_corpus(comments: int) -> None:
    import orjson

    from annotator.corpus.importers.loader import import_file
    from annotator.corpus.models import Project

    if Project.objects.filter(slug="pooled").exists():
        return
    project = Project.objects.create(name="Pooled", slug="pooled")
    lines = []
    for thread in range(max(1, comments // 500)):
        lines.append({"type": "article", "id": f"a{thread}", "title": f"Article {thread}"})
        for i in range(min(500, comments)):
            parent = f"c{i - 1}" if i % 4 else None
            text = f"comment {i} of thread {thread} " + "word " * 20
            lines.append(
                {
                    "type": "comment",
                    "id": f"c{i}",
                    "article_id": f"a{thread}",
                    "parent_id": parent,
                    "text": text,
                }
            )
    path = Path(tempfile.mkdtemp()) / "corpus.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    import_file(project, path)


def check_iterator() -> str | None:
    from annotator.corpus.models import Comment

    expected = Comment.objects.count()
    seen = sum(1 for _ in Comment.objects.values_list("pk", flat=True).iterator(chunk_size=50))
    return None if seen == expected else f"{seen} of {expected} rows"


def check_iterator_in_transaction() -> str | None:
    """Inside a transaction the read must stay on a server-side cursor (flat memory)."""
    from django.db import connection, transaction

    from annotator.corpus.models import Comment

    with transaction.atomic():
        rows = Comment.objects.values_list("pk", flat=True).iterator(chunk_size=50)
        next(rows)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_cursors")
            open_cursors = cursor.fetchone()[0]
        rest = sum(1 for _ in rows)
    if not open_cursors:
        return "read without a server-side cursor"
    expected = Comment.objects.count() - 1
    return None if rest == expected else f"{rest} of {expected} rows"


def check_export() -> str | None:
    from annotator.corpus.models import Comment, Project
    from annotator.datasets import package
    from annotator.datasets.options import ExportOptions

    project = Project.objects.get(slug="pooled")
    with tempfile.TemporaryFile() as destination:
        summary = package.build_export(project, ExportOptions(), destination)
    expected = Comment.objects.filter(article__project=project).count()
    return None if summary.comments == expected else f"{summary.comments} of {expected}"


def check_prepared(options: dict) -> str | None:
    """The same query ten times on one Django connection with these extra ``OPTIONS``;
    psycopg prepares it from the sixth when the cursor binds on the server
    (``server_side_binding``) and ``prepare_threshold`` is a number (Django's is None)."""
    from django.db import DEFAULT_DB_ALIAS, connections

    from annotator.corpus.models import Comment

    wrapper = connections.create_connection(DEFAULT_DB_ALIAS)
    wrapper.settings_dict = {**wrapper.settings_dict}
    wrapper.settings_dict["OPTIONS"] = {**wrapper.settings_dict.get("OPTIONS", {}), **options}
    try:
        sql, params = Comment.objects.filter(pk__gt=0).values("pk")[:1].query.sql_with_params()
        for _ in range(10):
            with wrapper.cursor() as cursor:
                cursor.execute(sql, params)
                cursor.fetchall()
    finally:
        wrapper.close()


def check_set_leaks() -> str | None:
    """A session's SET on one client: do others see it? (They do, behind a transaction pool.)"""
    from django.db import DEFAULT_DB_ALIAS, connections

    setter = connections.create_connection(DEFAULT_DB_ALIAS)
    others = [connections.create_connection(DEFAULT_DB_ALIAS) for _ in range(8)]
    try:
        with setter.cursor() as cursor:
            cursor.execute("SET statement_timeout = '4321s'")
        seen = []
        for other in others:
            with other.cursor() as cursor:
                cursor.execute("SHOW statement_timeout")
                seen.append(cursor.fetchone()[0])
        with setter.cursor() as cursor:
            cursor.execute("RESET statement_timeout")
        leaked = seen.count("4321s")
        return f"{leaked} of 8 other clients saw it" if leaked else None
    finally:
        for wrapper in [setter, *others]:
            wrapper.close()


def check_beat_apart() -> str | None:
    """The heartbeat connection's lock timeout must not reach other clients."""
    from django.db import DEFAULT_DB_ALIAS, connections

    from annotator.corpus.heartbeats import BeatApart
    from annotator.corpus.models import ImportJob, Project

    job = ImportJob.objects.create(project=Project.objects.get(slug="pooled"), file="none")
    beats = BeatApart(ImportJob, job.pk)
    others = [connections.create_connection(DEFAULT_DB_ALIAS) for _ in range(8)]
    try:
        for n in range(5):
            beats.write(processed_bytes=n)
        seen = []
        for other in others:
            with other.cursor() as cursor:
                cursor.execute("SHOW lock_timeout")
                seen.append(cursor.fetchone()[0])
        written = ImportJob.objects.get(pk=job.pk).processed_bytes
        if written != 4:
            return f"the beats were not written ({written})"
        leaked = [value for value in seen if value != "0"]
        return f"{len(leaked)} of 8 other clients had lock_timeout {leaked[0]}" if leaked else None
    finally:
        beats.close()
        for other in others:
            other.close()
        job.delete()


def check_advisory(kind: str, threads: int = 8, rounds: int = 40) -> str | None:
    """Threads take one lock by turns; nobody may hold it while another does. ``xact``: the
    claims' pg_try_advisory_xact_lock; ``session``: pg_advisory_lock / pg_advisory_unlock."""
    from django.db import connection, transaction

    from annotator.labelling import claim_guard

    holders = []
    overlaps = []
    refusals = []
    guard = threading.Lock()

    def hold() -> None:
        with guard:
            holders.append(1)
            if len(holders) > 1:
                overlaps.append(len(holders))
        time.sleep(0.001)
        with guard:
            holders.pop()

    def loop() -> None:
        try:
            for _ in range(rounds):
                if kind == "xact":
                    with transaction.atomic():
                        if claim_guard.try_lock(42):
                            hold()
                else:  # try, not wait: a lock left on a server connection would hang us
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_try_advisory_lock(7, 42)")
                        if not cursor.fetchone()[0]:
                            continue
                        hold()
                        cursor.execute("SELECT pg_advisory_unlock(7, 42)")
                        if not cursor.fetchone()[0]:
                            refusals.append(1)  # unlocked elsewhere: "you don't own a lock"
        finally:
            connection.close()

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    if any(worker.is_alive() for worker in workers):
        return "a thread still waited for the lock after 60 s"
    problems = []
    if overlaps:
        problems.append(f"{len(overlaps)} times two threads held the lock")
    if refusals:
        problems.append(f"{len(refusals)} unlocks ran on a server connection without the lock")
    return "; ".join(problems) or None


def check_workers(url: str, pooler: dict[str, str], tasks: int = 30) -> str | None:
    """Three db_worker processes through PgBouncer claim ``tasks`` tasks; each runs once."""
    from django.test import override_settings
    from django_tasks_db.models import DBTaskResult

    from tests.worker_tasks import record_run

    runs = Path(tempfile.mkdtemp(prefix="pgbouncer-runs-"))
    DBTaskResult.objects.all().delete()
    with override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}):
        for n in range(tasks):
            record_run.enqueue(str(runs), n, 0.02)
    env = {**os.environ, **pooler, "DATABASE_URL": url}
    command = [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay"]
    started = [
        subprocess.Popen(
            [*command, "--worker-id", f"w{n}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for n in range(3)
    ]
    outputs = [worker.communicate(timeout=300)[0].decode(errors="replace") for worker in started]
    for worker, output in zip(started, outputs, strict=True):
        if worker.returncode != 0:
            return f"a worker exited with {worker.returncode}: {output.strip().splitlines()[-1]}"
    statuses = list(DBTaskResult.objects.values_list("status", "worker_ids"))
    numbers = sorted(int(path.name.split("-")[0]) for path in runs.iterdir())
    problems = []
    if numbers != list(range(tasks)):
        problems.append(f"{len(numbers)} runs of {tasks} tasks ({len(set(numbers))} distinct)")
    if any(status != "SUCCESSFUL" or len(ids) != 1 for status, ids in statuses):
        problems.append(f"task rows: {sorted({status for status, _ in statuses})}")
    return "; ".join(problems) or None


def child_checks(url: str, setting: str, comments: int) -> dict[str, str]:
    pooler = SETTINGS[setting]
    setup_django(url, pooler)
    results = {"migrations": attempt(check_migrate)}
    make_corpus(comments)
    with contention():
        results["QuerySet.iterator() outside a transaction"] = attempt(check_iterator, 10)
        results["QuerySet.iterator() in a transaction, server-side"] = attempt(
            check_iterator_in_transaction, 5
        )
        results["export (server-side cursors in one transaction)"] = attempt(check_export, 3)
        for name, options in PREPARING.items():
            results[f"the same query 10 times, {name}"] = attempt(
                lambda options=options: check_prepared(options), 5
            )
    results["a session's SET seen by other clients"] = attempt(check_set_leaks)
    results["the heartbeat's lock_timeout seen by other clients"] = attempt(check_beat_apart)
    results["claims' pg_try_advisory_xact_lock, 8 threads"] = attempt(
        lambda: check_advisory("xact")
    )
    results["session pg_try_advisory_lock, 8 threads"] = attempt(lambda: check_advisory("session"))
    results["3 db_workers, 30 tasks, each run once"] = attempt(lambda: check_workers(url, pooler))
    return results


def child_speed(url: str, setting: str, threads: int, seconds: float) -> dict[str, float]:
    """Queries per second: ``threads`` threads running one small ORM query each, for
    ``seconds`` seconds, on persistent connections."""
    setup_django(url, SETTINGS[setting])
    from django.db import connection

    from annotator.corpus.models import Comment

    counts = []
    stop = time.monotonic() + seconds

    def loop() -> None:
        done = 0
        while time.monotonic() < stop:
            Comment.objects.filter(pk=done % 1000 + 1).values_list("pk").first()
            done += 1
        counts.append(done)
        connection.close()

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {"queries_per_second": sum(counts) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_pgbouncer"
        ),
    )
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--comments", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        step, url, *rest = arguments.child
        if step == "checks":
            result = child_checks(url, rest[0], int(rest[1]))
        else:
            result = child_speed(url, rest[0], int(rest[1]), float(rest[2]))
        print(json.dumps(result))
        return

    url = arguments.database_url
    recreate_database(url)
    script = str(Path(__file__).resolve())
    version = subprocess.run(["pgbouncer", "--version"], capture_output=True, text=True).stdout
    print(
        f"{version.splitlines()[0]}, pool_mode=transaction, default_pool_size={arguments.pool_size}"
    )
    print(f"database {safe_url(url)}")
    with start_pgbouncer(url, arguments.pool_size) as pooled:
        for setting in SETTINGS:
            print(f"\n== through PgBouncer, setting: {setting}")
            results = run_step(script, "checks", pooled, setting, str(arguments.comments))
            for check, outcome in results.items():
                print(f"  {check:66} {outcome}")
        print(NOTE)
        print(f"\n== {arguments.threads} threads, {arguments.seconds:g} s, one small query each")
        speeds = {}
        pooler = "DATABASE_POOLER=pgbouncer-transaction"
        runs = (
            ("direct", url, "none"),
            ("PgBouncer", pooled, pooler),
            ("direct again", url, "none"),
        )
        for where, target, setting in runs:
            speed = run_step(
                script, "speed", target, setting, str(arguments.threads), str(arguments.seconds)
            )
            speeds[where] = speed["queries_per_second"]
            print(f"  {where:14} {speeds[where]:9.0f} queries/s")


if __name__ == "__main__":
    main()
