"""The cast of users every test can ask for, and settings for the test run."""

import pytest
from django.core.cache import caches

from annotator.corpus.models import Role
from annotator.review.queue import forget_scores
from tests.factories import MembershipFactory, ProjectFactory, UserFactory


@pytest.fixture(autouse=True)
def cold_review_scores():
    """Every test starts without the review queue's kept scores: they are kept per process
    by project id, and ids repeat between tests on SQLite."""
    forget_scores()
    yield
    forget_scores()


@pytest.fixture(autouse=True)
def empty_cache():
    """Every test starts with an empty cache: on Redis (``CACHE_URL``) entries outlive the
    process, and ids repeat between tests. Only this process's keys go (tests/settings.py)."""
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def project(db):
    return ProjectFactory(name="Aleppo ceasefire", slug="aleppo")


@pytest.fixture
def other_project(db):
    return ProjectFactory(name="Other newsroom", slug="other")


def _member(project, role: Role, username: str):
    user = UserFactory(username=username)
    MembershipFactory(project=project, user=user, role=role)
    return user


@pytest.fixture
def project_admin(project):
    return _member(project, Role.ADMIN, "ada_admin")


@pytest.fixture
def annotator(project):
    return _member(project, Role.ANNOTATOR, "ann_annotator")


@pytest.fixture
def reviewer(project):
    return _member(project, Role.REVIEWER, "rev_reviewer")


@pytest.fixture
def researcher(project):
    return _member(project, Role.RESEARCHER, "res_researcher")


@pytest.fixture
def outsider(db):
    """Logged in, but a member of no project."""
    return UserFactory(username="out_outsider")
