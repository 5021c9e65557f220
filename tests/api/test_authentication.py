"""Personal API tokens: creation, hash-only storage, the Token header, revocation, last use."""

import hashlib
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotator.api.models import ApiToken, hash_key
from tests.factories import UserFactory, make_token

pytestmark = pytest.mark.django_db

PROJECTS = "/api/projects/"


def token_client(key: str) -> Client:
    return Client(headers={"authorization": f"Token {key}"})


def test_a_new_token_keeps_only_the_hash_and_last_four_characters(annotator):
    token, key = ApiToken.objects.create_token(annotator, "laptop script")
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert stored.last_four == key[-4:]
    assert stored.masked == f"…{key[-4:]}"
    assert key not in {str(value) for value in ApiToken.objects.values().get().values()}
    assert stored.last_used_at is None


def test_keys_are_long_random_and_recognisable(annotator):
    _, first = ApiToken.objects.create_token(annotator, "one")
    _, second = ApiToken.objects.create_token(annotator, "two")
    assert first != second
    assert first.startswith("ca_")
    assert len(first) >= 40


def test_a_person_can_have_several_tokens(annotator):
    make_token(annotator, "one")
    make_token(annotator, "two")
    assert annotator.api_tokens.count() == 2


def test_a_valid_token_authenticates_the_request(annotator, project):
    response = token_client(make_token(annotator)).get(PROJECTS)
    assert response.status_code == 200
    assert [p["slug"] for p in response.json()["results"]] == [project.slug]


def test_a_wrong_token_is_401_with_the_scheme_to_use(annotator):
    make_token(annotator)
    response = token_client("ca_not-a-real-key").get(PROJECTS)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    assert response["WWW-Authenticate"] == "Token"


def test_no_credentials_is_401_not_403(db):
    response = Client().get(PROJECTS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("header", ["Token", "Token two parts", "Token \xe9t\xe9"])
def test_a_malformed_token_header_is_401(db, header):
    response = Client(headers={"authorization": header}).get(PROJECTS)
    assert response.status_code == 401
    assert "token" in response.json()["detail"].lower()


def test_another_scheme_is_not_mistaken_for_a_token(annotator):
    response = Client(headers={"authorization": "Basic YWRhOnNlY3JldA=="}).get(PROJECTS)
    assert response.status_code == 401


def test_a_revoked_token_stops_working_at_once(annotator):
    key = make_token(annotator)
    client = token_client(key)
    assert client.get(PROJECTS).status_code == 200
    ApiToken.objects.get(key_hash=hash_key(key)).delete()
    assert client.get(PROJECTS).status_code == 401


def test_an_inactive_account_is_refused_even_with_a_valid_token(annotator):
    key = make_token(annotator)
    # A bulk update skips the signal that deletes the tokens: the check still refuses them.
    type(annotator).objects.filter(pk=annotator.pk).update(is_active=False)
    response = token_client(key).get(PROJECTS)
    assert response.status_code == 401
    assert response.json() == {"detail": "This account is inactive."}


def test_the_first_use_is_recorded(annotator):
    key = make_token(annotator)
    token_client(key).get(PROJECTS)
    assert ApiToken.objects.get().last_used_at is not None


def test_last_use_is_written_at_most_once_a_minute(annotator):
    key = make_token(annotator)
    client = token_client(key)
    recent = timezone.now() - timedelta(seconds=30)
    ApiToken.objects.update(last_used_at=recent)
    client.get(PROJECTS)
    assert ApiToken.objects.get().last_used_at == recent

    stale = timezone.now() - timedelta(minutes=2)
    ApiToken.objects.update(last_used_at=stale)
    client.get(PROJECTS)
    assert ApiToken.objects.get().last_used_at > stale + timedelta(minutes=1)


def test_token_requests_need_no_csrf_token_but_session_writes_do(project_admin, project):
    url = reverse("api:export_list", args=[project.slug])
    with_token = token_client(make_token(project_admin))
    with_token.handler.enforce_csrf_checks = True
    assert with_token.post(url, {}, content_type="application/json").status_code == 202

    with_session = Client(enforce_csrf_checks=True)
    with_session.force_login(project_admin)
    response = with_session.post(url, {}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_the_browser_session_also_works_for_reads(annotator, client):
    client.force_login(annotator)
    assert client.get(PROJECTS).status_code == 200


# --- Expiry and deactivation ------------------------------------------------------------------


def test_an_expired_token_is_401_with_the_date_it_expired(annotator):
    key = make_token(annotator)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = token_client(key).get(PROJECTS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    detail = response.json()["detail"]
    assert detail.startswith("This token expired on ")
    assert "make a new one at /api/tokens/" in detail


def test_a_token_works_until_it_expires(annotator):
    key = make_token(annotator)
    ApiToken.objects.update(expires_at=timezone.now() + timedelta(minutes=5))
    assert token_client(key).get(PROJECTS).status_code == 200


def test_deactivating_an_account_deletes_its_tokens(annotator):
    key = make_token(annotator)
    make_token(annotator, "second")
    kept = make_token(UserFactory(username="still_active"))
    annotator.is_active = False
    annotator.save()
    assert not ApiToken.objects.filter(user=annotator).exists()
    annotator.is_active = True
    annotator.save()
    assert token_client(key).get(PROJECTS).status_code == 401
    assert token_client(kept).get(PROJECTS).status_code == 200


def test_deactivating_in_the_django_admin_deletes_the_tokens(annotator, client):
    make_token(annotator)
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    change = reverse("admin:auth_user_change", args=[annotator.pk])
    form = client.get(change).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(
        {
            "is_active": "",
            "date_joined_0": annotator.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": annotator.date_joined.strftime("%H:%M:%S"),
            "groups": [],
            "user_permissions": [],
        }
    )
    data.pop("last_login", None)
    response = client.post(change, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    annotator.refresh_from_db()
    assert annotator.is_active is False
    assert not ApiToken.objects.filter(user=annotator).exists()
