"""The browser page for personal API tokens: list, make (key shown once), revoke."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

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
