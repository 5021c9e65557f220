"""Playwright on Debian's chromium, against pytest-django's live server.

The browser is never downloaded: it is /usr/bin/chromium (``apt-get install chromium``).
Without it these tests skip, except in CI (REQUIRE_BROWSER=1) where that is a failure.
Screenshots land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test
# body are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def track_requests(context) -> set:
    """The context's requests still under way (see ``close_quietly``)."""
    pending: set = set()
    context.on("request", lambda request: pending.add(request))
    context.on("requestfinished", lambda request: pending.discard(request))
    context.on("requestfailed", lambda request: pending.discard(request))
    return pending


def close_quietly(context, pending: set, server: LiveServerRequests) -> None:
    """Leave every page (so the workspace's pagehide autosave goes out), wait for the requests
    still under way, close, then wait until the live server has answered everything it got.

    A request the browser sent as it went away (a ``pagehide`` beacon) can reach the live
    server after the context is closed; answered while the test's database is being flushed,
    it would deadlock with the flush (PostgreSQL), break it (SQLite shares the connection
    with the server thread) or leave rows behind for the next test.
    """
    for open_page in context.pages:
        # A page that warns before it is left (a save still failing) is left all the same.
        open_page.on("dialog", _accept_leaving)
        try:
            open_page.goto("about:blank")
        except Exception:  # a navigation of the page's own (a redirect) was under way
            open_page.wait_for_load_state()
            open_page.goto("about:blank")
    for _ in range(100):
        if not pending:
            break
        time.sleep(0.05)
    context.close()
    server.wait_until_idle()


def _accept_leaving(dialog) -> None:
    if dialog.type == "beforeunload":
        dialog.accept()


class LiveServerRequests:
    """Wraps the live server's WSGI app to count the requests it is still answering.

    A request counts until the server closes its response, which is also when Django
    finishes the request (``request_finished``: database connections closed).
    """

    def __init__(self, app):
        self.app = app
        self.active = 0
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            self.active += 1
        try:
            response = self.app(environ, start_response)
        except BaseException:
            self._done()
            raise
        return _CountedResponse(response, self._done)

    def _done(self) -> None:
        with self.lock:
            self.active -= 1

    def wait_until_idle(self, timeout: float = 5.0) -> None:
        time.sleep(0.15)  # a request still on its way in
        deadline = time.monotonic() + timeout
        while self.active and time.monotonic() < deadline:
            time.sleep(0.02)


class _CountedResponse:
    def __init__(self, response, done):
        self.response = response
        self.done = done

    def __iter__(self):
        return iter(self.response)

    def close(self) -> None:
        try:
            if hasattr(self.response, "close"):
                self.response.close()
        finally:
            self.done()


@pytest.fixture(scope="session")
def live_server_requests(live_server) -> LiveServerRequests:
    """The live server's request counter (installed once per test run)."""
    server = live_server.thread.httpd
    if not isinstance(server.get_app(), LiveServerRequests):
        server.set_app(LiveServerRequests(server.get_app()))
    return server.get_app()


@pytest.fixture
def page(browser, live_server, live_server_requests):
    """A fresh browser tab whose relative URLs go to the live server."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    pending = track_requests(context)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    close_quietly(context, pending, live_server_requests)


@pytest.fixture
def screenshot(page, request):
    """Call ``screenshot("name")`` to save the current page under test-artifacts/."""

    def take(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def login(page):
    """Log ``user`` in through the real login form."""
    from tests.factories import PASSWORD

    def log_in(user) -> None:
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/")

    return log_in


# -- labelling and accessibility (appended) ---------------------------------------------------


def log_in_on(page, user) -> None:
    """Log ``user`` in on ``page`` (any tab or context) through the real login form."""
    from tests.factories import PASSWORD

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


@pytest.fixture
def demo_project(tmp_path):
    """The demo project with the seed thread (63 comments), made as ``manage.py load_demo``."""
    import io

    from django.core.management import call_command

    from annotator.corpus.models import Project

    call_command("load_demo", password_file=tmp_path / "admin-password.txt", stdout=io.StringIO())
    return Project.objects.get(slug="demo")


@pytest.fixture
def annotator(demo_project):
    """``nina``, an annotator of the demo project."""
    from annotator.corpus.models import Role
    from tests.factories import MembershipFactory, UserFactory

    user = UserFactory(username="nina")
    MembershipFactory(project=demo_project, user=user, role=Role.ANNOTATOR)
    return user


def answer_late(page, url_pattern: str, seconds: float) -> None:
    """The server's answers to ``url_pattern`` reach the page ``seconds`` late (a busy
    server): whatever the page does meanwhile happens before the answer's swap."""

    def late(route):
        response = route.fetch()
        time.sleep(seconds)
        route.fulfill(response=response)

    page.route(url_pattern, late)


def collect_errors(page) -> list[str]:
    """Console errors (CSP violations among them) and uncaught exceptions of ``page``."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    return errors


@pytest.fixture
def admin_and_project(settings, tmp_path):
    """A project admin (not staff) and their empty project; uploads go to a temp dir."""
    from annotator.corpus.models import Role
    from tests.factories import MembershipFactory, ProjectFactory, UserFactory

    settings.MEDIA_ROOT = tmp_path / "media"
    project = ProjectFactory(name="Aleppo ceasefire", slug="aleppo")
    admin = UserFactory(username="ada")
    MembershipFactory(project=project, user=admin, role=Role.ADMIN)
    return admin, project


@pytest.fixture
def page_errors(page):
    """What ``collect_errors`` finds on the ``page`` fixture's tab."""
    return collect_errors(page)


@pytest.fixture
def open_page(browser, live_server, live_server_requests):
    """``open_page(user)``: a tab in a new browser context (another window, another laptop),
    with ``user`` logged in; ``context_options`` go to ``browser.new_context``."""
    contexts = []

    def open_(user=None, viewport=None, **context_options):
        context = browser.new_context(
            base_url=live_server.url,
            viewport=viewport or {"width": 1280, "height": 800},
            **context_options,
        )
        contexts.append((context, track_requests(context)))
        new_page = context.new_page()
        new_page.set_default_timeout(10_000)
        if user is not None:
            log_in_on(new_page, user)
        return new_page

    yield open_
    for context, pending in contexts:
        close_quietly(context, pending, live_server_requests)


@pytest.fixture
def screenshot_of(request):
    """``screenshot_of(page, "name")``: like ``screenshot`` for any tab."""

    def take(page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
