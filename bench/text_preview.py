"""The scraped-text preview at scale: reading a large thread once, then paging its preview.

Drops and re-creates the database in ``--database-url`` (its name must start with "bench"),
migrates it and writes a scraped thread of ``--comments`` comments (default 10,000; texts of
20-60 words from a vocabulary of common and rare words, named replies and questions mixed
in). It then prints:

* the reading (``previews.build_reading``: both passes over the file and the rows written),
  in seconds and comments per second, with the peak of Python's allocations (tracemalloc)
  next to the file's size: the reading streams, so the peak does not grow with the file;
* the preview pages as a browser gets them through Django's test client (first page, a page
  in the middle, the last one, the links to check, a page after a correction, the htmx
  re-render after a change and the "any comment above" search), each a median of
  ``--repeat`` runs with the size of its HTML (tests/corpus/test_previews.py asserts that
  their queries do not grow with the thread);
* the floor, measured in the same run: one row of the preview by primary key, through the
  ORM, and the page's own rows alone (one indexed query of a page of rows).

Run it on a quiet machine: ``.venv/bin/python bench/text_preview.py [--comments 10000]``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from benchdb import recreate_database, server_environment, setup_django

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_text_preview"
COMMON = [
    "the",
    "ceasefire",
    "army",
    "city",
    "talks",
    "people",
    "government",
    "rebels",
    "aid",
    "war",
    "peace",
    "town",
    "news",
    "report",
    "week",
    "side",
    "minister",
    "president",
    "support",
    "attack",
    "forces",
    "civilians",
    "truce",
    "deal",
]


def write_thread(path: Path, comments: int, seed: int = 7) -> None:
    """A scraped thread in the seed's format, written line by line."""
    rng = random.Random(seed)
    rare = [f"word{n}" for n in range(comments * 2)]
    with path.open("w", encoding="utf-8") as out:
        out.write("Talks resume in Geneva\n\nTalks resume in Geneva\n\n")
        out.write("Delegations met on Monday to discuss a ceasefire in the north.\n\n")
        out.write("The army said the convoy left on time.\n")
        for number in range(comments):
            words = [rng.choice(COMMON) for _ in range(rng.randint(20, 60))]
            words[rng.randrange(len(words))] = rng.choice(rare[: number * 2 + 2])
            text = " ".join(words).capitalize() + (" ?" if number % 6 == 0 else ".")
            if number % 5 == 2:
                out.write(f"\n\n\nReader{number % 97} Smith\n\n{text}\n")
            else:
                out.write(f"\n\n\n{text}\n")


def median_ms(action, repeat: int) -> float:
    """The median time of ``action()`` in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--comments", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-preview-") as directory:
        folder = Path(directory)
        os.environ.update(server_environment(args.database_url, folder))
        os.environ["ALLOWED_HOSTS"] = "testserver"
        recreate_database(args.database_url)
        setup_django()
        run(args, folder)


def run(args, folder: Path) -> None:
    from django.contrib.auth import get_user_model
    from django.core.files import File
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from annotator.corpus.models import ImportJob, Membership, PreviewComment, Project, Role
    from annotator.corpus.previews import build_reading

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    path = folder / "thread.txt"
    write_thread(path, args.comments)
    size = path.stat().st_size
    project = Project.objects.create(name="Bench", slug="bench")
    admin = get_user_model().objects.create_user("bench-admin", password="x")
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    with path.open("rb") as stream:
        job = ImportJob.objects.create(
            project=project,
            created_by=admin,
            format="text",
            status=ImportJob.Status.READING,
            file=File(stream, name="thread.txt"),
            original_name="thread.txt",
            total_bytes=size,
        )

    start = time.perf_counter()
    build_reading(job)
    seconds = time.perf_counter() - start
    # Again under tracemalloc (which slows Python down) for the peak of its allocations.
    tracemalloc.start()
    build_reading(job)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.PREVIEW)
    job.refresh_from_db()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE corpus_previewcomment")
    count = job.reading["comments"]
    print(f"thread: {count:,} comments, {size / 1e6:.1f} MB")
    print(
        f"reading: {seconds:.1f} s ({count / seconds:,.0f} comments/s), "
        f"peak Python allocations {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"
    )

    client = Client()
    client.force_login(admin)
    url = reverse("corpus:import_detail", args=[project.slug, job.pk])
    save = reverse("corpus:import_preview_save", args=[project.slug, job.pk])
    search = reverse("corpus:import_preview_search", args=[project.slug, job.pk])
    rows = list(
        PreviewComment.objects.filter(job=job).order_by("position").values_list("line", flat=True)
    )
    middle = rows[len(rows) // 2]
    pages = (count + 99) // 100

    def measure(label: str, method: str, target: str, data: dict, **headers) -> None:
        call = getattr(client, method)
        response = call(target, data, headers=headers)
        assert response.status_code == 200, (label, response.status_code)
        ms = median_ms(lambda: call(target, data, headers=headers), args.repeat)
        print(f"  {label:<44} {ms:8.1f} ms  {len(response.content) / 1024:7.0f} KB")

    print(f"preview pages (median of {args.repeat}):")
    measure("first page", "get", url, {})
    measure(f"page {pages // 2} of {pages}", "get", url, {"page": pages // 2})
    measure(f"last page ({pages})", "get", url, {"page": pages})
    measure("links to check only", "get", url, {"show": "unsure"})
    measure(
        "search 'any comment above' by words",
        "get",
        search,
        {"before": middle, f"other-parent-{middle}": "word12 the"},
    )
    measure(
        "search by line number",
        "get",
        search,
        {"before": middle, f"other-parent-{middle}": str(rows[3])},
    )
    client.post(save, {"page": pages // 2, f"parent-{middle}": "article"})
    measure("a page after a correction", "get", url, {"page": pages // 2})
    measure(
        "htmx re-render after a change",
        "post",
        save,
        {"page": pages // 2, f"parent-{middle}": "article"},
        HX_Request="true",
    )

    one = PreviewComment.objects.filter(job=job).order_by("position")[count // 2]
    floor_row = median_ms(lambda: PreviewComment.objects.get(pk=one.pk), args.repeat * 3)
    floor_page = median_ms(
        lambda: list(
            PreviewComment.objects.filter(job=job, position__gte=count // 2).order_by("position")[
                :100
            ]
        ),
        args.repeat * 3,
    )
    print(
        f"floor: one row by primary key {floor_row:.2f} ms; a page of 100 rows {floor_page:.2f} ms"
    )


if __name__ == "__main__":
    main()
