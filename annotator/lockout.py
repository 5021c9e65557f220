"""How django-axes locks out password and token guessing, and what a locked-out person sees.

Failures count per username and per client address separately, so guessing one account's
password from many addresses and guessing many accounts from one address are both stopped.
A wrong API token has no username: it counts against the address only. A locked-out
browser gets the lockout page in the site's layout, with the time to try again; a script
gets JSON with ``Retry-After``. Both are 429 Too Many Requests.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from axes.helpers import get_client_username, get_cool_off
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

API_PREFIX = "/api/"


def lockout_parameters(request: HttpRequest, credentials: dict | None = None) -> list:
    """Count by username and by address; by address only when there is no username."""
    if get_client_username(request, credentials):
        return [["username"], ["ip_address"]]
    return [["ip_address"]]


def retry_at(request: HttpRequest) -> datetime:
    """When the lockout ends: a cool-off after this attempt (each attempt starts it again)."""
    attempt = getattr(request, "axes_attempt_time", None) or timezone.now()
    return attempt + (get_cool_off(request) or timedelta(0))


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """The 429 a locked-out login or API call gets instead of the view's own response."""
    until = retry_at(request)
    seconds = max(0, math.ceil((until - timezone.now()).total_seconds()))
    minutes = max(1, math.ceil(seconds / 60))
    if request.path.startswith(API_PREFIX):
        response = JsonResponse(
            {
                "detail": "Too many failed attempts from this address: requests are refused "
                f"until {until:%Y-%m-%d %H:%M} UTC (in {minutes} minutes).",
                "retry_at": until.isoformat(),
            },
            status=429,
        )
    else:
        response = render(
            request,
            "registration/lockout.html",
            {"retry_at": until, "minutes": minutes},
            status=429,
        )
    response["Retry-After"] = str(seconds)
    return response
