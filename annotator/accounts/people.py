"""Site admins and the accounts they look after: who counts as one, the list, (de)activation.

A site admin is an active staff account or a superuser, as for creating projects
(``corpus.permissions.can_create_projects``). Deactivating an account is how someone leaves:
their sessions stop working at their next request (Django's ``ModelBackend`` refuses inactive
users) and their API tokens are refused (``api.authentication``); their labels stay.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Prefetch, QuerySet

from annotator.corpus.models import Membership
from annotator.corpus.permissions import User, can_create_projects


def is_site_admin(user: User) -> bool:
    """Whether ``user`` may see every account and (de)activate them."""
    return can_create_projects(user)


def people_for_list() -> QuerySet:
    """Every account with its memberships and their projects, in three queries a page."""
    memberships = (
        Membership.objects.select_related("project")
        .only("user_id", "role", "project__name", "project__slug")
        .order_by("project__name")
    )
    return (
        get_user_model()
        .objects.only("username", "email", "is_active", "is_staff", "is_superuser", "last_login")
        .prefetch_related(Prefetch("memberships", queryset=memberships))
        .order_by("username")
    )


def set_active(actor: AbstractBaseUser, person: AbstractBaseUser, active: bool) -> bool:
    """Deactivate or reactivate ``person`` on behalf of ``actor``; False when it already was.

    Raises ``PermissionDenied`` for one's own account (a site admin cannot lock themselves
    out) and for a superuser changed by someone who is not one.
    """
    if actor.pk == person.pk:
        raise PermissionDenied("You cannot deactivate or reactivate your own account.")
    if person.is_superuser and not actor.is_superuser:
        raise PermissionDenied("Only a superuser can deactivate or reactivate a superuser.")
    with transaction.atomic():
        changed = (
            type(person).objects.filter(pk=person.pk, is_active=not active).update(is_active=active)
        )
    person.is_active = active
    return bool(changed)
