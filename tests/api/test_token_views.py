"""The browser page for personal API tokens: list, make (key shown once), revoke."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotator.api.models import ApiToken, hash_key
from tests.factories import UserFactory, make_token

pytestmark = pytest.mark.django_db

PAGE = "/api/tokens/"


@pytest.fixture
def logged_in(client, annotator):
    client.force_login(annotator)
    return client


def test_the_page_needs_a_login(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_account_menu_links_to_the_page(logged_in):
    html = logged_in.get(reverse("password_change")).content.decode()
    assert f'<a href="{PAGE}">API tokens</a>' in html


def test_it_lists_only_my_tokens_with_their_last_four_characters(logged_in, annotator):
    mine = make_token(annotator, "my export script")
    theirs = make_token(UserFactory(username="someone_else"), "their script")
    html = logged_in.get(PAGE).content.decode()
    assert "my export script" in html
    assert f"…{mine[-4:]}" in html
    assert mine not in html
    assert "their script" not in html
    assert theirs[-4:] not in html
    assert "never" in html  # not used yet


def test_making_a_token_shows_the_whole_key_once(logged_in, annotator):
    response = logged_in.post(PAGE, {"name": "notebook"})
    assert response.status_code == 200
    key = response.context["new_key"]
    html = response.content.decode()
    assert f'value="{key}"' in html
    assert "shown only this once" in html
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(user=annotator)
    assert token.name == "notebook"
    assert token.key_hash == hash_key(key)
    assert key not in logged_in.get(PAGE).content.decode()


def test_the_new_key_works_against_the_api(logged_in, annotator):
    key = logged_in.post(PAGE, {"name": "notebook"}).context["new_key"]
    response = Client(headers={"authorization": f"Token {key}"}).get("/api/projects/")
    assert response.status_code == 200


def test_a_token_needs_a_name(logged_in):
    response = logged_in.post(PAGE, {"name": ""})
    assert response.status_code == 200
    assert response.context["new_key"] is None
    assert response.context["form"].errors["name"]
    assert not ApiToken.objects.exists()


def test_revoking_deletes_the_token(logged_in, annotator):
    make_token(annotator, "old script")
    token = ApiToken.objects.get()
    response = logged_in.post(reverse("api:token_revoke", args=[token.pk]), follow=True)
    assert response.redirect_chain[-1][0] == PAGE
    assert not ApiToken.objects.exists()
    assert "Revoked the token “old script”" in response.content.decode()


def test_revoking_is_a_post(logged_in, annotator):
    make_token(annotator)
    token = ApiToken.objects.get()
    assert logged_in.get(reverse("api:token_revoke", args=[token.pk])).status_code == 405
    assert ApiToken.objects.exists()


def test_nobody_can_revoke_another_persons_token(logged_in):
    make_token(UserFactory(username="someone_else"))
    token = ApiToken.objects.get()
    response = logged_in.post(reverse("api:token_revoke", args=[token.pk]))
    assert response.status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_making_and_revoking_need_the_csrf_token(annotator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(annotator)
    assert client.post(PAGE, {"name": "forged"}).status_code == 403
    assert not ApiToken.objects.exists()
    make_token(annotator)
    token = ApiToken.objects.get()
    assert client.post(reverse("api:token_revoke", args=[token.pk])).status_code == 403
    assert ApiToken.objects.exists()


def test_the_forms_carry_the_csrf_token(logged_in, annotator):
    make_token(annotator)
    html = logged_in.get(PAGE).content.decode()
    assert html.count('name="csrfmiddlewaretoken"') >= 3  # logout, revoke, make


def test_the_page_reads_in_constant_queries(logged_in, annotator):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert logged_in.get(PAGE).status_code == 200
        return len(captured)

    make_token(annotator)
    one = queries()
    for n in range(19):
        make_token(annotator, f"script {n}")
    assert queries() == one


# --- Expiry and revoking them all -------------------------------------------------------------


@pytest.mark.parametrize(("choice", "days"), [("30", 30), ("90", 90), ("365", 365)])
def test_a_new_token_expires_after_the_chosen_days(logged_in, annotator, choice, days):
    logged_in.post(PAGE, {"name": "notebook", "expires_in": choice})
    expected = timezone.now() + timedelta(days=days)
    assert abs(ApiToken.objects.get().expires_at - expected) < timedelta(minutes=1)


def test_a_new_token_can_never_expire(logged_in, annotator):
    logged_in.post(PAGE, {"name": "server cron", "expires_in": "0"})
    assert ApiToken.objects.get().expires_at is None


def test_tokens_expire_in_90_days_unless_told_otherwise(logged_in, annotator):
    html = logged_in.get(PAGE).content.decode()
    assert '<option value="90" selected>in 90 days</option>' in html
    logged_in.post(PAGE, {"name": "notebook"})
    expected = timezone.now() + timedelta(days=90)
    assert abs(ApiToken.objects.get().expires_at - expected) < timedelta(minutes=1)


def test_an_unknown_expiry_is_refused_with_a_message(logged_in):
    response = logged_in.post(PAGE, {"name": "notebook", "expires_in": "-5"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_list_shows_expiry_and_expired_tokens(logged_in, annotator):
    make_token(annotator, "forever")
    make_token(annotator, "old")
    ApiToken.objects.filter(name="old").update(expires_at=timezone.now() - timedelta(days=1))
    html = logged_in.get(PAGE).content.decode()
    assert "<strong>expired</strong>" in html
    assert '<th scope="col">Expires</th>' in html
    assert "updated at most once a minute" in html


def test_revoke_all_deletes_only_my_tokens(logged_in, annotator):
    make_token(annotator, "one")
    make_token(annotator, "two")
    theirs = UserFactory(username="someone_else")
    make_token(theirs)
    response = logged_in.post(reverse("api:token_revoke_all"), follow=True)
    assert response.redirect_chain[-1][0] == PAGE
    assert "Revoked all your tokens (2)." in response.content.decode()
    assert not ApiToken.objects.filter(user=annotator).exists()
    assert ApiToken.objects.filter(user=theirs).count() == 1


def test_revoke_all_with_no_tokens_says_so(logged_in):
    response = logged_in.post(reverse("api:token_revoke_all"), follow=True)
    assert "You had no tokens to revoke." in response.content.decode()


def test_the_revoke_all_button_shows_only_when_there_are_tokens(logged_in, annotator):
    assert "Revoke all my tokens" not in logged_in.get(PAGE).content.decode()
    make_token(annotator)
    assert "Revoke all my tokens" in logged_in.get(PAGE).content.decode()


def test_revoke_all_needs_a_login(client, annotator):
    make_token(annotator)
    response = client.post(reverse("api:token_revoke_all"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert ApiToken.objects.exists()


def test_revoke_all_is_a_post_with_the_csrf_token(logged_in, annotator):
    make_token(annotator)
    assert logged_in.get(reverse("api:token_revoke_all")).status_code == 405
    client = Client(enforce_csrf_checks=True)
    client.force_login(annotator)
    assert client.post(reverse("api:token_revoke_all")).status_code == 403
    assert ApiToken.objects.exists()


def test_a_token_cannot_revoke_all_tokens(annotator):
    key = make_token(annotator)
    response = Client(headers={"authorization": f"Token {key}"}).post(
        reverse("api:token_revoke_all")
    )
    assert response.status_code == 302  # the page is for the browser session only
    assert ApiToken.objects.exists()
