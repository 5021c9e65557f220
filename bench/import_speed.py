"""How fast the JSON Lines import is, how much memory it takes, and how far from the limit.

Generates N comments in threads of about 50 (a mix of top-level comments and replies, some
replies before their parents, texts of 200-400 characters) as JSON Lines in a temporary
directory, imports them into a fresh project of the database in ``DATABASE_URL`` in a child
process, and prints comments, seconds, comments per second and the child's peak RSS. Then,
as the limit, it times a bare ``COPY corpus_comment FROM STDIN`` of the same rows,
pre-rendered, in a transaction it rolls back. See bench/README.md.
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

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench"
# Ids for the bare COPY, far above anything the sequences hand out; the rows are rolled back.
COPY_ID_BASE = 10**12
WORDS = (  # noqa: SIM905 - a sentence is easier to edit than a list of 60 strings
    "the army ceasefire aleppo russia lavrov kerry rebels civilians city talks west media "
    "people government war peace deal truth news report believe think never always again "
    "why would they could should agents intelligence syria assad palmyra militants east "
    "corridor humanitarian aid pocket surrender negotiate weeks months sources claim said "
    "nothing everything clear obvious strange funny sad long time before after still yet"
).split()
COMMENT_COLUMNS = (
    "id, article_id, parent_id, source_id, author, text, posted_at, position, depth, path, "
    "meta, created_at"
)


def main() -> None:
    """Parse the command line and run the benchmark (or one of its child steps)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--thread-size", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", choices=["import", "copy"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE)
    if args.child == "import":
        child_import(Path(args.dir))
    elif args.child == "copy":
        child_copy(Path(args.dir))
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    """Generate the corpus, then time the import and the bare COPY in child processes."""
    with tempfile.TemporaryDirectory(prefix="bench-import-") as directory:
        folder = Path(directory)
        started = time.perf_counter()
        articles = generate(folder, args.comments, args.thread_size, args.seed)
        size = (folder / "corpus.jsonl").stat().st_size
        print(
            f"generated {args.comments:,} comments in {articles:,} articles "
            f"({size / 1e6:,.1f} MB of JSON Lines) in {time.perf_counter() - started:.1f} s"
        )
        print(f"database: {safe_url(os.environ['DATABASE_URL'])}")
        imported = child("import", folder)
        import_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        bare = child("copy", folder)
        rate = imported["comments"] / imported["seconds"]
        bare_rate = bare["comments"] / bare["seconds"]
        print(
            f"import:   {imported['comments']:,} comments in {imported['seconds']:.2f} s = "
            f"{rate:,.0f} comments/s; peak RSS {import_rss:,.0f} MB "
            f"(of which Python and Django before the import: {imported['rss_before_mb']:,.0f} MB)"
        )
        print(
            f"bare COPY: {bare['comments']:,} rows in {bare['seconds']:.2f} s = "
            f"{bare_rate:,.0f} rows/s (same rows, pre-rendered, rolled back)"
        )
        print(f"import speed is {rate / bare_rate:.0%} of a bare COPY")


def child(step: str, folder: Path) -> dict:
    """Run one step in a fresh Python process and return the JSON it prints."""
    return run_step(__file__, step, "--dir", str(folder))


# --- The corpus ---------------------------------------------------------------------------------


