"""How fast a labelled corpus exports, how much memory it takes, and how far from the limit.

On the PostgreSQL database in ``--database-url`` (its name must start with "bench"; it is
created when missing and kept, so the next run reuses the corpus), builds a project of
``--comments`` comments in threads of about 50 with the JSON Lines importer (the generator of
bench/import_speed.py), then has five annotators label them with one INSERT ... SELECT: each
comment gets about two submitted annotations answering four or five questions. Then, each in
a fresh child process, it runs ``build_export`` for every ``--formats`` format into a
temporary file and prints comments, seconds, comments per second, the zip's size and the
child's peak RSS. As the limit, it times a bare ``COPY (SELECT ...) TO STDOUT`` of the same
data (comments in tree order joined to their annotations), read and thrown away.
With ``--predictions`` the project also gets one model whose predictions answer four
questions of every comment, and each format is exported twice, without and with them.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchdb import bench_database_name, create_database, run_step, setup_django

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_export"
ANNOTATORS = 5
# The labels: choice lists indexed by a hash of (comment, annotator), so annotators agree
# often but not always, as people do.
LABELS_SQL = """
INSERT INTO labelling_annotation (
    project_id, comment_id, annotator_id, scheme_id, answers, answered_under, status,
    skip_reason, flagged, note, time_spent_ms, revision, created_at, updated_at, submitted_at,
    stale_answers, suggestions
)
SELECT
    %(project)s, c.id, u.id, %(scheme)s,
    jsonb_build_object(
        'stance_article',
        (ARRAY['support', 'deny', 'query', 'comment'])[1 + (c.id + u.n / 3) %% 4],
        'claim_type',
        (ARRAY['factual', 'opinion', 'prediction', 'no_claim'])[1 + (c.id * 7 + u.n / 4) %% 4],
        'speculation',
        (ARRAY['certain', 'somewhat_certain', 'uncertain'])[1 + (c.id * 3 + u.n) %% 3],
        'source_cited',
        CASE WHEN (c.id + u.n) %% 4 = 0 THEN '["none"]'::jsonb
             ELSE '["named_source", "reasoning"]'::jsonb END
    ) || CASE WHEN c.parent_id IS NULL THEN '{}'::jsonb
              ELSE jsonb_build_object(
                  'stance_parent', (ARRAY['support', 'deny'])[1 + (c.id + u.n / 2) %% 2]
              ) END,
    jsonb_build_object('stance_article', 1, 'claim_type', 1, 'speculation', 1, 'source_cited', 1)
        || CASE WHEN c.parent_id IS NULL THEN '{}'::jsonb ELSE '{"stance_parent": 1}'::jsonb END,
    'submitted', '', (c.id + u.n) %% 50 = 0, '', 20000 + (c.id * 13 + u.n) %% 40000, 1,
    now(), now(), now(), '{}'::jsonb, '{}'::jsonb
FROM corpus_comment c
JOIN corpus_article a ON a.id = c.article_id
CROSS JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM auth_user
            WHERE username LIKE 'bench-export-annotator-%%') u
WHERE a.project_id = %(project)s AND (c.id * 31 + u.n * 17) %% 5 < 2
"""
# One model's predictions for every comment of the project: four questions, a confidence
# spread over [0, 1), choices picked by a hash of the comment id.
PREDICTIONS_SQL = """
INSERT INTO assist_prediction (
    labeller_id, comment_id, question, answer, confidence, scheme_version, prompt_version,
    raw_response, created_at
)
SELECT
    %(model)s, c.id, q.key,
    CASE q.key
        WHEN 'stance_article' THEN to_jsonb((ARRAY['support', 'deny', 'query', 'comment'])
                                            [1 + (c.id * 5) %% 4])
        WHEN 'claim_type' THEN to_jsonb((ARRAY['factual', 'opinion', 'prediction', 'no_claim'])
                                        [1 + (c.id * 11) %% 4])
        WHEN 'speculation' THEN to_jsonb((ARRAY['certain', 'somewhat_certain', 'uncertain'])
                                         [1 + c.id %% 3])
        ELSE CASE WHEN c.id %% 3 = 0 THEN '["none"]'::jsonb
                  ELSE '["named_source", "reasoning"]'::jsonb END
    END,
    ((c.id * 37 + length(q.key)) %% 1000) / 1000.0, %(version)s, '', '', now()
