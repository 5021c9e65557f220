"""How fast the reviewer's disagreement queue is on a large project, on PostgreSQL.

Drops and re-creates the database in ``--database-url`` (its name must start with "bench"),
migrates it and builds a project of ``--comments`` comments (default 20,000) in threads of
``--thread-size``, which three annotators have all labelled, about ``--disagree`` of the
comments (default 30%) with answers that differ. Then, in this process (Django's test client,
no HTTP), it prints: the queue's compute time cold and warm, the queue page, the time to find
the next comment after a gold save (and after a label changed), and bulk accept of the
unanimous comments. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from benchdb import recreate_database, server_environment, setup_django

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_review"
SLUG = "bench-review"
ANNOTATORS = 3
FLAGGED_SHARE = 0.01  # unanimous comments an annotator flagged for review anyway
TOP = {
    "stance_article": "support",
    "claim_type": "opinion",
    "speculation": "certain",
    "source_cited": ["none"],
}
REPLY = {**TOP, "stance_parent": "deny"}
# What a disagreeing annotator changes: one to three questions.
CHANGES = [
    {"stance_article": "deny"},
    {"speculation": "uncertain"},
    {"stance_article": "query", "claim_type": "factual", "checkworthy": "yes"},
    {"source_cited": ["link", "reasoning"], "speculation": "somewhat_certain"},
]


def main() -> None:
    """Parse the command line, build the project and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE,
        help="dropped and re-created; its name must start with 'bench' (default: %(default)s)",
    )
    parser.add_argument("--comments", type=int, default=20_000, help="default: %(default)s")
    parser.add_argument("--thread-size", type=int, default=50, help="default: %(default)s")
    parser.add_argument(
        "--disagree",
        type=float,
        default=0.3,
        help="share of comments whose annotators disagree (default: %(default)s)",
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="timings per figure, median (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--cache-url",
        default="",
        help="a Redis (CACHE_URL) to measure the scores shared between processes with, e.g. "
        "redis://127.0.0.1:6379/6 (only this script's keys are touched)",
    )
    args = parser.parse_args()
    if args.comments < 10 or args.thread_size < 1 or args.repeat < 1:
        parser.error("--comments must be at least 10, --thread-size and --repeat at least 1")
    if not 0 <= args.disagree <= 1:
        parser.error("--disagree is a share between 0 and 1")
    with tempfile.TemporaryDirectory(prefix="bench-review-") as directory:
        os.environ.update(server_environment(args.database_url, Path(directory)))
        if args.cache_url:
            os.environ.update(CACHE_URL=args.cache_url, CACHE_KEY_PREFIX=SLUG)
        recreate_database(args.database_url)
        started = time.perf_counter()
        build_project(args)
        print(f"built in {time.perf_counter() - started:.1f} s", flush=True)
        measure(args)
        if args.cache_url:
            forget()  # the published scores would otherwise stay in that Redis for a day


def answers_for(rng: random.Random, is_reply: bool, disagree: float) -> list[dict]:
    """The three annotators' answers for one comment: equal, or one of them differing."""
    base = REPLY if is_reply else TOP
    answers = [dict(base) for _ in range(ANNOTATORS)]
    if rng.random() < disagree:
        answers[rng.randrange(ANNOTATORS)].update(rng.choice(CHANGES))
    return answers


