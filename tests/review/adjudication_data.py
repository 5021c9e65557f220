"""Shared data for the adjudication tests: complete answers under the default scheme."""

from annotator.corpus.models import Role
from tests.factories import COMPLETE_REPLY, COMPLETE_TOP_LEVEL, MembershipFactory, UserFactory

# A top-level comment (no stance toward a parent) answered completely, and a reply.
TOP = COMPLETE_TOP_LEVEL
# The same with one question answered differently.
TOP_DENY = {**TOP, "stance_article": "deny"}
REPLY = COMPLETE_REPLY


def annotators(project, count: int, prefix: str = "ann") -> list:
    """``count`` annotators of ``project``."""
    people = []
    for index in range(count):
        user = UserFactory(username=f"{prefix}{index}")
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
        people.append(user)
    return people
