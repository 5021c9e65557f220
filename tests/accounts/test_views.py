"""The invitation pages: inviting on the members page, using the link, withdrawing it."""

from datetime import timedelta
from smtplib import SMTPException
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from annotator.accounts.invitations import invite
from annotator.accounts.models import Invitation
from annotator.corpus.models import Membership, Role
from tests.factories import PASSWORD, ProjectFactory, UserFactory

NEW_PASSWORD = "a long and unusual pass phrase 7"


def member_url(project) -> str:
    return reverse("corpus:member_list", args=[project.slug])


def revoke_url(invitation) -> str:
    return reverse("accounts:invitation_revoke", args=[invitation.project.slug, invitation.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- Inviting on the members page ---------------------------------------------------------


def test_it_says_the_same_whether_or_not_an_account_exists(client, project_admin, project):
    UserFactory(username="nina", email="nina@example.org")
    client.force_login(project_admin)
    answers = []
    for who in ("nina", "ghost", "nina@example.org", "ghost@example.org"):
        response = client.post(
            member_url(project), {"action": "add", "who": who, "role": "annotator"}, follow=True
        )
        answers.append(messages_of(response)[0].replace(who, "WHO"))
    assert len(set(answers)) == 1, answers
    assert project.memberships.count() == 1  # only the admin: nobody joins before the link
    rows = response.context["invitations"]
    assert sorted(i.invitee for i in rows) == sorted(
        ["nina", "ghost", "nina@example.org", "ghost@example.org"]
    )


def test_the_pending_invitation_shows_its_link_to_copy(client, project_admin, project):
    client.force_login(project_admin)
    response = client.post(
        member_url(project), {"action": "add", "who": "ghost", "role": "reviewer"}, follow=True
    )
    invitation = Invitation.objects.get()
    html = response.content.decode()
    assert f"http://testserver{invitation.get_absolute_url()}" in html
    assert 'data-copy="link-' in html
    assert "Reviewer" in html


@override_settings(EMAIL_ENABLED=True)
def test_an_invitation_by_email_is_emailed_when_the_site_sends_email(
    client, project_admin, project, mailoutbox
):
    client.force_login(project_admin)
    response = client.post(
        member_url(project),
        {"action": "add", "who": "ghost@example.org", "role": "annotator"},
        follow=True,
    )
    invitation = Invitation.objects.get()
    (message,) = mailoutbox
    assert message.to == ["ghost@example.org"]
    assert f"http://testserver{invitation.get_absolute_url()}" in message.body
    assert messages_of(response) == [
        "Invited ghost@example.org as annotator. We e-mailed the link to ghost@example.org; "
        "you can also copy it below."
    ]


@override_settings(EMAIL_ENABLED=True)
def test_a_mail_server_that_fails_leaves_the_link_to_copy(client, project_admin, project):
    client.force_login(project_admin)
    with mock.patch("annotator.accounts.invitations.send_mail", side_effect=SMTPException("down")):
        response = client.post(
            member_url(project),
            {"action": "add", "who": "ghost@example.org", "role": "annotator"},
            follow=True,
        )
    assert response.status_code == 200
    assert "Copy the link below" in messages_of(response)[0]
    assert Invitation.objects.pending().count() == 1


def test_it_refuses_a_second_pending_invitation_of_the_same_person(
    client, project_admin, project, invitation
):
    client.force_login(project_admin)
    response = client.post(
        member_url(project), {"action": "add", "who": "NINA@example.org", "role": "admin"}
    )
    assert response.status_code == 400
    assert "is invited already" in response.content.decode()
    assert Invitation.objects.count() == 1


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("nina@", "is not an e-mail address"),
        ("two words", "username of letters, digits"),
        ("x" * 151, "at most 150 characters"),
        ("x" * 255, "at most 254 characters"),
        ("   ", "This field is required"),
    ],
    ids=["bad-email", "space", "long-username", "too-long", "blank"],
)
def test_it_refuses_what_is_neither_an_email_nor_a_username(
    client, project_admin, project, who, message
):
    client.force_login(project_admin)
    response = client.post(member_url(project), {"action": "add", "who": who, "role": "admin"})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Invitation.objects.exists()


def test_expired_used_and_withdrawn_invitations_are_not_listed(
    client, project_admin, project, invitation
):
    now = timezone.now()
    for who, change in [
        ("old", {"expires_at": now - timedelta(days=1)}),
        ("used", {"accepted_at": now}),
        ("gone", {"revoked_at": now}),
    ]:
        Invitation.objects.filter(pk=invite(project, who, Role.ADMIN, project_admin).pk).update(
            **change
        )
    client.force_login(project_admin)
    response = client.get(member_url(project))
    assert [i.invitee for i in response.context["invitations"]] == ["nina@example.org"]


