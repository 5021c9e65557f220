"""The browser page where a person makes and revokes their personal API tokens.

A new key is shown once, in the response to the POST that made it, and never stored: the
page is sent with ``Cache-Control: no-store`` so it does not linger in the browser's cache,
and the key never passes through a message or the session (the cookie would carry it).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from annotator.api.models import ApiToken


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="What the token is for, e.g. “export script on my laptop”.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """My tokens (name, last four characters, created, last used) and a form for a new one."""
    form = TokenCreateForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            _token, new_key = ApiToken.objects.create_token(request.user, form.cleaned_data["name"])
        form = TokenCreateForm()
    tokens = ApiToken.objects.filter(user=request.user).only(
        "name", "last_four", "created_at", "last_used_at"
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
