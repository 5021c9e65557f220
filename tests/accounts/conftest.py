"""Accounts tests: site admins beside the cast of tests/conftest.py, and invitations."""

import pytest

from annotator.accounts.invitations import invite
from annotator.corpus.models import Role
from tests.factories import UserFactory


@pytest.fixture
def staff(db):
    """A site admin who is staff but not a superuser."""
    return UserFactory(username="sam_staff", is_staff=True)


@pytest.fixture
def superuser(db):
    return UserFactory(username="sue_super", is_staff=True, is_superuser=True)


@pytest.fixture
def invitation(project, project_admin):
    """A pending invitation of nina@example.org as annotator."""
    return invite(project, "nina@example.org", Role.ANNOTATOR, project_admin)
