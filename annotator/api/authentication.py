"""``Authorization: Token <key>``: personal API tokens for scripts.

The key is hashed and the hash looked up through its unique index, so the comparison never
runs over the secret itself: how long a lookup takes tells an attacker nothing about which
characters of a guess were right. A wrong or revoked key and an inactive account get 401
with ``WWW-Authenticate: Token``, so clients know which scheme to use; so does an expired
key, with the date it expired.

Guessing keys is stopped as guessing passwords is (annotator/lockout.py): each wrong key is
a failed login for django-axes, counted against the client's address, and an address past
the limit gets 429 for every token request, a right key included, until its cool-off ends.
"""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from annotator.api.models import ApiToken

KEYWORD = "Token"
NO_USER = {"username": None}  # a key names no account: failures count per address only


class TokenAuthentication(authentication.BaseAuthentication):
    """Authenticate a request by its personal API token and record when the token was used."""

    def authenticate(self, request: Request) -> tuple | None:
        """The (user, token) of a valid ``Token`` header; None when there is no such header."""
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None  # another scheme (or none): let the next authentication class try
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: use 'Authorization: Token <key>' with no spaces in the key."
            )
        # The Django request, not DRF's wrapper: axes marks it, its middleware reads the mark.
        django_request = request._request
        if settings.AXES_ENABLED and not AxesProxyHandler.is_allowed(django_request, NO_USER):
            django_request.axes_locked_out = True  # AxesMiddleware answers 429 (lockout.py)
            raise exceptions.Throttled(detail="Too many failed attempts from this address.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            self._failed(django_request)
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = ApiToken.objects.for_key(key)
        if token is None:
            self._failed(django_request)
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.is_expired:
            raise exceptions.AuthenticationFailed(
                f"This token expired on {token.expires_at:%Y-%m-%d %H:%M} UTC: "
                "make a new one at /api/tokens/."
            )
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This account is inactive.")
        token.touch()
        return token.user, token

    @staticmethod
    def _failed(django_request) -> None:
        """Count a wrong key as a failed login from this address (django-axes listens)."""
        user_login_failed.send(__name__, credentials=NO_USER, request=django_request)

    def authenticate_header(self, request: Request) -> str:
        """Makes unauthenticated requests 401 (not 403) with ``WWW-Authenticate: Token``."""
        return KEYWORD


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes the token header in the OpenAPI schema (and the docs' Authorize button)."""

    target_class = "annotator.api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        scheme = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=KEYWORD
        )
        scheme["description"] = (
            "A personal API token from /api/tokens/, sent as `Authorization: Token <key>`."
        )
        return scheme
