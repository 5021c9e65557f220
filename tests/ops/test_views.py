"""The probes and the metrics endpoint over HTTP: what they answer, to whom, at what cost."""

import json
import threading
from datetime import timedelta
from unittest import mock

import pytest
from botocore.config import Config
from django.core.cache import caches
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from annotator.ops import readiness
from annotator.ops.models import WorkerPresence
from tests.worker import DB_BACKEND

STATES = {"ok", "failed", "missing", "pending", "timeout"}
REDIS_DB7 = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/7",
        "KEY_PREFIX": "ops-tests",
    }
}
CLOSED_PORT = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/7",
    }
}


@pytest.fixture(autouse=True)
def fresh_checks():
    """Each test sees the migrations checked again and its own cache configuration."""
    readiness.forget_migrations()
    yield
    readiness.forget_migrations()
    caches["default"].close()


@pytest.fixture
def worker_backend(settings, db):
    """Tasks go to the database, so readiness needs a worker."""
    settings.TASKS = DB_BACKEND


def seen_worker(seconds_ago: float = 0) -> WorkerPresence:
    at = timezone.now() - timedelta(seconds=seconds_ago)
    return WorkerPresence.objects.create(worker_id="web-1:4242", started_at=at, seen_at=at)


def test_healthz_answers_ok_without_touching_the_database(
    client, annotator, django_assert_num_queries
):
    client.force_login(annotator)  # a session cookie too: not looked up
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert "Set-Cookie" not in response.headers
    assert "no-cache" in response["Cache-Control"]


def test_probes_keep_the_host_check(client, db):
    assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/readyz", headers={"Host": "evil.example"}).status_code == 400


def test_probes_and_metrics_need_no_login_even_with_login_required_everywhere(client, db, settings):
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
    ]
    settings.METRICS_TOKEN = "tok"
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics", headers={"Authorization": "Bearer tok"}).status_code == 200
    assert client.get(reverse("corpus:project_list")).status_code == 302  # the others do


def test_probes_refuse_writes(client, db):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


def test_readyz_is_ready_when_the_database_is_migrated_and_a_worker_was_seen(
    client, worker_backend
):
    seen_worker(seconds_ago=5)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "migrations": "ok", "worker": "ok"}
    assert "Set-Cookie" not in response.headers


def test_readyz_is_503_naming_the_worker_when_none_was_seen(client, worker_backend):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "migrations": "ok", "worker": "missing"}


def test_readyz_is_503_when_the_last_worker_was_seen_too_long_ago(client, worker_backend, settings):
    settings.READY_WORKER_SECONDS = 60
    seen_worker(seconds_ago=61)
    assert client.get("/readyz").json()["worker"] == "missing"
    settings.READY_WORKER_SECONDS = 120
    assert client.get("/readyz").status_code == 200


def test_readyz_needs_no_worker_when_tasks_do_not_go_to_the_database(client, db):
    # The test settings run tasks inline (ImmediateBackend): there is no db_worker to wait for.
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "migrations": "ok"}


def test_readyz_needs_no_worker_when_ready_worker_seconds_is_zero(client, worker_backend, settings):
    settings.READY_WORKER_SECONDS = 0
    assert client.get("/readyz").json() == {"database": "ok", "migrations": "ok"}


def test_readyz_is_503_when_a_migration_is_not_applied(client, worker_backend):
    seen_worker()
    unapplied = [(mock.sentinel.migration, False)]
    with mock.patch.object(MigrationExecutor, "migration_plan", return_value=unapplied):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["migrations"] == "pending"
    # Applied since: the next probe checks again and passes.
    assert client.get("/readyz").status_code == 200


