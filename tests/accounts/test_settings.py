"""EMAIL_URL decides whether and how the site sends e-mail (annotator/settings.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READ = (
    "import json, annotator.settings as s; print(json.dumps({k: getattr(s, k, None) for k in "
    "['EMAIL_BACKEND', 'EMAIL_HOST', 'EMAIL_PORT', 'EMAIL_USE_TLS', 'EMAIL_HOST_USER', "
    "'DEFAULT_FROM_EMAIL', 'EMAIL_ENABLED', 'INVITATION_MAX_AGE_DAYS']}))"
)


def settings_with(**env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k not in {"EMAIL_URL", "DEBUG"}}
    environ.update(SECRET_KEY="x", LOCAL_DIR=str(ROOT / ".local" / "test"), **env)
    done = subprocess.run(
        [sys.executable, "-c", READ], cwd=ROOT, env=environ, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_an_email_url_configures_smtp():
    read = settings_with(
        EMAIL_URL="smtp://me:secret@mail.example.org:587/?tls=True"
        "&_default_from_email=annotate@example.org",
        INVITATION_MAX_AGE_DAYS="2",
    )
    assert read == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.example.org",
        "EMAIL_PORT": 587,
        "EMAIL_USE_TLS": True,
        "EMAIL_HOST_USER": "me",
        "DEFAULT_FROM_EMAIL": "annotate@example.org",
        "EMAIL_ENABLED": True,
        "INVITATION_MAX_AGE_DAYS": 2,
    }


@pytest.mark.parametrize(
    ("debug", "backend", "enabled"),
    [("0", "dummy", False), ("1", "console", True)],
)
def test_without_an_email_url_nothing_is_sent_except_to_the_console_in_development(
    debug, backend, enabled
):
    read = settings_with(DEBUG=debug)
    assert read["EMAIL_BACKEND"] == f"django.core.mail.backends.{backend}.EmailBackend"
    assert read["EMAIL_ENABLED"] is enabled
    assert read["INVITATION_MAX_AGE_DAYS"] == 7
