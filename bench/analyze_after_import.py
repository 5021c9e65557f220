"""The workspace's queries after a bulk import into another project, before and after ANALYZE.

With autovacuum off (or behind), PostgreSQL plans with the statistics of the last ANALYZE;
after a large import those describe a table without the new rows, and the workspace's
previous/next lookup once chose a sequential scan over 10 M comments (3.3-3.9 s per render).
The loader now runs ANALYZE after every import of 10,000 rows or more
(``loader.analyze_after_import``); this bench turns that off for one import to show what
it prevents.

Drops and re-creates the database in ``--database-url`` (its name must start with "bench"),
migrates it, imports ``--comments`` comments (default 300,000) into project A and runs
ANALYZE (statistics are right for A), then imports ``--other`` comments (default 200,000)
into project B with the ANALYZE after import switched off. It prints, for a comment in the
middle of B and of A, the time of the workspace's previous/next lookup (``neighbours_of``),
of the next comment (``next_comment_for``) and of a claim (``claim_next``), each with the plan
of its slowest query, and a floor (a single-row SELECT by primary key) measured in the same
run; then runs ANALYZE as the import now does and prints them again. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchdb import recreate_database, server_environment, setup_django

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_analyze"
THREAD = 500  # comments per article
CHAIN = 4  # every fourth comment starts a new chain of replies


def main() -> None:
    """Parse the command line, build both projects and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE,
        help="dropped and re-created; its name must start with 'bench' (default: %(default)s)",
    )
    parser.add_argument("--comments", type=int, default=300_000, help="project A (%(default)s)")
    parser.add_argument("--other", type=int, default=200_000, help="project B (%(default)s)")
    parser.add_argument("--repeat", type=int, default=5, help="timings per figure, median")
    args = parser.parse_args()
    if args.comments < THREAD or args.other < THREAD or args.repeat < 1:
        parser.error(f"--comments and --other must be at least {THREAD}, --repeat at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-analyze-") as directory:
        os.environ.update(server_environment(args.database_url, Path(directory)))
        recreate_database(args.database_url)
        setup_django()
        run(args, Path(directory))


def write_corpus(path: Path, prefix: str, comments: int) -> Path:
    """A JSON Lines file of ``comments`` comments in threads of ``THREAD``."""
    import orjson

    with path.open("wb") as out:
        for thread in range(-(-comments // THREAD)):
            article = f"{prefix}-a{thread}"
            out.write(orjson.dumps({"type": "article", "id": article, "title": article}) + b"\n")
            for i in range(min(THREAD, comments - thread * THREAD)):
                record = {
                    "type": "comment",
                    "id": f"c{i}",
                    "article_id": article,
                    "parent_id": f"c{i - 1}" if i % CHAIN else None,
                    "text": f"Reader comment {i} on {article}: the ceasefire will not hold.",
                }
                out.write(orjson.dumps(record) + b"\n")
    return path


def run(args: argparse.Namespace, folder: Path) -> None:
    from django.core.management import call_command
    from django.db import connection

    from annotator.corpus.importers import loader
    from annotator.corpus.models import Membership, Project, Role

    call_command("migrate", verbosity=0)
    a = Project.objects.create(name="A", slug="a")
    b = Project.objects.create(name="B", slug="b")
    started = time.perf_counter()
    loader.import_file(a, write_corpus(folder / "a.jsonl", "a", args.comments))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"project A: {args.comments:,} comments imported and analysed in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    started = time.perf_counter()
    threshold = loader.ANALYZE_AFTER_ROWS
    loader.ANALYZE_AFTER_ROWS = sys.maxsize  # the old behaviour, for this one import
    loader.import_file(b, write_corpus(folder / "b.jsonl", "b", args.other))
    loader.ANALYZE_AFTER_ROWS = threshold
    print(
        f"project B: {args.other:,} comments imported in {time.perf_counter() - started:.1f} s"
        " (no ANALYZE after it)",
        flush=True,
    )

    from django.contrib.auth import get_user_model

    annotator = get_user_model().objects.create(username="annotator")
    for project in (a, b):
        Membership.objects.create(project=project, user=annotator, role=Role.ANNOTATOR)

    print("\nbefore ANALYZE (statistics from before B's import)")
    measure(args, [b, a], annotator)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE corpus_comment")
        cursor.execute("ANALYZE corpus_article")
    print(
        f"\nafter ANALYZE of corpus_comment and corpus_article "
        f"({time.perf_counter() - started:.2f} s)"
    )
    measure(args, [b, a], annotator)


def measure(args: argparse.Namespace, projects: list, annotator) -> None:
    """Time the workspace's queries in each project, with the plan of the slowest."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from annotator.corpus.models import Comment
    from annotator.labelling.annotations import next_comment_for
    from annotator.labelling.assignment import claim_next, release
    from annotator.labelling.navigation import neighbours_of

    for project in projects:
        ids = Comment.objects.filter(article__project=project).values_list("pk", flat=True)
        middle = Comment.objects.get(pk=ids.order_by("pk")[ids.count() // 2])
        operations: list[tuple[str, Callable[[], object]]] = [
            ("floor: one row by primary key", lambda m=middle: _floor(m.pk)),
            ("previous/next (neighbours_of)", lambda m=middle, p=project: neighbours_of(m, p)),
            (
                "next comment (next_comment_for)",
                lambda m=middle, p=project: next_comment_for(annotator, p, after=m),
            ),
            (
                "claim (claim_next)",
                lambda m=middle, p=project: (
                    claim_next(annotator, p, after=m),
                    release(annotator, p),
                ),
            ),
        ]
        print(f"  project {project.slug} (comment {middle.pk}):")
        for name, operation in operations:
            times = []
            for _ in range(args.repeat):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    operation()
                    times.append(time.perf_counter() - started)
            selects = [
                q for q in queries.captured_queries if q["sql"].lstrip().startswith("SELECT")
            ]
            slowest = max(selects, key=lambda q: float(q["time"]))
            print(
                f"    {name:34} {statistics.median(times) * 1000:9.2f} ms "
                f"({len(queries.captured_queries)} queries)"
            )
            if not name.startswith("floor"):
                for line in _plan(slowest["sql"]):
                    print(f"        {line}")


def _floor(pk: int) -> None:
    from annotator.corpus.models import Comment

    Comment.objects.filter(pk=pk).values_list("pk", flat=True).first()


def _plan(sql: str) -> list[str]:
    """The scan nodes of the plan of ``sql`` (the lines that say how rows are found)."""
    from django.db import connection

    if not sql.lstrip().upper().startswith("SELECT"):
        return []
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        lines = [row[0] for row in cursor.fetchall()]
    keep = ("Scan", "Limit", "Join", "Nested Loop", "Sort")
    return [line.strip() for line in lines if any(word in line for word in keep)][:6]


if __name__ == "__main__":
    main()
