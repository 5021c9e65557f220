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
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing
import os
import queue
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from benchdb import recreate_database, safe_url, server_environment, setup_django

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_labels"
PASSWORD = "bench annotator password"
SLUG = "bench-labels"
TARGET_P95_MS = 50.0  # autosave (and, as before, all saves)
TARGET_SUBMIT_P95_MS = 80.0  # submit with the next comment
TARGET_CONCURRENCY = 16
SAVES_PER_COMMENT = 4  # 3 autosaves, then 1 submit
OK_STATUSES = (200, 204, 302)  # 204: HX-Redirect when all is done; 302: without htmx
FLOOR_STATUS = 405  # GET on the save URL: session and login checked, then refused
STANCES = ["support", "deny", "query", "comment"]
CLAIM_TYPES = [
    "factual",
    "prediction",
    "opinion",
    "policy",
    "personal_experience",
    "question",
    "no_claim",
]
SPECULATION = ["certain", "somewhat_certain", "uncertain", "not_applicable"]
SOURCES = ["link", "named_source", "article", "unnamed_source", "first_hand", "media", "reasoning"]
NOTES = ["", "Sarcasm?", "Sarcasm? Quotes the article.", "Sarcasm? Quotes the article. Check."]
COMMENT_TEXT = (  # a reader comment of ordinary length (300 characters)
    "I bet the US offered something very valuable in order to save their agents in the city. "
    "Nobody tells us what the deal was, and the news only repeats what the ministry said. Why "
    "would they agree to a ceasefire now, after months of refusing? Someone is not telling the "
    "truth here and we will know it in a few weeks."
)


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


# --- Database and data ---------------------------------------------------------------------


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


# --- The annotators (stdlib only: they run in spawned processes) ---------------------------


class Browser:
    """One annotator's HTTP client: its own cookies on one ``http.client`` connection.

    The connection is kept alive when the server allows it; gunicorn's sync workers close it
    after each response, so then each request opens a new one (as behind a proxy).
    """

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        fields: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, float, float]:
        """Send one request; return status, body, seconds to the full body, start time."""
        headers = dict(headers or {})
        body = None
        if fields is not None:
            body = urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        started = time.perf_counter()
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        seconds = time.perf_counter() - started
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                self.cookies[name] = morsel.value
        if response.will_close:
            self.connection.close()  # http.client opens a new one on the next request
        return response.status, data, seconds, started

    def log_in(self, username: str, password: str) -> None:
        status, _, _, _ = self.request("GET", "/accounts/login/")
        if status != 200 or "csrftoken" not in self.cookies:
            raise RuntimeError(f"GET /accounts/login/ answered {status} without a CSRF cookie")
        fields = [
            ("username", username),
            ("password", password),
            ("csrfmiddlewaretoken", self.cookies["csrftoken"]),
        ]
        status, body, _, _ = self.request("POST", "/accounts/login/", fields)
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"logging in as {username} answered {status}: {body[:300]!r}")


def comment_plan(rng: random.Random, is_reply: bool) -> list[tuple[str, list[tuple[str, str]]]]:
    """The 4 saves of one comment: each autosave adds answers, the submit completes them.

    Every save changes something, so each one moves the revision on by exactly 1.
    """
    stance = [("stance_article", rng.choice(STANCES))]
    if is_reply:
        stance.append(("stance_parent", rng.choice(STANCES)))
    claim_type = rng.choice(CLAIM_TYPES)
    claim = [("claim_type", claim_type)]
    if claim_type in {"factual", "prediction"}:
        claim.append(("checkworthy", rng.choice(["yes", "no"])))
    speculation = [("speculation", rng.choice(SPECULATION))]
    sources = rng.sample(SOURCES, rng.randint(1, 2)) if rng.random() < 0.7 else ["none"]
    cited = [("source_cited", source) for source in sources]
    answers = [stance, stance + claim, stance + claim + speculation]
    answers.append(answers[-1] + cited)
    flagged = rng.random() < 0.05
    plan = []
    for step, fields in enumerate(answers):
        extra = [("note", NOTES[step]), ("elapsed_ms", str(rng.randint(2_000, 20_000)))]
        if flagged and step == SAVES_PER_COMMENT - 1:
            extra.append(("flagged", "on"))
        plan.append(("submit" if step == SAVES_PER_COMMENT - 1 else "autosave", fields + extra))
    return plan


