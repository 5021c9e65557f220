"""How long the project dashboard takes on a large project, and how many queries it makes.

On the PostgreSQL database in ``--database-url`` (its name must start with "bench"; it is
created when missing and kept, so the next run reuses the corpus), builds a project of
``--comments`` comments in threads of about 50 with the JSON Lines importer (the generator of
bench/import_speed.py), then has ``--annotators`` annotators submit a label on every comment
with one INSERT ... SELECT, over three weeks, agreeing often but not always. Then, in a fresh
child process with Django's test client (no HTTP server), it times the dashboard as a
reviewer sees it: the first load, a reload with no new labels, a reload after one new
submitted label, the htmx swap of the confusion matrix and every CSV download, each with its
query count and the Python memory it peaked at (tracemalloc, a separate untimed run).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from benchdb import bench_database_name, create_database, run_step, setup_django

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_dashboard"
# Every annotator labels every comment; choices come from a hash of (comment, annotator) so
# they agree often but not always, submitted over 21 days.
LABELS_SQL = """
INSERT INTO labelling_annotation (
    project_id, comment_id, annotator_id, scheme_id, answers, answered_under, status,
    skip_reason, flagged, note, time_spent_ms, revision, created_at, updated_at, submitted_at
)
SELECT
    %(project)s, c.id, u.id, %(scheme)s,
    jsonb_build_object(
        'stance_article',
        (ARRAY['support', 'deny', 'query', 'comment'])[1 + (c.id + (c.id * u.n) %% 5 / 4) %% 4],
        'claim_type',
        (ARRAY['factual', 'opinion', 'prediction', 'no_claim'])[1 + (c.id * 7 + u.n / 3) %% 4],
        'speculation',
        (ARRAY['certain', 'somewhat_certain', 'uncertain'])[1 + (c.id * 3 + u.n / 2) %% 3],
        'source_cited',
        CASE WHEN (c.id + u.n) %% 4 = 0 THEN '["none"]'::jsonb
             ELSE '["named_source", "reasoning"]'::jsonb END
    ) || CASE WHEN c.parent_id IS NULL THEN '{}'::jsonb
              ELSE jsonb_build_object(
                  'stance_parent', (ARRAY['support', 'deny'])[1 + (c.id + u.n / 3) %% 2]
              ) END,
    jsonb_build_object('stance_article', 1, 'claim_type', 1, 'speculation', 1, 'source_cited', 1)
        || CASE WHEN c.parent_id IS NULL THEN '{}'::jsonb ELSE '{"stance_parent": 1}'::jsonb END,
    'submitted', '', false, '', 20000 + (c.id * 13 + u.n) %% 40000, 1,
    t.at, t.at, t.at
FROM corpus_comment c
JOIN corpus_article a ON a.id = c.article_id
CROSS JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM auth_user
            WHERE username LIKE 'bench-dash-annotator-%%') u
