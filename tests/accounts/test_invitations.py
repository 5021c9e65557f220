"""Invitations as domain objects: links, their expiry, withdrawal and single use."""

from datetime import timedelta

import pytest
from django.core import signing
from django.test import override_settings
from django.utils import timezone

from annotator.accounts.invitations import (
    InvitationUnusable,
    accept,
    invitation_for_token,
    invite,
    revoke,
    send_invitation,
)
from annotator.accounts.models import TOKEN_SALT, Invitation
from annotator.corpus.models import Membership, Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory


def test_a_link_finds_its_invitation_and_is_the_same_each_time(invitation):
    assert invitation_for_token(invitation.token) == invitation
    assert Invitation.objects.get().token == invitation.token


def test_an_invitation_by_email_keeps_the_address_and_suggests_its_local_part(invitation):
    assert invitation.email == "nina@example.org"
    assert invitation.suggested_username == "nina"


def test_an_invitation_by_username_has_no_address(project, project_admin):
    invitation = invite(project, "bob", Role.REVIEWER, project_admin)
    assert invitation.email == ""
    assert invitation.suggested_username == "bob"


@override_settings(INVITATION_MAX_AGE_DAYS=3)
def test_it_expires_after_the_configured_days(project, project_admin):
    invitation = invite(project, "bob", Role.REVIEWER, project_admin)
    assert invitation.expires_at - invitation.created_at == pytest.approx(
        timedelta(days=3), abs=timedelta(seconds=5)
    )


@pytest.mark.parametrize(
    "token",
    [
        "",
        "nonsense",
        signing.Signer(salt="another-salt").sign_object([1, "x"]),
        signing.Signer(salt=TOKEN_SALT).sign_object("not a pair"),
        signing.Signer(salt=TOKEN_SALT).sign_object([2**70, "x"]),
        signing.Signer(salt=TOKEN_SALT).sign_object(["abc", "x"]),
    ],
    ids=["empty", "nonsense", "other-salt", "not-a-pair", "huge-id", "word-id"],
)
def test_a_forged_link_is_not_found(db, token):
    with pytest.raises(InvitationUnusable) as caught:
        invitation_for_token(token)
    assert caught.value.status == 404
    assert "not valid" in str(caught.value)


def test_a_link_with_the_wrong_nonce_is_not_found(invitation):
    forged = signing.Signer(salt=TOKEN_SALT).sign_object([invitation.pk, "guessed"])
    with pytest.raises(InvitationUnusable) as caught:
        invitation_for_token(forged)
    assert caught.value.status == 404


def test_an_altered_link_is_not_found(invitation):
    token = invitation.token
    with pytest.raises(InvitationUnusable):
        invitation_for_token(token[:-1] + ("A" if token[-1] != "A" else "B"))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "has expired"),
        ({"revoked_at": timezone.now()}, "was withdrawn"),
        ({"accepted_at": timezone.now()}, "has already been used"),
    ],
    ids=["expired", "revoked", "used"],
)
def test_an_unusable_invitation_is_gone_and_says_why(invitation, change, words):
    Invitation.objects.filter(pk=invitation.pk).update(**change)
    with pytest.raises(InvitationUnusable) as caught:
        invitation_for_token(invitation.token)
    assert caught.value.status == 410
    assert words in str(caught.value)
    assert "Aleppo ceasefire" in str(caught.value)


def test_accepting_makes_a_member_with_the_role_and_uses_the_invitation_up(invitation):
    nina = UserFactory(username="nina")
    membership = accept(invitation, nina)
    assert (membership.user, membership.role) == (nina, Role.ANNOTATOR)
    invitation.refresh_from_db()
    assert invitation.accepted_by == nina
    assert invitation.status == Invitation.Status.ACCEPTED
    with pytest.raises(InvitationUnusable):
        accept(invitation, UserFactory(username="someone_else"))
    assert Membership.objects.filter(project=invitation.project).count() == 2


def test_accepting_never_demotes_a_member(invitation, project):
    boss = MembershipFactory(project=project, role=Role.ADMIN).user
    assert accept(invitation, boss).role == Role.ADMIN


def test_revoking_only_touches_a_pending_invitation(invitation):
    assert revoke(invitation) is True
    assert revoke(invitation) is False
    assert Invitation.objects.pending().count() == 0


@override_settings(EMAIL_ENABLED=True)
def test_the_email_names_the_project_role_and_link(invitation, mailoutbox):
    assert send_invitation(invitation, "https://example.org/link") is True
    (message,) = mailoutbox
    assert message.to == ["nina@example.org"]
    assert message.subject == "You are invited to Aleppo ceasefire"
    assert "as annotator" in message.body
    assert "https://example.org/link" in message.body
    assert "ada_admin invites you" in message.body


@override_settings(EMAIL_ENABLED=False)
def test_no_email_goes_out_when_the_site_sends_none(invitation, mailoutbox):
    assert send_invitation(invitation, "https://example.org/link") is False
    assert mailoutbox == []


@override_settings(EMAIL_ENABLED=True)
def test_an_invitation_by_username_is_never_emailed(project, project_admin, mailoutbox):
    invitation = invite(project, "bob", Role.REVIEWER, project_admin)
    assert send_invitation(invitation, "https://example.org/link") is False
    assert mailoutbox == []


@override_settings(EMAIL_ENABLED=True)
def test_a_hostile_project_name_stays_one_line_in_the_subject(project_admin, mailoutbox):
    project = ProjectFactory(slug="hostile", name="Evil\r\nBcc: all@example.org <b>")
    invitation = invite(project, "nina@example.org", Role.ANNOTATOR, project_admin)
    assert send_invitation(invitation, "https://example.org/link") is True
    assert mailoutbox[0].subject == "You are invited to Evil Bcc: all@example.org <b>"
    assert mailoutbox[0].to == ["nina@example.org"]
