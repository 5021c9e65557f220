"""Whether eight annotators at once over real HTTP ever get a comment more than k times.

Drops and re-creates the database in ``--database-url`` (its name must start with "bench"),
builds a project of ``--comments`` comments with k = ``--k`` annotators per comment and
``--annotators`` accounts, starts gunicorn on it, and lets every annotator work at once as a
browser does, with no think time, until the queue is empty: log in, ``GET /p/<slug>/label/``
(handed a comment: a redirect to it, followed), then a complete submit with ``HX-Request``
whose answer swaps in the next comment it was handed, and so on; when the submit answers
"nothing waiting" (204 + ``HX-Redirect``), back to ``/label/`` until it says nothing is left.
Prints how many comments were handed to more than k people (from the server's annotations
and claims, and from the clients' own logs), how many got more than k submitted labels, the
final number of labels per comment, how early comments reached k labels (overlap), requests
per second and the latency of hand-outs. ``--baseline REV`` runs the same twice, first with
the server code of git revision REV, then with this tree's, and prints both side by side;
``--stagger S`` lets annotator n arrive n * S seconds after the first. See bench/README.md.

The server, the data and the HTTP client are those of ``label_save_latency.py``, imported.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

from benchdb import ROOT, bench_database_name, recreate_database, safe_url, server_environment
from label_save_latency import (
    PASSWORD,
    SLUG,
    Browser,
    Gunicorn,
    _free_port,
    build_corpus,
    comment_plan,
    percentile,
)
from proc_cpu import CpuMonitor

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_assign"
WORKSPACE = re.compile(r"/label/(\d+)/$")
# What the issue reports for a popular peer tool: the share of items handed to two of eight
# concurrent annotators (it has no k; the item should have gone to one).
PEER_OVER_HANDED = "7-9%"
# Points in the run (shares of all submitted labels, in the order they were submitted) at
# which the overlap is counted: comments with k labels so far.
OVERLAP_POINTS = (0.1, 0.25, 0.5)
# What the server of another revision needs from its tree (data, migrations: this tree's).
SERVED_PATHS = ("annotator", "templates", "static")


def main() -> None:
    """Parse the command line, build the data, start gunicorn, run the annotators."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE,
        help="dropped and re-created; its name must start with 'bench' (default: %(default)s)",
    )
    parser.add_argument("--comments", type=int, default=2000, help="default: %(default)s")
    parser.add_argument(
        "--thread-size", type=int, default=50, help="comments per thread (default: %(default)s)"
    )
    parser.add_argument("--k", type=int, default=2, help="annotators per comment (default: 2)")
    parser.add_argument("--annotators", type=int, default=8, help="at once (default: 8)")
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * len(os.sched_getaffinity(0)) + 1,
        help="gunicorn (sync) workers (default: 2 * cores + 1 = %(default)s)",
    )
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (default: a free one)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--seconds",
        type=float,
        default=0.0,
        help="stop every annotator after this long instead of when the queue is empty "
        "(for large projects: items/s and latency of labelling flat out)",
    )
    parser.add_argument(
        "--stagger",
        type=float,
        default=0.0,
        help="seconds between one annotator's arrival and the next's (default: all at once)",
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="first run the server code of this git revision (e.g. HEAD~3), then this tree's, "
        "on the same data, and print both side by side",
    )
    args = parser.parse_args()
    if min(args.comments, args.thread_size, args.k, args.annotators) < 1:
        parser.error("--comments, --thread-size, --k and --annotators must be at least 1")
    if args.stagger < 0:
        parser.error("--stagger must not be negative")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # gunicorn is stopped on exit
    try:
        run(args)
    except KeyboardInterrupt:
        sys.exit("interrupted")


