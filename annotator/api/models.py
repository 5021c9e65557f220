"""Personal API tokens: how a script acts as a person through the REST API.

Only a SHA-256 hash of each key is stored, so a leaked database or backup holds no working
key; the full key is shown once, when it is made. The last four characters are kept in
clear so a person can tell their tokens apart. A plain (unsalted) hash is enough because
the keys are 256 random bits, not passwords: there is nothing to guess with a dictionary,
and one hash lets authentication find the token with a single indexed lookup.

A token may expire (chosen when it is made); an expired one is refused, not deleted, so
its owner sees on the token page which script stopped working. Deactivating an account
deletes its tokens (``annotator.api.signals``).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

KEY_PREFIX = "ca_"  # makes a leaked key recognisable to people and secret scanners
KEY_BYTES = 32
LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most this often


def hash_key(key: str) -> str:
    """The hex SHA-256 of ``key``: what is stored and looked up, never the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def create_token(
        self, user, name: str, expires_at: datetime | None = None
    ) -> tuple[ApiToken, str]:
        """Make a token for ``user`` and return it with its key (the only time it exists).

        ``expires_at`` None: the token works until it is revoked.
        """
        key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
        token = self.create(
            user=user,
            name=name,
            key_hash=hash_key(key),
            last_four=key[-4:],
            expires_at=expires_at,
        )
        return token, key

    def for_key(self, key: str) -> ApiToken | None:
        """The token whose key is ``key``, with its user, or None (one query)."""
        return self.select_related("user").filter(key_hash=hash_key(key)).first()


class ApiToken(models.Model):
    """One named key a person made for a script; a person may have many and revoke each."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for.")
    key_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key.")
    last_four = models.CharField(max_length=4, help_text="The key's last characters.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Refused from then on; empty: never expires."
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} (…{self.last_four}) of {self.user}"

    @property
    def masked(self) -> str:
        """How the key is shown after it was made: only its last four characters."""
        return f"…{self.last_four}"

    @property
    def is_expired(self) -> bool:
        """Whether the token's expiry has passed (a token without one never expires)."""
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def touch(self) -> None:
        """Record a use, writing at most once per ``LAST_USED_RESOLUTION`` (one UPDATE)."""
        now = timezone.now()
        if self.last_used_at is not None and now - self.last_used_at < LAST_USED_RESOLUTION:
            return
        ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
        self.last_used_at = now
