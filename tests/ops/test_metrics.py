"""The figures read from the database at scrape time, and the registry a scrape reads."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from annotator.corpus.models import ImportJob
from annotator.corpus.tasks import import_job_task
from annotator.datasets.models import ExportJob
from annotator.labelling.models import AnnotationEvent
from annotator.ops.metrics import DatabaseCollector, labels_saved_in_last_minute, scrape_registry
from annotator.ops.models import WorkerPresence
from tests.factories import (
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    make_comment,
    save_from_current_revision,
)
from tests.worker import database_tasks

QUERIES_PER_SCRAPE = 6  # tasks, import jobs, export jobs, label saves (two), live workers


def samples(collector=None) -> dict[tuple[str, tuple], float]:
    """Every sample the collector yields, by name and labels."""
    found = {}
    for family in (collector or DatabaseCollector()).collect():
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def import_job(project, status: str, created_at=None) -> ImportJob:
    return ImportJob.objects.create(
        project=project,
        status=status,
        file="imports/x.jsonl",
        original_name="x.jsonl",
        created_at=created_at or timezone.now(),
    )


def queue_task(job_id: int, enqueued_ago: float = 0) -> DBTaskResult:
    with database_tasks():
        result = import_job_task.enqueue(job_id)
    row = DBTaskResult.objects.get(id=result.id)
    DBTaskResult.objects.filter(id=row.id).update(
        enqueued_at=timezone.now() - timedelta(seconds=enqueued_ago)
    )
    return row


def test_an_empty_database_reports_zeroes_for_every_state(db):
    found = samples()
    assert found[("annotator_task_queue_depth", (("status", "READY"),))] == 0
    assert found[("annotator_task_queue_depth", (("status", "RUNNING"),))] == 0
    assert found[("annotator_import_jobs", (("status", "failed"),))] == 0
    assert found[("annotator_export_jobs", (("status", "succeeded"),))] == 0
    assert found[("annotator_labels_saved_last_minute", (("kind", "submit"),))] == 0
    assert found[("annotator_workers_alive", ())] == 0


def test_queue_depth_and_oldest_age_come_from_the_task_table(project):
    job = import_job(project, ImportJob.Status.QUEUED)
    queue_task(job.pk, enqueued_ago=300)
    queue_task(job.pk, enqueued_ago=10)
    running = queue_task(job.pk)
    DBTaskResult.objects.filter(id=running.id).update(
        status="RUNNING", started_at=timezone.now() - timedelta(seconds=42)
    )
    found = samples()
    assert found[("annotator_task_queue_depth", (("status", "READY"),))] == 2
    assert found[("annotator_task_queue_depth", (("status", "RUNNING"),))] == 1
    assert 300 <= found[("annotator_task_queue_oldest_age_seconds", (("status", "READY"),))] < 330
    assert 42 <= found[("annotator_task_queue_oldest_age_seconds", (("status", "RUNNING"),))] < 70


def test_imports_and_exports_are_counted_by_outcome(project):
    for status in ["succeeded", "succeeded", "failed", "queued"]:
        import_job(project, status, created_at=timezone.now() - timedelta(minutes=5))
    ExportJob.objects.create(project=project, format="jsonl", status="failed")
    found = samples()
    assert found[("annotator_import_jobs", (("status", "succeeded"),))] == 2
    assert found[("annotator_import_jobs", (("status", "failed"),))] == 1
    assert found[("annotator_import_jobs", (("status", "queued"),))] == 1
    assert found[("annotator_import_jobs", (("status", "running"),))] == 0
    assert found[("annotator_import_jobs_oldest_age_seconds", (("status", "queued"),))] >= 300
    assert found[("annotator_export_jobs", (("status", "failed"),))] == 1
    assert found[("annotator_export_jobs", (("status", "succeeded"),))] == 0


def test_labels_saved_counts_only_the_last_minutes_saves(project, annotator):
    article = ArticleFactory(project=project)
    old, new = make_comment(article), make_comment(article)
    save_from_current_revision(old, annotator, {"stance_article": "support"})
    AnnotationEvent.objects.update(at=timezone.now() - timedelta(minutes=5))
    save_from_current_revision(new, annotator, {"stance_article": "deny"})
    save_from_current_revision(new, annotator, COMPLETE_TOP_LEVEL, action="submit")
    counts = labels_saved_in_last_minute()
    assert counts["autosave"] == 1
    assert counts["submit"] == 1
    assert counts["skip"] == 0
    # A minute on, none of them is recent.
    assert sum(labels_saved_in_last_minute(timezone.now() + timedelta(minutes=2)).values()) == 0


def test_labels_saved_counts_every_save_when_none_is_older_than_a_minute(project, annotator):
    comment = make_comment(ArticleFactory(project=project))
    save_from_current_revision(comment, annotator, {"stance_article": "support"})
    assert labels_saved_in_last_minute()["autosave"] == 1


def test_live_workers_are_those_seen_within_ready_worker_seconds(db, settings):
    settings.READY_WORKER_SECONDS = 60
    now = timezone.now()
    WorkerPresence.objects.create(worker_id="a:1", seen_at=now)
    WorkerPresence.objects.create(worker_id="b:2", seen_at=now - timedelta(seconds=120))
    assert samples()[("annotator_workers_alive", ())] == 1


def test_a_scrape_costs_the_same_queries_however_much_data(
    project, annotator, django_assert_num_queries
):
    with django_assert_num_queries(QUERIES_PER_SCRAPE):
        samples()
    article = ArticleFactory(project=project)
    for comment in [make_comment(article) for _ in range(5)]:
        save_from_current_revision(comment, annotator, {"stance_article": "support"})
    for status in ImportJob.Status.values:
        job = import_job(project, status)
    for status in ExportJob.Status.values:
        ExportJob.objects.create(project=project, format="csv", status=status)
    for _ in range(3):
        queue_task(job.pk)
    WorkerPresence.objects.create(worker_id="a:1")
    with django_assert_num_queries(QUERIES_PER_SCRAPE):
        samples()


def test_the_scrape_registry_has_the_processes_metrics_and_the_databases(client, db):
    client.get("/healthz")  # django-prometheus makes its metrics with the first request
    text = generate_latest(scrape_registry()).decode()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert "django_http_requests_latency_seconds_by_view_method" in names
    assert "annotator_task_queue_depth" in names


def test_in_multiprocess_mode_the_registry_reads_the_directory(db, tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = generate_latest(scrape_registry()).decode()
    names = {family.name for family in text_string_to_metric_families(text)}
    # This process wrote nothing there: only the database's figures, which every process
    # computes alike.
    assert "django_http_requests_latency_seconds_by_view_method" not in names
    assert "annotator_import_jobs" in names
    # Pinned: a scrape of a multiprocess deployment is a fresh registry each time.
    assert scrape_registry() is not scrape_registry()


@pytest.mark.parametrize("status", ["READY", "RUNNING"])
def test_an_empty_queue_has_age_zero(db, status):
    assert samples()[("annotator_task_queue_oldest_age_seconds", (("status", status),))] == 0
