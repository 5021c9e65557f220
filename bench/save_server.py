"""The server and the data of the label-save benchmarks: the bench project with its threads
and annotator accounts, and gunicorn serving it (``label_save_latency.py``,
``assignment_concurrency.py``).
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

from benchdb import setup_django

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench annotator password"
SLUG = "bench-labels"
COMMENT_TEXT = (  # a reader comment of ordinary length (300 characters)
    "I bet the US offered something very valuable in order to save their agents in the city. "
    "Nobody tells us what the deal was, and the news only repeats what the ministry said. Why "
    "would they agree to a ceasefire now, after months of refusing? Someone is not telling the "
    "truth here and we will know it in a few weeks."
)


def build_corpus(args: argparse.Namespace, users_needed: int) -> dict:
    """Migrate, collect static files, and create the project, threads and annotators."""
    setup_django()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection, connections

    from annotator.corpus.models import Article, Comment, Membership, Project, Role
    from tests.factories import make_thread

    call_command("migrate", verbosity=0)
    # DEBUG=0 serves static files from the manifest, so pages need collectstatic first.
    call_command("collectstatic", interactive=False, verbosity=0)
    project = Project.objects.create(name="Bench labels", slug=SLUG)  # the default scheme too
    sizes = [args.thread_size] * (args.comments // args.thread_size)
    if args.comments % args.thread_size:
        sizes.append(args.comments % args.thread_size)
    articles = Article.objects.bulk_create(
        Article(
            project=project,
            source_id=f"article-{number}",
            title=f"Ceasefire talks, day {number}",
            body="First paragraph of the article.\n\nSecond paragraph of the article.",
        )
        for number in range(len(sizes))
    )
    for article, size in zip(articles, sizes, strict=True):
        make_thread(article, size)
    Comment.objects.filter(article__project=project).update(text=COMMENT_TEXT)
    user_model = get_user_model()
    encoded = make_password(PASSWORD)  # one slow hash shared by every account
    users = user_model.objects.bulk_create(
        user_model(username=f"annotator{number:03d}", password=encoded)
        for number in range(users_needed)
    )
    Membership.objects.bulk_create(
        Membership(project=project, user=user, role=Role.ANNOTATOR) for user in users
    )
    rows = Comment.objects.filter(article__project=project).values_list("pk", "parent_id")
    comments = [(pk, parent_id is not None) for pk, parent_id in rows]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics, as autovacuum would have them
        cursor.execute("SELECT version(), current_setting('synchronous_commit')")
        version, synchronous_commit = cursor.fetchone()
    connections.close_all()
    return {
        "comments": comments,
        "replies": sum(is_reply for _, is_reply in comments),
        "threads": len(sizes),
        "users": [user.username for user in users],
        "database": connection.settings_dict["NAME"],
        "postgres": f"{' '.join(version.split()[:2])}, synchronous_commit={synchronous_commit}",
    }


# --- gunicorn ------------------------------------------------------------------------------


class Gunicorn:
    """gunicorn on the bench database, from start to stop (also on errors and Ctrl-C)."""

    def __init__(self, workers: int, port: int, log_path: Path, code: Path = ROOT) -> None:
        self.workers = workers
        self.port = port
        self.log_path = log_path
        self.code = code  # the source tree it serves (another revision's, to compare)
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "annotator.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--graceful-timeout",
            "5",
        ]
        with open(self.log_path, "wb") as log:
            # A session of its own: Ctrl-C reaches this script, which stops gunicorn in order.
            self.process = subprocess.Popen(
                command,
                cwd=self.code,
                env=os.environ.copy(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _wait_until_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with status {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/accounts/login/")
                status = connection.getresponse().status
                connection.close()
                if status == 200:
                    return
                raise RuntimeError(f"the login page answers {status}:\n{self.log_tail()}")
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"gunicorn did not answer within {timeout:.0f} s:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM (gunicorn stops its workers), then SIGKILL to the group if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
