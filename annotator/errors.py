"""How the site answers a request it cannot serve: the 403, 404 and 500 pages.

A 403 says why (the app's own message, e.g. "Your role in Demo does not allow this"), whom to
ask (the project's admins) and where to go back to. A 404 for a comment that is in another
project the person belongs to says where it is; anyone else gets a plain 404, so no project
a person cannot see is ever named. The 500 page renders without the request's context (which
may be what failed) and falls back to plain HTML if even that fails.

Also here: the development middleware that serves the app's own 404 page with DEBUG on, and
the favicon's old address. The log filter for refusals is in ``request_logging.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseNotFound,
    HttpResponseRedirect,
    HttpResponseServerError,
)
from django.template import loader
from django.templatetags.static import static
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils.html import escape

from annotator.corpus.models import Comment, Membership, Project, Role
from annotator.corpus.permissions import Action, CommentNotInProject, RoleTooWeak, can, role_of

logger = logging.getLogger(__name__)

# What the 500 page says when even its template cannot render (a broken URLconf, a template
# error): plain HTML with the site's stylesheet, no inline style or script (CSP).
PLAIN_500 = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Something went wrong · Comment annotator</title>
<link rel="stylesheet" href="%(css)s"></head>
<body><main id="main"><h1>Something went wrong</h1>
<p>The server could not answer this request. The error was logged; try again in a moment.</p>
<p><a href="/">Back to your projects</a></p></main></body></html>
"""


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 403 page (``handler403``): what was refused, whom to ask, and links back."""
    project = exception.project if isinstance(exception, RoleTooWeak) else None
    context = {
        "message": _message_of(exception) or "You are not allowed to do this.",
        "project": project,
        "role": None,
        "admins": [],
    }
    if project is not None:
        role = role_of(request.user, project)
        context["role"] = role.label if role else None
        context["admins"] = list(
            Membership.objects.filter(project=project, role=Role.ADMIN, user__is_active=True)
            .order_by("user__username")
            .values_list("user__username", flat=True)
        )
    return HttpResponseForbidden(loader.render_to_string("403.html", context, request))


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 404 page (``handler404``); for a comment of another project the person may read,
    it says which project and links to the comment there."""
    message = None if isinstance(exception, Resolver404) else _message_of(exception)
    if message and message.endswith("matches the given query."):
        message = None  # get_object_or_404's wording names a model class, not a thing people know
    context = {"message": message, "elsewhere": None}
    if isinstance(exception, CommentNotInProject):
        context["elsewhere"] = _comment_elsewhere(request, exception.comment_id)
    return HttpResponseNotFound(loader.render_to_string("404.html", context, request))


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page (``handler500``), rendered without the request's context processors (the
    database or the session may be what failed), plain HTML as the last resort."""
    try:
        return HttpResponseServerError(loader.render_to_string("500.html"))
    except Exception:
        logger.exception("The 500 page itself failed to render")
        return HttpResponseServerError(PLAIN_500 % {"css": escape(_static_or_none("app.css"))})


def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask of every site: the SVG icon in static/.

    Not a permanent redirect: in production the icon's address carries its content hash, and
    a browser must not keep an address that a new release no longer serves.
    """
    return HttpResponseRedirect(static("favicon.svg"))


def _message_of(exception: Exception) -> str | None:
    """The message the app raised ``exception`` with, if it is a plain string."""
    message = exception.args[0] if getattr(exception, "args", None) else None
    return message if isinstance(message, str) and message else None


def _comment_elsewhere(request: HttpRequest, comment_id: int) -> dict | None:
    """The project a comment is really in and its address there, when ``request.user`` may
    see that project; None otherwise (then the 404 says nothing more)."""
    comment = Comment.objects.select_related("article__project").filter(pk=comment_id).first()
    if comment is None:
        return None
    project: Project = comment.article.project
    if not can(request.user, Action.VIEW, project):
        return None
    return {"project": project, "url": _same_page_in(request, project, comment)}


def _same_page_in(request: HttpRequest, project: Project, comment: Comment) -> str:
    """The page the person asked for, in ``project``; the comment in its thread when that
    page is not one to link to (a form's POST address)."""
    match = request.resolver_match
    if request.method == "GET" and match and "slug" in match.kwargs:
        try:
            return reverse(match.view_name, kwargs={**match.kwargs, "slug": project.slug})
        except NoReverseMatch:
            pass
    return reverse("corpus:comment_detail", args=[project.slug, comment.pk])


def _static_or_none(path: str) -> str:
    try:
        return static(path)
    except Exception:  # a missing manifest entry must not break the last-resort page
        return f"/{settings.STATIC_URL.lstrip('/')}{path}"


class AppNotFoundPageMiddleware:
    """With DEBUG on (``python3 dev.py run``), answer a 404 with the app's own page.

    Django shows its technical 404 (the URL patterns, the settings module) whenever DEBUG is
    on, whatever ``handler404`` says. People trying the app on a laptop should see what
    production shows; 500s keep Django's debug page, which is what a developer needs.
    Static files never get here: WhiteNoise answers them first.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404 as missing:
            # CommonMiddleware (outside this one) still redirects /p/x to /p/x/.
            return page_not_found(request, missing)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404):
            return page_not_found(request, exception)
        return None
