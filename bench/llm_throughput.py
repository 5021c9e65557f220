"""LLM runs against the local OpenAI-compatible stub answering after 200 ms: requests per
second and the most requests in flight, at concurrency 1, 4 and 16, beside the ideal
(concurrency / 0.2 s) and a floor measured in the same run (the same requests sent by a
bare thread pool through the same client, no Django, no database).

Drops and re-creates the database in ``--database-url`` (its name must start with "bench"),
migrates it, makes one project with ``--comments`` comments, then for each concurrency
makes an LLM model and does one run over all comments (``run_prediction_run``, as the
worker does). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchdb import ROOT, recreate_database, server_environment, setup_django

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_llm"
DELAY = 0.2
REPLY = json.dumps({"answers": {"speculation": "certain"}, "confidences": {"speculation": 0.9}})


def main() -> None:
    """Parse the command line, set up the database and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE, help="(%(default)s)")
    parser.add_argument("--comments", type=int, default=160, help="per run (%(default)s)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()
    if args.comments < 1 or any(not 1 <= c <= 32 for c in args.concurrency):
        parser.error("--comments must be at least 1, each concurrency 1 to 32")
    with tempfile.TemporaryDirectory(prefix="bench-llm-") as directory:
        os.environ.update(server_environment(args.database_url, Path(directory)))
        os.environ["BENCH_LLM_KEY"] = "bench-key"
        recreate_database(args.database_url)
        setup_django()
        run(args)


def floor(base_url: str, comments: int, concurrency: int, request: dict) -> float:
    """Requests/s of ``comments`` bare chat completions of ``request`` (one the run sent, so
    the stub reads as much as in the run), ``concurrency`` at a time."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="bench-key", max_retries=0)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(
            pool.map(
                lambda _: client.chat.completions.create(**request),
                range(comments),
            )
        )
    return comments / (time.perf_counter() - started)


def run(args) -> None:
    from django.core.management import call_command

    sys.path.insert(0, str(ROOT))
    call_command("migrate", verbosity=0)
    from annotator.assist.models import MachineLabeller, PredictionRun
    from annotator.assist.runs import run_prediction_run
    from annotator.corpus.models import Project
    from tests.assist.openai_stub import OpenAIStub, Reply
    from tests.factories import ArticleFactory, make_thread

    project = Project.objects.create(name="LLM bench", slug="llm-bench")
    make_thread(ArticleFactory(project=project), args.comments)
    print(f"{args.comments} comments per run, the stub answers after {DELAY * 1000:.0f} ms")
    print("concurrency  requests/s  ideal  floor (bare pool)  max in flight  seconds")
    for concurrency in args.concurrency:
        with OpenAIStub(lambda body, n: Reply(REPLY, delay=DELAY)) as stub:
            model = MachineLabeller.objects.create(
                project=project,
                name=f"bench-c{concurrency}",
                kind=MachineLabeller.Kind.LLM,
                config={
                    "base_url": stub.base_url,
                    "model": "m",
                    "api_key_env": "BENCH_LLM_KEY",
                    "concurrency": concurrency,
                    "request_cap": args.comments,
                },
            )
            run = PredictionRun.objects.create(
                project=project,
                labeller=model,
                kind=PredictionRun.Kind.LLM,
                options={"which": "all"},
            )
            started = time.perf_counter()
            run_prediction_run(run.pk)
            seconds = time.perf_counter() - started
            run.refresh_from_db()
            assert run.status == "succeeded" and run.done == args.comments, (run.status, run.error)
            in_flight = stub.max_in_flight
            bare = floor(stub.base_url, args.comments, concurrency, stub.requests[-1].body)
        print(
            f"{concurrency:>11}  {run.requests / seconds:>10.1f}  {concurrency / DELAY:>5.0f}"
            f"  {bare:>17.1f}  {in_flight:>13}  {seconds:>7.2f}"
        )


if __name__ == "__main__":
    main()