def run(args: argparse.Namespace) -> None:
    """One pass (this tree), or two (``--baseline`` first) printed side by side."""
    passes = [(None, "this tree")]
    if args.baseline:
        passes = [(args.baseline, f"before ({args.baseline})"), (None, "after (this tree)")]
    results = []
    # One folder for every pass: Django's settings (static files, local state) are read
    # once in this process, and must stay those of the server's environment.
    with tempfile.TemporaryDirectory(prefix="bench-assign-") as directory:
        for number, (revision, label) in enumerate(passes):
            print(f"\n=== {label} ===")
            results.append(run_once(args, Path(directory), number, revision, label))
    if len(results) > 1:
        side_by_side(results, args.k)
    if any(not result["met"] for result in results):
        sys.exit(1)


def export_revision(revision: str, folder: Path) -> Path:
    """The server's part of ``revision``'s tree (``git archive``, read-only), in ``folder``."""
    folder.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, *SERVED_PATHS],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        sys.exit(f"git archive {revision} failed: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def run_once(
    args: argparse.Namespace, folder: Path, number: int, revision: str | None, label: str
) -> dict:
    """The whole benchmark once: database, data, gunicorn (serving ``revision``'s code, or
    this tree's), the annotators, the report."""
    cores = len(os.sched_getaffinity(0))
    code = export_revision(revision, folder / f"code-{number}") if revision else ROOT
    os.environ.update(server_environment(args.database_url, folder))
    started = time.perf_counter()
    recreate_database(args.database_url)  # refuses a name not starting with "bench"
    corpus = build_corpus(args, args.annotators)
    set_k(args.k)
    print(
        f"machine: {cores} cores shared by the clients, gunicorn and PostgreSQL; load "
        f"average before the run {os.getloadavg()[0]:.2f}"
    )
    print(
        f"server: gunicorn, {args.workers} sync workers, DEBUG=0; {corpus['postgres']}; "
        f"database {safe_url(args.database_url)} (re-created); code: {label}"
    )
    print(
        f"data: {len(corpus['comments']):,} comments in {corpus['threads']} threads, "
        f"k = {args.k}, {args.annotators} annotators"
        + (f" arriving {args.stagger:g} s apart" if args.stagger else " at once")
        + f"; set up in {time.perf_counter() - started:.1f} s"
    )
    port = args.port or _free_port()
    log_path = folder / f"gunicorn-{number}.log"
    with Gunicorn(args.workers, port, log_path, code=code) as server:
        watch = {"gunicorn": server.process.pid, "database": bench_database_name(args.database_url)}
        monitor = CpuMonitor(watch).start()
        logs = run_annotators(corpus, port, args.seed, args.stagger, args.seconds)
        cpu = monitor.stop()
        if any("failure" in log for log in logs):
            print(server.log_tail())
    failures = [log["failure"] for log in logs if "failure" in log]
    if failures:
        sys.exit("an annotator failed:\n" + failures[0])
    result = report(corpus, logs, args.k, cpu)
    result["label"] = label
    return result


def set_k(k: int) -> None:
    from django.db import connections

    from annotator.corpus.models import Project

    Project.objects.filter(slug=SLUG).update(annotators_per_comment=k)
    connections.close_all()


# --- The annotators (one thread each) ------------------------------------------------------


class _Connection(http.client.HTTPConnection):
    """``http.client`` that keeps the last response, for its headers (Location, HX-...)."""

    last: http.client.HTTPResponse | None = None

    def getresponse(self) -> http.client.HTTPResponse:
        self.last = super().getresponse()
        return self.last


