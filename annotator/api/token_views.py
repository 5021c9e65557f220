"""The browser page where a person makes and revokes their personal API tokens.

A new key is shown once, in the response to the POST that made it, and never stored: the
page is sent with ``Cache-Control: no-store`` so it does not linger in the browser's cache,
and the key never passes through a message or the session (the cookie would carry it).
A token's expiry is chosen when it is made; "Revoke all my tokens" stops every script at
once, for when a laptop is lost or a key leaked somewhere unknown.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from annotator.api.models import ApiToken

# (days, label); 0 means the token never expires.
EXPIRY_CHOICES = [
    (30, "in 30 days"),
    (90, "in 90 days"),
    (365, "in a year"),
    (0, "never"),
]
DEFAULT_EXPIRY_DAYS = 90


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="What the token is for, e.g. “export script on my laptop”.",
    )
    expires_in = forms.TypedChoiceField(
        label="Expires",
        choices=EXPIRY_CHOICES,
        coerce=int,
        initial=DEFAULT_EXPIRY_DAYS,
        required=False,  # left out (an old form, a script): the default
        empty_value=DEFAULT_EXPIRY_DAYS,
        help_text="After this the token is refused; a script then needs a new one.",
    )

    def expires_at(self) -> datetime | None:
        """The chosen expiry as a time (call after ``is_valid()``); None: never."""
        days = self.cleaned_data["expires_in"]
        return timezone.now() + timedelta(days=days) if days else None


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """My tokens (name, last four characters, created, last used) and a form for a new one."""
    form = TokenCreateForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            _token, new_key = ApiToken.objects.create_token(
                request.user, form.cleaned_data["name"], expires_at=form.expires_at()
            )
        form = TokenCreateForm()
    tokens = ApiToken.objects.filter(user=request.user).only(
        "name", "last_four", "created_at", "last_used_at", "expires_at"
    )
    response = render(
        request,
        "api/token_list.html",
        {"tokens": tokens, "form": form, "new_key": new_key},
    )
    add_never_cache_headers(response)
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    """Delete one of my tokens; scripts using it get 401 from the next request on."""
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token.delete()
    messages.success(request, f"Revoked the token “{token.name}” (…{token.last_four}).")
    return redirect("api:token_list")


@login_required
@require_POST
def token_revoke_all(request: HttpRequest) -> HttpResponse:
    """Delete every one of my tokens; every script using one gets 401 from then on."""
    deleted, _ = ApiToken.objects.filter(user=request.user).delete()
    if deleted:
        messages.success(request, f"Revoked all your tokens ({deleted}).")
    else:
        messages.info(request, "You had no tokens to revoke.")
    return redirect("api:token_list")
