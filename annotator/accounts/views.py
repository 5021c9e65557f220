"""Pages of the accounts app: using an invitation, withdrawing one, the site admins' list of
accounts, and password reset by e-mail.

Invitations are made on the project's members page (``corpus.views.member_list`` calls
``invitations.invite``); see ``invitations.py`` for why nothing here tells a project admin
whether an account exists. Invalid forms answer 400 with the form and its messages.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods, require_POST

from annotator.accounts.forms import InvitationSignUpForm
from annotator.accounts.invitations import (
    InvitationUnusable,
    accept,
    email_enabled,
    invitation_for_token,
    revoke,
)
from annotator.accounts.models import Invitation
from annotator.accounts.people import is_site_admin, people_for_list, set_active
from annotator.corpus.models import Membership, Role
from annotator.corpus.permissions import Action, project_for

PEOPLE_PER_PAGE = 100


def _unusable(request: HttpRequest, error: InvitationUnusable) -> HttpResponse:
    return render(
        request, "accounts/invitation_invalid.html", {"error": str(error)}, status=error.status
    )


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation link: a newcomer chooses a username and password, someone logged in
    presses *Join*; either way they land in the project with the invited role."""
    try:
        invitation = invitation_for_token(token)
    except InvitationUnusable as error:
        return _unusable(request, error)
    project = invitation.project
    role = Role(invitation.role)
    if request.user.is_authenticated:
        current = Membership.objects.filter(project=project, user=request.user).first()
        if request.method == "POST":
            try:
                membership = accept(invitation, request.user)
            except InvitationUnusable as error:
                return _unusable(request, error)
            _welcome(request, membership, already=current is not None)
            return redirect(project)
        return render(
            request,
            "accounts/invitation_accept.html",
            {"invitation": invitation, "project": project, "role": role, "current": current},
        )
    form = InvitationSignUpForm(request.POST or None, invitation=invitation)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = form.save()
                membership = accept(invitation, user)
        except InvitationUnusable as error:
            return _unusable(request, error)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        _welcome(request, membership, already=False)
        return redirect(project)
    return render(
        request,
        "accounts/invitation_accept.html",
        {"invitation": invitation, "project": project, "role": role, "form": form},
        status=400 if form.is_bound else 200,
    )


def _welcome(request: HttpRequest, membership: Membership, already: bool) -> None:
    role = Role(membership.role).label.lower()
    if already:
        text = f"You were already a member of {membership.project.name}, as {role}."
    else:
        text = f"Welcome to {membership.project.name}! You joined as {role}."
    messages.success(request, text)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    """A project admin withdraws a pending invitation: its link stops working at once."""
    project = project_for(request.user, slug, Action.MANAGE)
    invitation = get_object_or_404(Invitation, pk=invitation_id, project=project)
    if revoke(invitation):
        messages.success(request, f"Withdrew the invitation of {invitation.invitee}.")
    else:
        messages.error(request, f"The invitation of {invitation.invitee} was no longer pending.")
    return redirect("corpus:member_list", slug=project.slug)


def site_admin_required(view):
    """Log in first, then only site admins (``people.is_site_admin``); others get 403."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_site_admin(request.user):
            raise PermissionDenied("Only site admins see the list of accounts.")
        return view(request, *args, **kwargs)

    return wrapped


@site_admin_required
@require_http_methods(["GET"])
def person_list(request: HttpRequest) -> HttpResponse:
    """Every account: username, e-mail, active, last login, projects; (de)activate buttons."""
    page = Paginator(people_for_list(), PEOPLE_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "accounts/person_list.html", {"page": page, "people": page.object_list})


@site_admin_required
@require_POST
def person_active(request: HttpRequest, user_id: int, active: bool) -> HttpResponse:
    """Deactivate or reactivate an account (never one's own; see ``people.set_active``)."""
    person: AbstractBaseUser = get_object_or_404(get_user_model(), pk=user_id)
    changed = set_active(request.user, person, active)
    name = person.get_username()
    if not changed:
        messages.info(request, f"{name} was already {'active' if active else 'inactive'}.")
    elif active:
        messages.success(request, f"Reactivated {name}: they can log in again.")
    else:
        messages.success(
            request, f"Deactivated {name}: they are logged out and their API tokens stop working."
        )
    return redirect("accounts:person_list")


# --- Password reset by e-mail (only when the site sends e-mail) -------------------------------


def email_required(view):
    """404 unless the site sends e-mail: without it a reset link could never arrive."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not email_enabled():
            raise Http404("This site sends no e-mail: ask a site admin to reset your password.")
        return view(request, *args, **kwargs)

    return wrapped


class _BadRequestWhenInvalid:
    """A refused form answers 400 (with its messages), not 200."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response


class PasswordResetView(_BadRequestWhenInvalid, auth_views.PasswordResetView):
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetConfirmView(_BadRequestWhenInvalid, auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("accounts:password_reset_complete")


password_reset = email_required(PasswordResetView.as_view())
password_reset_done = email_required(auth_views.PasswordResetDoneView.as_view())
password_reset_confirm = email_required(PasswordResetConfirmView.as_view())
password_reset_complete = email_required(auth_views.PasswordResetCompleteView.as_view())
