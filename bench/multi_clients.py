"""The people of ``multi_instance.py``: annotators who label through the web pages and an
admin who uploads an import and downloads an export, each a ``requests.Session`` whose
requests go to the instances in turn (one request to the first, the next to the second, ...),
as a load balancer without sticky sessions would send them.
"""

from __future__ import annotations

import html
import json
import random
import re
import threading
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import requests
from save_clients import comment_plan
from save_server import PASSWORD, SLUG

FORM = re.compile(r'<form id="label-form"[^>]*\saction="([^"]+)"')
REVISION = re.compile(r'<input type="hidden" name="revision" id="revision" value="(\d+)"')
SAVE_URL = re.compile(r"/label/(\d+)/save/$")
JOB_URL = re.compile(r"/(\d+)/$")
QUESTION = re.compile(r'name="questions" value="([^"]+)"')
TIMEOUT = 120  # seconds; a request slower than that is counted as a connection error


@dataclass
class Tally:
    """What one client saw: every save timed, every refusal and error, and its saves."""

    saves: list[tuple[float, float, int, str, int]] = field(default_factory=list)
    # (start, seconds, status, action, port) of every save request
    requests: int = 0
    by_port: dict[int, int] = field(default_factory=dict)
    server_errors: int = 0  # 5xx
    unexpected: int = 0  # any other status the step did not expect (4xx, a 200 for a 302 ...)
    connection_errors: int = 0
    samples: list[str] = field(default_factory=list)
    saved: list[tuple[int, int]] = field(default_factory=list)  # (comment id, revision after)
    handed: list[int] = field(default_factory=list)  # comment ids, as handed out
    failure: str = ""

    def note(self, text: str) -> None:
        if len(self.samples) < 5:
            self.samples.append(text[:400])


class Client:
    """One person's session, its requests going round the instances' ``ports``."""

    def __init__(self, ports: list[int], offset: int, tally: Tally) -> None:
        self.ports = ports
        self.turn = offset
        self.session = requests.Session()
        self.tally = tally

    def send(self, method: str, path: str, expect: tuple[int, ...], **kwargs) -> requests.Response:
        """One request to the next instance; raises ``Unexpected`` when the status is not
        one of ``expect`` (counted in the tally first)."""
        port = self.ports[self.turn % len(self.ports)]
        self.turn += 1
        self.tally.requests += 1
        self.tally.by_port[port] = self.tally.by_port.get(port, 0) + 1
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", TIMEOUT)
        try:
            response = self.session.request(method, f"http://127.0.0.1:{port}{path}", **kwargs)
        except requests.RequestException as error:
            self.tally.connection_errors += 1
            self.tally.note(f"{method} {path} on :{port}: {error!r}")
            raise Unexpected(str(error)) from None
        response.port = port
        if response.status_code not in expect:
            if response.status_code >= 500:
                self.tally.server_errors += 1
            else:
                self.tally.unexpected += 1
            self.tally.note(
                f"{method} {path} on :{port} answered {response.status_code}: "
                f"{response.text[:300]!r}"
            )
            raise Unexpected(f"{method} {path}: {response.status_code}")
        return response

    def log_in(self, username: str) -> None:
        self.send("GET", "/accounts/login/", (200,))
        fields = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": self.csrf}
        self.send("POST", "/accounts/login/", (302,), data=fields)

    @property
    def csrf(self) -> str:
        return self.session.cookies.get("csrftoken", "")

    def htmx_headers(self) -> dict[str, str]:
        return {"HX-Request": "true", "X-CSRFToken": self.csrf}


class Unexpected(Exception):
    """A request that failed or answered what its step did not expect (already counted)."""


# --- Annotators --------------------------------------------------------------------------------