class Annotator:
    """One person labelling until nothing is left: what was handed to it, and every request."""

    def __init__(self, username: str, port: int, is_reply: dict[int, bool], seed: int) -> None:
        self.username = username
        self.browser = Browser(port)
        self.browser.connection = _Connection("127.0.0.1", port, timeout=120)
        self.is_reply = is_reply
        self.rng = random.Random(seed)
        self.handed: list[int] = []  # comment ids, in the order they were handed out
        self.requests: list[tuple[float, float, int, str]] = []  # start, seconds, status, kind
        self.unexpected: list[str] = []
        self.deadline = float("inf")  # time.monotonic() after which it stops (--seconds)

    def header(self, name: str) -> str:
        return self.browser.connection.last.headers.get(name, "")

    def send(self, kind: str, method: str, path: str, fields=None, headers=None) -> int:
        status, body, seconds, started = self.browser.request(method, path, fields, headers)
        self.requests.append((started, seconds, status, kind))
        self.body = body
        return status

    def start(self) -> int | None:
        """``GET /label/``: the comment it is handed (the redirect followed), or None."""
        status = self.send("start", "GET", f"/p/{SLUG}/label/")
        if status == 200 and b"Nothing left to label" in self.body:
            return None
        if status != 302:
            return self.refuse("start", status)
        comment_id = self.comment_in(self.header("Location"))
        self.handed.append(comment_id)
        page = self.send("page", "GET", f"/p/{SLUG}/label/{comment_id}/")
        if page != 200:
            self.refuse("page", page)
        return comment_id

    def submit(self, comment_id: int) -> int | None:
        """A complete submit; the next comment the answer swapped in, or None."""
        _, fields = comment_plan(self.rng, self.is_reply[comment_id])[-1]
        status = self.send(
            "submit",
            "POST",
            f"/p/{SLUG}/label/{comment_id}/save/",
            [("action", "submit"), ("revision", "0"), *fields],
            {"X-CSRFToken": self.browser.cookies.get("csrftoken", ""), "HX-Request": "true"},
        )
        if status == 204 and self.header("HX-Redirect"):
            return None  # nothing waiting just now: back to /label/
        if status != 200:
            return self.refuse("submit", status)
        comment_id = self.comment_in(self.header("HX-Push-Url"))
        self.handed.append(comment_id)
        return comment_id

    def work(self) -> None:
        comment_id = self.start()
        while comment_id is not None and time.monotonic() < self.deadline:
            comment_id = self.submit(comment_id)
            if comment_id is None:
                comment_id = self.start()

    def time_floor(self, comment_id: int, times: int = 20) -> list[float]:
        """``GET`` on a save URL, answered 405 before the view does anything (seconds)."""
        path = f"/p/{SLUG}/label/{comment_id}/save/"
        return [self.browser.request("GET", path)[2] for _ in range(times)]

    @staticmethod
    def comment_in(url: str) -> int:
        found = WORKSPACE.search(url)
        if not found:
            raise RuntimeError(f"not a workspace URL: {url!r}")
        return int(found.group(1))

    def refuse(self, kind: str, status: int):
        raise RuntimeError(f"{kind} answered {status}: {self.body[:300]!r}")