def generate(folder: Path, total: int, thread_size: int, seed: int) -> int:
    """Write corpus.jsonl and, for the bare COPY, the same comments as COPY text rows."""
    rng = random.Random(seed)
    done = 0
    article_number = 0
    with (
        open(folder / "corpus.jsonl", "w", encoding="utf-8") as jsonl,
        open(folder / "comments.copy", "w", encoding="utf-8") as copy_rows,
    ):
        while done < total:
            size = min(total - done, rng.randint(thread_size // 2, thread_size * 3 // 2))
            article_id = f"article-{article_number}"
            article_pk = COPY_ID_BASE + article_number
            jsonl.write(
                json.dumps(
                    {
                        "type": "article",
                        "id": article_id,
                        "title": f"Article {article_number}",
                        "body": _text(rng, 150, 300),
                        "url": f"https://example.org/{article_number}",
                        "source": "Bench Gazette",
                        "published_at": "2016-12-08T10:00:00Z",
                    }
                )
                + "\n"
            )
            for line in _thread(rng, size, article_id, article_pk, done):
                jsonl.write(line[0])
                copy_rows.write(line[1])
            done += size
            article_number += 1
    (folder / "articles.json").write_text(json.dumps({"articles": article_number}))
    return article_number


def _thread(rng: random.Random, size: int, article_id: str, article_pk: int, first: int):
    """One thread: about a third top-level comments, the rest replies to recent ones."""
    parents: list[int | None] = []
    paths: list[str] = []
    children: dict[int | None, int] = {}
    lines = []
    for number in range(size):
        parent = None if number == 0 or rng.random() < 0.3 else max(0, number - rng.randint(1, 8))
        children[parent] = children.get(parent, 0) + 1
        position = children[parent]
        path = (paths[parent] if parent is not None else "") + f"{position:06d}"
        parents.append(parent)
        paths.append(path)
        source_id = f"c-{first + number}"
        text = _text(rng, 200, 400)
        author = f"Reader {rng.randint(1, 5000)}"
        posted = f"2016-12-08T{10 + number // 60 % 14:02d}:{number % 60:02d}:00+00:00"
        record = {
            "type": "comment",
            "id": source_id,
            "article_id": article_id,
            "parent_id": None if parent is None else f"c-{first + parent}",
            "author": author,
            "text": text,
            "posted_at": posted,
        }
        parent_pk = "\\N" if parent is None else str(COPY_ID_BASE + first + parent)
        row = (
            f"{COPY_ID_BASE + first + number}\t{article_pk}\t{parent_pk}\t{source_id}\t"
            f"{author}\t{text}\t{posted}\t{position}\t{len(path) // 6 - 1}\t{path}\t{{}}\t"
            f"{posted}\n"
        )
        lines.append((json.dumps(record) + "\n", row))
    # Some replies come before their parents, as they do in scraped exports.
    for index in range(1, len(lines)):
        if rng.random() < 0.05:
            lines[index - 1], lines[index] = lines[index], lines[index - 1]
    return lines


def _text(rng: random.Random, shortest: int, longest: int) -> str:
    length = rng.randint(shortest, longest)
    words: list[str] = []
    count = 0
    while count < length:
        word = rng.choice(WORDS)
        words.append(word)
        count += len(word) + 1
    return " ".join(words)[:length].strip().capitalize() + "."


# --- Child steps ------------------------------------------------------------------------------


def child_import(folder: Path) -> None:
    """Import corpus.jsonl into a new project and print the time it took (JSON)."""
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    from annotator.corpus.importers.loader import import_file
    from annotator.corpus.models import Project

    call_command("migrate", verbosity=0)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    project = Project.objects.create(name="Bench", slug=f"bench-{time.time_ns()}")
    started = time.perf_counter()
    result = import_file(project, folder / "corpus.jsonl", fmt="jsonl")
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:  # leave the bench database as it was
        cursor.execute(
            "DELETE FROM corpus_comment WHERE article_id IN "
            "(SELECT id FROM corpus_article WHERE project_id = %s)",
            [project.pk],
        )
    project.delete()
    print(
        json.dumps(
            {"comments": result.comments_added, "seconds": seconds, "rss_before_mb": rss_before}
        )
    )


def child_copy(folder: Path) -> None:
    """Time a bare COPY of the pre-rendered comment rows, then roll it back (JSON)."""
    setup_django()
    from django.db import connection, transaction

    from annotator.corpus.models import Project

    with transaction.atomic():
        project = Project.objects.create(name="Bench copy", slug=f"bench-copy-{time.time_ns()}")
        articles = json.loads((folder / "articles.json").read_text())["articles"]
        with connection.connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO corpus_article (id, project_id, source_id, title, body, url, "
                "source, meta, created_at) SELECT %s + n, %s, 'article-' || n, 'Article', '', "
                "'', '', '{}', now() FROM generate_series(0, %s - 1) AS n",
                [COPY_ID_BASE, project.pk, articles],
            )
            started = time.perf_counter()
            with (
                cursor.copy(f"COPY corpus_comment ({COMMENT_COLUMNS}) FROM STDIN") as copy,
                open(folder / "comments.copy", "rb") as rows,
            ):
                while block := rows.read(1 << 20):
                    copy.write(block)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred checks count too
            seconds = time.perf_counter() - started
            cursor.execute("SELECT count(*) FROM corpus_comment WHERE id >= %s", [COPY_ID_BASE])
            count = cursor.fetchone()[0]
        transaction.set_rollback(True)
    print(json.dumps({"comments": count, "seconds": seconds}))


if __name__ == "__main__":
    main()
