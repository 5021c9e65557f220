"""The probes and the metrics endpoint: unauthenticated probes that reveal nothing but
their checks' states, and metrics behind a bearer token. None needs a login, even should
LoginRequiredMiddleware be turned on: a probe or a scraper has no session."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from annotator.ops.metrics import scrape_registry
from annotator.ops.readiness import is_ready, readiness


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and serving: no database, no cache, nothing else."""
    return HttpResponse("ok", content_type="text/plain")


@login_not_required
@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when every configured check passes, else 503; the body names each check and
    its state ({"database": "ok", "worker": "missing", ...}) and nothing more."""
    states = readiness()
    response = JsonResponse(states, status=200 if is_ready(states) else 503)
    # A replica that is not ready yet is no server error: Django's "Service Unavailable"
    # error line every few seconds would drown real ones (the request line still says it).
    response._has_been_logged = True
    return response


@login_not_required
@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus's text format, for ``Authorization: Bearer $METRICS_TOKEN`` only.

    Without METRICS_TOKEN the endpoint does not exist (404); a missing token is 401, a
    wrong one 403. A browser session counts for nothing here.
    """
    expected = getattr(settings, "METRICS_TOKEN", "")
    if not expected:
        raise Http404
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        response = HttpResponse(
            "A bearer token is needed.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not constant_time_compare(given.strip(), expected):
        return HttpResponse("Wrong token.\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
