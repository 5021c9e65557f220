"""How fast an import through the API is, end to end, beside a bare COPY FROM of the same rows.

On its own PostgreSQL database (``--database-url``, dropped and re-created; the name must
start with "bench") it generates ``--comments`` comments with bench/import_speed.py's
generator, starts gunicorn and the background worker (``manage.py db_worker``) with
production-like settings, and times what a script sees: ``POST`` of the JSON Lines file to
``/api/projects/<slug>/imports/`` with an API token, then polling the job until it is done.
Each run imports into a fresh project; it prints the upload (until the 202 answer), the wait
for the worker, the import itself (the job's own ``started_at``/``finished_at``) and the
total, beside a bare ``COPY corpus_comment FROM STDIN`` of the same rows pre-rendered (the
limit; import_speed.py's child step) measured in the same run. See bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchdb import recreate_database, run_step, server_environment, setup_django

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_api_import"
POLL_SECONDS = 0.05
# The worker as docker-compose.yml runs it (its polling interval included); --interval
# overrides it (django-tasks-db's default is 1 s).
WORKER_INTERVAL = "0.2"


def main() -> None:
    """Parse the command line and run the benchmark (or its set-up step)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2, help="imports, each a new project")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--interval", default=WORKER_INTERVAL, help="the worker's polling (s)")
    parser.add_argument("--child", choices=["setup"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "setup":
        child_setup(args)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    """Generate the file, start gunicorn and the worker, upload ``--repeat`` times, then
    time the bare COPY."""
    sys.path.insert(0, str(ROOT / "bench"))
    from import_speed import generate
    from label_save_latency import Gunicorn, _free_port

    recreate_database(args.database_url)
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; worker polling every "
        f"{args.interval} s"
    )
    with tempfile.TemporaryDirectory(prefix="bench-api-import-") as directory:
        folder = Path(directory)
        os.environ.update(server_environment(args.database_url, folder))
        # The upload is large, so the API queues it for the worker, as in production.
        generate(folder, args.comments, 50, seed=1)
        upload = folder / "corpus.jsonl"
        print(f"file: {args.comments:,} comments, {upload.stat().st_size / 1e6:,.1f} MB")
        setup = run_step(__file__, "setup", "--dir", str(folder), "--repeat", str(args.repeat))
        port = _free_port()
        worker_log = open(folder / "worker.log", "wb")  # noqa: SIM115 - closed below
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--interval", args.interval],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=worker_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            with Gunicorn(args.workers, port, folder / "gunicorn.log"):
                time.sleep(2)  # the worker's start-up is not the import's
                results = [
                    upload_and_wait(port, slug, setup["token"], upload) for slug in setup["slugs"]
                ]
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            worker_log.close()
        bare = run_step(str(ROOT / "bench" / "import_speed.py"), "copy", "--dir", str(folder))
    bare_rate = bare["comments"] / bare["seconds"]
    for number, result in enumerate(results, 1):
        rate = args.comments / result["total"]
        rest = result["total"] - result["upload"] - result["queued"] - result["import"]
        print(
            f"import {number}: {result['total']:.2f} s end to end = {rate:,.0f} comments/s = "
            f"{result['total'] / bare['seconds']:.2f}x the bare COPY's time: upload "
            f"{result['upload']:.2f} s, wait for the worker {result['queued']:.2f} s, import "
            f"{result['import']:.2f} s, commit (foreign keys checked) and polling {rest:.2f} s; "
            f"job {result['status']}"
        )
    print(
        f"bare COPY FROM: {bare['comments']:,} rows in {bare['seconds']:.2f} s = "
        f"{bare_rate:,.0f} rows/s (same rows, pre-rendered, rolled back)"
    )


def upload_and_wait(port: int, slug: str, token: str, path: Path) -> dict:
    """POST ``path`` as a multipart upload, poll the job until it ends; the times (s)."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="format"\r\n\r\njsonl\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    headers = {
        "Authorization": f"Token {token}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + path.stat().st_size + len(tail)),
        "Accept": "application/json",
    }
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    connection.putrequest("POST", f"/api/projects/{slug}/imports/")
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    connection.send(head)
    with open(path, "rb") as data:
        while block := data.read(1 << 20):
            connection.send(block)
    connection.send(tail)
    response = connection.getresponse()
    body = json.loads(response.read())
    uploaded = time.perf_counter()
    if response.status not in (201, 202):
        sys.exit(f"the upload answered {response.status}: {body}")
    job_url = f"/api/projects/{slug}/imports/{body['id']}/"
    while body["status"] not in ("succeeded", "failed"):
        time.sleep(POLL_SECONDS)
        connection.request("GET", job_url, headers={"Authorization": f"Token {token}"})
        body = json.loads(connection.getresponse().read())
    done = time.perf_counter()
    connection.close()
    job = job_times(body["id"])
    return {
        "upload": uploaded - started,
        "queued": job["queued"],
        "import": job["import"],
        "total": done - started,
        "status": body["status"] if body["status"] == "succeeded" else f"failed: {body}",
    }


def job_times(job_id: int) -> dict:
    """The job's own times: from its row's creation to the worker's start, and the import."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"]) as connection:
        created, started, finished = connection.execute(
            "SELECT created_at, started_at, finished_at FROM corpus_importjob WHERE id = %s",
            [job_id],
        ).fetchone()
    return {
        "queued": (started - created).total_seconds(),
        "import": (finished - started).total_seconds(),
    }


def child_setup(args: argparse.Namespace) -> None:
    """Migrate; make an admin with an API token and one empty project per run (JSON)."""
    setup_django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from annotator.api.models import ApiToken
    from annotator.corpus.models import Membership, Project, Role

    call_command("migrate", verbosity=0)
    # DEBUG=0 serves static files from the manifest; gunicorn's readiness check loads a page.
    call_command("collectstatic", interactive=False, verbosity=0)
    admin = get_user_model().objects.create_user("bench-admin", password=None)
    slugs = []
    for number in range(args.repeat):
        project = Project.objects.create(name=f"API import {number}", slug=f"api-{number}")
        Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
        slugs.append(project.slug)
    _, key = ApiToken.objects.create_token(admin, "bench")
    print(json.dumps({"token": key, "slugs": slugs}))


if __name__ == "__main__":
    main()
