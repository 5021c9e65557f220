"""A run is claimed once, ends SUCCEEDED or FAILED and never stays RUNNING, and a run the
reaper failed is not brought back by its late worker."""

import pytest

from annotator.assist import runs
from annotator.assist.models import PredictionRun

pytestmark = pytest.mark.django_db


def _run(project, **fields):
    fields.setdefault("kind", PredictionRun.Kind.IMPORT)
    return PredictionRun.objects.create(project=project, **fields)


def test_a_run_that_raises_ends_failed_with_a_message_and_no_traceback(project, monkeypatch):
    def broken(run):
        raise KeyError("secret internals")

    monkeypatch.setattr(runs, "_work_of", lambda kind: broken)
    run = runs.run_prediction_run(_run(project).pk)

    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error == "The run stopped on an unexpected error; it is in the server's log."
    assert run.finished_at is not None


def test_a_run_that_cannot_go_on_says_why(project, monkeypatch):
    def refuses(run):
        raise runs.RunFailed("The endpoint refused the API key (401).")

    monkeypatch.setattr(runs, "_work_of", lambda kind: refuses)
    run = runs.run_prediction_run(_run(project).pk)

    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", "The endpoint refused the API key (401).")


def test_a_run_delivered_twice_is_done_once(project, monkeypatch):
    calls = []

    def work(run):
        calls.append(run.pk)
        runs.finish(run, done=3, total=3)

    monkeypatch.setattr(runs, "_work_of", lambda kind: work)
    run = _run(project)
    runs.run_prediction_run(run.pk)
    runs.run_prediction_run(run.pk)

    assert calls == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.done, run.percent) == ("succeeded", 3, 100)


def test_a_late_worker_cannot_finish_a_run_the_reaper_failed(project, monkeypatch):
    def work(run):
        PredictionRun.objects.filter(pk=run.pk).update(status="failed", error="reaped")
        assert runs.beat(run, done=1) is False
        assert runs.finish(run, done=2) is False

    monkeypatch.setattr(runs, "_work_of", lambda kind: work)
    run = runs.run_prediction_run(_run(project).pk)

    run.refresh_from_db()
    assert (run.status, run.error, run.done) == ("failed", "reaped", 0)