class Annotator:
    """Labels its comments one after the other, tracking each annotation's revision."""

    def __init__(self, spec: dict) -> None:
        self.browser = Browser(spec["port"])
        self.slug = spec["slug"]
        self.comments = iter(spec["comments"])
        self.rng = random.Random(spec["seed"])
        self.page_loads = spec["page_loads"]
        self.plan: list[tuple[str, list[tuple[str, str]]]] = []
        self.comment_id = 0
        self.revision = 0

    def save(self, saves: list, pages: list, samples: list) -> int:
        """One save (and the page first, if asked and a new comment starts); its status."""
        if not self.plan:
            self.comment_id, is_reply = next(self.comments)
            self.plan = comment_plan(self.rng, is_reply)
            self.revision = 0
            if self.page_loads:
                status, _, seconds, started = self.browser.request("GET", self.url())
                pages.append((started, seconds, status, "page"))
        action, fields = self.plan.pop(0)
        status, body, seconds, started = self.browser.request(
            "POST",
            self.url("save/"),
            [("action", action), ("revision", str(self.revision)), *fields],
            {"X-CSRFToken": self.browser.cookies.get("csrftoken", ""), "HX-Request": "true"},
        )
        saves.append((started, seconds, status, action))
        if status in OK_STATUSES:
            self.revision += 1
        else:
            if len(samples) < 3:
                samples.append((status, body[:300].decode(errors="replace")))
            self.plan = []  # the revision is unknown now: go on with the next comment
        return status

    def floor(self, requests: list, pages: list, samples: list) -> int:
        """GET on the save URL: what every request costs before the view does anything."""
        if not self.comment_id:
            self.comment_id, _ = next(self.comments)
        status, body, seconds, started = self.browser.request("GET", self.url("save/"))
        requests.append((started, seconds, status, "floor"))
        if status != FLOOR_STATUS and len(samples) < 3:
            samples.append((status, body[:300].decode(errors="replace")))
        return status

    def url(self, rest: str = "") -> str:
        return f"/p/{self.slug}/label/{self.comment_id}/{rest}"


def run_client(spec: dict, barrier, results) -> None:
    """One annotator: log in, warm up, wait for the others, then the timed requests."""
    try:
        annotator = Annotator(spec)
        annotator.browser.log_in(spec["username"], PASSWORD)
        send = annotator.floor if spec["floor"] else annotator.save
        expected = (FLOOR_STATUS,) if spec["floor"] else OK_STATUSES
        warm: list = []
        samples: list = []
        for _ in range(spec["warmup"]):
            status = send(warm, [], samples)
            if len(warm) == 1 and status not in expected:
                hint = " (Not Implemented: a placeholder view?)" if status == 501 else ""
                raise RuntimeError(f"the first request answered {status}{hint}: {samples[-1]!r}")
        page_status, _, _, _ = annotator.browser.request("GET", annotator.url())
        barrier.wait(timeout=900)
        scope = resource.RUSAGE_THREAD if spec["threads"] else resource.RUSAGE_SELF
        before = resource.getrusage(scope)
        timed: list = []
        pages: list = []
        samples = []
        pauses = random.Random(spec["seed"] + 1)
        for _ in range(spec["requests"]):
            send(timed, pages, samples)
            if spec["think_ms"]:
                time.sleep(pauses.expovariate(1000 / spec["think_ms"]))
        after = resource.getrusage(scope)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        results.put(
            {
                "requests": timed,
                "pages": pages,
                "samples": samples,
                "cpu": cpu,
                "warm_saves": 0 if spec["floor"] else sum(r[2] in expected for r in warm),
                "page_status": page_status,
            }
        )
    except Exception:
        barrier.abort()
        results.put({"failure": f"{spec['username']}: {traceback.format_exc()}"})


# --- One level ------------------------------------------------------------------------------


