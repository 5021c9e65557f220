"""Settings that depend on how the app is served: HSTS behind TLS, secure cookies in Docker."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SESSION_COOKIE_SECURE"]


def settings_with(**env: str) -> dict:
    """The named settings as annotator/settings.py makes them from ``env`` (a fresh process)."""
    clean = {k: v for k, v in os.environ.items() if k not in {"BEHIND_TLS_PROXY", "DEBUG"}}
    clean.update({"SECRET_KEY": "x" * 50, **env})
    code = (
        "import json, annotator.settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {NAMES!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_hsts_is_sent_only_when_served_over_tls():
    assert settings_with()["SECURE_HSTS_SECONDS"] is None
    behind = settings_with(BEHIND_TLS_PROXY="1")
    assert behind["SECURE_HSTS_SECONDS"] == 365 * 24 * 60 * 60
    assert behind["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    assert (
        settings_with(BEHIND_TLS_PROXY="1", SECURE_HSTS_SECONDS="600")["SECURE_HSTS_SECONDS"] == 600
    )


@pytest.mark.django_db
def test_an_https_response_carries_the_hsts_header(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    response = Client().get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response["Strict-Transport-Security"] == "max-age=31536000"
    plain = Client().get("/accounts/login/")
    assert "Strict-Transport-Security" not in plain


def test_docker_compose_keeps_cookies_secure_by_default():
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "SECURE_COOKIES: ${SECURE_COOKIES:-1}" in compose
    assert "SECURE_COOKIES:-0" not in compose
    assert settings_with(SECURE_COOKIES="1")["SESSION_COOKIE_SECURE"] is True
