"""A deactivated account's API tokens are deleted, so reactivating it revives no script."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save
from django.dispatch import receiver

from annotator.api.models import ApiToken


@receiver(post_save, sender=get_user_model())
def revoke_tokens_of_inactive_account(sender, instance, **kwargs) -> None:
    """Delete every token of a user saved as inactive (the admin's "active" box, a script)."""
    if not instance.is_active:
        ApiToken.objects.filter(user=instance).delete()