def annotate(
    username: str,
    ports: list[int],
    offset: int,
    seed: int,
    start: threading.Barrier,
    seconds: float,
    think_ms: float,
    tally: Tally,
) -> None:
    """Log in, wait for everyone at ``start``, then label for ``seconds``: the comment handed
    out (``GET /label/``, its page), three autosaves and a submit as the page sends them;
    the submit's answer is the next comment's form, swapped in, as htmx does."""
    client = Client(ports, offset, tally)
    rng = random.Random(seed)
    pauses = random.Random(seed + 1)
    try:
        try:
            client.log_in(username)
        finally:
            start.wait(timeout=600)  # a failed log-in is in the tally; the others go on
        deadline = time.monotonic() + seconds
        page = None
        while time.monotonic() < deadline:
            try:
                if page is None:
                    page = open_next(client)
                    if page is None:  # nothing left for now: as a person would, come back
                        time.sleep(1)
                        continue
                page = label_one(client, page, rng, pauses, think_ms, deadline)
            except Unexpected:
                page = None  # start again from the queue, as a reload would
    except Exception:
        tally.failure = f"{username}: {traceback.format_exc()}"


def open_next(client: Client) -> str | None:
    """``GET /label/`` (the comment held or claimed: a redirect) and the page it names."""
    response = client.send("GET", f"/p/{SLUG}/label/", (200, 302))
    if response.status_code == 200:
        if "Nothing left to label" in response.text:
            return None
        client.tally.unexpected += 1
        client.tally.note(f"GET /label/ answered 200 without a comment: {response.text[:200]!r}")
        raise Unexpected("no redirect")
    return client.send("GET", response.headers["Location"], (200,)).text


def label_one(
    client: Client, page: str, rng: random.Random, pauses, think_ms: float, deadline: float
) -> str | None:
    """The four saves of the comment whose form is in ``page``; the next comment's form (the
    submit's answer) or None when the queue had nothing to hand out."""
    action_found = FORM.search(page)
    revision_found = REVISION.search(page)
    if not action_found or not revision_found:
        client.tally.unexpected += 1
        client.tally.note(f"no label form in the page: {page[:300]!r}")
        raise Unexpected("no form")
    save_url = html.unescape(action_found.group(1))
    comment_id = int(SAVE_URL.search(save_url).group(1))
    revision = int(revision_found.group(1))
    client.tally.handed.append(comment_id)
    is_reply = 'name="stance_parent"' in page
    for action, fields in comment_plan(rng, is_reply):
        if think_ms:
            time.sleep(pauses.expovariate(1000 / think_ms))
        if action == "autosave" and time.monotonic() >= deadline:
            return None  # the run is over; a submit in flight is still finished
        expect = (200,) if action == "autosave" else (200, 204)
        started = time.perf_counter()
        try:
            response = client.send(
                "POST",
                save_url,
                expect,
                data=[("action", action), ("revision", str(revision)), *fields],
                headers=client.htmx_headers(),
            )
        except Unexpected:
            client.tally.saves.append((started, time.perf_counter() - started, 0, action, 0))
            raise
        seconds = time.perf_counter() - started
        client.tally.saves.append((started, seconds, response.status_code, action, response.port))
        revision += 1  # every save of the plan changes something
        if action == "autosave":
            echoed = REVISION.search(response.text)
            if echoed is None or int(echoed.group(1)) != revision:
                client.tally.unexpected += 1
                client.tally.note(f"autosave answered revision {echoed and echoed.group(1)}")
        client.tally.saved.append((comment_id, revision))
        if action == "submit":
            if response.status_code == 204:
                return None
            return response.text
    return None


# --- The admin: an import, then an export ---------------------------------------------------


@dataclass
class AdminReport:
    """The admin's jobs: ids, seconds from upload to done, and the export's rows."""

    import_job: int = 0
    import_seconds: float = 0.0
    export_job: int = 0
    export_seconds: float = 0.0
    download_seconds: float = 0.0
    export_rows: int = 0
    export_member: str = ""
    # time.perf_counter() (as the saves' start times) at the upload and once downloaded
    began: float = 0.0
    ended: float = 0.0


