"""Password and token guessing is locked out (django-axes, annotator/lockout.py)."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import PASSWORD, UserFactory, make_token

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
PROJECTS = "/api/projects/"


@pytest.fixture(autouse=True)
def lockout(settings):
    """Axes on (the test settings turn it off), with the production defaults."""
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


@pytest.fixture
def person(db):
    return UserFactory(username="pat", is_staff=True)


def log_in(client: Client, username: str, password: str, url: str = LOGIN, **extra):
    return client.post(url, {"username": username, "password": password}, **extra)


def mistype(client: Client, username: str, times: int, url: str = LOGIN, **extra) -> list[int]:
    return [log_in(client, username, "wrong-guess", url, **extra).status_code for _ in range(times)]


def test_a_few_typos_then_the_right_password_logs_in(client, person):
    assert mistype(client, "pat", 4) == [200] * 4
    response = log_in(client, "pat", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(person.pk)


def test_the_fifth_wrong_password_locks_the_account_out(client, person):
    assert mistype(client, "pat", 5) == [200, 200, 200, 200, 429]


def test_the_right_password_does_not_log_in_during_lockout(client, person):
    mistype(client, "pat", 5)
    response = log_in(client, "pat", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_page_says_when_to_try_again_in_the_sites_layout(client, person):
    mistype(client, "pat", 4)
    before = timezone.now()
    response = log_in(client, "pat", "wrong-guess")
    html = response.content.decode()
    assert response.status_code == 429
    assert "Too many failed logins" in html
    assert "in 15 minutes" in html
    retry = before + timedelta(minutes=15)
    assert f"{retry:%H:%M} UTC" in html or f"{retry + timedelta(minutes=1):%H:%M} UTC" in html
    assert 'class="site-header"' in html  # base.html
    assert 880 <= int(response["Retry-After"]) <= 900


def test_the_lockout_ends_after_the_cool_off(client, person):
    mistype(client, "pat", 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert log_in(client, "pat", PASSWORD).status_code == 302


def test_failures_count_per_account_from_any_address(client, person):
    for number in range(5):
        mistype(client, "pat", 1, REMOTE_ADDR=f"10.0.0.{number}")
    assert log_in(client, "pat", PASSWORD, REMOTE_ADDR="10.0.0.99").status_code == 429


def test_failures_count_per_address_across_accounts(client, person):
    for number in range(5):
        mistype(client, f"guess{number}", 1, REMOTE_ADDR="10.0.0.7")
    assert log_in(client, "pat", PASSWORD, REMOTE_ADDR="10.0.0.7").status_code == 429
    assert log_in(Client(), "pat", PASSWORD, REMOTE_ADDR="10.0.0.8").status_code == 302


def test_the_admin_login_is_locked_out_too(client, person):
    statuses = mistype(client, "pat", 5, url=ADMIN_LOGIN)
    assert statuses == [200, 200, 200, 200, 429]
    response = log_in(client, "pat", PASSWORD, url=ADMIN_LOGIN)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_failures_on_the_admin_login_lock_the_app_login(client, person):
    mistype(client, "pat", 5, url=ADMIN_LOGIN)
    assert log_in(client, "pat", PASSWORD).status_code == 429


# --- The client's address behind a proxy -----------------------------------------------------


def test_a_forwarded_header_is_ignored_unless_configured(client, person):
    for number in range(5):
        mistype(client, "guess", 1, HTTP_X_FORWARDED_FOR=f"203.0.113.{number}")
    # All five came from the same REMOTE_ADDR, whatever the header claimed.
    assert log_in(client, "pat", PASSWORD).status_code == 429


def test_a_configured_header_gives_the_address_the_proxy_appended(client, person, settings):
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    settings.AXES_IPWARE_PROXY_ORDER = "right-most"
    settings.AXES_IPWARE_PROXY_COUNT = 1
    for number in range(5):  # a spoofed left-most entry changes nothing
        forwarded = f"198.51.100.{number}, 203.0.113.5"
        mistype(client, f"guess{number}", 1, HTTP_X_FORWARDED_FOR=forwarded)
    assert AccessAttempt.objects.filter(ip_address="203.0.113.5").count() == 5
    locked = log_in(client, "pat", PASSWORD, HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.5")
    assert locked.status_code == 429
    other = log_in(Client(), "pat", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.6")
    assert other.status_code == 302


# --- API tokens -------------------------------------------------------------------------------


def token_get(key: str, **extra):
    return Client(headers={"authorization": f"Token {key}"}).get(PROJECTS, **extra)


def test_wrong_tokens_lock_the_address_out_of_the_api(person):
    statuses = [token_get(f"ca_guess{number}").status_code for number in range(5)]
    assert statuses == [401, 401, 401, 401, 429]


def test_a_right_token_is_refused_from_a_locked_out_address(person):
    key = make_token(person)
    for number in range(5):
        token_get(f"ca_guess{number}")
    response = token_get(key)
    assert response.status_code == 429
    assert "Too many failed attempts" in response.json()["detail"]
    assert int(response["Retry-After"]) > 0
    assert token_get(key, REMOTE_ADDR="10.1.1.1").status_code == 200


def test_wrong_tokens_do_not_lock_anyone_out_of_the_login(client, person):
    for number in range(5):
        token_get(f"ca_guess{number}", REMOTE_ADDR="10.2.2.2")
    assert log_in(client, "pat", PASSWORD).status_code == 302


def test_a_right_token_works_after_a_few_wrong_ones(person):
    key = make_token(person)
    for number in range(4):
        token_get(f"ca_guess{number}")
    assert token_get(key).status_code == 200


def test_a_lockout_is_not_a_500_for_a_json_client(person):
    for number in range(6):
        response = token_get(f"ca_guess{number}", HTTP_ACCEPT="application/json")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"


def test_the_login_link_on_the_lockout_page_goes_to_the_login(client, person):
    mistype(client, "pat", 5)
    html = log_in(client, "pat", PASSWORD).content.decode()
    assert f'href="{reverse("login")}"' in html