def build_project(args: argparse.Namespace) -> None:
    """Migrate; a project, its threads, three annotators who labelled everything, a reviewer."""
    setup_django()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from annotator.corpus.models import Article, Comment, Membership, Project, Role
    from annotator.labelling.models import Annotation
    from annotator.labelling.schemes import current_scheme_for
    from tests.factories import make_thread

    call_command("migrate", verbosity=0)
    # DEBUG=0 serves static files from the manifest, so pages need collectstatic first.
    call_command("collectstatic", interactive=False, verbosity=0)
    project = Project.objects.create(name="Bench review", slug=SLUG)
    scheme = current_scheme_for(project)
    sizes = [args.thread_size] * (args.comments // args.thread_size)
    if args.comments % args.thread_size:
        sizes.append(args.comments % args.thread_size)
    articles = Article.objects.bulk_create(
        Article(project=project, source_id=f"article-{n}", title=f"Ceasefire talks, day {n}")
        for n in range(len(sizes))
    )
    for article, size in zip(articles, sizes, strict=True):
        make_thread(article, size)
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=name, password=make_password(None))
        for name in [f"annotator{n}" for n in range(ANNOTATORS)] + ["reviewer"]
    )
    Membership.objects.bulk_create(
        Membership(project=project, user=user, role=Role.ANNOTATOR) for user in users[:-1]
    )
    Membership.objects.create(project=project, user=users[-1], role=Role.REVIEWER)
    rng = random.Random(args.seed)
    # Labelled yesterday, as in a project under review (not within the last minute, which
    # the queue reads again after a change: see SINCE_MARGIN in annotator/review/queue.py).
    now = timezone.now() - timedelta(days=1)
    rows = []
    comments = Comment.objects.filter(article__project=project).order_by("pk")
    for comment_id, parent_id in comments.values_list("pk", "parent_id"):
        answer_sets = answers_for(rng, parent_id is not None, args.disagree)
        flag = rng.randrange(ANNOTATORS) if rng.random() < FLAGGED_SHARE else None
        for number, (user, answers) in enumerate(zip(users, answer_sets, strict=False)):
            rows.append(
                Annotation(
                    project=project,
                    comment_id=comment_id,
                    annotator=user,
                    scheme=scheme,
                    answers=answers,
                    answered_under=dict.fromkeys(answers, scheme.version),
                    status=Annotation.Status.SUBMITTED,
                    flagged=number == flag,
                    created_at=now,
                    updated_at=now,
                    submitted_at=now,
                )
            )
    Annotation.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics, as autovacuum would have them
    print(
        f"project: {len(rows) // ANNOTATORS:,} comments in {len(sizes):,} threads, "
        f"{len(rows):,} submitted labels by {ANNOTATORS} annotators",
        flush=True,
    )


def timed(action: Callable[[], object], before: Callable[[], object] | None = None) -> tuple:
    """(milliseconds, queries, result) of one call of ``action``; ``before`` runs untimed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if before is not None:
        before()
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        result = action()
        milliseconds = (time.perf_counter() - started) * 1000
    return milliseconds, len(captured.captured_queries), result


def repeated(count: int, action: Callable[[], object], before=None) -> tuple[float, int]:
    """Median milliseconds and the queries of the last of ``count`` calls."""
    runs = [timed(action, before) for _ in range(count)]
    return statistics.median(ms for ms, _, _ in runs), runs[-1][1]


def forget() -> None:
    """Drop what the queue keeps between requests, in this process and in a shared cache
    (nothing to drop before the cache)."""
    from annotator.corpus.models import Project
    from annotator.review import queue

    getattr(queue, "forget_scores", lambda: None)()
    if hasattr(queue, "_shared_key"):
        from django.core.cache import caches

        caches["default"].delete(queue._shared_key(Project.objects.get(slug=SLUG)))


def measure_shared(project, scheme, n: int, compute: Callable, show: Callable) -> None:
    """What sharing the scores through Redis costs and saves: their pickled size, publishing
    and loading them, and a process that starts with nothing but the published scores."""
    import pickle
    from dataclasses import replace

    from annotator.labelling.models import Annotation
    from annotator.review import queue

    compute()
    scored = replace(queue.scored_project(project, scheme), samples={})
    started = time.perf_counter()
    blob = pickle.dumps(scored, pickle.HIGHEST_PROTOCOL)
    dumps = (time.perf_counter() - started) * 1000
    unpickle = lambda: pickle.loads(blob)  # noqa: E731, S301 - the bytes dumped just above
    loads = statistics.median(timed(unpickle)[0] for _ in range(n))
    version, now = queue.read_version(project, scheme), timezone_now()
    scoring = lambda: queue._score_all(project, scheme, version, now)  # noqa: E731
    scratch = statistics.median(timed(scoring)[0] for _ in range(n))
    print(
        f"scores pickled: {len(blob) / 1e6:.1f} MB, dumps {dumps:.0f} ms, loads {loads:.0f} ms; "
        f"scoring them from scratch (the floor, no publishing) {scratch:.0f} ms"
    )
    show("queue compute, new process, published scores", *repeated(n, compute, queue.forget_scores))
    # The published scores one label behind: a new process catches up on that label only.
    annotation = Annotation.objects.filter(project=project).order_by("pk").first()

    def one_label_behind():
        forget()
        compute()
        queue.forget_scores()
        Annotation.objects.filter(pk=annotation.pk).update(
            revision=annotation.revision + 1, updated_at=timezone_now()
        )
        annotation.revision += 1

    show(
        "queue compute, new process, published scores 1 label behind",
        *repeated(n, compute, one_label_behind),
    )


def timezone_now():
    from django.utils import timezone

    return timezone.now()


def measure(args: argparse.Namespace) -> None:
    """Every figure, in an order that leaves the data as each one needs it."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.test import Client
    from django.urls import reverse

    from annotator.corpus.models import Comment, Project
    from annotator.labelling.annotations import Submission, save_annotation
    from annotator.labelling.models import Annotation
    from annotator.labelling.schemes import current_scheme_for
    from annotator.review.gold import accept_unanimous, save_gold
    from annotator.review.queue import next_in_queue, review_state

    project = Project.objects.get(slug=SLUG)
    scheme = current_scheme_for(project)
    reviewer = get_user_model().objects.get(username="reviewer")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(reviewer)
    queue_url = reverse("review:queue", args=[SLUG])
    n = args.repeat

    def compute():
        return review_state(project, scheme=scheme)

    state = compute()
    print(
        f"queue: {state.disagreeing_count:,} disagreeing, {state.needs_look_count:,} flagged or "
        f"incomplete, {len(state.unanimous):,} unanimous\n"
    )
    print(f"{'figure':<48} {'ms':>8} {'queries':>8}")

    def show(what: str, milliseconds: float, queries: int) -> None:
        print(f"{what:<48} {milliseconds:>8.1f} {queries:>8}", flush=True)

    show("queue compute, cold", *repeated(n, compute, before=forget))
    compute()
    show("queue compute, warm", *repeated(n, compute))
    if args.cache_url:
        measure_shared(project, scheme, n, compute, show)
    page = lambda: client.get(queue_url)  # noqa: E731
    show("queue page (GET), cold", *repeated(n, page, before=forget))
    page()
    show("queue page (GET), warm", *repeated(n, page))
    show("queue page 50 (GET), warm", *repeated(n, lambda: client.get(queue_url + "?page=50")))

    # Enter on the adjudication page: save gold, then find the next comment and render it.
    worst = [item.comment_id for item in compute().queue[: 2 * n + 1]]
    comments = Comment.objects.select_related("article").in_bulk(worst)

    def answers(comment_id: int) -> dict:
        return REPLY if comments[comment_id].parent_id else TOP

    page()  # warm, as when the reviewer starts from the queue page
    save_times, save_queries = [], 0
    for comment_id in worst[:n]:
        url = reverse("review:save", args=[SLUG, comment_id])
        ms, save_queries, response = timed(
            lambda url=url, c=comment_id: client.post(
                url, {**answers(c), "revision": 0}, headers={"HX-Request": "true"}
            )
        )
        assert response.status_code == 200, response.status_code
        save_times.append(ms)
    show("gold save + next comment (POST, htmx)", statistics.median(save_times), save_queries)

    def find_next(after: int):
        return lambda: next_in_queue(review_state(project, scheme=scheme, keep=after).queue, after)

    find_times, find_queries = [], 0
    for comment_id in worst[n : 2 * n]:
        save_gold(comments[comment_id], answers(comment_id), reviewer, revision=0, scheme=scheme)
        ms, find_queries, _ = timed(find_next(comment_id))
        find_times.append(ms)
    show("find the next comment after a gold save", statistics.median(find_times), find_queries)

    # An annotator changes a submitted label: the queue must see it at once.
    label_times, label_queries = [], 0
    annotations = list(
        Annotation.objects.filter(project=project, comment__gold__isnull=True)
        .select_related("comment__article", "annotator")
        .order_by("-pk")[:n]
    )
    for annotation in annotations:
        changed = {**annotation.answers, "speculation": "uncertain"}
        result = save_annotation(
            comment=annotation.comment,
            annotator=annotation.annotator,
            scheme=scheme,
            submission=Submission(answers=changed),
            base_revision=annotation.revision,
            action="submit",
        )
        assert result.ok, result.errors
        ms, label_queries, _ = timed(find_next(worst[-1]))
        label_times.append(ms)
    show(
        "find the next comment after a label change", statistics.median(label_times), label_queries
    )

    # Bulk accept: once from a warm queue (the reviewer has the page open), once cold; each
    # rolled back so both accept the same comments.
    class Undo(Exception):
        pass

    for what, before in (("warm", page), ("cold", forget)):
        try:
            with transaction.atomic():
                ms, queries, accepted = timed(lambda: accept_unanimous(project, reviewer), before)
                raise Undo
        except Undo:
            pass
        forget()
        show(f"bulk accept ({accepted:,} comments), {what}", ms, queries)
    accept_unanimous(project, reviewer)
    ms, queries, accepted = timed(lambda: accept_unanimous(project, reviewer))
    show(f"bulk accept again ({accepted} left to accept)", ms, queries)


if __name__ == "__main__":
    main()
