"""The annotators of the label-save benchmarks: an HTTP client with its own cookies, the
answers of each comment, and one level of annotators at once, in spawned processes or
threads (stdlib only in the clients; ``label_save_latency.py`` runs the levels).
"""

from __future__ import annotations

import http.client
import multiprocessing
import queue
import random
import resource
import threading
import time
import traceback
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from proc_cpu import CpuMonitor
from save_server import PASSWORD, SLUG

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
