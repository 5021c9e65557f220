"""Password reset by e-mail: offered only when the site sends e-mail, Django's views inside."""

import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from tests.factories import UserFactory

NEW_PASSWORD = "a long and unusual pass phrase 7"
RESET_URL = reverse("accounts:password_reset")


@pytest.fixture
def nina(db):
    return UserFactory(username="nina", email="nina@example.org")


def link_in(message) -> str:
    return re.search(r"http://testserver(/\S+)", message.body).group(1)


@override_settings(EMAIL_ENABLED=False)
def test_without_email_nothing_offers_or_answers_a_reset(client, db):
    assert RESET_URL not in client.get(reverse("login")).content.decode()
    for url in (
        RESET_URL,
        reverse("accounts:password_reset_done"),
        reverse("accounts:password_reset_confirm", args=["MQ", "set-password"]),
        reverse("accounts:password_reset_complete"),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(RESET_URL, {"email": "nina@example.org"}).status_code == 404


@override_settings(EMAIL_ENABLED=True)
def test_the_login_page_links_to_the_reset_when_email_is_configured(client, db):
    assert RESET_URL in client.get(reverse("login")).content.decode()


@override_settings(EMAIL_ENABLED=True)
def test_a_person_resets_their_password_through_the_emailed_link(client, nina, mailoutbox):
    response = client.post(RESET_URL, {"email": "NINA@example.org"}, follow=True)
    assert "Check your e-mail" in response.content.decode()
    (message,) = mailoutbox
    assert message.to == ["nina@example.org"]
    assert "Hello nina" in message.body
    page = client.get(link_in(message), follow=True)
    assert page.context["validlink"] is True
    done = client.post(
        page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Password set" in done.content.decode()
    assert Client().login(username="nina", password=NEW_PASSWORD)
    # The link works once.
    again = Client().get(link_in(message), follow=True)
    assert again.context["validlink"] is False
    assert "Ask for a new link" in again.content.decode()


@override_settings(EMAIL_ENABLED=True)
def test_an_unknown_or_inactive_address_gets_the_same_page_and_no_email(client, nina, mailoutbox):
    UserFactory(username="gone", email="gone@example.org", is_active=False)
    for email in ("ghost@example.org", "gone@example.org"):
        response = client.post(RESET_URL, {"email": email}, follow=True)
        assert response.redirect_chain[-1][0] == reverse("accounts:password_reset_done")
    assert mailoutbox == []


@override_settings(EMAIL_ENABLED=True)
@pytest.mark.parametrize("email", ["", "not an address", "x" * 300 + "@example.org"])
def test_a_bad_address_is_a_400_with_a_message(client, db, email, mailoutbox):
    response = client.post(RESET_URL, {"email": email})
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode()
    assert mailoutbox == []


@override_settings(EMAIL_ENABLED=True)
def test_a_weak_new_password_is_a_400_with_a_message(client, nina, mailoutbox):
    client.post(RESET_URL, {"email": "nina@example.org"})
    page = client.get(link_in(mailoutbox[0]), follow=True)
    response = client.post(
        page.redirect_chain[-1][0], {"new_password1": "12345678", "new_password2": "12345678"}
    )
    assert response.status_code == 400
    assert "too common" in response.content.decode()


@override_settings(EMAIL_ENABLED=True)
@pytest.mark.parametrize(("uid", "token"), [("MQ", "bad-token"), ("!!", "x"), ("A" * 500, "y")])
def test_a_forged_reset_link_says_it_cannot_be_used(client, nina, uid, token):
    response = client.get(reverse("accounts:password_reset_confirm", args=[uid, token]))
    assert response.status_code == 200
    assert "This link cannot be used" in response.content.decode()