def run_annotators(
    corpus: dict, port: int, seed: int, stagger: float = 0.0, seconds: float = 0.0
) -> list[dict]:
    """Every annotator logs in and times the floor, then all start at once (or ``stagger``
    seconds one after the other) and work until the queue is empty (or for ``seconds``)."""
    is_reply = dict(corpus["comments"])
    people = [
        Annotator(name, port, is_reply, seed * 1000 + n) for n, name in enumerate(corpus["users"])
    ]
    barrier = threading.Barrier(len(people) + 1)
    logs: list[dict] = [{} for _ in people]

    def client(number: int, person: Annotator) -> None:
        try:
            person.browser.log_in(person.username, PASSWORD)
            floor = person.time_floor(corpus["comments"][0][0])
            barrier.wait(timeout=300)
            time.sleep(number * stagger)
            if seconds:
                person.deadline = time.monotonic() + seconds
            person.work()
            logs[number] = {"handed": person.handed, "requests": person.requests, "floor": floor}
        except Exception:
            barrier.abort()
            logs[number] = {"failure": f"{person.username}: {traceback.format_exc()}"}

    threads = [threading.Thread(target=client, args=pair) for pair in enumerate(people)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a failure is in the logs
        barrier.wait(timeout=300)
    for thread in threads:
        thread.join()
    return logs


# --- Report ---------------------------------------------------------------------------------


def overlap_curve(submitted: list[int], k: int) -> list[tuple[int, int]]:
    """For each of ``OVERLAP_POINTS``: (comments with k labels by then, the most possible),
    from the comment ids of the submitted labels in the order they were submitted."""
    points = []
    counts: Counter = Counter()
    complete = 0
    marks = [max(1, round(share * len(submitted))) for share in OVERLAP_POINTS]
    for number, comment_id in enumerate(submitted, start=1):
        counts[comment_id] += 1
        complete += counts[comment_id] == k
        while marks and number == marks[0]:
            points.append((complete, number // k))
            marks.pop(0)
    return points


def report(corpus: dict, logs: list[dict], k: int, cpu: dict) -> dict:
    """Over-handing from both sides, labels per comment, overlap, throughput, latency and
    CPU per item (``cpu``: label_save_latency's ``CpuMonitor``); returns the figures for
    ``side_by_side``."""
    from django.db import connections

    from annotator.labelling.models import Annotation, Claim

    comments = [pk for pk, _ in corpus["comments"]]
    # The clients' side: who was handed each comment.
    by_clients: dict[int, set[int]] = {}
    for number, log in enumerate(logs):
        for comment_id in log["handed"]:
            by_clients.setdefault(comment_id, set()).add(number)
    # The server's side: every person with an annotation of a comment (draft, submitted or
    # skipped: a claim becomes one when submitted) plus whatever claims are still there.
    by_server: dict[int, set[int]] = {}
    rows = [
        *Annotation.objects.values_list("comment_id", "annotator_id"),
        *Claim.objects.values_list("comment_id", "annotator_id"),
    ]
    for comment_id, annotator_id in rows:
        by_server.setdefault(comment_id, set()).add(annotator_id)
    labels = Counter(
        Annotation.objects.filter(status=Annotation.Status.SUBMITTED).values_list(
            "comment_id", flat=True
        )
    )
    claims_left = Claim.objects.count()
    in_order = list(
        Annotation.objects.filter(status=Annotation.Status.SUBMITTED)
        .order_by("submitted_at", "pk")
        .values_list("comment_id", flat=True)
    )
    connections.close_all()
    overlap = overlap_curve(in_order, k)

    over_server = sum(len(who) > k for who in by_server.values())
    over_clients = sum(len(who) > k for who in by_clients.values())
    over_labels = sum(n > k for n in labels.values())
    distribution = Counter(labels.get(pk, 0) for pk in comments)
    requests = [row for log in logs for row in log["requests"]]
    first = min(row[0] for row in requests)
    span = max(row[0] + row[1] for row in requests) - first
    statuses = Counter(row[2] for row in requests)
    handed = sum(len(log["handed"]) for log in logs)

    print(f"\nitems: {len(comments):,} comments, k = {k}, {len(logs)} annotators")
    print(
        f"handed to more than k people: {over_server} by the server's annotations and claims, "
        f"{over_clients} by the clients' logs ({over_clients / len(comments):.1%}; the issue's "
        f"popular peer: {PEER_OVER_HANDED})"
    )
    print(f"more than k submitted labels: {over_labels}")
    print(
        "labels per comment: "
        + ", ".join(f"{n}: {count:,}" for n, count in sorted(distribution.items()))
        + f"; claims left: {claims_left}"
    )
    print(
        "comments with k labels after "
        + ", ".join(
            f"{share:.0%} of the labels: {done:,} (at most {most:,})"
            for share, (done, most) in zip(OVERLAP_POINTS, overlap, strict=True)
        )
    )
    print(
        f"requests: {len(requests):,} in {span:.1f} s = {len(requests) / span:,.1f}/s "
        f"({', '.join(f'{s}: {n:,}' for s, n in sorted(statuses.items()))}); "
        f"{handed:,} hand-outs"
    )
    latency = {}
    for kind, what in [
        ("start", "hand-out, GET /label/ (302 to the comment)"),
        ("submit", "submit + hand-out of the next (HX-Request)"),
        ("page", "workspace page after the redirect"),
    ]:
        latencies = sorted(row[1] * 1000 for row in requests if row[3] == kind)
        latency[kind] = (percentile(latencies, 0.5), percentile(latencies, 0.95), latencies[-1])
        print(
            f"  {what}: {len(latencies):,} requests, p50 {latency[kind][0]:.1f} ms, "
            f"p95 {latency[kind][1]:.1f} ms, max {latency[kind][2]:.1f} ms"
        )
    floor = sorted(ms * 1000 for log in logs for ms in log["floor"])
    print(
        f"  floor, GET on a save URL (405 before the view): p50 {percentile(floor, 0.5):.1f} ms, "
        f"p95 {percentile(floor, 0.95):.1f} ms"
    )
    submits = sum(1 for row in requests if row[3] == "submit" and row[2] in (200, 204))
    print(f"items (complete submits) per second: {submits / span:,.1f}")
    # CPU per item: what caps items/s when the cores are full (the run includes the log-ins
    # and floors, a few per annotator; the clients' CPU is "bench").
    per_item = {kind: cpu[kind] * 1000 / max(submits, 1) for kind in ("gunicorn", "postgres")}
    print(
        f"CPU per item (submit + next): gunicorn {per_item['gunicorn']:.0f} ms, PostgreSQL "
        f"{per_item['postgres']:.0f} ms; machine busy {cpu['busy'] / cpu['seconds']:.0%} "
        f"(clients {cpu['bench']:.0f} s, others {cpu['other']:.0f} s of {cpu['seconds']:.0f})"
    )
    per_person = sorted(len(log["handed"]) for log in logs)
    print(f"comments handed per annotator: {per_person[0]}-{per_person[-1]}")
    met = max(over_server, over_clients, over_labels) == 0
    print(f"target: no comment above k: {'met' if met else 'NOT met'}")
    return {
        "met": met,
        "over": (over_server, over_clients, over_labels),
        "overlap": overlap,
        "rate": len(requests) / span,
        "items": submits / span,
        "cpu": per_item,
        "latency": latency,
        "span": span,
    }


def side_by_side(results: list[dict], k: int) -> None:
    """The figures of each pass in one table, a column per pass."""
    rows = [("", [r["label"] for r in results])]
    rows.append(
        (
            "above k (server, clients, labels)",
            [", ".join(map(str, r["over"])) for r in results],
        )
    )
    for index, share in enumerate(OVERLAP_POINTS):
        rows.append(
            (
                f"comments with {k} labels after {share:.0%} of the labels",
                [
                    f"{r['overlap'][index][0]:,} of at most {r['overlap'][index][1]:,}"
                    for r in results
                ],
            )
        )
    rows.append(("run time", [f"{r['span']:.1f} s" for r in results]))
    rows.append(("requests per second", [f"{r['rate']:,.1f}" for r in results]))
    rows.append(("items per second", [f"{r['items']:,.1f}" for r in results]))
    rows.append(
        (
            "CPU ms per item (gunicorn / PostgreSQL)",
            [f"{r['cpu']['gunicorn']:.0f} / {r['cpu']['postgres']:.0f}" for r in results],
        )
    )
    for kind, what in [("submit", "submit + next hand-out"), ("start", "GET /label/ hand-out")]:
        rows.append(
            (
                f"{what} p50 / p95 ms",
                [f"{r['latency'][kind][0]:.1f} / {r['latency'][kind][1]:.1f}" for r in results],
            )
        )
    width = max(len(name) for name, _ in rows)
    columns = [max(len(row[1][i]) for row in rows) for i in range(len(results))]
    print("\n=== side by side ===")
    for name, cells in rows:
        print(
            f"{name:<{width}}  "
            + "  ".join(f"{cell:>{columns[i]}}" for i, cell in enumerate(cells))
        )


if __name__ == "__main__":
    main()