FROM corpus_comment c
JOIN corpus_article a ON a.id = c.article_id
CROSS JOIN (VALUES ('stance_article'), ('claim_type'), ('speculation'), ('source_cited')) q(key)
WHERE a.project_id = %(project)s
"""
# The same data as the export, read by the database alone: every comment in tree order with
# its article and parent ids and each of its submitted annotations (one row per annotation,
# a comment without any once). Nothing is computed or formatted: the limit.
COPY_SQL = """
COPY (
    SELECT a.source_id, c.source_id, p.source_id, c.depth, c.position, c.author, c.text,
           c.posted_at, c.meta, u.username, x.answers, x.scheme_id, x.answered_under,
           x.time_spent_ms, x.created_at, x.updated_at, x.submitted_at, x.flagged, x.note
      FROM corpus_comment c
      JOIN corpus_article a ON a.id = c.article_id
      LEFT JOIN corpus_comment p ON p.id = c.parent_id
      LEFT JOIN labelling_annotation x ON x.comment_id = c.id AND x.status = 'submitted'
      LEFT JOIN auth_user u ON u.id = x.annotator_id
     WHERE a.project_id = {project}
     ORDER BY c.article_id, c.path, x.annotator_id
) TO STDOUT
"""


def main() -> None:
    """Parse the command line and run the benchmark (or one of its child steps)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--formats", default="jsonl,parquet", help="comma-separated")
    parser.add_argument("--labels", default="all", choices=["all", "final"])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--fresh", action="store_true", help="build the corpus again")
    parser.add_argument("--profile", action="store_true", help="cProfile the exports")
    parser.add_argument(
        "--predictions",
        action="store_true",
        help="give the project one model predicting 4 questions of every comment, and export "
        "each format without and with its predictions",
    )
    parser.add_argument(
        "--no-command", action="store_true", help="skip the runs of manage.py export_corpus"
    )
    parser.add_argument("--child", choices=["setup", "export", "copy"], help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--with-predictions", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.database_url = args.database_url or DEFAULT_DATABASE
    os.environ["DATABASE_URL"] = args.database_url
    if args.child == "setup":
        child_setup(args)
    elif args.child == "export":
        child_export(args)
    elif args.child == "copy":
        child_copy(args)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    """Make sure the corpus exists, then time each format and the bare COPY."""
    name = bench_database_name(args.database_url)
    create_database(args.database_url, drop=args.fresh)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; database {name}")
    setup = child(args, "setup")
    print(
        f"corpus: {setup['comments']:,} comments, {setup['annotations']:,} submitted "
        f"annotations in {setup['articles']:,} articles "
        + (f"(built in {setup['seconds']:.0f} s)" if setup["built"] else "(reused)")
    )
    if args.predictions:
        print(f"predictions: {setup['predictions']:,} of one model (4 questions per comment)")
    runs = [(fmt, False) for fmt in args.formats.split(",") if fmt]
    if args.predictions:
        runs = [(fmt, carried) for fmt, _ in runs for carried in (False, True)]
    for fmt, carried in runs:
        result = child(args, "export", fmt, predictions=carried)
        label = f"{fmt}+pred" if carried else fmt
        print(
            f"{label:>12}: {result['comments']:,} comments in {result['seconds']:.2f} s = "
            f"{result['comments'] / result['seconds']:,.0f} comments/s; zip "
            f"{result['bytes'] / 1e6:,.1f} MB; peak RSS {result['rss_peak_mb']:,.0f} MB "
            f"(Python and Django before the export: {result['rss_before_mb']:,.0f} MB); "
            + _cpu_text(result)
        )
        if result.get("profile"):
            print(result["profile"])
    commands = {}
    if not args.no_command:
        commands["(unknown project)"] = run_command(args, "jsonl", slug="no-such-project")
        for fmt, carried in runs:
            commands[f"{fmt}+pred" if carried else fmt] = run_command(args, fmt, carried)
    bare = child(args, "copy")
    print(
        f"bare COPY: {setup['comments']:,} comments ({bare['rows']:,} rows, one per annotation) "
        f"in {bare['seconds']:.2f} s = {setup['comments'] / bare['seconds']:,.0f} comments/s "
        f"({bare['bytes'] / 1e6:,.1f} MB of text, thrown away); " + _cpu_text(bare)
    )
    for fmt, (seconds, rss, cpu) in commands.items():
        print(
            f"manage.py export_corpus {fmt}: {seconds:.2f} s, start-up included = "
            f"{seconds / bare['seconds']:.2f}x the bare COPY; peak RSS {rss:,.0f} MB; "
            f"CPU: Python {cpu:.2f} s"
        )


def run_command(
    args: argparse.Namespace, fmt: str, predictions: bool = False, slug: str = ""
) -> tuple[float, float, float]:
    """``manage.py export_corpus`` end to end in a new process, as a person runs it (its
    start-up counts): wall seconds, the process's peak RSS (MB) and its CPU seconds."""
    with tempfile.TemporaryDirectory(prefix="bench-export-command-") as directory:
        command = [sys.executable, "manage.py", "export_corpus", "--format", fmt, "--split"]
        command += ["--project", slug or _slug(args.comments)]
        command += ["--output", str(Path(directory) / "export.zip")]
        if args.labels == "final":
            command.append("--final")
        command.append("--predictions" if predictions else "--no-predictions")
        environment = {**os.environ, "SECRET_KEY": "bench-only-secret-key", "DEBUG": "0"}
        environment.setdefault("ALLOWED_HOSTS", "127.0.0.1")
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        errors = process.stderr.read().decode(errors="replace")
        process.stderr.close()
        process.returncode = os.waitstatus_to_exitcode(status)
    if (process.returncode != 0) != bool(slug):  # an unknown project must fail, with one line
        sys.exit(f"export_corpus {fmt} ended with {process.returncode}:\n{errors}")
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def child(args: argparse.Namespace, step: str, fmt: str = "", predictions: bool = False) -> dict:
    """Run one step in a fresh Python process and return the JSON it prints last."""
    arguments = ["--comments", str(args.comments), "--labels", args.labels]
    arguments += ["--database-url", args.database_url]
    if fmt:
        arguments += ["--format", fmt]
    if args.predictions:
        arguments.append("--predictions")
    if predictions:
        arguments.append("--with-predictions")
    if args.profile:
        arguments.append("--profile")
    return run_step(__file__, step, *arguments)


# --- Child steps ------------------------------------------------------------------------------


def _slug(comments: int) -> str:
    return f"bench-export-{comments}"


def child_setup(args: argparse.Namespace) -> None:
    """Migrate and build the labelled corpus unless it is there already (JSON)."""
    setup_django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction

    from annotator.corpus.importers.loader import import_file
    from annotator.corpus.models import Article, Comment, Project
    from annotator.labelling.models import Annotation
    from annotator.labelling.schemes import current_scheme_for

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    project = Project.objects.filter(slug=_slug(args.comments)).first()
    built = project is None
    if project is None:
        sys.path.insert(0, str(ROOT / "bench"))
        from import_speed import generate  # the import benchmark's corpus generator

        with transaction.atomic():
            project = Project.objects.create(name="Export bench", slug=_slug(args.comments))
        with tempfile.TemporaryDirectory(prefix="bench-export-") as directory:
            generate(Path(directory), args.comments, 50, seed=1)
            import_file(project, Path(directory) / "corpus.jsonl", fmt="jsonl")
        users = [
            get_user_model().objects.get_or_create(username=f"bench-export-annotator-{n}")[0]
            for n in range(1, ANNOTATORS + 1)
        ]
        assert len(users) == ANNOTATORS
        scheme = current_scheme_for(project)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(LABELS_SQL, {"project": project.pk, "scheme": scheme.pk})
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    predictions = add_predictions(project) if args.predictions else 0
    print(
        json.dumps(
            {
                "built": built,
                "predictions": predictions,
                "seconds": time.perf_counter() - started,
                "articles": Article.objects.filter(project=project).count(),
                "comments": Comment.objects.filter(article__project=project).count(),
                "annotations": Annotation.objects.filter(project=project).count(),
            }
        )
    )


def add_predictions(project) -> int:
    """Give ``project`` the model ``bench-model`` predicting 4 questions of every comment,
    unless it has it already; the number of its predictions."""
    from django.db import connection, transaction

    from annotator.assist.models import MachineLabeller, Prediction
    from annotator.labelling.schemes import current_scheme_for

    model, made = MachineLabeller.objects.get_or_create(
        project=project,
        name="bench-model",
        version="1",
        defaults={"kind": MachineLabeller.Kind.IMPORTED, "config": {"source": "bench"}},
    )
    if made:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                PREDICTIONS_SQL,
                {
                    "model": model.pk,
                    "project": project.pk,
                    "version": current_scheme_for(project).version,
                },
            )
            cursor.execute("ANALYZE assist_prediction")
    return Prediction.objects.filter(labeller=model).count()


