"""Who may open what: the permission helpers, and the matrix of person by page for every route.

The matrix is data: add a ``Page`` row to ``PAGES`` for each new route (a test fails while a
route of ``annotator/corpus/urls.py`` has no row) and the expectations follow from
``permissions.ALLOWED``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client
from django.urls import URLPattern, reverse

from annotator.corpus import urls as corpus_urls
from annotator.corpus.models import ImportJob, Role
from annotator.corpus.permissions import (
    ALLOWED,
    Action,
    can,
    can_create_projects,
    comment_in,
    project_for,
    role_of,
    visible_projects,
)
from tests.factories import ArticleFactory, MembershipFactory, UserFactory, make_comment

pytestmark = pytest.mark.django_db

STAFF = "staff"  # pages that need a staff account rather than a project role
ANY_USER = "any user"  # pages for everyone who is logged in


@dataclass(frozen=True)
class World:
    """The objects a URL needs: one project with an article, a comment and an import job."""

    slug: str
    article_id: int
    comment_id: int
    job_id: int


@dataclass(frozen=True)
class Page:
    """One route, how to call it, and what it needs: an Action, STAFF or ANY_USER."""

    name: str
    needs: Action | str
    args: Callable[[World], list] = lambda world: []
    method: str = "get"
    data: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.name}"


def in_project(world: World) -> list:
    return [world.slug]


PAGES = [
    Page("corpus:project_list", ANY_USER),
    Page("corpus:project_create", STAFF),
    Page("corpus:project_create", STAFF, method="post", data={"name": ""}),
    Page("corpus:project_detail", Action.VIEW, in_project),
    Page("corpus:member_list", Action.MANAGE, in_project),
    Page(
        "corpus:member_list",
        Action.MANAGE,
        in_project,
        method="post",
        data={"action": "add", "who": "nobody-by-that-name", "role": "annotator"},
    ),
    Page("corpus:article_thread", Action.VIEW, lambda w: [w.slug, w.article_id]),
    Page("corpus:comment_detail", Action.VIEW, lambda w: [w.slug, w.comment_id]),
    Page("corpus:comment_reparent", Action.IMPORT, lambda w: [w.slug, w.comment_id]),
    Page(
        "corpus:comment_reparent",
        Action.IMPORT,
        lambda w: [w.slug, w.comment_id],
        method="post",
        data={"parent_number": "0"},
    ),
    Page("corpus:article_delete", Action.IMPORT, lambda w: [w.slug, w.article_id]),
    Page(
        "corpus:article_delete",
        Action.IMPORT,
        lambda w: [w.slug, w.article_id],
        method="post",
        data={"comments": "-1"},  # refused by the form: nothing is deleted by the matrix
    ),
    Page("corpus:import_list", Action.IMPORT, in_project),
    Page("corpus:import_discard", Action.IMPORT, lambda w: [w.slug, w.job_id]),
    Page("corpus:import_discard", Action.IMPORT, lambda w: [w.slug, w.job_id], method="post"),
    Page("corpus:import_detail", Action.IMPORT, lambda w: [w.slug, w.job_id]),
    Page(
        "corpus:import_confirm",
        Action.IMPORT,
        lambda w: [w.slug, w.job_id],
        method="post",
    ),
    Page(
        "corpus:import_preview_save",
        Action.IMPORT,
        lambda w: [w.slug, w.job_id],
        method="post",
        data={"article_end": "3"},
    ),
    Page("corpus:import_retry", Action.IMPORT, lambda w: [w.slug, w.job_id], method="post"),
    Page("corpus:import_preview_search", Action.IMPORT, lambda w: [w.slug, w.job_id]),
]

ROLES = [role.value for role in Role]
PEOPLE = ["anonymous", "outsider", "other project's admin", "staff outsider", "superuser", *ROLES]


@pytest.fixture
def world(project, other_project) -> World:
    article = ArticleFactory(project=project)
    comment = make_comment(article)
    job = ImportJob.objects.create(
        project=project,
        file="imports/thread.jsonl",
        original_name="thread.jsonl",
        status=ImportJob.Status.SUCCEEDED,
    )
    return World(project.slug, article.pk, comment.pk, job.pk)


def person(who: str, project, other_project) -> User | None:
    """A logged-in user for ``who`` (None for anonymous)."""
    if who == "anonymous":
        return None
    if who == "outsider":
        return UserFactory(username="outsider")
    if who == "other project's admin":
        user = UserFactory(username="elsewhere", is_staff=False)
        MembershipFactory(project=other_project, user=user, role=Role.ADMIN)
        return user
    if who == "staff outsider":
        return UserFactory(username="staffer", is_staff=True)
    if who == "superuser":
        return User.objects.create_superuser("root", "root@example.org", "x")
    user = UserFactory(username=f"the_{who}")
    MembershipFactory(project=project, user=user, role=Role(who))
    return user


def expected(page: Page, who: str, user: User | None) -> str:
    """ "login", "not found", "forbidden" or "allowed" for ``who`` on ``page``."""
    if user is None:
        return "login"
    if page.needs == ANY_USER:
        return "allowed"
    if page.needs == STAFF:
        return "allowed" if user.is_staff or user.is_superuser else "forbidden"
    if who == "superuser":
        return "allowed"
    if who not in ROLES:
        return "not found"
    return "allowed" if Role(who) in ALLOWED[page.needs] else "forbidden"


def outcome(response) -> str:
    """Classify a response the way ``expected`` does."""
    login = reverse("login")
    if response.status_code == 302 and response["Location"].startswith(login + "?next="):
        return "login"
    if response.status_code == 404:
        return "not found"
    if response.status_code == 403:
        return "forbidden"
    # Stub views of unbuilt pages answer 501 after checking permissions; that counts, and so
    # does 409 (allowed, but the world's import is no longer awaiting review).
    assert response.status_code in {200, 302, 400, 409, 501}, response.status_code
    return "allowed"


@pytest.mark.parametrize("who", PEOPLE)
@pytest.mark.parametrize("page", PAGES, ids=str)
def test_the_matrix_of_person_and_page(client, world, project, other_project, page, who):
    user = person(who, project, other_project)
    if user is not None:
        client.force_login(user)
    url = reverse(page.name, args=page.args(world))
    response = getattr(client, page.method)(url, page.data)
    assert outcome(response) == expected(page, who, user)


def test_the_matrix_covers_every_route_of_the_corpus_app():
    routes = {
        f"{corpus_urls.app_name}:{p.name}"
        for p in corpus_urls.urlpatterns
        if isinstance(p, URLPattern)
    }
    assert routes <= {page.name for page in PAGES}


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("anonymous", "login"),
        ("admin", "login"),  # a project admin without a staff account
        ("staff outsider", "allowed"),
        ("superuser", "allowed"),
    ],
)
def test_the_django_admin_is_for_staff_only(client, project, other_project, who, status):
    user = person(who, project, other_project)
    if user is not None:
        client.force_login(user)
    response = client.get(reverse("admin:index"))
    if status == "login":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    else:
        assert response.status_code == 200


def test_posts_without_a_csrf_token_are_refused(project_admin, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(project_admin)
    for page in PAGES:
        if page.method == "post":
            url = reverse(page.name, args=page.args(world))
            assert client.post(url, page.data).status_code == 403, page


# --- The helpers ------------------------------------------------------------------------------


def test_role_of_gives_the_role_or_none(project, other_project, annotator, outsider):
    assert role_of(annotator, project) == Role.ANNOTATOR
    assert role_of(annotator, other_project) is None
    assert role_of(outsider, project) is None
    assert role_of(AnonymousUser(), project) is None


def test_role_of_asks_the_database_once_per_project(django_assert_num_queries, project, annotator):
    with django_assert_num_queries(1):
        for _ in range(3):
            assert role_of(annotator, project) == Role.ANNOTATOR


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_can_follows_the_allowed_table(project, role, action):
    user = UserFactory(username=f"u_{role}")
    MembershipFactory(project=project, user=user, role=role)
    assert can(user, action, project) is (role in ALLOWED[action])


def test_a_superuser_can_do_everything_without_membership(project):
    root = User.objects.create_superuser("root", "root@example.org", "x")
    assert all(can(root, action, project) for action in Action)
    assert project_for(root, project.slug, Action.MANAGE) == project
    assert list(visible_projects(root)) == [project]


def test_an_inactive_member_can_do_nothing(project, project_admin):
    project_admin.is_active = False
    assert not any(can(project_admin, action, project) for action in Action)
    with pytest.raises(Http404):
        project_for(project_admin, project.slug, Action.VIEW)
    assert not can_create_projects(UserFactory(username="gone", is_staff=True, is_active=False))


def test_a_member_of_another_project_gets_404_not_403(project, other_project):
    admin_elsewhere = UserFactory(username="elsewhere")
    MembershipFactory(project=other_project, user=admin_elsewhere, role=Role.ADMIN)
    assert not can(admin_elsewhere, Action.VIEW, project)
    with pytest.raises(Http404):
        project_for(admin_elsewhere, project.slug, Action.VIEW)
    assert list(visible_projects(admin_elsewhere)) == [other_project]


def test_project_for_refuses_a_weak_role_with_403(project, annotator):
    assert project_for(annotator, project.slug, Action.LABEL) == project
    with pytest.raises(PermissionDenied):
        project_for(annotator, project.slug, Action.MANAGE)


def test_project_for_gives_404_for_an_unknown_slug(project_admin):
    with pytest.raises(Http404):
        project_for(project_admin, "no-such-project", Action.VIEW)


def test_anonymous_people_can_do_nothing(project):
    assert not any(can(AnonymousUser(), action, project) for action in Action)
    assert not can_create_projects(AnonymousUser())
    assert list(visible_projects(AnonymousUser())) == []


def test_only_staff_create_projects(project_admin):
    assert not can_create_projects(project_admin)
    assert can_create_projects(UserFactory(username="staffer", is_staff=True))


@pytest.mark.django_db
def test_comment_in_finds_a_comment_of_the_project_only(
    project, other_project, django_assert_num_queries
):
    mine = make_comment(ArticleFactory(project=project, title="Ceasefire"))
    theirs = make_comment(ArticleFactory(project=other_project))

    with django_assert_num_queries(1):  # the article comes with it
        assert comment_in(project, mine.pk).article.title == "Ceasefire"
    with pytest.raises(Http404):
        comment_in(project, theirs.pk)
    with pytest.raises(Http404):
        comment_in(project, 10**9)
