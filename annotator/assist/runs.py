"""The life of a ``PredictionRun``: claimed by one worker, beating as it goes, ending
SUCCEEDED or FAILED and never left RUNNING, like the import and export jobs.

Every outcome is written only on a row still running, so a late worker and the reaper
(corpus/heartbeats.py) never both win. Each kind of run does its work in its own module;
``run_prediction_run`` hands the claimed run to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from annotator.assist.models import PredictionRun

logger = logging.getLogger(__name__)


class RunFailed(Exception):
    """A run that cannot go on; the message is what its page shows."""


def _work_of(kind: str) -> Callable[[PredictionRun], None]:
    """The function that does a run of ``kind`` (imported late: each pulls in its library)."""
    if kind == PredictionRun.Kind.IMPORT:
        from annotator.assist.importing import run_import

        return run_import
    if kind == PredictionRun.Kind.TRAIN:
        from annotator.assist.learner import run_training

        return run_training
    if kind == PredictionRun.Kind.LLM:
        from annotator.assist.llm_runs import run_llm

        return run_llm
    raise RunFailed(f"Unknown kind of run: {kind}.")


def start_run(run: PredictionRun) -> None:
    """Queue ``run`` for the worker once the current transaction commits."""
    from annotator.assist.tasks import prediction_run_task

    run_id = run.pk
    transaction.on_commit(lambda: prediction_run_task.enqueue(run_id))


def beat(run: PredictionRun, **progress: int) -> bool:
    """Write ``progress`` (done, total, failed, requests) and a heartbeat on a run still
    running; False when it is not (the reaper failed it): the caller stops then."""
    now = timezone.now()
    for name, value in progress.items():
        setattr(run, name, value)
    return (
        PredictionRun.objects.filter(pk=run.pk, status=PredictionRun.Status.RUNNING).update(
            heartbeat_at=now, **progress
        )
        > 0
    )


def finish(run: PredictionRun, **fields) -> bool:
    """Record success (with ``fields``: counts, report) on a run still running."""
    fields.setdefault("finished_at", timezone.now())
    for name, value in fields.items():
        setattr(run, name, value)
    run.status = PredictionRun.Status.SUCCEEDED
    return (
        PredictionRun.objects.filter(pk=run.pk, status=PredictionRun.Status.RUNNING).update(
            status=PredictionRun.Status.SUCCEEDED, **fields
        )
        > 0
    )


def fail(run: PredictionRun, message: str, **fields) -> bool:
    """Record failure with ``message`` on a run still running."""
    fields.setdefault("finished_at", timezone.now())
    run.status, run.error = PredictionRun.Status.FAILED, message
    return (
        PredictionRun.objects.filter(pk=run.pk, status=PredictionRun.Status.RUNNING).update(
            status=PredictionRun.Status.FAILED, error=message, **fields
        )
        > 0
    )


def run_prediction_run(run_id: int) -> PredictionRun:
    """Claim the queued run ``run_id`` and do it; its row records the outcome. A run no
    longer queued (a task delivered twice) is left as it is."""
    now = timezone.now()
    claimed = PredictionRun.objects.filter(pk=run_id, status=PredictionRun.Status.QUEUED).update(
        status=PredictionRun.Status.RUNNING, started_at=now, heartbeat_at=now, error=""
    )
    run = PredictionRun.objects.select_related("project", "labeller").get(pk=run_id)
    if not claimed:
        return run
    try:
        _work_of(run.kind)(run)
    except RunFailed as failure:
        fail(run, str(failure))
    except Exception:  # never leave the run RUNNING, whatever broke
        logger.exception("prediction run %s failed", run.pk)
        fail(run, "The run stopped on an unexpected error; it is in the server's log.")
    return run
