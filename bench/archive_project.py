"""How fast a project archives and restores, and how much memory each takes.

On the PostgreSQL database in ``--database-url`` (its name must start with "bench"; it is
dropped and created afresh), builds a project of ``--comments`` comments (threads of 50:
ten top-level comments with four replies each) and two submitted annotations per comment,
with plain ``INSERT ... SELECT`` statements (``--reuse`` keeps one from an earlier run: each
run restores under a new slug). Then, each in a fresh child process so that its
peak RSS is its own, it runs ``archive_project`` into a temporary file and
``restore_project`` of that file under another slug, and prints seconds, rows per second,
the archive's size and the peak RSS. As the floors, in the same run: a bare ``COPY (SELECT
...) TO STDOUT`` of the same comments and annotations, read and thrown away (what the
archive must at least read), and a bare read of the archive file (gunzip and parse every
line, no database: what the restore must at least do before writing).
See docs/archives.md for figures.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from benchdb import bench_database_name, create_database, run_step, setup_django

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_archive"
SLUG = "bench-archive"

ARTICLES_SQL = """
INSERT INTO corpus_article (project_id, source_id, title, body, url, source, meta, created_at)
SELECT %(project)s, 'article-' || g, 'Article ' || g, 'The body of article ' || g, '', 'Bench',
       '{}'::jsonb, now()
FROM generate_series(1, %(articles)s) g
"""
TOP_SQL = """
INSERT INTO corpus_comment (article_id, parent_id, source_id, author, text, position, depth,
                            path, meta, created_at, posted_at)
SELECT a.id, NULL, 't' || t, 'author ' || (t %% 17),
       'A top-level comment, number ' || t || ', about the article at some length.',
       t, 0, lpad(t::text, 6, '0'), '{"score": 1}'::jsonb, now(), now()
FROM corpus_article a CROSS JOIN generate_series(1, 10) t
WHERE a.project_id = %(project)s
"""
REPLIES_SQL = """
INSERT INTO corpus_comment (article_id, parent_id, source_id, author, text, position, depth,
                            path, meta, created_at, posted_at)
SELECT c.article_id, c.id, c.source_id || '-' || r, 'author ' || (r %% 13),
       'A reply, number ' || r || ', that disagrees with its parent for a sentence or two.',
       r, 1, c.path || lpad(r::text, 6, '0'), '{}'::jsonb, now(), now()
FROM corpus_comment c JOIN corpus_article a ON a.id = c.article_id
CROSS JOIN generate_series(1, 4) r
WHERE a.project_id = %(project)s AND c.depth = 0
"""
ANNOTATIONS_SQL = """
INSERT INTO labelling_annotation (
    project_id, comment_id, annotator_id, scheme_id, answers, answered_under, status,
    skip_reason, flagged, note, time_spent_ms, revision, created_at, updated_at, submitted_at,
    stale_answers, suggestions
)
SELECT %(project)s, c.id, u.id, %(scheme)s,
       jsonb_build_object(
           'stance_article', (ARRAY['support', 'deny', 'query', 'comment'])[1 + (c.id + u.id) %% 4],
           'claim_type', 'opinion', 'speculation', 'certain', 'source_cited', '["none"]'::jsonb),
       '{"stance_article": 1, "claim_type": 1, "speculation": 1, "source_cited": 1}'::jsonb,
       'submitted', '', false, '', 20000, 1, now(), now(), now(), '{}'::jsonb, '{}'::jsonb
