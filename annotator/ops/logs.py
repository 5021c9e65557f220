"""Request logs: one line per request on ``annotator.requests``, and the request's id and
user on every record logged while it runs; as JSON objects when LOG_FORMAT=json.

Logging is configured before the apps are loaded, so this module imports no model. What
is logged is chosen, never dumped: the method, the path without its query string (and with
any secret URL part, such as an invitation token, replaced by its name), the view, the
project's slug, the status and the time taken. Bodies, headers, cookies and query strings
are never read here, so comment text, passwords and tokens cannot reach the log.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

logger = logging.getLogger("annotator.requests")

# The request being served by this thread (or task), for RequestContextFilter.
current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "current_request", default=None
)

# A request id from a proxy is kept when it looks like one (uuid, hex, trace ids); anything
# else (too long, spaces, quotes, control characters) is replaced by our own.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
# URL parts that are secrets: logged as their name, e.g. /accounts/invitations/<token>/.
SECRET_URL_KWARGS = {"token", "key", "uidb64", "secret"}


def request_id_for(request: HttpRequest) -> str:
    """The X-Request-ID header if it is sane, else a new uuid4."""
    given = request.headers.get("X-Request-ID", "")
    if SANE_REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def resolved_user_id(request: HttpRequest) -> int | None:
    """The id of the logged-in user, if the request already looked them up.

    Never looks them up itself: logging must not cost a session and a user query (nor make
    /healthz touch the database). Every view that needs a login has resolved it.
    """
    user = getattr(request, "user", None)
    if user is None:
        return None
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return None
    return user.pk if user.is_authenticated else None


def logged_path(request: HttpRequest) -> str:
    """The path without the query string, secret URL parts replaced by their names."""
    match = getattr(request, "resolver_match", None)
    if match is not None and SECRET_URL_KWARGS & set(match.kwargs):
        path = request.path
        for name in SECRET_URL_KWARGS & set(match.kwargs):
            if str(match.kwargs[name]):
                path = path.replace(str(match.kwargs[name]), f"<{name}>")
        return path
    return request.path


def request_fields(request: HttpRequest, response: HttpResponse, started: float) -> dict:
    """The fields of a request's log line."""
    match = getattr(request, "resolver_match", None)
    return {
        "request_id": getattr(request, "request_id", None),
        "user_id": resolved_user_id(request),
        "project": match.kwargs.get("slug") if match is not None else None,
        "view": match.view_name if match is not None else None,
        "method": request.method,
        "path": logged_path(request),
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }


class RequestLogMiddleware:
    """Give each request an id (echoed in X-Request-ID), make it known to every log record
    made while it runs, and log one line when it is answered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request.request_id = request_id_for(request)
        token = current_request.set(request)
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request.request_id
            if logger.isEnabledFor(logging.INFO):
                fields = request_fields(request, response, started)
                logger.info(
                    "%s %s %s", fields["method"], fields["path"], fields["status"], extra=fields
                )
            return response
        finally:
            current_request.reset(token)


class RequestContextFilter(logging.Filter):
    """Add the current request's ``request_id`` and ``user_id`` to every record (None
    outside a request), so a warning deep in an import says whose request it was; and keep
    secret URL parts out of Django's own lines about a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs a 4xx or 5xx after the middleware returned, with the request attached.
        request = getattr(record, "request", None)
        if isinstance(request, HttpRequest):
            # Its "Not Found: /accounts/invitations/<the token>/" names the path: redacted
            # as the request line's is.
            path = logged_path(request)
            if path != request.path and isinstance(record.args, tuple):
                record.args = tuple(path if arg == request.path else arg for arg in record.args)
        else:
            request = current_request.get()
        if not hasattr(record, "request_id"):
            record.request_id = getattr(request, "request_id", None) if request else None
        if not hasattr(record, "user_id"):
            record.user_id = resolved_user_id(request) if request else None
        return True


class JsonLogFormatter(JsonFormatter):
    """python-json-logger's formatter, one object a line, leaving out the ``request`` and
    ``server_time`` Django attaches to its own records: the request's text holds the query
    string, and the socket is not data."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request", "server_time"])
        kwargs.setdefault(
            "rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"}
        )
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s")
        super().__init__(*args, **kwargs)
