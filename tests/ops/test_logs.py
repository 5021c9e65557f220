"""Request logs: one JSON line per request with its fields, the request's id on every record,
and nothing a person typed or a secret in any of it."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from annotator.ops.logs import JsonLogFormatter, RequestContextFilter
from tests.factories import PASSWORD, ArticleFactory, make_comment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def log_lines():
    """The JSON lines logged from here on, as LOG_FORMAT=json writes them; a function that
    returns them parsed (and the raw text as ``log_lines.text()``)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    requests = logging.getLogger("annotator.requests")
    level, root_level = requests.level, root.level
    root.addHandler(handler)
    requests.setLevel(logging.INFO)
    root.setLevel(logging.WARNING)

    class Lines:
        def __call__(self) -> list[dict]:
            return [json.loads(line) for line in stream.getvalue().splitlines()]

        def text(self) -> str:
            return stream.getvalue()

        def requests(self) -> list[dict]:
            return [line for line in self() if line["logger"] == "annotator.requests"]

    yield Lines()
    root.removeHandler(handler)
    requests.setLevel(level)
    root.setLevel(root_level)


def test_each_request_is_one_json_line_with_its_fields(client, annotator, project, log_lines):
    client.force_login(annotator)
    response = client.get(reverse("corpus:project_detail", args=[project.slug]) + "?page=2")
    (line,) = log_lines.requests()
    assert line["request_id"] == response["X-Request-ID"]
    assert line["user_id"] == annotator.pk
    assert line["project"] == "aleppo"
    assert line["view"] == "corpus:project_detail"
    assert line["method"] == "GET"
    assert line["path"] == "/p/aleppo/"
    assert line["status"] == response.status_code == 200
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "INFO"
    assert line["message"] == "GET /p/aleppo/ 200"


def test_an_anonymous_request_has_no_user(client, db, log_lines):
    client.get("/healthz")
    (line,) = log_lines.requests()
    assert line["user_id"] is None
    assert line["project"] is None
    assert line["view"] == "ops:healthz"


def test_a_sane_request_id_from_the_proxy_is_kept(client, db, log_lines):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c21.0001"})
    assert response["X-Request-ID"] == "lb-7f3a9c21.0001"
    assert log_lines.requests()[0]["request_id"] == "lb-7f3a9c21.0001"


@pytest.mark.parametrize("given", ["", "has space", "x" * 129, 'quote"d', "new\nline", "<b>"])
def test_an_odd_request_id_is_replaced_by_a_uuid(client, db, log_lines, given):
    response = client.get("/healthz", headers={"X-Request-ID": given})
    assert len(response["X-Request-ID"]) == 32
    assert response["X-Request-ID"] != given
    assert log_lines.requests()[0]["request_id"] == response["X-Request-ID"]


def test_each_request_gets_its_own_id(client, db, log_lines):
    ids = {client.get("/healthz")["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


def test_records_logged_while_a_request_runs_carry_its_id_and_user(
    client, annotator, other_project, log_lines
):
    client.force_login(annotator)
    response = client.get(reverse("corpus:project_detail", args=[other_project.slug]))
    assert response.status_code in {403, 404}
    refusal = next(line for line in log_lines() if line["logger"] == "django.request")
    assert refusal["request_id"] == response["X-Request-ID"]
    assert refusal["user_id"] == annotator.pk
    assert "exc_info" not in refusal


def test_a_warning_inside_the_view_carries_the_request_id(client, db, settings, log_lines):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/7",
        }
    }
    response = client.get("/readyz")
    warning = next(line for line in log_lines() if line["logger"] == "annotator.ops.readiness")
    assert warning["request_id"] == response["X-Request-ID"]


def test_records_outside_a_request_have_no_request_id(log_lines):
    logging.getLogger("annotator.corpus").warning("a command's warning")
    (line,) = log_lines()
    assert line["request_id"] is None
    assert line["user_id"] is None


def test_no_comment_text_password_token_cookie_or_query_string_reaches_the_log(
    client, annotator, project, settings, log_lines
):
    settings.METRICS_TOKEN = "metrics-token-0af2"
    secret_comment = "Comment-text-only-the-page-may-show-9d1e"
    secret_note = "A note the annotator typed 77c3"
    comment = make_comment(ArticleFactory(project=project), text=secret_comment)
    client.post(
        reverse("login") + "?next=/p/aleppo/&token=query-token-51b8",
        {"username": annotator.username, "password": "wrong-password-4e0c"},
    )
    client.post(reverse("login"), {"username": annotator.username, "password": PASSWORD})
    workspace = reverse("labelling:workspace", args=[project.slug, comment.pk])
    assert secret_comment in client.get(workspace).content.decode()
    client.post(
        reverse("labelling:save", args=[project.slug, comment.pk]),
        {"stance_article": "support", "note": secret_note, "action": "autosave", "revision": 0},
        headers={"HX-Request": "true"},
    )
    client.get(
        "/metrics?token=query-token-51b8", headers={"Authorization": "Bearer metrics-token-0af2"}
    )
    client.get("/metrics", headers={"Authorization": "Bearer wrong-metrics-token-aa11"})
    text = log_lines.text()
    assert len(log_lines.requests()) == 6
    for secret in (
        secret_comment,
        secret_note,
        "wrong-password-4e0c",
        PASSWORD,
        "query-token-51b8",
        "metrics-token-0af2",
        "wrong-metrics-token-aa11",
        client.cookies["sessionid"].value,
        client.cookies["csrftoken"].value if "csrftoken" in client.cookies else "no-csrf-cookie",
        "?",
    ):
        assert secret not in text, secret


def test_a_secret_part_of_the_path_is_logged_by_its_name(client, db, log_lines):
    client.get("/accounts/invitations/7-c2VjcmV0LWludml0YXRpb24tdG9rZW4/")
    (line,) = log_lines.requests()
    assert line["path"] == "/accounts/invitations/<token>/"
    assert "c2VjcmV0" not in log_lines.text()


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """``manage.py ARGS`` with the production settings and ``env``."""
    environ = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "LOG_FORMAT"}}
    environ.update(DJANGO_SETTINGS_MODULE="annotator.settings", SECRET_KEY="logs-test", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


LOG_TWO_LINES = (
    "import logging; "
    "logging.getLogger('annotator.requests').info('GET / 200', extra={'status': 200}); "
    "logging.getLogger('annotator.corpus').warning('something odd')"
)


def test_log_format_json_makes_every_console_line_a_json_object(tmp_path):
    result = manage("shell", "-c", LOG_TWO_LINES, LOG_FORMAT="json", LOCAL_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    request, warning = (json.loads(line) for line in result.stderr.splitlines())
    assert request["logger"] == "annotator.requests"
    assert request["status"] == 200
    assert request["request_id"] is None
    assert warning == {**warning, "level": "WARNING", "message": "something odd"}


def test_without_log_format_the_console_stays_plain_and_quiet(tmp_path):
    result = manage("shell", "-c", LOG_TWO_LINES, LOCAL_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["something odd"]


def test_an_unknown_log_format_is_refused_in_one_line(tmp_path):
    result = manage("check", LOG_FORMAT="xml", LOCAL_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "LOG_FORMAT must be json or text, not 'xml'." in result.stderr