FROM corpus_comment c JOIN corpus_article a ON a.id = c.article_id
CROSS JOIN (SELECT id FROM auth_user WHERE username LIKE 'bench-archive-%%') u
WHERE a.project_id = %(project)s
"""
COPY_SQL = [
    "COPY (SELECT c.* FROM corpus_comment c JOIN corpus_article a ON a.id = c.article_id "
    "WHERE a.project_id = {project} ORDER BY c.article_id, c.path) TO STDOUT",
    "COPY (SELECT * FROM labelling_annotation WHERE project_id = {project} ORDER BY id) TO STDOUT",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database's project from an earlier run"
    )
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--file", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.database_url = args.database_url or DEFAULT_DATABASE
    os.environ["DATABASE_URL"] = args.database_url
    steps = {
        "setup": child_setup,
        "archive": child_archive,
        "restore": child_restore,
        "copy": child_copy,
        "read": child_read,
    }
    if args.child:
        result = steps[args.child](args)
        result["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    name = bench_database_name(args.database_url)
    create_database(args.database_url, drop=not args.reuse)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; database {name}")
    built = run_step(__file__, "setup", "--comments", str(args.comments))
    print(
        f"project: {built['comments']:,} comments, {built['annotations']:,} annotations "
        + (f"(built in {built['seconds']:.0f} s)" if built["built"] else "(reused)")
    )
    rows = built["comments"] + built["annotations"]
    with tempfile.TemporaryDirectory() as folder:
        archive = str(Path(folder) / "bench.jsonl.gz")
        floor = run_step(__file__, "copy", "--comments", str(args.comments))
        print(f"floor, bare COPY of the same rows: {floor['seconds']:.1f} s")
        done = run_step(__file__, "archive", "--file", archive)
        print(
            f"archive_project: {done['seconds']:.1f} s, {rows / done['seconds']:,.0f} rows/s, "
            f"{done['seconds'] / floor['seconds']:.1f}x the COPY; {done['bytes'] / 1e6:,.0f} MB "
            f"file; peak RSS {done['rss_peak_mb']:,.0f} MB"
        )
        floor = run_step(__file__, "read", "--file", archive)
        print(f"floor, bare read of the archive (gunzip + parse): {floor['seconds']:.1f} s")
        done = run_step(__file__, "restore", "--file", archive)
        print(
            f"restore_project: {done['seconds']:.1f} s, {rows / done['seconds']:,.0f} rows/s, "
            f"{done['seconds'] / floor['seconds']:.1f}x the bare read; "
            f"peak RSS {done['rss_peak_mb']:,.0f} MB"
        )


def child_setup(args: argparse.Namespace) -> dict:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from annotator.corpus.models import Comment, Membership, Project, Role
    from annotator.labelling.models import Annotation, LabelScheme

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    project = Project.objects.filter(slug=SLUG).first()
    if project is not None:  # --reuse
        return {
            "built": False,
            "seconds": 0,
            "comments": Comment.objects.filter(article__project=project).count(),
            "annotations": Annotation.objects.filter(project=project).count(),
        }
    project = Project.objects.create(name="Archive bench", slug=SLUG)
    for i in range(2):
        user = get_user_model().objects.create_user(f"bench-archive-{i}")
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
    scheme = LabelScheme.objects.current_for(project)
    params = {"project": project.pk, "articles": max(1, args.comments // 50), "scheme": scheme.pk}
    with connection.cursor() as cursor:
        for sql in (ARTICLES_SQL, TOP_SQL, REPLIES_SQL, ANNOTATIONS_SQL):
            cursor.execute(sql, params)
        cursor.execute("ANALYZE")
    return {
        "built": True,
        "seconds": time.perf_counter() - started,
        "comments": Comment.objects.filter(article__project=project).count(),
        "annotations": Annotation.objects.filter(project=project).count(),
    }


def child_copy(args: argparse.Namespace) -> dict:
    setup_django()
    from django.db import connection

    from annotator.corpus.models import Project

    project = Project.objects.get(slug=SLUG)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for sql in COPY_SQL:
            with cursor.cursor.copy(sql.format(project=project.pk)) as copy:
                for _block in copy:
                    pass
    return {"seconds": time.perf_counter() - started}


def child_archive(args: argparse.Namespace) -> dict:
    setup_django()
    from annotator.archives.writing import archive_project
    from annotator.corpus.models import Project

    project = Project.objects.get(slug=SLUG)
    started = time.perf_counter()
    with open(args.file, "wb") as out:
        archive_project(project, out)
    return {"seconds": time.perf_counter() - started, "bytes": os.path.getsize(args.file)}


def child_read(args: argparse.Namespace) -> dict:
    import orjson

    started = time.perf_counter()
    lines = 0
    with gzip.open(args.file, "rb") as stream:
        for line in stream:
            orjson.loads(line)
            lines += 1
    return {"seconds": time.perf_counter() - started, "lines": lines}


def child_restore(args: argparse.Namespace) -> dict:
    setup_django()
    from annotator.archives.restoring import restore_project

    started = time.perf_counter()
    with open(args.file, "rb") as archive:
        result = restore_project(archive, slug=f"{SLUG}-restored-{os.getpid()}")
    return {"seconds": time.perf_counter() - started, "counts": result.counts}


if __name__ == "__main__":
    sys.exit(main())
