"""Inviting people into a project, and what happens when the link is used.

No account probing: a project admin types a username or an e-mail address and always gets
the same answer, "Invited …", with a link to pass on; no account is looked up. Nobody becomes
a member until the link is used: a newcomer chooses a username and password on the link's
page; someone who already has an account logs in there and presses *Join* (or finds the
invitation on their projects page when it names their username or e-mail address). So the members
page, the messages and the e-mail (sent only to an address the admin typed) are the same
whether or not the person had an account. The link is a bearer token: whoever holds it may
use it, once, before it expires (``INVITATION_MAX_AGE_DAYS``), unless an admin revokes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from annotator.accounts.models import TOKEN_SALT, Invitation
from annotator.corpus.models import Membership, Project, Role

logger = logging.getLogger(__name__)


@dataclass
class InvitationUnusable(Exception):
    """The link cannot be used; ``status`` is the HTTP status to answer with."""

    message: str
    status: int

    def __str__(self) -> str:
        return self.message


def email_enabled() -> bool:
    """Whether the site sends e-mail (``EMAIL_URL`` set, or the console in development)."""
    return bool(getattr(settings, "EMAIL_ENABLED", False))


def invite(project: Project, invitee: str, role: Role, invited_by: AbstractBaseUser) -> Invitation:
    """Record an invitation of ``invitee`` (a username or an e-mail address) as ``role``."""
    email = invitee if "@" in invitee else ""
    return Invitation.objects.create(
        project=project, invitee=invitee, email=email, role=role, invited_by=invited_by
    )


def send_invitation(invitation: Invitation, link: str) -> bool:
    """E-mail ``link`` to the invitation's address; False when there is no address or the
    site sends no e-mail (the admin passes the link on)."""
    if not invitation.email or not email_enabled():
        return False
    context = {"invitation": invitation, "link": link, "project": invitation.project}
    # One line whatever the project's name: a header with a line break is refused.
    subject = " ".join(render_to_string("accounts/invitation_subject.txt", context).split())
    body = render_to_string("accounts/invitation_email.txt", context)
    try:
        send_mail(subject, body, None, [invitation.email])
    except OSError:  # smtplib's errors among them: the admin still has the link to pass on
        logger.exception("Could not e-mail the invitation %s", invitation.pk)
        return False
    return True


def invitation_for_token(token: str) -> Invitation:
    """The pending invitation a link stands for, or ``InvitationUnusable`` saying why not:
    404 for a link that was never made here (forged, altered, cut short), 410 for one that
    was used, revoked or has expired."""
    try:
        pk, nonce = signing.Signer(salt=TOKEN_SALT).unsign_object(token)
        invitation = Invitation.objects.select_related("project").get(pk=int(pk), nonce=nonce)
    except (signing.BadSignature, ValueError, TypeError, OverflowError, Invitation.DoesNotExist):
        raise InvitationUnusable(
            "This invitation link is not valid. Check that it was copied whole, or ask the "
            "project's admin for a new one.",
            404,
        ) from None
    refuse_unless_pending(invitation)
    return invitation


def refuse_unless_pending(invitation: Invitation) -> None:
    """Raise ``InvitationUnusable`` (410) unless ``invitation`` can still be used."""
    status = invitation.status
    if status == Invitation.Status.PENDING:
        return
    reason = {
        Invitation.Status.ACCEPTED: "has already been used",
        Invitation.Status.REVOKED: "was withdrawn by an admin of the project",
        Invitation.Status.EXPIRED: "has expired",
    }[status]
    raise InvitationUnusable(
        f"This invitation to {invitation.project.name} {reason}. Ask one of its admins for a "
        "new one.",
        410,
    )


def accept(invitation: Invitation, user: AbstractBaseUser) -> Membership:
    """Make ``user`` a member with the invited role and use the invitation up.

    Runs inside the caller's transaction or its own; the invitation row is locked, so two
    people pressing *Join* on one link at once cannot both get in. Someone who is already a
    member keeps their role (an invitation never demotes anyone).
    """
    with transaction.atomic():
        locked = (
            Invitation.objects.select_for_update().select_related("project").get(pk=invitation.pk)
        )
        refuse_unless_pending(locked)
        membership = Membership.objects.filter(project=locked.project, user=user).first()
        if membership is None:
            try:
                with transaction.atomic():
                    membership = Membership.objects.create(
                        project=locked.project, user=user, role=locked.role
                    )
            except IntegrityError:  # added by an admin a moment ago
                membership = Membership.objects.get(project=locked.project, user=user)
        locked.accepted_at = timezone.now()
        locked.accepted_by = user
        locked.save(update_fields=["accepted_at", "accepted_by"])
    return membership


def invitations_for(user: AbstractBaseUser) -> QuerySet[Invitation]:
    """Pending invitations naming ``user``'s username or e-mail address, to projects they are
    not in yet: their projects page offers them, so someone with an account who was invited
    by username needs no link passed on (what they see is only what was sent to them)."""
    names = Q(invitee__iexact=user.get_username())
    if user.email:
        names |= Q(invitee__iexact=user.email)
    return (
        Invitation.objects.pending()
        .filter(names)
        .exclude(project__memberships__user=user)
        .select_related("project", "invited_by")
        .order_by("project__name", "-created_at")
    )


def revoke(invitation: Invitation) -> bool:
    """Withdraw a pending invitation; False when it was no longer pending."""
    return bool(
        Invitation.objects.pending().filter(pk=invitation.pk).update(revoked_at=timezone.now())
    )
