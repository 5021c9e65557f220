"""The error pages (annotator/errors.py): what a refused or lost person reads, what is logged."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client, override_settings
from django.urls import path

from annotator.corpus.models import Role
from annotator.urls import handler403, handler404, handler500
from annotator.urls import urlpatterns as app_urls
from tests.factories import ArticleFactory, MembershipFactory, UserFactory, make_comment

ROOT = Path(__file__).resolve().parents[1]


def boom(request):
    raise RuntimeError("the database fell over")


def broken_context(request):
    raise RuntimeError("the session store is down")


# Used by the tests marked ``pytest.mark.urls(__name__)``: the app's URLs plus a view that fails.
urlpatterns = [*app_urls, path("boom/", boom)]
__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]


@pytest.fixture
def logged_in(client):
    def log_in(user):
        client.force_login(user)
        return client

    return log_in


@pytest.fixture
def elsewhere(project, other_project):
    """A comment of the other project."""
    return make_comment(ArticleFactory(project=other_project), text="Elsewhere")


# -- 403 -----------------------------------------------------------------------------------------


def test_a_refused_member_reads_why_whom_to_ask_and_the_way_back(
    logged_in, project, project_admin, annotator
):
    response = logged_in(annotator).get(f"/p/{project.slug}/members/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "Your role in Aleppo ceasefire does not allow this." in page
    assert "You are annotator in Aleppo ceasefire." in page
    assert "ask an admin of Aleppo ceasefire (ada_admin)" in page
    assert f'href="/p/{project.slug}/"' in page
    assert 'href="/"' in page
    assert 'class="site-header"' in page  # the site's layout


def test_a_refusal_without_a_project_says_why(logged_in, annotator):
    response = logged_in(annotator).post("/projects/new/", {"name": "Mine", "slug": "mine"})
    assert response.status_code == 403
    page = response.content.decode()
    assert "Only staff accounts create projects." in page
    assert "ask a staff member of this site" in page


def test_a_refusal_is_logged_as_one_warning_line_without_traceback(
    logged_in, caplog, project, annotator
):
    with caplog.at_level(logging.WARNING):
        logged_in(annotator).get(f"/p/{project.slug}/members/")
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("WARNING", f"Forbidden (Permission denied): /p/{project.slug}/members/")
    ]
    assert records[0].exc_info is None
    assert "Traceback" not in caplog.text


# -- 404 -----------------------------------------------------------------------------------------


def test_an_unknown_address_is_the_sites_own_404(logged_in, annotator, caplog):
    with caplog.at_level(logging.WARNING):
        response = logged_in(annotator).get("/no/such/page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "There is no page at this address." in page
    assert 'class="site-header"' in page
    assert 'href="/"' in page
    assert "Traceback" not in caplog.text


def test_a_404_says_the_apps_reason_but_not_djangos_model_names(logged_in, project, annotator):
    client = logged_in(annotator)
    unknown_project = client.get("/p/no-such-project/").content.decode()
    assert "No such project." in unknown_project
    unknown_article = client.get(f"/p/{project.slug}/articles/999999/").content.decode()
    assert "matches the given query" not in unknown_article
    assert "There is no page at this address." in unknown_article


def test_a_logged_out_person_gets_a_404_with_a_login_link(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert 'href="/accounts/login/?next=/no/such/page/"' in response.content.decode()


def test_a_member_of_both_projects_is_pointed_to_the_comment_in_its_project(
    logged_in, project, other_project, annotator, elsewhere
):
    MembershipFactory(project=other_project, user=annotator, role=Role.ANNOTATOR)
    client = logged_in(annotator)
    response = client.get(f"/p/{project.slug}/comments/{elsewhere.pk}/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "This comment is in project Other newsroom" in page
    assert f'href="/p/other/comments/{elsewhere.pk}/"' in page

    workspace = client.get(f"/p/{project.slug}/label/{elsewhere.pk}/").content.decode()
    assert f'href="/p/other/label/{elsewhere.pk}/"' in workspace

    # A form's address is no page to link to: the comment in its thread is.
    saved = client.post(f"/p/{project.slug}/label/{elsewhere.pk}/save/", {"action": "autosave"})
    assert saved.status_code == 404
    assert f'href="/p/other/comments/{elsewhere.pk}/"' in saved.content.decode()


def test_a_comment_of_a_project_the_person_cannot_see_is_a_plain_404(
    logged_in, project, annotator, elsewhere
):
    response = logged_in(annotator).get(f"/p/{project.slug}/label/{elsewhere.pk}/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Other newsroom" not in page
    assert "/p/other/" not in page
    assert "No such comment in this project." in page


def test_a_comments_own_address_opens_its_thread_at_it(logged_in, project, annotator):
    comment = make_comment(ArticleFactory(project=project))
    response = logged_in(annotator).get(f"/p/{project.slug}/comments/{comment.pk}/")
    assert response.status_code == 302
    assert response.url == f"/p/{project.slug}/articles/{comment.article_id}/#comment-{comment.pk}"


@pytest.mark.parametrize("role", list(Role))
def test_every_member_may_open_a_comments_address(logged_in, project, role):
    user = UserFactory(username=f"member_{role}")
    MembershipFactory(project=project, user=user, role=role)
    comment = make_comment(ArticleFactory(project=project))
    assert logged_in(user).get(f"/p/{project.slug}/comments/{comment.pk}/").status_code == 302


def test_a_comments_address_is_404_for_outsiders_and_a_login_for_strangers(
    client, logged_in, project, outsider
):
    comment = make_comment(ArticleFactory(project=project))
    url = f"/p/{project.slug}/comments/{comment.pk}/"
    assert client.get(url).url.startswith("/accounts/login/")
    response = logged_in(outsider).get(url)
    assert response.status_code == 404
    assert "Aleppo" not in response.content.decode()


# -- 500 -----------------------------------------------------------------------------------------


@pytest.mark.urls(__name__)
def test_a_failing_view_shows_the_styled_500_page(db):
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page
    assert 'class="site-header"' in page
    assert "/static/app.css" in page
    assert "the database fell over" not in page


@pytest.mark.urls(__name__)
def test_the_500_page_renders_when_the_request_context_fails(db):
    templates = [{**settings.TEMPLATES[0]}]
    options = templates[0]["OPTIONS"]
    templates[0]["OPTIONS"] = {
        **options,
        "context_processors": [*options["context_processors"], f"{__name__}.broken_context"],
    }
    with override_settings(TEMPLATES=templates):
        response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


@pytest.mark.urls(__name__)
def test_the_500_page_falls_back_to_plain_html_when_its_template_fails(db, monkeypatch, caplog):
    from annotator import errors

    def fail(*args, **kwargs):
        raise RuntimeError("template broken")

    monkeypatch.setattr(errors.loader, "render_to_string", fail)
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page
    assert 'href="/static/app.css"' in page


# -- favicon -------------------------------------------------------------------------------------


def test_the_favicon_is_linked_from_every_page_and_its_old_address_answers(client):
    assert finders.find("favicon.svg")
    page = client.get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response.url == "/static/favicon.svg"


# -- development mode (DEBUG) --------------------------------------------------------------------

DEV_MIDDLEWARE = [*settings.MIDDLEWARE, "annotator.errors.AppNotFoundPageMiddleware"]


@override_settings(DEBUG=True, MIDDLEWARE=DEV_MIDDLEWARE)
def test_development_mode_serves_the_apps_404_not_djangos(project, annotator):
    client = Client()
    client.force_login(annotator)
    unknown = client.get("/no/such/page/")
    assert unknown.status_code == 404
    assert "There is no page at this address." in unknown.content.decode()
    assert "URLconf" not in unknown.content.decode()
    raised = client.get(f"/p/{project.slug}/articles/999999/")
    assert raised.status_code == 404
    assert 'class="site-header"' in raised.content.decode()
    assert "URLconf" not in raised.content.decode()
    # A missing slash is still added, and static files are still served.
    assert client.get(f"/p/{project.slug}").status_code == 301
    assert client.get("/static/app.css").status_code == 200


def test_dev_py_settings_include_the_404_middleware_and_technical_404_turns_it_off():
    def middleware_with(**env) -> str:
        return subprocess.run(
            [sys.executable, "-c", "from annotator import settings; print(settings.MIDDLEWARE)"],
            cwd=ROOT,
            env={**os.environ, "SECRET_KEY": "x", **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert "AppNotFoundPageMiddleware" in middleware_with(DEBUG="1")
    assert "AppNotFoundPageMiddleware" not in middleware_with(DEBUG="1", TECHNICAL_404="1")
    assert "AppNotFoundPageMiddleware" not in middleware_with(DEBUG="0")