def test_the_members_page_reads_invitations_in_a_constant_number_of_queries(
    client, django_assert_num_queries, project_admin, project
):
    for n in range(10):
        invite(project, f"person{n}@example.org", Role.ANNOTATOR, UserFactory())
    client.force_login(project_admin)
    # session, user, project, membership, members with users, invitations with inviters
    with django_assert_num_queries(6):
        response = client.get(member_url(project))
    assert len(response.context["invitations"]) == 10


# --- Withdrawing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("outsider", 404),
        ("annotator", 403),
        ("reviewer", 403),
        ("researcher", 403),
        ("project_admin", 302),
        ("superuser", 302),
    ],
)
def test_only_project_admins_withdraw_invitations(request, client, invitation, who, status):
    client.force_login(request.getfixturevalue(who))
    response = client.post(revoke_url(invitation))
    assert response.status_code == status
    invitation.refresh_from_db()
    assert (invitation.revoked_at is not None) == (status == 302)


def test_withdrawing_needs_a_login(client, invitation):
    response = client.post(revoke_url(invitation))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_withdrawing_stops_the_link_at_once(client, project_admin, invitation):
    client.force_login(project_admin)
    response = client.post(revoke_url(invitation), follow=True)
    assert messages_of(response) == ["Withdrew the invitation of nina@example.org."]
    response = Client().get(invitation.get_absolute_url())
    assert response.status_code == 410
    assert "was withdrawn" in response.content.decode()


def test_withdrawing_twice_says_it_was_no_longer_pending(client, project_admin, invitation):
    client.force_login(project_admin)
    client.post(revoke_url(invitation))
    response = client.post(revoke_url(invitation), follow=True)
    assert "no longer pending" in messages_of(response)[-1]


def test_withdrawing_is_a_post(client, project_admin, invitation):
    client.force_login(project_admin)
    assert client.get(revoke_url(invitation)).status_code == 405


def test_an_admin_cannot_withdraw_another_projects_invitation(client, project_admin, other_project):
    elsewhere = invite(other_project, "x@example.org", Role.ADMIN, None)
    client.force_login(project_admin)
    url = reverse("accounts:invitation_revoke", args=["aleppo", elsewhere.pk])
    assert client.post(url).status_code == 404
    elsewhere.refresh_from_db()
    assert elsewhere.revoked_at is None


def test_withdrawing_needs_a_csrf_token(project_admin, invitation):
    client = Client(enforce_csrf_checks=True)
    client.force_login(project_admin)
    assert client.post(revoke_url(invitation)).status_code == 403


# --- Using the link: a newcomer -------------------------------------------------------------


