"""Next comment (a fresh claim) at several project sizes and stages of progress, beside a floor.

For each ``--sizes`` (default 100,000 and 1,000,000 comments, threads of 50) the database in
``--database-url`` (its name must start with "bench") is dropped and re-created and filled
with plain SQL; then for each ``--labelled`` (default 2,000 and 900,000) the first comments
in work order get k = 2 submitted labels (by two filler accounts; never more than 90% of the
project, so 900,000 at 100,000 comments is 90,000), and ANALYZE runs. Then
``--samples`` newcomers each ask for a comment (``claim_next``, no ``after``: a fresh claim)
and the workspace's reads for it (``neighbours_of`` and the progress bar between recounts),
each sample in a transaction rolled back so every one starts from the same state. The floor
is an indexed single-row SELECT of a comment by id through the same connection, timed the
same way in the same run. Prints median and p95 in ms, and as multiples of the floor, for
each size side by side. Target (issue 12): median < 15 ms, p95 < 40 ms, the same at every
size and stage.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

from benchdb import recreate_database, safe_url, setup_django

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_claims_next"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def fill(size: int, thread_size: int) -> dict:
    """The project, its articles and comments (plain SQL), two fillers and the newcomers."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from annotator.corpus.models import Membership, Project, Role

    call_command("migrate", verbosity=0)
    project = Project.objects.create(name="Bench next", slug="bench-next", annotators_per_comment=2)
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"person{n:03d}", password="!") for n in range(202)
    )
    Membership.objects.bulk_create(
        Membership(project=project, user=u, role=Role.ANNOTATOR) for u in users
    )
    threads = -(-size // thread_size)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO corpus_article (project_id, source_id, title, body, url, source, meta,"
            " created_at) SELECT %s, 'a' || n, 'Article ' || n, '', '', '', '{}', now()"
            " FROM generate_series(1, %s) AS n",
            [project.pk, threads],
        )
        cursor.execute(
            "INSERT INTO corpus_comment (article_id, source_id, author, text, position, depth,"
            " path, meta, created_at)"
            " SELECT a.id, 'c' || n, '', 'A reader comment of a few words.', p, 0,"
            " lpad(p::text, 6, '0'), '{}', now()"
            " FROM (SELECT n, (n - 1) / %s AS t, (n - 1) %% %s + 1 AS p"
            "       FROM generate_series(1, %s) AS n) AS s"
            " JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS t FROM corpus_article"
            "       WHERE project_id = %s) AS a ON a.t = s.t",
            [thread_size, thread_size, size, project.pk],
        )
    return {"project": project, "fillers": users[:2], "newcomers": users[2:]}


def label_first(project, fillers, upto: int, done: int) -> None:
    """Give comments ``done``..``upto`` in work order (article id, path) k = 2 labels."""
    from django.db import connection

    from annotator.labelling.schemes import current_scheme_for

    scheme = current_scheme_for(project)
    with connection.cursor() as cursor:
        for filler in fillers:
            cursor.execute(
                "INSERT INTO labelling_annotation (project_id, comment_id, annotator_id,"
                " scheme_id, answers, answered_under, stale_answers, status, skip_reason,"
                " flagged, note, time_spent_ms, revision, created_at, updated_at, submitted_at)"
                " SELECT %s, c.id, %s, %s, '{}', '{}', '{}', 'submitted', '', false, '', 1000,"
                " 1, now(), now(), now()"
                " FROM (SELECT c.id FROM corpus_comment c JOIN corpus_article a"
                "       ON a.id = c.article_id WHERE a.project_id = %s"
                "       ORDER BY c.article_id, c.path OFFSET %s LIMIT %s) AS c",
                [project.pk, filler.pk, scheme.pk, project.pk, done, upto - done],
            )
        cursor.execute("ANALYZE")


def measure(project, newcomers, samples: int) -> dict:
    """Timings (ms) of the floor, a fresh claim, and the workspace's reads for it."""
    from django.db import connection, transaction
    from django.utils import timezone

    from annotator.labelling.assignment import claim_next
    from annotator.labelling.label_counts import recount_project
    from annotator.labelling.navigation import neighbours_of, progress_for

    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM corpus_comment")
        low, high = cursor.fetchone()
    rng = random.Random(1)
    floor, claim, reads = [], [], []
    recount_project(project)  # the progress bar's kept counts (label_counts), counted once
    for number in range(samples):
        person = newcomers[number % len(newcomers)]
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(
                "SELECT id, path FROM corpus_comment WHERE id = %s", [rng.randint(low, high)]
            )
            cursor.fetchone()
            floor.append((time.perf_counter() - started) * 1000)
        with transaction.atomic():
            started = time.perf_counter()
            comment = claim_next(person, project)
            middle = time.perf_counter()
            neighbours_of(comment, project)
            progress_for(person, project, timezone.now())
            ended = time.perf_counter()
            transaction.set_rollback(True)
        assert comment is not None
        claim.append((middle - started) * 1000)
        reads.append((ended - started) * 1000)
    return {"floor": floor, "claim": claim, "reads": reads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--labelled", default="2000,900000")
    parser.add_argument("--thread-size", type=int, default=50)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    stages = sorted(int(s) for s in args.labelled.split(","))
    os.environ["DATABASE_URL"] = args.database_url
    recreate_database(args.database_url)  # refuses a name not starting with "bench"
    setup_django(DEBUG="0")
    from django.db import connections

    print(
        f"load average {os.getloadavg()[0]:.2f}, {len(os.sched_getaffinity(0))} cores; "
        f"database {safe_url(args.database_url)}"
    )
    results = {}
    for size in sizes:
        connections.close_all()
        recreate_database(args.database_url)
        started = time.perf_counter()
        data = fill(size, args.thread_size)
        done = 0
        for stage in stages:
            stage = min(stage, size * 9 // 10)  # 900,000 of 100,000 is read as 90%
            if stage <= done:
                continue
            label_first(data["project"], data["fillers"], stage, done)
            done = stage
            print(
                f"{size:,} comments, {stage:,} labelled: ready after "
                f"{time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
            results[(size, stage)] = measure(data["project"], data["newcomers"], args.samples)
    columns = list(results)
    print("\n" + " " * 34 + "".join(f"{f'{s:,} / {n:,}':>24}" for s, n in columns))
    print(" " * 34 + "".join(f"{'(comments / labelled)':>24}" for _ in columns))
    for key, what in [
        ("floor", "floor: SELECT by id"),
        ("claim", "fresh claim (claim_next)"),
        ("reads", "claim + previous/next + bar"),
    ]:
        for share, name in [(0.5, "median"), (0.95, "p95")]:
            cells = []
            for column in columns:
                value = percentile(results[column][key], share)
                floor = statistics.median(results[column]["floor"])
                cells.append(f"{value:.2f} ms ({value / floor:.0f}x)")
            print(f"{what + ' ' + name:<34}" + "".join(f"{c:>24}" for c in cells))
    print("target: median < 15 ms and p95 < 40 ms for a fresh claim, whatever the size or stage")
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
