"""A fuzzing pass over the accounts forms: no hostile value in any field gets a 500, and a
refused request changes nothing (tests/test_bad_input.py does the same for the other apps)."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import NoReverseMatch, reverse

from annotator.accounts.models import Invitation
from tests.test_bad_input import HOSTILE_VALUES

HOSTILE = [*HOSTILE_VALUES, "a@b", "@", "x" * 200 + "@example.org", "ñiña", "..", "%"]


def client_for(user=None) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def test_no_hostile_value_in_the_invite_form_gets_a_500(project, project_admin):
    client = client_for(project_admin)
    url = reverse("corpus:member_list", args=[project.slug])
    failures = []
    for field in ("who", "role", "action"):
        for value in HOSTILE:
            data = {"action": "add", "who": "fuzz@example.org", "role": "annotator", field: value}
            response = client.post(url, data)
            if response.status_code >= 500:
                failures.append((field, value[:20], response.status_code))
            Invitation.objects.all().delete()
    assert failures == []


def test_wrong_types_in_the_invite_form_are_refused(project, project_admin):
    client = client_for(project_admin)
    url = reverse("corpus:member_list", args=[project.slug])
    response = client.post(url, {"action": "add", "who": ["a", "b"], "role": ["admin", "x"]})
    assert response.status_code in (302, 400)
    response = client.post(url, '{"who": 1}', content_type="application/json")
    assert response.status_code < 500
    response = client.post(url, {"action": "add", "role": "owner", "who": "a@example.org"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Invitation.objects.filter(invitee="a@example.org").exists()


def test_no_hostile_value_in_the_sign_up_form_gets_a_500(invitation):
    url = invitation.get_absolute_url()
    failures = []
    for field in ("username", "password1", "password2"):
        for value in HOSTILE:
            data = {"username": "fuzzy", "password1": "p1", "password2": "p2", field: value}
            response = client_for().post(url, data)
            if response.status_code >= 500:
                failures.append((field, value[:20], response.status_code))
    assert failures == []
    assert not get_user_model().objects.exclude(username="ada_admin").exists()


def test_no_hostile_value_in_the_link_gets_a_500(db):
    failures = []
    for value in [*HOSTILE, "a:b:c", "W1sxLCJ4Il0:1abc:def", "eyJ0eXAiOiJKV1QifQ"]:
        for method in ("get", "post"):
            try:
                url = reverse("accounts:invitation_accept", args=[value])
            except NoReverseMatch:  # a value no URL can hold (a slash, nothing) is not sent
                continue
            response = getattr(client_for(), method)(url)
            if response.status_code >= 500 or response.status_code < 400:
                failures.append((method, value[:20], response.status_code))
    assert failures == []


@override_settings(EMAIL_ENABLED=True)
def test_no_hostile_value_in_the_reset_form_gets_a_500(db, mailoutbox):
    url = reverse("accounts:password_reset")
    failures = [
        (value[:20], response.status_code)
        for value in HOSTILE
        if (response := client_for().post(url, {"email": value})).status_code >= 500
    ]
    assert failures == []
    assert mailoutbox == []


@pytest.mark.parametrize("value", ["abc", "-1", "1.5"])
def test_an_invitation_id_that_is_not_a_number_is_not_found(project, project_admin, value):
    response = client_for(project_admin).post(f"/p/{project.slug}/invitations/{value}/revoke/")
    assert response.status_code == 404