class CpuClock:
    """CPU seconds used by this process (every thread) and by the PostgreSQL backend serving
    Django's connection, read from /proc when the server runs on this machine (None when
    not). On a shared machine wall time moves with the neighbours; CPU time much less."""

    def __init__(self) -> None:
        from django.db import connection

        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self._backend = Path(f"/proc/{cursor.fetchone()[0]}/stat")
        self._start = self._read()

    def _read(self) -> tuple[float, float | None]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        try:  # fields 14 and 15 of /proc/PID/stat: user and system time in clock ticks
            fields = self._backend.read_text().rsplit(")", 1)[1].split()
            backend = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            backend = None
        return usage.ru_utime + usage.ru_stime, backend

    def used(self) -> dict[str, float | None]:
        """CPU seconds since this clock was made: ``client`` and ``database``."""
        client, backend = self._read()
        start_client, start_backend = self._start
        database = None if backend is None or start_backend is None else backend - start_backend
        return {"client_cpu": client - start_client, "database_cpu": database}


def _cpu_text(result: dict) -> str:
    text = f"CPU: Python {result['client_cpu']:.2f} s"
    if result.get("database_cpu") is not None:
        text += f", PostgreSQL {result['database_cpu']:.2f} s"
    return text


def child_export(args: argparse.Namespace) -> None:
    """Export the corpus in one format into a temporary file and print the figures (JSON)."""
    setup_django()
    from annotator.corpus.models import Project
    from annotator.datasets.options import ExportOptions
    from annotator.datasets.package import build_export

    project = Project.objects.get(slug=_slug(args.comments))
    options = ExportOptions(
        format=args.format, labels=args.labels, split=True, predictions=args.with_predictions
    )
    import annotator.datasets.exporters.parquet  # noqa: F401 - pyarrow's import is not export work

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    profiler = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryFile() as destination:
        clock = CpuClock()
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        summary = build_export(project, options, destination)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
        cpu = clock.used()
    report = ""
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(20)
        report = text.getvalue()
    print(
        json.dumps(
            {
                "comments": summary.comments,
                "seconds": seconds,
                "bytes": summary.bytes,
                "rss_before_mb": rss_before,
                **cpu,
                "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "profile": report,
            }
        )
    )


def child_copy(args: argparse.Namespace) -> None:
    """Time the bare COPY of the same rows, read and thrown away (JSON)."""
    setup_django()
    from django.db import connection

    from annotator.corpus.models import Project

    project = Project.objects.get(slug=_slug(args.comments))
    clock = CpuClock()
    rows = size = 0
    with connection.connection.cursor() as cursor:
        started = time.perf_counter()
        with cursor.copy(COPY_SQL.format(project=int(project.pk))) as copy:
            for block in copy:
                size += len(block)
                rows += bytes(block).count(b"\n")
        seconds = time.perf_counter() - started
    print(json.dumps({"rows": rows, "seconds": seconds, "bytes": size, **clock.used()}))


if __name__ == "__main__":
    main()
