"""How long saving a label takes on gunicorn and PostgreSQL, with 1 and with 16 annotators.

Drops and re-creates the database in ``--database-url`` (its name must start with "bench"),
migrates it, creates a project (with the default scheme), ``--comments`` comments in threads
of ``--thread-size`` and annotator accounts, starts gunicorn on it, and for each
``--concurrency`` level lets that many annotators save labels as fast as they can: each has
its own account, session and comments, and does 3 autosaves then 1 submit per comment, with
no think time, through ``POST /p/<slug>/label/<comment_id>/save/``. Prints the saves,
errors, throughput and the median, p95, p99 and max latency of each level, the CPU a save
costs in the client, gunicorn and PostgreSQL, and whether p95 stays under 50 ms at 16
annotators. See bench/README.md.

The database, data and gunicorn are in ``save_server.py``, the annotators (HTTP client,
answers, one level of them) in ``save_clients.py``, CPU accounting from /proc in
``proc_cpu.py``; the names other benches import from here stay importable from here.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

from benchdb import recreate_database, safe_url, server_environment
from save_clients import (  # noqa: F401  (assignment_concurrency.py imports some from here)
    FLOOR_STATUS,
    OK_STATUSES,
    SAVES_PER_COMMENT,
    STANCES,
    Annotator,
    Browser,
    comment_plan,
    run_client,
    run_level,
)
from save_server import (  # noqa: F401  (the same)
    COMMENT_TEXT,
    PASSWORD,
    ROOT,
    SLUG,
    Gunicorn,
    _free_port,
    build_corpus,
)

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_labels"
TARGET_P95_MS = 50.0  # autosave (and, as before, all saves)
TARGET_SUBMIT_P95_MS = 80.0  # submit with the next comment
TARGET_CONCURRENCY = 16


def main() -> None:
    """Parse the command line, build the data, start gunicorn and run each level."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE,
        help="dropped and re-created; its name must start with 'bench' (default: %(default)s)",
    )
    parser.add_argument("--comments", type=int, default=2000, help="default: %(default)s")
    parser.add_argument(
        "--thread-size",
        type=int,
        default=50,
        help="comments per article thread; as large as --comments for one big thread "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--saves", type=int, default=200, help="timed saves per annotator (default: %(default)s)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=8,
        help="saves per annotator before the timing starts, not counted (default: %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=_levels,
        default=[1, 16],
        help="annotators at once, one level after the other (default: 1,16)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * len(os.sched_getaffinity(0)) + 1,
        help="gunicorn (sync) workers (default: 2 * cores + 1 = %(default)s)",
    )
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (default: a free one)")
    parser.add_argument(
        "--clients",
        choices=["processes", "threads"],
        default="processes",
        help="one process per annotator (no GIL between them) or one thread each "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0,
        help="mean pause of an annotator between saves (exponential), not timed; 0: none, "
        "as fast as the server answers (default: %(default)s)",
    )
    parser.add_argument(
        "--page-loads",
        action="store_true",
        help="also load the workspace page before each comment (timed apart, not as saves)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="first count the queries and time of a save in-process (Django's test client)",
    )
    parser.add_argument(
        "--code",
        type=Path,
        default=ROOT,
        help="the source tree gunicorn serves, to compare revisions in the same conditions "
        "(e.g. `git archive REV | tar -x -C DIR`; it must have this tree's migrations); the "
        "data and --profile use this tree (default: this tree)",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.comments < 1 or args.thread_size < 1 or args.saves < 1 or args.warmup < 1:
        parser.error("--comments, --thread-size, --saves and --warmup must be at least 1")
    if math.ceil((args.warmup + args.saves) / SAVES_PER_COMMENT) > args.comments:
        parser.error("each annotator needs a comment for every 4 saves: raise --comments")
    # SIGTERM ends the run like Ctrl-C does, so gunicorn is always stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        run(args)
    except KeyboardInterrupt:
        sys.exit("interrupted")


def _levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("levels are numbers of at least 1, e.g. 1,16")
    return levels


def run(args: argparse.Namespace) -> None:
    """The whole benchmark: database, data, gunicorn, the levels, the report."""
    cores = len(os.sched_getaffinity(0))
    load_before = os.getloadavg()[0]
    warm_clients = 2 * args.workers  # enough at once that every worker serves saves
    users_needed = warm_clients + sum(args.concurrency)
    with tempfile.TemporaryDirectory(prefix="bench-labels-") as directory:
        folder = Path(directory)
        os.environ.update(server_environment(args.database_url, folder))
        started = time.perf_counter()
        recreate_database(args.database_url)
        corpus = build_corpus(args, users_needed)
        print(
            f"machine: {cores} cores; the client, gunicorn and PostgreSQL all share it; "
            f"load average before the run {load_before:.2f}"
            + (" (not quiet: the figures will be worse)" if load_before > 0.5 * cores else "")
        )
        print(
            f"server: gunicorn, {args.workers} sync workers, DEBUG=0; {corpus['postgres']}; "
            f"database {safe_url(args.database_url)} (re-created)"
        )
        print(
            f"data: {len(corpus['comments']):,} comments in {corpus['threads']} threads of up "
            f"to {args.thread_size} ({corpus['replies']:,} replies), {users_needed} annotators; "
            f"set up in {time.perf_counter() - started:.1f} s"
        )
        client = "process" if args.clients == "processes" else "thread"
        think = f"{args.think_ms:,.0f} ms mean think time" if args.think_ms else "no think time"
        print(
            f"load: per annotator {args.warmup} warm-up saves, then {args.saves} timed saves "
            f"(3 autosaves + 1 submit per comment, HX-Request, {think}); one client "
            f"{client} per annotator, a new connection per request (gunicorn's sync workers "
            f"close it)"
        )
        if args.profile:
            profile_saves(corpus, args.seed)
        users = iter(corpus["users"])
        comments = corpus["comments"]
        random.Random(args.seed).shuffle(comments)
        port = args.port or _free_port()
        results = []
        if args.code.resolve() != ROOT:
            print(f"code served: {args.code} (not this tree)")
        with Gunicorn(args.workers, port, folder / "gunicorn.log", args.code) as server:
            watch = {"gunicorn": server.process.pid, "database": corpus["database"]}
            # Every worker loads its templates and caches on its first saves: not counted.
            warm = [next(users) for _ in range(warm_clients)]
            warming = run_level(
                warm_clients,
                warm,
                comments,
                port,
                clients="threads",
                warmup=4,
                requests=0,
                watch=watch,
            )
            for level in args.concurrency:
                names = [next(users) for _ in range(level)]
                common = {
                    "clients": args.clients,
                    "warmup": args.warmup,
                    "requests": args.saves,
                    "watch": watch,
                    "think_ms": args.think_ms,
                }
                print(f"\n{level} annotator(s) at once:", flush=True)
                floor = run_level(level, names, comments, port, floor=True, **common)
                print_level(floor, cores)
                saves = run_level(
                    level,
                    names,
                    comments,
                    port,
                    page_loads=args.page_loads,
                    seed=args.seed * 1000 + level,
                    **common,
                )
                print_level(saves, cores)
                results += [saves, floor]
        upsert = upsert_floor(args.database_url)
        print_table(results)
        print_upsert_floor(upsert)
        print_verdict(results, upsert)
        check_database([warming, *results])


# --- Report ---------------------------------------------------------------------------------


def percentile(ordered: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks of a sorted list."""
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(records: list[tuple[float, float, int, str]], ok: tuple[int, ...]) -> dict:
    """Count, errors, throughput and latency figures (ms) of (start, seconds, status, kind)."""
    statuses = Counter(row[2] for row in records)
    latencies = sorted(row[1] * 1000 for row in records)
    first = min((row[0] for row in records), default=0.0)
    last = max((row[0] + row[1] for row in records), default=0.0)
    span = last - first
    return {
        "requests": len(records),
        "errors": sum(n for status, n in statuses.items() if status not in ok),
        "statuses": statuses,
        "throughput": len(records) / span if span > 0 else math.nan,
        "median": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "max": latencies[-1] if latencies else math.nan,
        "span": span,
    }


def timed(result: dict) -> dict:
    records = [row for output in result["outputs"] for row in output["requests"]]
    return summarise(records, result["ok"])


def print_level(result: dict, cores: int) -> None:
    figures = timed(result)
    cpu = result["cpu"]
    count = figures["requests"] or 1
    client_cpu = sum(output["cpu"] for output in result["outputs"])
    statuses = ", ".join(f"{status}: {n:,}" for status, n in sorted(figures["statuses"].items()))
    print(
        f"  {result['what']}: {figures['requests']:,} requests in {figures['span']:.1f} s "
        f"({statuses}); median {figures['median']:.1f} ms, p95 {figures['p95']:.1f} ms"
    )
    machine = cpu["seconds"] or math.nan
    top = ", ".join(f"{name} {seconds / machine:.0%}" for name, seconds in cpu["top_others"])
    print(
        f"    CPU per request: client {client_cpu / count * 1000:.2f} ms, gunicorn "
        f"{cpu['gunicorn'] / count * 1000:.2f} ms, PostgreSQL {cpu['postgres'] / count * 1000:.2f}"
        f" ms. Machine ({cores} cores) {cpu['busy'] / machine:.0%} busy: bench and clients "
        f"{cpu['bench'] / machine:.0%}, gunicorn {cpu['gunicorn'] / machine:.0%}, PostgreSQL "
        f"{cpu['postgres'] / machine:.0%}, other processes {cpu['other'] / machine:.0%}"
        + (f" ({top})" if top and cpu["other"] / machine >= 0.05 else "")
    )
    records = [row for output in result["outputs"] for row in output["requests"]]
    kinds = sorted({row[3] for row in records})
    if len(kinds) > 1:
        parts = []
        for kind in kinds:
            part = summarise([row for row in records if row[3] == kind], result["ok"])
            parts.append(
                f"{kind} {part['requests']:,}: median {part['median']:.1f} ms, "
                f"p95 {part['p95']:.1f} ms, max {part['max']:.1f} ms"
            )
        print(f"    by action: {'; '.join(parts)}")
    pages = [row for output in result["outputs"] for row in output["pages"]]
    if pages:
        page = summarise(pages, (200,))
        print(
            f"    workspace page loads (not in the save figures): {page['requests']:,}, "
            f"{page['errors']} errors, median {page['median']:.1f} ms, p95 {page['p95']:.1f} ms"
        )
    bad_pages = Counter(o["page_status"] for o in result["outputs"] if o["page_status"] != 200)
    if bad_pages:
        print(f"    warning: the workspace page answered {dict(bad_pages)} instead of 200")
    samples = [sample for output in result["outputs"] for sample in output["samples"]]
    for status, body in samples[:3]:
        print(f"    error sample: {status} {body[:200]!r}")


def print_table(results: list[dict]) -> None:
    print(
        f"\n{'request':<12} {'annotators':>10} {'requests':>8} {'errors':>6} {'req/s':>7} "
        f"{'median':>7} {'p95':>7} {'p99':>7} {'max':>7}  (ms)"
    )
    for result in results:
        s = timed(result)
        print(
            f"{result['what']:<12} {result['level']:>10} {s['requests']:>8,} {s['errors']:>6,} "
            f"{s['throughput']:>7,.1f} {s['median']:>7.1f} {s['p95']:>7.1f} {s['p99']:>7.1f} "
            f"{s['max']:>7.1f}"
        )
    print(
        "label save: 3 autosaves + 1 submit per comment; floor (405): GET on the save URL, "
        "session and login only"
    )


def print_verdict(results: list[dict], upsert: dict) -> None:
    """Whether p95 of autosaves and of submits (with the next comment) meet their targets at
    16 annotators, each also as a multiple of the bare UPSERT's p95 of the same run."""
    at_target = [
        r for r in results if r["level"] == TARGET_CONCURRENCY and r["what"] == "label save"
    ]
    if not at_target:
        print(f"(no level of {TARGET_CONCURRENCY} annotators: the target was not measured)")
        return
    records = [row for output in at_target[0]["outputs"] for row in output["requests"]]
    s = timed(at_target[0])
    met = s["p95"] < TARGET_P95_MS and s["errors"] == 0
    print(
        f"target p95 < {TARGET_P95_MS:.0f} ms at {TARGET_CONCURRENCY} annotators: "
        f"{'met' if met else 'NOT met'} (p95 {s['p95']:.1f} ms, {s['errors']} errors)"
    )
    for action, target in (("autosave", TARGET_P95_MS), ("submit", TARGET_SUBMIT_P95_MS)):
        part = summarise([row for row in records if row[3] == action], at_target[0]["ok"])
        print(
            f"  {action}: p95 {part['p95']:.1f} ms, target < {target:.0f} ms: "
            f"{'met' if part['p95'] < target and not part['errors'] else 'NOT met'}; "
            f"{part['p95'] / upsert['p95']:.0f}x the bare UPSERT's p95 ({upsert['p95']:.2f} ms)"
        )


def check_database(results: list[dict]) -> None:
    """Each successful save changed something, so it wrote exactly one history row."""
    from django.db import connections

    from annotator.labelling.models import Annotation, AnnotationEvent

    ok = 0
    for result in results:
        if result["what"] != "label save":
            continue
        for output in result["outputs"]:
            ok += output["warm_saves"]
            ok += sum(row[2] in OK_STATUSES for row in output["requests"])
    events = AnnotationEvent.objects.exclude(actor__username="bench-profile").count()
    submitted = (
        Annotation.objects.filter(status=Annotation.Status.SUBMITTED)
        .exclude(annotator__username="bench-profile")
        .count()
    )
    match = "as expected" if events == ok else "MISMATCH: some saves wrote no history or two"
    print(
        f"database check: {events:,} history events for {ok:,} successful saves ({match}); "
        f"{submitted:,} annotations submitted"
    )
    connections.close_all()


# --- A bare UPSERT: the database's floor for a save --------------------------------------------


def upsert_floor(database_url: str, statements: int = 400) -> dict:
    """Time one client's bare ``INSERT ... ON CONFLICT DO UPDATE`` of one annotation row.

    Run after the levels, on the same database and machine: what storing a save costs with
    no HTTP, no Django and no history, through psycopg in autocommit (one round trip and
    one commit each, as a save's write is). The row belongs to an account of its own, so
    the database check below does not see it.
    """
    import psycopg
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connections

    from annotator.corpus.models import Comment
    from annotator.labelling.models import Annotation, LabelScheme

    user = get_user_model().objects.create(username="bench-floor", password=make_password(None))
    comment = Comment.objects.select_related("article").order_by("pk").first()
    scheme = LabelScheme.objects.order_by("-version").first()
    table = Annotation._meta.db_table
    connections.close_all()
    sql = (
        f"INSERT INTO {table} (project_id, comment_id, annotator_id, scheme_id, answers, "
        "answered_under, stale_answers, status, skip_reason, flagged, note, time_spent_ms, "
        "revision, created_at, updated_at) VALUES (%s, %s, %s, %s, %s::jsonb, '{}'::jsonb, "
        "'{}'::jsonb, 'draft', '', false, '', %s, 1, now(), now()) "
        "ON CONFLICT (comment_id, annotator_id) DO UPDATE SET answers = EXCLUDED.answers, "
        f"time_spent_ms = {table}.time_spent_ms + EXCLUDED.time_spent_ms, "
        f"revision = {table}.revision + 1, updated_at = EXCLUDED.updated_at"
    )
    seconds = []
    with psycopg.connect(database_url, autocommit=True) as connection:
        for number in range(statements + 20):
            params = [
                comment.article.project_id,
                comment.pk,
                user.pk,
                scheme.pk,
                json.dumps({"stance_article": STANCES[number % len(STANCES)]}),
                1000,
            ]
            started = time.perf_counter()
            connection.execute(sql, params)
            if number >= 20:  # the first ones warm the connection and the plan
                seconds.append((time.perf_counter() - started) * 1000)
    seconds.sort()
    return {
        "statements": len(seconds),
        "median": percentile(seconds, 0.5),
        "p95": percentile(seconds, 0.95),
    }


def print_upsert_floor(upsert: dict) -> None:
    print(
        f"floor (bare UPSERT of an annotation row, one psycopg client, after the levels): "
        f"{upsert['statements']} statements, median {upsert['median']:.2f} ms, "
        f"p95 {upsert['p95']:.2f} ms"
    )


# --- In-process profile ---------------------------------------------------------------------


def profile_saves(corpus: dict, seed: int, comments: int = 30) -> None:
    """Queries and in-process time of each kind of save, with Django's test client.

    No HTTP, no gunicorn and no concurrency: what one save costs inside Django.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection, connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from annotator.corpus.models import Membership, Project, Role

    user = get_user_model().objects.create(username="bench-profile", password=make_password(None))
    Membership.objects.create(
        project=Project.objects.get(slug=SLUG), user=user, role=Role.ANNOTATOR
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    rng = random.Random(seed)
    kinds: dict[str, list[tuple[int, float]]] = {}
    examples: dict[str, list[str]] = {}
    for number, (comment_id, is_reply) in enumerate(corpus["comments"][:comments]):
        for step, (action, fields) in enumerate(comment_plan(rng, is_reply)):
            body = urlencode([("action", action), ("revision", str(step)), *fields])
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.post(
                    f"/p/{SLUG}/label/{comment_id}/save/",
                    body,
                    content_type="application/x-www-form-urlencoded",
                    headers={"HX-Request": "true"},
                )
                seconds = time.perf_counter() - started
            if response.status_code not in OK_STATUSES:
                print(f"profile: the save answered {response.status_code}; no profile")
                connections.close_all()
                return
            kind = "first autosave" if step == 0 else action
            if number == 0:
                continue  # the first comment loads templates and caches
            kinds.setdefault(kind, []).append((len(captured.captured_queries), seconds))
            examples.setdefault(kind, [q["sql"] for q in captured.captured_queries])
    print("\nprofile (in-process, Django's test client, no HTTP):")
    for kind, rows in kinds.items():
        queries = sorted(count for count, _ in rows)
        times = sorted(seconds * 1000 for _, seconds in rows)
        print(
            f"  {kind:>14}: {queries[len(queries) // 2]} queries (min {queries[0]}, max "
            f"{queries[-1]}), median {percentile(times, 0.5):.1f} ms over {len(rows)} saves"
        )
    for kind in ("first autosave", "submit"):
        print(f"  queries of a {kind}:")
        for sql in examples.get(kind, []):
            print(f"    {' '.join(sql.split())[:150]}")
    connections.close_all()


if __name__ == "__main__":
    main()
