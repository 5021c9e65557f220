"""How fast predictions import from JSON Lines, how much memory it takes, and how far from
the limit.

Makes a project of C top-level comments (bulk COPY, threads of 50), writes a predictions
file of one model answering Q questions of each (stance_article, claim_type, speculation,
checkworthy; 250,000 comments x 4 = 1,000,000 predictions by default) and imports it with
``assist.importing.import_predictions`` (both passes, one transaction) in a child process,
printing seconds, predictions/s and the child's peak RSS. A second child imports the same
file again under ``tracemalloc`` (a re-import: every row is replaced) and prints the peak of
Python's allocations. Then, as the limit, it times a bare ``COPY`` of the same rows,
pre-rendered, into a scratch table shaped like ``assist_prediction`` (same unique index) in
a transaction it rolls back. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
from pathlib import Path

from benchdb import run_step, safe_url, setup_django

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench"
THREAD = 50
QUESTIONS = {
    "stance_article": ["support", "deny", "query", "comment"],
    "claim_type": ["factual", "prediction", "opinion", "policy", "question", "no_claim"],
    "speculation": ["certain", "somewhat_certain", "uncertain", "not_applicable"],
    "checkworthy": ["yes", "no"],
}


def main() -> None:
    """Parse the command line and run the benchmark (or one of its child steps)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=250_000)
    parser.add_argument("--questions", type=int, default=4, choices=range(1, 5))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-tracemalloc",
        action="store_true",
        help="skip the re-import under tracemalloc (it runs about 4 times slower)",
    )
    parser.add_argument("--child", choices=["setup", "import", "copy"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE)
    if args.child:
        setup_django()
        from benchdb import bench_database_name

        bench_database_name(os.environ["DATABASE_URL"])
        result = {"setup": child_setup, "import": child_import, "copy": child_copy}[args.child](
            Path(args.dir), args
        )
        print(json.dumps(result))
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    """Make the project and the file, then time the import and the bare COPY."""
    from benchdb import bench_database_name, create_database

    url = os.environ["DATABASE_URL"]
    bench_database_name(url)  # refuses any database not named bench*
    create_database(url, drop=False)
    print(f"database: {safe_url(url)}")
    with tempfile.TemporaryDirectory(prefix="bench-predictions-") as directory:
        folder = Path(directory)
        extra = ["--comments", str(args.comments), "--questions", str(args.questions)]
        extra += ["--seed", str(args.seed)]
        made = run_step(__file__, "setup", "--dir", str(folder), *extra)
        size = (folder / "predictions.jsonl").stat().st_size
        print(
            f"made {made['comments']:,} comments and a file of {made['predictions']:,} "
            f"predictions ({size / 1e6:,.1f} MB) in {made['seconds']:.1f} s"
        )
        imported = run_step(__file__, "import", "--dir", str(folder), *extra)
        import_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        traced = None
        if not args.no_tracemalloc:
            traced = run_step(__file__, "import", "--dir", str(folder), "--trace", *extra)
        bare = run_step(__file__, "copy", "--dir", str(folder), *extra)
        rate = imported["predictions"] / imported["seconds"]
        bare_rate = bare["rows"] / bare["seconds"]
        print(
            f"import:    {imported['predictions']:,} predictions in {imported['seconds']:.2f} s "
            f"= {rate:,.0f} predictions/s ({imported['check_seconds']:.2f} s checking; "
            f"{imported['cpu_seconds']:.1f} s of CPU in Python); "
            f"peak RSS {import_rss:,.0f} MB (Python and Django before it: "
            f"{imported['rss_before_mb']:,.0f} MB)"
        )
        if traced is not None:
            print(
                f"re-import under tracemalloc: peak of Python allocations "
                f"{traced['tracemalloc_peak_mb']:,.1f} MB ({traced['seconds']:.1f} s, slowed "
                "by tracing)"
            )
        print(
            f"bare COPY: {bare['rows']:,} rows in {bare['seconds']:.2f} s = {bare_rate:,.0f} "
            "rows/s (same rows, pre-rendered, into a scratch table, rolled back)"
        )
        print(f"import speed is {rate / bare_rate:.0%} of a bare COPY")
        run_step(__file__, "setup", "--dir", str(folder), "--trace", *extra)  # clean up


# --- Child steps ------------------------------------------------------------------------------


def child_setup(folder: Path, args: argparse.Namespace) -> dict:
    """Migrate; a fresh project of top-level comments (COPY) and the predictions file; or,
    with ``--trace`` (reused as "clean up"), delete the bench's projects."""
    from django.core.management import call_command
    from django.db import connection

    from annotator.corpus.models import Article, Project, path_segment

    call_command("migrate", verbosity=0)
    Project.objects.filter(slug__startswith="bench-predictions").delete()
    if args.trace:
        return {}
    started = time.perf_counter()
    project = Project.objects.create(name="Bench predictions", slug="bench-predictions")
    threads = (args.comments + THREAD - 1) // THREAD
    Article.objects.bulk_create(
        Article(project=project, source_id=f"a-{n}", title=f"Article {n}") for n in range(threads)
    )
    article_ids = list(project.articles.order_by("pk").values_list("pk", flat=True))
    with connection.cursor() as cursor:
        columns = "article_id, source_id, author, text, position, depth, path, meta, created_at"
        with cursor.copy(f"COPY corpus_comment ({columns}) FROM STDIN") as copy:
            for number in range(args.comments):
                article, position = divmod(number, THREAD)
                copy.write_row(
                    (
                        article_ids[article],
                        f"c-{number}",
                        "",
                        f"Comment {number}",
                        position + 1,
                        0,
                        path_segment(position + 1),
                        "{}",
                        "2026-12-02T00:00:00Z",
                    )
                )
    ids = list(project.articles.values_list("comments__pk", flat=True).order_by("comments__pk"))
    connection.cursor().execute("ANALYZE corpus_comment")
    rng = random.Random(args.seed)
    questions = list(QUESTIONS)[: args.questions]
    with (
        open(folder / "predictions.jsonl", "w") as jsonl,
        open(folder / "predictions.copy", "w") as rows,
    ):
        for comment_id in ids:
            answers = {key: rng.choice(QUESTIONS[key]) for key in questions}
            confidences = {key: round(rng.random(), 3) for key in questions}
            line = {"comment_id": comment_id, "model": "bench-model", "version": "1"}
            line.update(answers=answers, confidences=confidences)
            jsonl.write(json.dumps(line) + "\n")
            for key in questions:
                rows.write(
                    f"{comment_id}\t{key}\t{json.dumps(answers[key])}\t{confidences[key]}\t1\t"
                    "\t\t\\N\t2026-12-02T00:00:00Z\n"
                )
    return {
        "comments": len(ids),
        "predictions": len(ids) * len(questions),
        "seconds": time.perf_counter() - started,
    }


def child_import(folder: Path, args: argparse.Namespace) -> dict:
    """Import the file into the bench project (timed), optionally under tracemalloc."""
    import tracemalloc

    from annotator.assist import importing
    from annotator.corpus.models import Project

    project = Project.objects.get(slug="bench-predictions")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    path = folder / "predictions.jsonl"
    if args.trace:
        tracemalloc.start()
    checked_at = []
    original_refusal = importing._Checker.refusal

    def refusal(self):  # the end of the check pass
        checked_at.append(time.perf_counter())
        return original_refusal(self)

    importing._Checker.refusal = refusal
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    summary = importing.import_predictions(project, lambda: path.open("rb"), filename=path.name)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 1e6 if args.trace else None
    return {
        "predictions": summary.predictions,
        "seconds": seconds,
        "cpu_seconds": _cpu_seconds() - cpu_started,
        "check_seconds": checked_at[0] - started,
        "rss_before_mb": rss_before,
        "tracemalloc_peak_mb": peak,
    }


def _cpu_seconds() -> float:
    """This process's CPU time: on a busy machine it says more than the wall clock (the
    database server's own time is in neither)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_copy(folder: Path, args: argparse.Namespace) -> dict:
    """COPY the pre-rendered rows into a scratch table like assist_prediction; roll back."""
    from django.db import connection, transaction

    from annotator.assist.models import MachineLabeller

    labeller = MachineLabeller.objects.get(project__slug="bench-predictions", name="bench-model")
    columns = (
        "labeller_id, comment_id, question, answer, confidence, scheme_version, "
        "prompt_version, raw_response, stale_since, created_at"
    )
    prefix = f"{labeller.pk}\t".encode()
    rows = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_scratch (LIKE assist_prediction INCLUDING ALL) ON COMMIT DROP"
        )
        started = time.perf_counter()
        with (
            cursor.copy(f"COPY bench_scratch ({columns}) FROM STDIN") as copy,
            open(folder / "predictions.copy", "rb") as source,
        ):
            for line in source:
                copy.write(prefix + line)
                rows += 1
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return {"rows": rows, "seconds": seconds}


if __name__ == "__main__":
    main()
