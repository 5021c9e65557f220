"""The site admins' list of accounts, and deactivating and reactivating them."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from annotator.api.models import ApiToken
from annotator.corpus.models import Role
from tests.factories import PASSWORD, MembershipFactory, ProjectFactory, UserFactory

LIST_URL = reverse("accounts:person_list")


def deactivate_url(person) -> str:
    return reverse("accounts:person_deactivate", args=[person.pk])


def reactivate_url(person) -> str:
    return reverse("accounts:person_reactivate", args=[person.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def row_of(html: str, person) -> str:
    row = html[html.index(f'id="person-{person.pk}"') :]
    return row[: row.index("</tr>")]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("outsider", 403),
        ("annotator", 403),
        ("reviewer", 403),
        ("project_admin", 403),
        ("staff", 200),
        ("superuser", 200),
    ],
)
def test_only_site_admins_see_every_account(request, client, who, status):
    client.force_login(request.getfixturevalue(who))
    assert client.get(LIST_URL).status_code == status


def test_the_list_needs_a_login(client, db):
    response = client.get(LIST_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_list_shows_username_email_active_last_login_and_projects(
    client, staff, annotator, project
):
    MembershipFactory(project=ProjectFactory(name="Brexit", slug="brexit"), user=annotator)
    zed = UserFactory(username="zed", is_active=False)
    client.force_login(staff)
    response = client.get(LIST_URL)
    html = response.content.decode()
    assert [p.username for p in response.context["people"]] == [
        "ann_annotator",
        "sam_staff",
        "zed",
    ]
    row = row_of(html, annotator)
    assert "ann_annotator@example.org" in row
    assert "Aleppo ceasefire" in row and "Brexit" in row and "(annotator)" in row
    assert "never" in row
    assert "Deactivate" in row
    assert "Reactivate" in row_of(html, zed)
    assert "<strong>No</strong>" in row_of(html, zed)
    assert "Yes" in row_of(html, staff)  # logged in: has a last login
    assert "never" not in row_of(html, staff)


def test_site_admins_have_no_button_for_their_own_account(client, staff):
    client.force_login(staff)
    html = client.get(LIST_URL).content.decode()
    assert "Deactivate" not in row_of(html, staff)


def test_the_header_links_site_admins_to_the_list(client, staff, annotator, project):
    client.force_login(staff)
    assert LIST_URL in client.get(reverse("corpus:project_list")).content.decode()
    client.force_login(annotator)
    assert LIST_URL not in client.get(reverse("corpus:project_list")).content.decode()


def test_the_list_reads_in_a_constant_number_of_queries(client, django_assert_num_queries, staff):
    for _ in range(12):
        user = UserFactory()
        for _ in range(2):
            MembershipFactory(user=user, project=ProjectFactory(), role=Role.REVIEWER)
    client.force_login(staff)
    # session, user, count, page of people, their memberships with projects
    with django_assert_num_queries(5):
        response = client.get(LIST_URL)
    assert len(response.context["people"]) == 13


def test_the_list_pages_through_many_accounts(client, staff, monkeypatch):
    monkeypatch.setattr("annotator.accounts.views.PEOPLE_PER_PAGE", 2)
    for n in range(4):
        UserFactory(username=f"p{n}")
    client.force_login(staff)
    response = client.get(LIST_URL, {"page": "2"})
    assert [p.username for p in response.context["people"]] == ["p2", "p3"]
    assert "Page 2 of 3" in response.content.decode()
    for bad in ("abc", "-1", str(2**70), "999", "1e309"):
        assert client.get(LIST_URL, {"page": bad}).status_code == 200, bad


def test_deactivating_logs_out_and_stops_api_tokens(client, staff, annotator, project):
    _token, key = ApiToken.objects.create_token(annotator, "script")
    theirs = Client()
    theirs.force_login(annotator)
    assert theirs.get(project.get_absolute_url()).status_code == 200
    client.force_login(staff)
    response = client.post(deactivate_url(annotator), follow=True)
    assert messages_of(response) == [
        "Deactivated ann_annotator: they are logged out and their API tokens stop working."
    ]
    annotator.refresh_from_db()
    assert annotator.is_active is False
    assert theirs.get(project.get_absolute_url()).status_code == 302
    api = Client().get(reverse("api:project_list"), HTTP_AUTHORIZATION=f"Token {key}")
    assert api.status_code == 401
    assert Client().login(username="ann_annotator", password=PASSWORD) is False


def test_reactivating_lets_them_log_in_again(client, staff):
    person = UserFactory(username="zed", is_active=False)
    client.force_login(staff)
    response = client.post(reactivate_url(person), follow=True)
    assert messages_of(response) == ["Reactivated zed: they can log in again."]
    assert Client().login(username="zed", password=PASSWORD) is True


def test_deactivating_twice_says_it_already_was(client, staff, annotator):
    client.force_login(staff)
    client.post(deactivate_url(annotator))
    response = client.post(deactivate_url(annotator), follow=True)
    assert messages_of(response)[-1] == "ann_annotator was already inactive."


def test_nobody_deactivates_their_own_account(client, superuser):
    client.force_login(superuser)
    response = client.post(deactivate_url(superuser))
    assert response.status_code == 403
    superuser.refresh_from_db()
    assert superuser.is_active


def test_staff_cannot_deactivate_a_superuser_but_a_superuser_can(client, staff, superuser):
    other = UserFactory(username="other_super", is_superuser=True, is_staff=True)
    client.force_login(staff)
    assert client.post(deactivate_url(superuser)).status_code == 403
    superuser.refresh_from_db()
    assert superuser.is_active
    client.force_login(superuser)
    assert client.post(deactivate_url(other)).status_code == 302
    other.refresh_from_db()
    assert not other.is_active


@pytest.mark.parametrize(
    ("who", "status"),
    [("outsider", 403), ("annotator", 403), ("project_admin", 403), ("staff", 302)],
)
def test_only_site_admins_deactivate(request, client, reviewer, who, status):
    client.force_login(request.getfixturevalue(who))
    assert client.post(deactivate_url(reviewer)).status_code == status
    reviewer.refresh_from_db()
    assert reviewer.is_active == (status != 302)


def test_deactivating_needs_a_login_a_post_and_a_csrf_token(client, staff, reviewer):
    assert client.post(deactivate_url(reviewer))["Location"].startswith(reverse("login"))
    client.force_login(staff)
    assert client.get(deactivate_url(reviewer)).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff)
    assert strict.post(deactivate_url(reviewer)).status_code == 403
    reviewer.refresh_from_db()
    assert reviewer.is_active


@pytest.mark.parametrize("user_id", [0, 999_999, 2**63, 2**70])
def test_an_unknown_account_is_not_found(client, staff, user_id):
    client.force_login(staff)
    assert client.post(f"/accounts/people/{user_id}/deactivate/").status_code == 404
    assert get_user_model().objects.filter(is_active=False).count() == 0