CROSS JOIN LATERAL (
    SELECT timestamptz '2026-03-02 08:00+00' + (c.id %% 21) * interval '1 day'
           + ((c.id * 37 + u.n * 11) %% 480) * interval '1 minute' AS at
) t
WHERE a.project_id = %(project)s
"""
CHARTS = ["progress", "distribution", "agreement", "pace", "confusion"]


def main() -> None:
    """Parse the command line and run the benchmark (or one of its child steps)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=20_000)
    parser.add_argument("--annotators", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each request")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--fresh", action="store_true", help="build the corpus again")
    parser.add_argument("--child", choices=["setup", "time"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.database_url = args.database_url or DEFAULT_DATABASE
    os.environ["DATABASE_URL"] = args.database_url
    if args.child == "setup":
        child_setup(args)
    elif args.child == "time":
        child_time(args)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    """Make sure the corpus exists, then time the dashboard in a fresh process."""
    name = bench_database_name(args.database_url)
    create_database(args.database_url, drop=args.fresh)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; database {name}")
    setup = child(args, "setup")
    print(
        f"corpus: {setup['comments']:,} comments, {setup['annotations']:,} submitted "
        f"annotations by {args.annotators} annotators "
        + (f"(built in {setup['seconds']:.0f} s)" if setup["built"] else "(reused)")
    )
    result = child(args, "time")
    print(f"{'request':<34} {'median s':>9} {'min s':>7} {'queries':>8} {'peak MB':>8}")
    for row in result["rows"]:
        peak = f"{row['peak_mb']:.1f}" if row["peak_mb"] is not None else "-"
        print(
            f"{row['name']:<34} {row['median']:>9.3f} {row['min']:>7.3f} "
            f"{row['queries']:>8} {peak:>8}"
        )


def child(args: argparse.Namespace, step: str) -> dict:
    """Run one step in a fresh Python process and return the JSON it prints last."""
    return run_step(
        __file__,
        step,
        *("--comments", str(args.comments), "--annotators", str(args.annotators)),
        *("--repeat", str(args.repeat), "--database-url", args.database_url),
    )


# --- Child steps ------------------------------------------------------------------------------


def _slug(args: argparse.Namespace) -> str:
    return f"bench-dash-{args.comments}-{args.annotators}"


def child_setup(args: argparse.Namespace) -> None:
    """Migrate and build the labelled corpus unless it is there already (JSON)."""
    setup_django(ALLOWED_HOSTS="testserver", SECURE_COOKIES="0")
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction

    from annotator.corpus.importers.loader import import_file
    from annotator.corpus.models import Comment, Membership, Project, Role
    from annotator.labelling.models import Annotation, LabelScheme

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    project = Project.objects.filter(slug=_slug(args)).first()
    built = project is None
    if project is None:
        sys.path.insert(0, str(ROOT / "bench"))
        from import_speed import generate  # the import benchmark's corpus generator

        User = get_user_model()
        with transaction.atomic():
            project = Project.objects.create(name="Dashboard bench", slug=_slug(args))
        with tempfile.TemporaryDirectory(prefix="bench-dash-") as directory:
            generate(Path(directory), args.comments, 50, seed=1)
            import_file(project, Path(directory) / "corpus.jsonl", fmt="jsonl")
        for n in range(1, args.annotators + 1):
            user = User.objects.get_or_create(username=f"bench-dash-annotator-{n}")[0]
            Membership.objects.get_or_create(project=project, user=user, role=Role.ANNOTATOR)
        reviewer = User.objects.get_or_create(username="bench-dash-reviewer")[0]
        Membership.objects.get_or_create(project=project, user=reviewer, role=Role.REVIEWER)
        scheme = LabelScheme.objects.current_for(project)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(LABELS_SQL, {"project": project.pk, "scheme": scheme.pk})
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(
        json.dumps(
            {
                "built": built,
                "seconds": time.perf_counter() - started,
                "comments": Comment.objects.filter(article__project=project).count(),
                "annotations": Annotation.objects.filter(project=project).count(),
            }
        )
    )


def child_time(args: argparse.Namespace) -> None:
    """Time each dashboard request with the test client and print the figures (JSON)."""
    setup_django(ALLOWED_HOSTS="testserver", SECURE_COOKIES="0")
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.cache import caches
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.urls import reverse
    from django.utils import timezone

    from annotator.corpus.models import Comment, Project
    from annotator.labelling.models import Annotation

    setup_test_environment()  # the test client's response.context, no email sent
    # Plain static storage: the page's {% static %} needs no collectstatic manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    project = Project.objects.get(slug=_slug(args))
    User = get_user_model()
    client = Client()
    client.force_login(User.objects.get(username="bench-dash-reviewer"))
    page = reverse("review:dashboard", args=[project.slug])
    annotators = list(
        User.objects.filter(username__startswith="bench-dash-annotator-")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    swap = f"{page}?question=claim_type&a={annotators[0]}&b={annotators[-1]}"
    rows = []

    def get(url: str, **headers) -> None:
        response = client.get(url, **headers)
        assert response.status_code == 200, (url, response.status_code)

    def measure(name: str, url: str, *, cold: bool = False, **headers) -> None:
        """Median and minimum of ``--repeat`` runs, the queries and Python's peak memory."""
        seconds = []
        for _ in range(args.repeat):
            if cold:
                caches["default"].clear()
            started = time.perf_counter()
            get(url, **headers)
            seconds.append(time.perf_counter() - started)
        if cold:
            caches["default"].clear()
        with CaptureQueriesContext(connection) as queries:
            tracemalloc.start()
            get(url, **headers)
            _size, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        rows.append(
            {
                "name": name,
                "median": statistics.median(seconds),
                "min": min(seconds),
                "queries": len(queries),
                "peak_mb": peak / 2**20,
            }
        )

    get(page)  # templates, imports and the connection, not counted
    measure("page, first load (no cache)", page, cold=True)
    get(page)
    measure("page, reload (no new labels)", page)
    # One new submitted label, in a transaction rolled back afterwards: the page must show it.
    with transaction.atomic():
        comment = Comment.objects.filter(article__project=project).first()
        extra = User.objects.get_or_create(username="bench-dash-newcomer")[0]
        Annotation.objects.create(
            project=project,
            comment=comment,
            annotator=extra,
            scheme=project.schemes.order_by("-version").first(),
            answers={"stance_article": "support"},
            status=Annotation.Status.SUBMITTED,
            submitted_at=timezone.now(),
        )
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            get(page)
            elapsed = time.perf_counter() - started
        rows.append(
            {
                "name": "page, after one new label",
                "median": elapsed,
                "min": elapsed,
                "queries": len(queries),
                "peak_mb": None,
            }
        )
        transaction.set_rollback(True)
    caches["default"].clear()
    measure("htmx confusion swap", swap, HTTP_HX_REQUEST="true")
    for chart in CHARTS:
        url = reverse("review:dashboard_csv", args=[project.slug, chart])
        measure(f"CSV {chart} (no cache)", url, cold=True)
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