def administer(
    username: str,
    ports: list[int],
    upload: Path,
    folder: Path,
    job_status,
    tally: Tally,
    report: AdminReport,
    timeout: float,
) -> None:
    """Upload ``upload`` on the import page (the worker imports it), wait for the import
    (polling its page as the browser does, the status from ``job_status(kind, id)``), then
    start a JSON Lines export of the whole project and download it when it is ready; then
    open the dashboard and the review queue."""
    client = Client(ports, 0, tally)
    try:
        client.log_in(username)
        client.send("GET", f"/p/{SLUG}/imports/", (200,))
        report.began = time.perf_counter()
        started = time.monotonic()
        with open(upload, "rb") as data:
            response = client.send(
                "POST",
                f"/p/{SLUG}/imports/",
                (302,),
                data={"format": "jsonl", "csrfmiddlewaretoken": client.csrf},
                files={"file": (upload.name, data, "application/x-ndjson")},
                timeout=600,
            )
        report.import_job = int(JOB_URL.search(response.headers["Location"]).group(1))
        wait_for(client, response.headers["Location"], "import", report.import_job, job_status)
        report.import_seconds = time.monotonic() - started

        page = client.send("GET", f"/p/{SLUG}/exports/", (200,)).text
        fields = [
            ("csrfmiddlewaretoken", client.csrf),
            ("format", "jsonl"),
            ("labels", "all"),
            ("include_unlabelled", "on"),
            *[("questions", key) for key in QUESTION.findall(page)],
        ]
        started = time.monotonic()
        response = client.send("POST", f"/p/{SLUG}/exports/", (302,), data=fields)
        report.export_job = int(JOB_URL.search(response.headers["Location"]).group(1))
        wait_for(
            client, response.headers["Location"], "export", report.export_job, job_status, timeout
        )
        report.export_seconds = time.monotonic() - started
        started = time.monotonic()
        archive = folder / "export.zip"
        download = f"/p/{SLUG}/exports/{report.export_job}/download/"
        with (
            client.send("GET", download, (200,), stream=True, timeout=600) as response,
            open(archive, "wb") as out,
        ):
            for block in response.iter_content(1 << 20):
                out.write(block)
        report.download_seconds = time.monotonic() - started
        # The dashboard and the review queue, twice each, on alternating instances: with
        # --cache the figures are computed by one and read from Redis by the other.
        for _ in range(2):
            client.send("GET", f"/p/{SLUG}/dashboard/", (200,), timeout=600)
            client.send("GET", f"/p/{SLUG}/review/", (200,), timeout=600)
        report.ended = time.perf_counter()
        report.export_member, report.export_rows = count_comment_rows(archive)
    except Exception:
        tally.failure = f"{username}: {traceback.format_exc()}"


def wait_for(
    client: Client, page: str, kind: str, job_id: int, job_status, timeout: float = 3600
) -> None:
    """Poll the job's page with htmx once a second until the job has finished; raise unless
    it succeeded."""
    deadline = time.monotonic() + timeout
    while True:
        client.send("GET", page, (200, 286), headers={"HX-Request": "true"})
        status, error = job_status(kind, job_id)
        if status == "succeeded":
            return
        if status == "failed":
            raise RuntimeError(f"the {kind} failed: {error[:500]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {kind} did not finish within {timeout:.0f} s ({status})")
        time.sleep(1)


def count_comment_rows(archive: Path) -> tuple[str, int]:
    """The data member of a JSON Lines export and how many comment lines it holds."""
    with zipfile.ZipFile(archive) as opened:
        member = next(name for name in opened.namelist() if name.endswith("comments.jsonl"))
        rows = 0
        with opened.open(member) as lines:
            for line in lines:
                rows += json.loads(line).get("type") == "comment"
    return member, rows


def start_thread(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread
