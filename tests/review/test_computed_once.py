"""Figures computed once per change for all processes sharing a real Redis (``CACHE_URL``).

The processes are real: ``manage.py shell`` subprocesses on the test database (PostgreSQL, or
SQLite in a file: ``SQLITE_TEST_NAME``), running ``tests/review/figures_process.py``, beside
this test process. They share this test's Redis keys (``tests/shared_cache.py``); without a
Redis the tests skip, saying so.
"""

from __future__ import annotations

import json
import os
import threading
import time
from unittest import mock

import pytest
from django.core.cache import caches
from django.test import override_settings

from annotator.review import measures, queue
from annotator.review.computed_once import ComputeLock, computed_once
from annotator.review.queue import DISAGREE, forget_scores, review_state
from tests.factories import ArticleFactory, make_comment, make_label
from tests.review.adjudication_data import TOP, TOP_DENY, annotators
from tests.review.figures_process import COUNTER, digest
from tests.shared_cache import shared_cache
from tests.worker import database_url, kill, start_manage

pytestmark = pytest.mark.django_db(transaction=True)

LOCAL = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
RUN = "from tests.review.figures_process import main; main()"


@pytest.fixture
def shared():
    """This process on the shared Redis; the environment the other processes need."""
    with shared_cache() as environment:
        yield environment


@pytest.fixture
def people(project):
    return annotators(project, 3)


@pytest.fixture
def comments(project, people):
    """Five top-level comments: three agreed on by all three annotators, two disputed."""
    article = ArticleFactory(project=project)
    made = []
    for index in range(5):
        comment = make_comment(article)
        for person_index, person in enumerate(people):
            disputed = index >= 3 and person_index == 0
            make_label(comment, person, TOP_DENY if disputed else TOP)
        made.append(comment)
    return made


def run_processes(tmp_path, shared: dict, *runs: dict) -> list[dict]:
    """Start one ``figures_process`` per ``runs`` entry (its ``FIGURES_*`` variables) at once,
    wait for all, and return what each printed last."""
    database_url()  # skips where a subprocess cannot share the test database
    processes = []
    try:
        for run in runs:
            environment = {**shared, **{key: str(value) for key, value in run.items()}}
            with mock.patch.dict(os.environ, environment):
                processes.append(start_manage(tmp_path / "media", "shell", "-c", RUN))
        results = []
        for process in processes:
            output, _ = process.communicate(timeout=120)
            text = output.decode(errors="replace")
            assert process.returncode == 0, text[-3000:]
            results.append(json.loads(text.strip().splitlines()[-1]))
        return results
    finally:
        for process in processes:
            kill(process)


def computations() -> int:
    return caches["default"].get(COUNTER, 0)


def fresh(compute):
    """``compute()`` with a cache of its own, empty: the figures as they are now."""
    with override_settings(CACHES=LOCAL):
        forget_scores()
        try:
            return compute()
        finally:
            forget_scores()


def fresh_agreement(project):
    return fresh(lambda: measures.agreement_report(project, resamples=50))


def fresh_queue(project):
    state = fresh(lambda: review_state(project))
    return [[item.comment_id, item.reason] for item in state.queue]


def expected(action: str, project) -> dict:
    if action == "agreement":
        return {"figures": digest(fresh_agreement(project))}
    if action == "dashboard":
        return {"figures": digest(fresh_agreement(project)[0])}
    return {"queue": fresh_queue(project)}


@pytest.mark.parametrize("action", ["agreement", "dashboard", "queue"])
def test_two_processes_asking_at_once_compute_the_figures_once(
    action, project, comments, shared, tmp_path
):
    together = {
        "FIGURES_ACTION": action,
        "FIGURES_PROJECT": project.pk,
        "FIGURES_BARRIER": 2,  # both start asking at the same moment
        "FIGURES_SLOW": 1.5,  # and the computing one takes long enough to be caught at it
    }
    first, second = run_processes(tmp_path, shared, together, together)

    assert computations() == 1
    assert first == second == expected(action, project)


def test_a_label_saved_in_another_process_is_in_the_next_figures_read(
    project, comments, people, shared, tmp_path
):
    before = measures.cached_agreement_report(project, resamples=50)
    assert before == fresh_agreement(project)
    agreed = comments[0]
    (saved,) = run_processes(
        tmp_path,
        shared,
        {
            "FIGURES_ACTION": "save",
            "FIGURES_PROJECT": project.pk,
            "FIGURES_COMMENT": agreed.pk,
            "FIGURES_USER": people[1].pk,
            "FIGURES_ANSWERS": json.dumps(TOP_DENY),
        },
    )
    assert saved == {"saved": True}

    after = measures.cached_agreement_report(project, resamples=50)
    assert after != before
    assert after == fresh_agreement(project)
    # A third process reads the figures this one stored for the new labels: not computed again.
    (third,) = run_processes(
        tmp_path, shared, {"FIGURES_ACTION": "dashboard", "FIGURES_PROJECT": project.pk}
    )
    assert third == {"figures": digest(after[0])}
    assert computations() == 0


def test_the_queue_in_one_process_shows_a_label_saved_in_another(
    project, comments, people, shared, tmp_path, django_assert_num_queries
):
    agreed = comments[0]
    before = review_state(project)
    assert agreed.pk not in [item.comment_id for item in before.queue]
    run_processes(
        tmp_path,
        shared,
        {
            "FIGURES_ACTION": "save",
            "FIGURES_PROJECT": project.pk,
            "FIGURES_COMMENT": agreed.pk,
            "FIGURES_USER": people[2].pk,
            "FIGURES_ANSWERS": json.dumps(TOP_DENY),
        },
    )

    with django_assert_num_queries(3):  # the scheme, the version, the changed comments
        state = review_state(project)
    reasons = {item.comment_id: item.reason for item in state.queue}
    assert reasons[agreed.pk] == DISAGREE
    assert [[item.comment_id, item.reason] for item in state.queue] == fresh_queue(project)
    # Another process starts from the scores this one published, catching up on the save
    # instead of scoring the project from scratch.
    (other,) = run_processes(
        tmp_path, shared, {"FIGURES_ACTION": "queue", "FIGURES_PROJECT": project.pk}
    )
    assert other == {"queue": fresh_queue(project)}
    assert computations() == 0


def test_a_process_without_scores_reads_the_published_ones_with_two_queries(
    project, comments, shared, monkeypatch, django_assert_num_queries
):
    scored = review_state(project)
    forget_scores()  # as a process that never scored the project

    def no_scoring(*args, **kwargs):
        raise AssertionError("scored from scratch")

    monkeypatch.setattr(queue, "_score_all", no_scoring)
    with django_assert_num_queries(2):  # the scheme and the version
        assert review_state(project).queue == scored.queue


def test_cached_figures_on_redis_are_read_with_two_queries(
    project, comments, shared, monkeypatch, django_assert_num_queries
):
    report = measures.cached_agreement_report(project, resamples=50)

    def no_recomputing(*args, **kwargs):
        raise AssertionError("the figures were computed again")

    monkeypatch.setattr(measures, "agreement_from_tally", no_recomputing)
    with django_assert_num_queries(2):  # the scheme and the labels version
        assert measures.cached_agreement_report(project, resamples=50) == report


# -- the lock itself ------------------------------------------------------------------------


def stored_under(key: str):
    return lambda: caches["default"].get(key)


def storing(key: str, value: object, calls: list):
    def compute():
        calls.append(value)
        caches["default"].set(key, value)
        return value

    return compute


@pytest.mark.django_db(transaction=False)
def test_a_waiter_takes_what_the_lock_holder_stored(shared):
    holder = ComputeLock("figures:lock")
    assert holder.acquire()
    calls: list = []

    def finish_later():
        time.sleep(0.3)
        caches["default"].set("figures", "the holder's")
        holder.release()

    thread = threading.Thread(target=finish_later)
    thread.start()
    found = computed_once(
        "figures:lock", stored_under("figures"), storing("figures", "mine", calls)
    )
    thread.join()

    assert found == "the holder's"
    assert calls == []


@pytest.mark.django_db(transaction=False)
def test_a_waiter_computes_when_the_holder_stored_nothing_or_never_let_go(shared):
    calls: list = []
    # The holder gave the lock back without storing (it failed): compute at once.
    assert computed_once("figures:lock", stored_under("f"), storing("f", 1, calls)) == 1
    # The holder died holding the lock: compute once it times out, never an error.
    assert ComputeLock("other:lock", timeout=60).acquire()
    started = time.monotonic()
    found = computed_once("other:lock", stored_under("g"), storing("g", 2, calls), timeout=0.3)
    assert found == 2
    assert 0.3 <= time.monotonic() - started < 5
    assert calls == [1, 2]


def test_a_cache_that_is_down_costs_a_computation_not_an_error(project, comments):
    down = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    with override_settings(CACHES=down):
        assert measures.cached_agreement_report(project, resamples=50) == fresh_agreement(project)
        assert [[i.comment_id, i.reason] for i in review_state(project).queue] == fresh_queue(
            project
        )