def test_readyz_checks_the_migrations_until_they_pass_then_never_again(
    client, worker_backend, django_assert_max_num_queries
):
    seen_worker()
    assert client.get("/readyz").status_code == 200
    unread = mock.patch.object(MigrationExecutor, "__init__", side_effect=AssertionError)
    with unread, django_assert_max_num_queries(2):  # SELECT 1 and the worker's presence
        assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_database_does_not_answer(client, worker_backend):
    with mock.patch.object(readiness, "connections") as connections:
        connections.__getitem__.return_value.cursor.side_effect = OSError(
            "db.internal:5432 refused"
        )
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "failed", "migrations": "failed", "worker": "failed"}
    assert b"db.internal" not in response.content


def test_readyz_checks_a_configured_cache(client, db, settings):
    settings.CACHES = REDIS_DB7
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "migrations": "ok", "cache": "ok"}


def test_readyz_is_503_when_the_cache_is_unreachable(client, db, settings):
    settings.CACHES = CLOSED_PORT
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "migrations": "ok", "cache": "failed"}
    assert b"6379" not in response.content and b"127.0.0.1" not in response.content


def test_readyz_says_timeout_when_a_check_hangs(client, db, settings):
    settings.CACHES = REDIS_DB7
    settings.READY_CHECK_TIMEOUT = 0.2
    release = threading.Event()
    with mock.patch.object(readiness, "_cache_round_trip", side_effect=lambda: release.wait(5)):
        try:
            response = client.get("/readyz")
        finally:
            release.set()
    assert response.status_code == 503
    assert response.json()["cache"] == "timeout"


def test_readyz_is_503_when_the_object_store_is_unreachable(client, db, settings):
    settings.READY_CHECK_TIMEOUT = 10  # a refused connection, not a slow one
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "uploads",
                "endpoint_url": "http://127.0.0.1:1",
                "access_key": "key",
                "secret_key": "secret",
                "region_name": "us-east-1",
                "client_config": Config(
                    connect_timeout=0.5, retries={"total_max_attempts": 1, "mode": "standard"}
                ),
            },
        },
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "migrations": "ok", "store": "failed"}


def test_readyz_checks_a_configured_object_store_that_answers(client, db, s3_store):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "migrations": "ok", "store": "ok"}


def test_readyz_reveals_only_check_names_and_states(client, worker_backend, settings):
    settings.CACHES = CLOSED_PORT
    body = json.loads(client.get("/readyz").content)
    assert set(body) <= {"database", "migrations", "worker", "cache", "store"}
    assert set(body.values()) <= STATES


# --- /metrics ---------------------------------------------------------------------------------

TOKEN = "s3cret-metrics-token"


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def test_metrics_do_not_exist_without_a_token_configured(client, db, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_metrics_without_a_token_ask_for_one(client, metrics_token, db):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"django_http" not in response.content


def test_metrics_refuse_an_annotators_session(client, metrics_token, annotator, project_admin):
    for user in (annotator, project_admin):
        client.force_login(user)
        assert client.get("/metrics").status_code == 401


def test_metrics_refuse_a_wrong_token(client, metrics_token, db):
    for header in (f"Bearer {TOKEN}x", "Bearer wrong", f"Token {TOKEN}", TOKEN):
        response = client.get("/metrics", headers={"Authorization": header})
        assert response.status_code in {401, 403}, header
        assert b"django_http" not in response.content
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403


def test_metrics_with_the_token_list_request_latency_by_view_and_the_database_figures(
    client, metrics_token, annotator, project
):
    client.force_login(annotator)
    client.get(reverse("corpus:project_detail", args=[project.slug]))
    client.get("/healthz")
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert (
        'django_http_requests_latency_seconds_by_view_method_count{method="GET",view="ops:healthz"}'
        in text
    )
    assert 'view="corpus:project_detail"' in text
    for name in (
        "annotator_task_queue_depth",
        "annotator_task_queue_oldest_age_seconds",
        "annotator_import_jobs",
        "annotator_export_jobs",
        "annotator_labels_saved_last_minute",
        "annotator_workers_alive",
    ):
        assert f"# TYPE {name} gauge" in text
