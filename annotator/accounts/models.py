"""Invitations: a one-time link that lets a person join a project with a role.

An invitation names whoever the admin typed (a username or an e-mail address) and never
points at an account: whether one exists is only found out when the link is used, by the
person who holds it (see ``invitations.py``). The link is the invitation's id and a random
nonce signed with Django's signing (``SECRET_KEY``), so it can be shown again while the
invitation is pending, a forged or altered link is refused without a query, and nothing
secret is stored.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import models
from django.urls import reverse
from django.utils import timezone

from annotator.corpus.models import Project, Role

TOKEN_SALT = "annotator.accounts.invitation"  # noqa: S105 - a namespace, not a secret


def new_nonce() -> str:
    """A fresh random part of an invitation's link (128 bits)."""
    return secrets.token_urlsafe(16)


def default_expiry() -> datetime:
    """When an invitation made now stops working (``INVITATION_MAX_AGE_DAYS``, a week)."""
    return timezone.now() + timedelta(days=settings.INVITATION_MAX_AGE_DAYS)


class InvitationQuerySet(models.QuerySet):
    def pending(self) -> InvitationQuerySet:
        """Invitations that can still be used: not accepted, not revoked, not expired."""
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )


class Invitation(models.Model):
    """A project admin's invitation of someone (by username or e-mail) with a role."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    invitee = models.CharField(
        max_length=254, help_text="The username or e-mail address the admin typed."
    )
    email = models.EmailField(blank=True, help_text="Where the link was sent, if anywhere.")
    role = models.CharField(max_length=20, choices=Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitations_sent",
    )
    nonce = models.CharField(max_length=32, default=new_nonce, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=default_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitations_accepted",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "expires_at"], name="invitation_project")]

    def __str__(self) -> str:
        return f"{self.invitee} as {self.role} in {self.project}"

    def get_absolute_url(self) -> str:
        return reverse("accounts:invitation_accept", args=[self.token])

    @property
    def status(self) -> Invitation.Status:
        """Pending, or why the link no longer works."""
        if self.accepted_at:
            return self.Status.ACCEPTED
        if self.revoked_at:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING

    @property
    def token(self) -> str:
        """The signed part of the link: the id and the nonce (no timestamp, so the link is the
        same every time it is shown; ``expires_at`` decides how long it works)."""
        return signing.Signer(salt=TOKEN_SALT).sign_object([self.pk, self.nonce])

    @property
    def suggested_username(self) -> str:
        """What the sign-up form offers: the username typed, or an e-mail's local part."""
        return self.invitee.split("@", 1)[0][:150] if self.email else self.invitee[:150]
