"""How fast a zstandard-compressed Reddit dump imports, next to the same corpus as JSON Lines.

Generates N comments in threads of about 50 (one submission each) the way the per-subreddit
dumps come: a submissions file and a comments file, comments ordered by time across all
threads (so threads interleave), a few replies before their parents, ``created_utc`` as a
number or a numeric string, the comments compressed with a long window (``--window-log``,
28 by default: more than zstandard's default limit of 2**27, as real dumps are). It writes
the same articles and comments as canonical JSON Lines, imports each into a fresh project in
a child process, and prints comments per second, the dump's rate as a share of the JSON Lines
rate (floor: 70%) and each child's peak RSS (floor: under 300 MB).

The database is ``DATABASE_URL`` (a PostgreSQL database of your own), else a new SQLite
file in the temporary directory. ``--no-zstd`` writes the comments dump uncompressed, to
tell the parser's cost from the decompression's. See bench/README.md.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchdb import run_step, safe_url, setup_django
from import_speed import _text

T0 = 1_480_550_400  # 2016-12-01T00:00:00Z
SUBREDDIT, SUBREDDIT_ID = "worldnews", "t5_2qh13"
RATIO_FLOOR = 0.70
RSS_FLOOR_MB = 300


def main() -> None:
    """Parse the command line and run the benchmark (or one of its child steps)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--thread-size", type=int, default=50)
    parser.add_argument("--window-log", type=int, default=28)
    parser.add_argument("--no-zstd", action="store_true", help="write the dump uncompressed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", choices=["migrate", "jsonl", "dump"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_import(args.child, Path(args.dir))
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    """Generate the two corpora, then time each import in a child process of its own."""
    with tempfile.TemporaryDirectory(prefix="bench-reddit-") as directory:
        folder = Path(directory)
        os.environ.setdefault("DATABASE_URL", f"sqlite:///{folder / 'bench.sqlite3'}")
        started = time.perf_counter()
        threads = generate(folder, args)
        sizes = {path.name: path.stat().st_size for path in sorted(folder.iterdir())}
        print(
            f"generated {args.comments:,} comments in {threads:,} submissions in "
            f"{time.perf_counter() - started:.1f} s: "
            + ", ".join(f"{name} {size / 1e6:,.1f} MB" for name, size in sizes.items())
        )
        print(f"database: {safe_url(os.environ['DATABASE_URL'])}")
        run_step(__file__, "migrate", "--dir", str(folder))  # not inside a measured child
        jsonl = run_step(__file__, "jsonl", "--dir", str(folder))
        dump = run_step(__file__, "dump", "--dir", str(folder))
        jsonl_rate = jsonl["comments"] / jsonl["seconds"]
        dump_rate = dump["comments"] / dump["seconds"]
        ratio = dump_rate / jsonl_rate
        for name, result, rate in (("JSON Lines", jsonl, jsonl_rate), ("dump", dump, dump_rate)):
            print(
                f"{name:>10}: {result['comments']:,} comments, {result['articles']:,} articles "
                f"in {result['seconds']:.2f} s = {rate:,.0f} comments/s; peak RSS "
                f"{result['rss_mb']:,.0f} MB (Python and Django before: "
                f"{result['rss_before_mb']:,.0f} MB)"
            )
        print(
            f"dump rate is {ratio:.0%} of the JSON Lines rate (floor {RATIO_FLOOR:.0%}): "
            f"{'ok' if ratio >= RATIO_FLOOR else 'BELOW THE FLOOR'}; dump peak RSS "
            f"{dump['rss_mb']:,.0f} MB (floor < {RSS_FLOOR_MB} MB): "
            f"{'ok' if dump['rss_mb'] < RSS_FLOOR_MB else 'OVER THE FLOOR'}"
        )
        if dump.get("notices"):
            print(f"dump notices: {dump['notices']}")


# --- The corpus ---------------------------------------------------------------------------------


def base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = digits[digit] + out
        if not number:
            return out


def generate(folder: Path, args: argparse.Namespace) -> int:
    """Write RS (submissions), RC (comments, .zst unless --no-zstd) and corpus.jsonl."""
    rng = random.Random(args.seed)
    sizes = []
    done = 0
    while done < args.comments:
        size = min(
            args.comments - done, rng.randint(args.thread_size // 2, args.thread_size * 3 // 2)
        )
        sizes.append(size)
        done += size
    span = 30 * 24 * 3600 // max(1, len(sizes))  # the submissions of a month
    submissions = []
    with open(folder / "RS_bench.ndjson", "w", encoding="utf-8") as rs:
        for number in range(len(sizes)):
            submission = _submission(rng, number, T0 + number * span)
            submissions.append(submission)
            rs.write(json.dumps(submission, separators=(",", ":")) + "\n")
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as jsonl:
        for submission in submissions:
            jsonl.write(json.dumps(_article(submission)) + "\n")
        rc_path = folder / ("RC_bench.ndjson" if args.no_zstd else "RC_bench.zst")
        with open(rc_path, "wb") as raw:
            sink = raw if args.no_zstd else _zstd_writer(raw, args.window_log)
            _write_comments(rng, sizes, span, sink, jsonl)
            if sink is not raw:
                sink.close()
    return len(sizes)


def _zstd_writer(raw, window_log: int):
    import zstandard

    params = zstandard.ZstdCompressionParameters.from_level(
        3, window_log=window_log, write_content_size=False
    )
    compressor = zstandard.ZstdCompressor(compression_params=params)
    return compressor.stream_writer(raw, closefd=False)


def _submission(rng: random.Random, number: int, created: int) -> dict:
    link = base36(36**5 + number)
    return {
        "author": f"poster_{rng.randint(1, 3000)}",
        "created_utc": created,
        "domain": "example.org",
        "id": link,
        "is_self": False,
        "num_comments": 0,
        "over_18": False,
        "permalink": f"/r/{SUBREDDIT}/comments/{link}/bench_story_{number}/",
        "retrieved_on": created + 86_400 * 40,
        "score": rng.randint(1, 20_000),
        "selftext": "",
        "subreddit": SUBREDDIT,
        "subreddit_id": SUBREDDIT_ID,
        "title": f"Bench story {number}: " + _text(rng, 40, 120),
        "url": f"https://example.org/world/{number}",
    }


def _article(submission: dict) -> dict:
    """The submission as the canonical JSON Lines article the dump's parser makes of it."""
    return {
        "type": "article",
        "id": submission["id"],
        "title": submission["title"],
        "body": "",
        "url": "https://www.reddit.com" + submission["permalink"],
        "source": f"reddit r/{SUBREDDIT}",
        "published_at": _iso(submission["created_utc"]),
        "meta": {
            "subreddit": SUBREDDIT,
            "author": submission["author"],
            "score": submission["score"],
            "num_comments": 0,
            "permalink": submission["permalink"],
            "link_url": submission["url"],
        },
    }


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _thread(rng: random.Random, thread: int, size: int, start: int, first: int):
    """One thread's comments in time order: (time, id, parent id or None, link id)."""
    link = base36(36**5 + thread)
    moment = start
    ids: list[str] = []
    for number in range(size):
        moment += 1 + int(rng.expovariate(1 / 600))
        parent = None if number == 0 or rng.random() < 0.3 else max(0, number - rng.randint(1, 8))
        source_id = base36(36**6 + first + number)
        ids.append(source_id)
        yield moment, source_id, None if parent is None else ids[parent], link


def _write_comments(rng: random.Random, sizes: list[int], span: int, rc, jsonl) -> None:
    """All threads merged by time, as a dump orders them; a few replies swapped before
    their parents (late ingestion); the same comments to both files."""
    threads = []
    first = 0
    for thread, size in enumerate(sizes):
        threads.append(
            _thread(random.Random(rng.random()), thread, size, T0 + thread * span, first)
        )
        first += size
    previous = None
    for item in heapq.merge(*threads):
        if previous is not None and rng.random() < 0.02:
            item, previous = previous, item  # this one goes out before the earlier one
        if previous is not None:
            _write_comment(rng, previous, rc, jsonl)
        previous = item
    if previous is not None:
        _write_comment(rng, previous, rc, jsonl)


def _write_comment(rng: random.Random, item: tuple, rc, jsonl) -> None:
    moment, source_id, parent, link = item
    text = _text(rng, 200, 400)
    author = f"reader_{rng.randint(1, 50_000)}"
    score = rng.randint(-5, 500)
    created: int | str = str(moment) if rng.random() < 0.1 else moment
    record = {
        "author": author,
        "author_flair_css_class": None,
        "author_flair_text": None,
        "body": text,
        "controversiality": 0,
        "created_utc": created,
        "distinguished": None,
        "edited": False,
        "gilded": 0,
        "id": source_id,
        "link_id": f"t3_{link}",
        "parent_id": f"t1_{parent}" if parent else f"t3_{link}",
        "retrieved_on": moment + 86_400 * 40,
        "score": score,
        "stickied": False,
        "subreddit": SUBREDDIT,
        "subreddit_id": SUBREDDIT_ID,
    }
    rc.write((json.dumps(record, separators=(",", ":")) + "\n").encode())
    canonical = {
        "type": "comment",
        "id": source_id,
        "article_id": link,
        "parent_id": parent,
        "author": author,
        "text": text,
        "posted_at": _iso(moment),
        "meta": {"score": score, "subreddit": SUBREDDIT},
    }
    jsonl.write(json.dumps(canonical) + "\n")


# --- Child steps ------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak RSS: Linux's VmHWM, which starts afresh at exec (``ru_maxrss``
    keeps the parent's peak at fork, and the parent holds the generator's heap)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_import(step: str, folder: Path) -> None:
    """Import one corpus into a new project, print time, counts and peak RSS (JSON)."""
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    from annotator.corpus.importers.loader import import_file
    from annotator.corpus.models import Project

    call_command("migrate", verbosity=0)
    if step == "migrate":
        print("{}")
        return
    rss_before = peak_rss_mb()
    project = Project.objects.create(name="Bench", slug=f"bench-reddit-{time.time_ns()}")
    if step == "jsonl":
        paths = [folder / "corpus.jsonl"]
    else:
        comments = folder / "RC_bench.zst"
        paths = [
            folder / "RS_bench.ndjson",
            comments if comments.exists() else folder / "RC_bench.ndjson",
        ]
    started = time.perf_counter()
    results = [import_file(project, path) for path in paths]
    seconds = time.perf_counter() - started
    rss = peak_rss_mb()
    with connection.cursor() as cursor:  # leave the bench database as it was
        cursor.execute(
            "DELETE FROM corpus_comment WHERE article_id IN "
            "(SELECT id FROM corpus_article WHERE project_id = %s)",
            [project.pk],
        )
    project.delete()
    notices = [repr(getattr(result, "notices", None)) for result in results]
    print(
        json.dumps(
            {
                "comments": sum(result.comments_added for result in results),
                "articles": sum(result.articles_added for result in results),
                "seconds": seconds,
                "rss_mb": rss,
                "rss_before_mb": rss_before,
                "notices": [notice for notice in notices if notice not in ("None", "[]", "{}")],
            }
        )
    )


if __name__ == "__main__":
    main()
