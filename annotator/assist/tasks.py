"""Background tasks of the assist app: imports of predictions, training the learner and
LLM runs, all as ``PredictionRun`` rows (runs.py). The task takes the run's id and is
enqueued once the transaction that created the run commits."""

from __future__ import annotations

from django_tasks import task  # Django 6: from django.tasks import task

from annotator.assist.models import PredictionRun


@task()
def prediction_run_task(run_id: int) -> None:
    """Do the run ``run_id`` (its row records the outcome)."""
    from annotator.assist.runs import run_prediction_run

    # A worker starting work notices the runs a dead one left running (heartbeats.py).
    PredictionRun.objects.fail_stale()
    run_prediction_run(run_id)
