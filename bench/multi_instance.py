"""Several app instances on one database: 32 annotators labelling through two gunicorns
while an admin imports 200,000 comments and exports the project, checked end to end.

For each ``--instances`` count (default ``2,1``: two, then one as the comparison) it
drops and re-creates the PostgreSQL database in ``--database-url`` (its name must start
with "bench"), builds a project of ``--comments`` comments with k = ``--k``, ``--annotators``
accounts and an admin, and starts that many gunicorns (``--workers`` each, one port each,
standing for one host each) and as many ``manage.py db_worker`` processes. Then, for
``--minutes``, every annotator labels (three autosaves and a submit per comment, htmx
headers, no think time unless ``--think-ms``), each request going to the next instance in
turn; meanwhile the admin uploads a JSON Lines file of ``--import-comments`` comments on
the import page (a worker imports it) and, once it is in, starts a JSON Lines export of the
project and downloads it. At the end it checks: no HTTP error, no comment handed to more
than k people, every save in the annotation history, the import complete, the export's rows
equal to the project's comments; prints save latency and throughput, beside a bare UPSERT
measured in the same run, and the passes side by side. ``--s3`` runs moto's S3 server for
the files (``STORAGE_*``), ``--cache`` a shared Redis cache (``CACHE_URL``, Redis db 10).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

from benchdb import recreate_database, safe_url, server_environment
from import_speed import generate
from label_save_latency import percentile, upsert_floor
from multi_clients import AdminReport, Tally, administer, annotate, start_thread
from multi_hosts import (
    CACHE_URL,
    WORKER_INTERVAL,
    Processes,
    TreeMonitor,
    free_port,
    host_environment,
    s3_client,
    start_s3,
    wait_ready,
)
from save_server import PASSWORD, SLUG, build_corpus

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_multi"


def main() -> None:
    """Parse the command line and run each pass."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE,
        help="dropped and re-created; its name must start with 'bench' (default: %(default)s)",
    )
    parser.add_argument(
        "--instances",
        default="2,1",
        help="gunicorn + worker pairs, one pass per count (default: %(default)s)",
    )
    parser.add_argument("--minutes", type=float, default=5.0, help="labelling time per pass")
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--import-comments", type=int, default=200_000)
    parser.add_argument(
        "--comments", type=int, default=20_000, help="comments to label (default: %(default)s)"
    )
    parser.add_argument("--thread-size", type=int, default=50)
    parser.add_argument("--k", type=int, default=2, help="annotators per comment (default: 2)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--think-ms", type=float, default=0.0, help="mean pause before a save")
    parser.add_argument("--s3", action="store_true", help="files in moto's S3 server (STORAGE_*)")
    parser.add_argument("--cache", action="store_true", help=f"CACHE_URL={CACHE_URL}")
    parser.add_argument(
        "--separate-disks",
        action="store_true",
        help="each instance its own MEDIA_ROOT, as separate hosts (without --s3 an upload "
        "stored by one is not found by the other's worker); default: one shared folder",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    try:
        args.counts = [int(count) for count in args.instances.split(",")]
    except ValueError:
        parser.error("--instances takes counts separated by commas, e.g. 2,1")
    if min(args.counts) < 1 or min(args.annotators, args.comments, args.k, args.workers) < 1:
        parser.error("--instances, --annotators, --comments, --k and --workers must be >= 1")
    if args.minutes <= 0 or args.import_comments < 1:
        parser.error("--minutes and --import-comments must be positive")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the processes are stopped on exit
    try:
        sys.exit(run(args))
    except KeyboardInterrupt:
        sys.exit("interrupted")


def run(args: argparse.Namespace) -> int:
    """Every pass, then the side-by-side table; 0 when every check held in every pass."""
    with tempfile.TemporaryDirectory(prefix="bench-multi-") as directory, Processes() as procs:
        folder = Path(directory)
        os.environ.pop("TASKS_BACKEND", None)  # the worker's database backend, as deployed
        os.environ.update(server_environment(args.database_url, folder))
        started = time.perf_counter()
        generate(folder, args.import_comments, args.thread_size, args.seed)
        upload = folder / "import.jsonl"
        (folder / "corpus.jsonl").rename(upload)
        (folder / "comments.copy").unlink()
        print(
            f"import file: {args.import_comments:,} comments, {upload.stat().st_size / 1e6:,.1f} "
            f"MB, written in {time.perf_counter() - started:.1f} s"
        )
        storage = start_s3(procs, folder) if args.s3 else None
        results = []
        for number, count in enumerate(args.counts):
            print(f"\n=== {count} instance{'s' * (count > 1)} ===", flush=True)
            results.append(run_pass(args, procs, folder / f"pass{number}", count, upload, storage))
            procs.stop_all()
    if len(results) > 1:
        side_by_side(results)
    return 0 if all(result["ok"] for result in results) else 1


# --- One pass -----------------------------------------------------------------------------------


def run_pass(
    args: argparse.Namespace,
    procs: Processes,
    folder: Path,
    count: int,
    upload: Path,
    storage: dict | None,
) -> dict:
    """Data, processes, the people at work, the checks and figures of ``count`` instances."""
    folder.mkdir()
    started = time.perf_counter()
    recreate_database(args.database_url)
    corpus = build_corpus(
        SimpleNamespace(comments=args.comments, thread_size=args.thread_size), args.annotators
    )
    admin = prepare_project(args.k)
    bucket = f"bench-multi-{folder.name}"
    if storage:
        s3_client(storage).create_bucket(Bucket=bucket)
    if args.cache:
        import redis

        redis.Redis.from_url(CACHE_URL).flushdb()  # db 10 is this bench's own
    print(
        f"data: {len(corpus['comments']):,} comments in {corpus['threads']} threads, k = "
        f"{args.k}, {args.annotators} annotators and an admin; {corpus['postgres']}; database "
        f"{safe_url(args.database_url)} (re-created); set up in "
        f"{time.perf_counter() - started:.1f} s"
    )
    ports = []
    for host in range(count):
        env = host_environment(args, folder, host, storage, bucket)
        Path(env["LOCAL_DIR"]).mkdir(parents=True, exist_ok=True)
        worker = [sys.executable, "manage.py", "db_worker", "--interval", WORKER_INTERVAL]
        procs.start(f"worker {host}", worker, env, folder / f"worker{host}.log")
        port = free_port()
        log = folder / f"gunicorn{host}.log"
        command = [sys.executable, "-m", "gunicorn", "annotator.wsgi", "-w", str(args.workers)]
        command += ["-b", f"127.0.0.1:{port}", "--timeout", "120", "--graceful-timeout", "5"]
        process = procs.start(f"gunicorn {host}", command, env, log)
        ports.append(port)
        print(f"instance {host}: gunicorn -w {args.workers} on :{port}, ready by ", end="")
        print(wait_ready(port, process, log), flush=True)
    files = "a MEDIA_ROOT per host" if args.separate_disks else "one MEDIA_ROOT shared"
    if storage:
        files = f"S3 (moto), bucket {bucket}"
    print(
        f"files: {files}; cache: "
        f"{CACHE_URL if args.cache else 'per process (no CACHE_URL)'}; requests go to the "
        f"instances in turn, per request; load average {os.getloadavg()[0]:.2f} on "
        f"{len(os.sched_getaffinity(0))} cores",
        flush=True,
    )

    tallies = [Tally() for _ in corpus["users"]]
    admin_tally, admin_report = Tally(), AdminReport()
    monitor = TreeMonitor({"gunicorn": -1, "database": args.database_url.rsplit("/", 1)[-1]})
    monitor.start()
    logged_in = threading.Barrier(len(corpus["users"]) + 1)
    people = [
        start_thread(
            annotate,
            username,
            ports,
            number,
            args.seed * 1000 + number,
            logged_in,
            args.minutes * 60,
            args.think_ms,
            tallies[number],
        )
        for number, username in enumerate(corpus["users"])
    ]
    logged_in.wait(timeout=600)  # the clock starts once every annotator is logged in
    begun = time.monotonic()
    boss = start_thread(
        administer, admin, ports, upload, folder, job_status, admin_tally, admin_report, 3600
    )
    for person in people:
        person.join()
    labelled = time.monotonic() - begun
    boss.join()
    admin_done = admin_report.ended - admin_report.began if admin_report.ended else math.nan
    cpu = monitor.stop()
    crashed = procs.crashed()
    result = check_and_print(args, corpus, tallies, admin_tally, admin_report, labelled)
    result.update(instances=count, admin_done=admin_done, busy=cpu["busy"] / cpu["seconds"])
    # What the saves cost in CPU, whoever else shares the machine: the bench's processes
    # (clients, gunicorns, workers) and PostgreSQL, per successful save.
    result["share"] = (cpu["bench"] + cpu["postgres"]) / cpu["seconds"]
    result["cpu_per_save"] = (
        (cpu["bench"] + cpu["postgres"]) * 1000 / max(result["all"]["count"], 1)
    )
    print(
        f"the admin's upload, import, export and download took {admin_done:.0f} s (the "
        f"labelling {labelled:.0f} s); machine busy {result['busy']:.0%}: this bench's processes "
        f"{cpu['bench'] / cpu['seconds']:.0%}, PostgreSQL {cpu['postgres'] / cpu['seconds']:.0%}, "
        f"other processes {cpu['other'] / cpu['seconds']:.0%} of the cores' time"
    )
    if storage:
        listed = s3_client(storage).list_objects_v2(Bucket=bucket).get("KeyCount", 0)
        used = "used" if listed else "NOT used: this tree's settings do not read STORAGE_*"
        print(f"S3 bucket {bucket}: {listed} objects ({used})")
    if args.cache:
        import redis

        keys = redis.Redis.from_url(CACHE_URL).dbsize()
        what = "used" if keys else "nothing cached there: does this tree read CACHE_URL?"
        print(f"Redis db 10: {keys} keys ({what})")
    for text in crashed:
        print(f"PROCESS DIED: {text}")
        result["ok"] = False
    floor = upsert_floor(args.database_url)  # after the checks: its row is not a label
    result["floor"] = floor
    print(
        f"floor (same run): bare UPSERT of an annotation row from one psycopg connection, "
        f"{floor['statements']} statements, p50 {floor['median']:.2f} ms, p95 {floor['p95']:.2f} ms"
    )
    print(f"verdict: {'every check held' if result['ok'] else 'A CHECK FAILED'}", flush=True)
    return result


def prepare_project(k: int) -> str:
    """k on the bench project, its articles renamed apart from the import file's, an admin."""
    from django.contrib.auth import get_user_model
    from django.db import connections
    from django.db.models import F, Value
    from django.db.models.functions import Concat

    from annotator.corpus.models import Article, Membership, Project, Role

    project = Project.objects.get(slug=SLUG)
    Project.objects.filter(pk=project.pk).update(annotators_per_comment=k)
    # build_corpus names its articles article-N, as the import file does: an article of the
    # file would otherwise land in a labelling thread instead of being new.
    Article.objects.filter(project=project).update(
        source_id=Concat(Value("label-"), F("source_id"))
    )
    admin = get_user_model().objects.create_user("bench-admin", password=PASSWORD)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    connections.close_all()
    return admin.username


def job_status(kind: str, job_id: int) -> tuple[str, str]:
    """An import or export job's status and error, read from the database."""
    import psycopg

    table = {"import": "corpus_importjob", "export": "datasets_exportjob"}[kind]
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
        row = connection.execute(
            f"SELECT status, error FROM {table} WHERE id = %s", [job_id]
        ).fetchone()
    return row if row else ("missing", "")


# --- Checks and figures -------------------------------------------------------------------------


def check_and_print(
    args: argparse.Namespace,
    corpus: dict,
    tallies: list[Tally],
    admin_tally: Tally,
    admin_report: AdminReport,
    labelled: float,
) -> dict:
    """Every check of the pass (printed), then the latency and throughput figures."""
    from django.contrib.auth import get_user_model
    from django.db import connections

    from annotator.corpus.models import Comment, ImportJob
    from annotator.datasets.models import ExportJob
    from annotator.labelling.models import Annotation, AnnotationEvent, Claim

    everyone = [*tallies, admin_tally]
    failures = [tally.failure for tally in everyone if tally.failure]
    server_errors = sum(tally.server_errors for tally in everyone)
    unexpected = sum(tally.unexpected for tally in everyone)
    connection_errors = sum(tally.connection_errors for tally in everyone)
    requests = sum(tally.requests for tally in everyone)
    by_port: Counter = Counter()
    for tally in everyone:
        by_port.update(tally.by_port)
    checks = []

    def check(name: str, held: bool, detail: str) -> None:
        checks.append(held)
        print(f"  [{'ok' if held else 'FAILED'}] {name}: {detail}")

    print("checks:")
    errors = server_errors + unexpected + connection_errors
    check(
        "HTTP errors",
        errors == 0 and not failures,
        f"{requests:,} requests ({', '.join(f':{p} {n:,}' for p, n in sorted(by_port.items()))}); "
        f"5xx {server_errors}, unexpected 4xx/other {unexpected}, connection errors "
        f"{connection_errors}",
    )
    for sample in [s for tally in everyone for s in tally.samples][:3]:
        print(f"      e.g. {sample}")
    for failure in failures[:2]:
        print(f"      client failed: {failure[-1500:]}")

    users = dict(get_user_model().objects.values_list("username", "pk"))
    who: dict[int, set[int]] = {}
    for comment_id, annotator_id in [
        *Annotation.objects.values_list("comment_id", "annotator_id"),
        *Claim.objects.values_list("comment_id", "annotator_id"),
    ]:
        who.setdefault(comment_id, set()).add(annotator_id)
    handed: dict[int, set[int]] = {}
    for username, tally in zip(corpus["users"], tallies, strict=True):
        for comment_id in tally.handed:
            handed.setdefault(comment_id, set()).add(users[username])
    over_server = sum(len(people) > args.k for people in who.values())
    over_clients = sum(len(people) > args.k for people in handed.values())
    check(
        f"no comment handed to more than k = {args.k}",
        over_server == 0 and over_clients == 0,
        f"{over_server} by the annotations and claims, {over_clients} by the clients' logs, "
        f"of {len(handed):,} comments handed out",
    )

    history = set(
        AnnotationEvent.objects.values_list(
            "annotation__annotator_id", "annotation__comment_id", "revision"
        )
    )
    saved = [
        (users[username], comment_id, revision)
        for username, tally in zip(corpus["users"], tallies, strict=True)
        for comment_id, revision in tally.saved
    ]
    missing = [save for save in saved if save not in history]
    check(
        "every save in the history",
        bool(saved) and not missing,
        f"{len(saved):,} successful saves, {len(missing)} without their event "
        f"({len(history):,} events)",
    )

    comments = Comment.objects.filter(article__project__slug=SLUG).count()
    imported = ImportJob.objects.filter(pk=admin_report.import_job).first()
    expected = len(corpus["comments"]) + args.import_comments
    check(
        "the import complete",
        imported is not None
        and imported.status == ImportJob.Status.SUCCEEDED
        and imported.comments_added == args.import_comments
        and comments == expected,
        f"job {imported.status if imported else 'missing'}, "
        f"{imported.comments_added if imported else 0:,} comments added, the project holds "
        f"{comments:,} (expected {expected:,}); upload to done "
        f"{admin_report.import_seconds:.1f} s",
    )
    exported = ExportJob.objects.filter(pk=admin_report.export_job).first()
    check(
        "the export complete",
        exported is not None
        and exported.status == ExportJob.Status.SUCCEEDED
        and admin_report.export_rows == comments,
        f"job {exported.status if exported else 'missing'}, {admin_report.export_rows:,} "
        f"comment rows in {admin_report.export_member or 'no file'} (the project: "
        f"{comments:,}); start to ready {admin_report.export_seconds:.1f} s, download "
        f"{admin_report.download_seconds:.1f} s",
    )
    connections.close_all()

    saves = [row for tally in tallies for row in tally.saves if row[2] in (200, 204)]
    figures = {"ok": all(checks), "checks": checks}
    print(
        f"figures ({len(corpus['users'])} annotators, {labelled:.0f} s of labelling, no think time)"
        if not args.think_ms
        else f"figures ({len(corpus['users'])} annotators, mean pause {args.think_ms:g} ms):"
    )
    for action in ("all", "autosave", "submit"):
        rows = sorted(ms * 1000 for _, ms, _, kind, _ in saves if action in ("all", kind))
        figures[action] = {
            "count": len(rows),
            "p50": percentile(rows, 0.5),
            "p95": percentile(rows, 0.95),
            "p99": percentile(rows, 0.99),
        }
        what = {"all": "saves", "autosave": "  autosaves", "submit": "  submits + next"}[action]
        print(
            f"  {what}: {len(rows):,}, {len(rows) / labelled:,.1f}/s; p50 "
            f"{figures[action]['p50']:.1f} ms, p95 {figures[action]['p95']:.1f} ms, p99 "
            f"{figures[action]['p99']:.1f} ms"
        )
    if admin_report.ended:
        for what, rows in (
            ("while the import and export ran", [r for r in saves if r[0] < admin_report.ended]),
            ("after them", [r for r in saves if r[0] >= admin_report.ended]),
        ):
            ms = sorted(row[1] * 1000 for row in rows)
            print(
                f"  saves {what}: {len(ms):,}; p50 {percentile(ms, 0.5):.1f} ms, p95 "
                f"{percentile(ms, 0.95):.1f} ms"
            )
    figures["rate"] = len(saves) / labelled
    figures["labels"] = figures["submit"]["count"] / labelled
    return figures


def side_by_side(results: list[dict]) -> None:
    """The passes' figures in one table, a column per pass."""
    rows = [("", [f"{r['instances']} instance{'s' * (r['instances'] > 1)}" for r in results])]
    rows.append(("checks", ["all held" if r["ok"] else "FAILED" for r in results]))
    rows.append(("saves per second", [f"{r['rate']:,.1f}" for r in results]))
    rows.append(("labels (submits) per second", [f"{r['labels']:,.1f}" for r in results]))
    for action, what in (("all", "save"), ("autosave", "autosave"), ("submit", "submit + next")):
        rows.append(
            (
                f"{what} p50 / p95 / p99 ms",
                [
                    f"{r[action]['p50']:.0f} / {r[action]['p95']:.0f} / {r[action]['p99']:.0f}"
                    for r in results
                ],
            )
        )
    rows.append(("upload to export downloaded", [f"{r['admin_done']:.0f} s" for r in results]))
    rows.append(("machine busy", [f"{r['busy']:.0%}" for r in results]))
    rows.append(("of it this bench + PostgreSQL", [f"{r['share']:.0%}" for r in results]))
    rows.append(
        (
            "CPU ms per save (bench + PostgreSQL)",
            [f"{r['cpu_per_save']:.0f}" for r in results],
        )
    )
    rows.append(
        (
            "floor: bare UPSERT p50 / p95 ms",
            [f"{r['floor']['median']:.2f} / {r['floor']['p95']:.2f}" for r in results],
        )
    )
    width = max(len(name) for name, _ in rows)
    columns = [max(len(row[1][i]) for row in rows) for i in range(len(results))]
    print("\n=== side by side ===")
    for name, cells in rows:
        print(f"{name:<{width}}  " + "  ".join(f"{c:>{columns[i]}}" for i, c in enumerate(cells)))


if __name__ == "__main__":
    main()