def run_level(
    level: int,
    usernames: list[str],
    comments: list[tuple[int, bool]],
    port: int,
    *,
    clients: str,
    warmup: int,
    requests: int,
    watch: dict,
    think_ms: float = 0,
    page_loads: bool = False,
    floor: bool = False,
    seed: int = 0,
) -> dict:
    """``level`` annotators at once, each on its own stretch of the shuffled comments."""
    threads = clients == "threads"
    if threads:
        barrier = threading.Barrier(level + 1)
        results = queue.Queue()
    else:
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(level + 1)
        results = context.Queue()
    specs = []
    for number, username in enumerate(usernames):
        offset = number * len(comments) // level  # disjoint stretches while there are enough
        specs.append(
            {
                "port": port,
                "slug": SLUG,
                "username": username,
                "comments": comments[offset:] + comments[:offset],
                "seed": seed * 100_000 + number,
                "warmup": warmup,
                "requests": requests,
                "page_loads": page_loads,
                "floor": floor,
                "think_ms": think_ms,
                "threads": threads,
            }
        )
    if threads:
        workers = [threading.Thread(target=run_client, args=(s, barrier, results)) for s in specs]
    else:
        workers = [
            context.Process(target=run_client, args=(s, barrier, results), daemon=True)
            for s in specs
        ]
    for worker in workers:
        worker.start()
    try:
        try:
            barrier.wait(timeout=900)
        except threading.BrokenBarrierError:
            failures = [r["failure"] for r in _drain(results) if "failure" in r]
            raise RuntimeError(
                "an annotator failed before the timed saves:\n" + "\n".join(failures[:2])
            ) from None
        monitor = CpuMonitor(watch).start()
        outputs = [results.get(timeout=3600) for _ in workers]
        cpu = monitor.stop()
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if not threads and worker.is_alive():
                worker.terminate()
    failures = [output["failure"] for output in outputs if "failure" in output]
    if failures:
        raise RuntimeError("an annotator failed during the timed requests:\n" + failures[0])
    return {
        "level": level,
        "what": "floor (405)" if floor else "label save",
        "ok": (FLOOR_STATUS,) if floor else OK_STATUSES,
        "outputs": outputs,
        "cpu": cpu,
    }


def _drain(results) -> list[dict]:
    drained = []
    while True:
        try:
            drained.append(results.get(timeout=1))
        except queue.Empty:
            return drained


# --- CPU accounting from /proc --------------------------------------------------------------


class CpuMonitor:
    """CPU time used while a level runs: the machine's, and by whom, from /proc.

    Samples every half second, so the time of processes that end meanwhile is counted too
    (a gunicorn worker's database connection is replaced after ``CONN_MAX_AGE`` seconds, and
    with it its PostgreSQL backend). Kinds: ``gunicorn`` (the master whose pid is
    ``watch["gunicorn"]`` and its workers), ``postgres`` (background processes and the
    backends connected to ``watch["database"]``), ``bench`` (this script and its client
    processes) and ``other`` (everything else on the machine, by process name).
    """

    def __init__(self, watch: dict) -> None:
        self.watch = watch
        self.database = f" {watch['database']} ".encode()
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.first: dict[int, tuple[str, str, float]] = {}
        self.latest: dict[int, tuple[str, str, float]] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> CpuMonitor:
        self.machine_first = self._machine()
        self.first = self._processes()
        self.latest = dict(self.first)
        self.thread.start()
        return self

    def stop(self) -> dict:
        """CPU seconds: ``seconds`` that passed on all cores, ``busy`` and each kind's."""
        self.stopping.set()
        self.thread.join()
        self.latest.update(self._processes())
        busy, total = (b - a for a, b in zip(self.machine_first, self._machine(), strict=True))
        used = Counter(dict.fromkeys(("gunicorn", "postgres", "bench", "other"), 0.0))
        others: Counter = Counter()
        for pid, (kind, name, seconds) in self.latest.items():
            before = self.first[pid][2] if pid in self.first else 0.0
            delta = seconds - before if seconds >= before else seconds  # else a reused pid
            used[kind] += delta
            if kind == "other":
                others[name.split("/")[0]] += delta  # kworker/1:0-events: kworker
        return {"seconds": total, "busy": busy, **used, "top_others": others.most_common(3)}

    def _run(self) -> None:
        while not self.stopping.wait(0.5):
            self.latest.update(self._processes())

    def _machine(self) -> tuple[float, float]:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:9]]
        idle = fields[3] + fields[4]  # idle and iowait
        return (sum(fields) - idle) / self.ticks, sum(fields) / self.ticks

    def _processes(self) -> dict[int, tuple[str, str, float]]:
        me = os.getpid()
        found = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    line = stat.read()
                with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                    command = cmdline.read()
            except OSError:
                continue
            pid = int(entry.name)
            name = line[line.index("(") + 1 : line.rindex(")")]
            rest = line[line.rindex(")") + 2 :].split()
            parent = int(rest[1])
            seconds = (int(rest[11]) + int(rest[12])) / self.ticks  # utime, stime
            if self.watch["gunicorn"] in (pid, parent):
                kind = "gunicorn"
            elif name == "postgres":
                backend = b"(" in command or b"[local]" in command  # "user db host(port) state"
                kind = "postgres" if not backend or self.database in command else "other"
            elif me in (pid, parent):
                kind = "bench"
            else:
                kind = "other"
            found[pid] = (kind, name, seconds)
        return found


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