def test_a_newcomer_sees_the_project_role_and_a_prefilled_username(client, invitation):
    response = client.get(invitation.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "Join Aleppo ceasefire" in html
    assert "as <strong>annotator</strong>" in html
    assert response.context["form"]["username"].value() == "nina"
    assert f"{reverse('login')}?next=" in html


def test_a_newcomer_signs_up_and_lands_in_the_project_with_the_role(client, invitation):
    response = client.post(
        invitation.get_absolute_url(),
        {"username": "nina", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        follow=True,
    )
    nina = get_user_model().objects.get(username="nina")
    assert nina.email == "nina@example.org"
    assert nina.check_password(NEW_PASSWORD)
    assert Membership.objects.get(user=nina).role == Role.ANNOTATOR
    assert response.redirect_chain[-1][0] == invitation.project.get_absolute_url()
    assert response.context["user"] == nina
    assert messages_of(response) == ["Welcome to Aleppo ceasefire! You joined as annotator."]
    assert "Start labelling" in response.content.decode()


def test_a_link_works_only_once(client, invitation):
    data = {"username": "nina", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    client.post(invitation.get_absolute_url(), data)
    other = Client()
    response = other.post(invitation.get_absolute_url(), {**data, "username": "nina2"})
    assert response.status_code == 410
    assert "has already been used" in response.content.decode()
    assert not get_user_model().objects.filter(username="nina2").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "ada_admin"}, "A user with that username already exists."),
        ({"username": "ADA_ADMIN"}, "A user with that username already exists."),
        ({"password2": "something else entirely 9"}, "fields didn"),
        ({"password1": "ninaexampleorg", "password2": "ninaexampleorg"}, "too similar"),
        ({"password1": "password", "password2": "password"}, "too common"),
        ({"password1": "1" * 12, "password2": "1" * 12}, "entirely numeric"),
        ({"username": "x" * 151}, "at most 150 characters"),
        ({"password1": "p" * 5000, "password2": "p" * 5000}, "at most 4096 characters"),
        ({"username": "<script>"}, "Enter a valid username."),
    ],
    ids=["taken", "taken-case", "mismatch", "similar", "common", "numeric", "long-name",
         "long-password", "script"],
)  # fmt: skip
def test_a_refused_sign_up_says_why_and_creates_nothing(
    client, invitation, project_admin, data, message
):
    before = get_user_model().objects.count()
    response = client.post(
        invitation.get_absolute_url(),
        {"username": "nina", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, **data},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert get_user_model().objects.count() == before
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


@pytest.mark.parametrize("token", ["x", "a" * 5000, "..", "%00", "abc:def:ghi"])
def test_a_forged_link_is_a_404_that_says_so(client, db, token):
    response = client.get(reverse("accounts:invitation_accept", args=[token]))
    assert response.status_code == 404
    assert "This invitation link is not valid" in response.content.decode()


def test_an_expired_link_is_a_410_that_says_so(client, invitation):
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    for response in (
        client.get(invitation.get_absolute_url()),
        client.post(invitation.get_absolute_url(), {"username": "nina"}),
    ):
        assert response.status_code == 410
        assert "has expired. Ask one of its admins for a new one." in response.content.decode()


def test_a_link_that_expires_during_sign_up_creates_no_account(client, invitation):
    with mock.patch(
        "annotator.accounts.invitations.Invitation.status",
        new_callable=mock.PropertyMock,
        side_effect=[Invitation.Status.PENDING, Invitation.Status.EXPIRED],
    ):
        response = client.post(
            invitation.get_absolute_url(),
            {"username": "nina", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
    assert response.status_code == 410
    assert not get_user_model().objects.filter(username="nina").exists()


# --- Using the link: someone with an account ----------------------------------------------


def test_someone_logged_in_joins_with_one_press(client, invitation, outsider):
    client.force_login(outsider)
    page = client.get(invitation.get_absolute_url())
    assert "Join Aleppo ceasefire as out_outsider" in page.content.decode()
    assert "form" not in page.context
    response = client.post(invitation.get_absolute_url(), follow=True)
    assert Membership.objects.get(user=outsider).role == Role.ANNOTATOR
    assert messages_of(response) == ["Welcome to Aleppo ceasefire! You joined as annotator."]


def test_someone_with_an_account_logs_in_from_the_link_and_comes_back(client, invitation):
    UserFactory(username="nina")
    response = client.post(
        reverse("login"),
        {"username": "nina", "password": PASSWORD, "next": invitation.get_absolute_url()},
    )
    assert response["Location"] == invitation.get_absolute_url()


def test_a_member_who_joins_again_keeps_their_role(client, invitation, reviewer):
    client.force_login(reviewer)
    assert "already a member" in client.get(invitation.get_absolute_url()).content.decode()
    response = client.post(invitation.get_absolute_url(), follow=True)
    assert Membership.objects.get(user=reviewer).role == Role.REVIEWER
    assert messages_of(response) == ["You were already a member of Aleppo ceasefire, as reviewer."]


def test_the_link_page_needs_no_csrf_exemption(invitation):
    client = Client(enforce_csrf_checks=True)
    response = client.post(invitation.get_absolute_url(), {"username": "nina"})
    assert response.status_code == 403


# --- Invitations on the projects page -------------------------------------------------------


def test_someone_invited_by_username_finds_it_on_their_projects_page(
    client, project, project_admin, other_project
):
    bob = UserFactory(username="bob", email="bob@example.org")
    mine = invite(project, "BOB", Role.REVIEWER, project_admin)
    by_email = invite(other_project, "bob@example.org", Role.ANNOTATOR, None)
    invite(project, "carol", Role.ADMIN, project_admin)
    client.force_login(bob)
    response = client.get(reverse("corpus:project_list"))
    assert list(response.context["invitations"]) == [mine, by_email]
    html = response.content.decode()
    assert f'href="{mine.get_absolute_url()}">Join Aleppo ceasefire</a> as reviewer' in html
    assert "(from ada_admin)" in html
    assert "carol" not in html
    client.post(mine.get_absolute_url())
    assert list(client.get(reverse("corpus:project_list")).context["invitations"]) == [by_email]


def test_an_invitation_to_a_project_one_is_in_is_not_offered(client, project, annotator):
    invite(project, annotator.username, Role.ADMIN, None)
    client.force_login(annotator)
    response = client.get(reverse("corpus:project_list"))
    assert list(response.context["invitations"]) == []
    assert "Invitations for you" not in response.content.decode()


def test_the_projects_page_reads_invitations_in_one_query(
    client, django_assert_num_queries, outsider
):
    for n in range(5):
        invite(ProjectFactory(slug=f"p{n}"), outsider.email, Role.ANNOTATOR, UserFactory())
    client.force_login(outsider)
    # session, user, projects with role and counts, invitations with projects and inviters
    with django_assert_num_queries(4):
        response = client.get(reverse("corpus:project_list"))
    assert len(response.context["invitations"]) == 5


def test_hostile_names_are_escaped_on_the_members_and_link_pages(client, project_admin, project):
    project.name = '<script>alert("p")</script>'
    project.save()
    client.force_login(project_admin)
    client.post(member_url(project), {"action": "add", "who": "a@example.org", "role": "admin"})
    members = client.get(member_url(project)).content.decode()
    link_page = Client().get(Invitation.objects.get().get_absolute_url()).content.decode()
    for html in (members, link_page):
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert" in html
