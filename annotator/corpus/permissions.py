"""The one place that decides who may do what in a project.

Every view, partial endpoint and (later) API call asks ``can()`` or goes through
``project_for()``. Roles are per project (``Membership``); a superuser may do everything.
A person who is not a member of a project gets a 404 for it, never a 403, so the existence
of other projects does not leak.
"""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from annotator.corpus.models import Comment, Membership, Project, Role


class Action(StrEnum):
    """Things a person can do in a project."""

    VIEW = "view"  # see the project, its articles and threads
    LABEL = "label"  # label comments
    REVIEW = "review"  # adjudicate disagreements, see everyone's labels
    RESULTS = "results"  # see everyone's labels in aggregate: dashboard, agreement
    EXPORT = "export"  # download the labelled corpus
    IMPORT = "import"  # upload threads, fix reconstructed trees
    MANAGE = "manage"  # members, settings, scheme


ALLOWED: dict[Action, frozenset[Role]] = {
    Action.VIEW: frozenset(Role),
    Action.LABEL: frozenset({Role.ADMIN, Role.ANNOTATOR}),
    Action.REVIEW: frozenset({Role.ADMIN, Role.REVIEWER}),
    Action.RESULTS: frozenset({Role.ADMIN, Role.RESEARCHER, Role.REVIEWER}),
    Action.EXPORT: frozenset({Role.ADMIN, Role.RESEARCHER, Role.REVIEWER}),
    Action.IMPORT: frozenset({Role.ADMIN}),
    Action.MANAGE: frozenset({Role.ADMIN}),
}

User = AbstractBaseUser | AnonymousUser


class RoleTooWeak(PermissionDenied):
    """A member asked for something their role in ``project`` does not allow.

    It carries the project, so the 403 page can say whom to ask (the project's admins) and
    link back to it.
    """

    def __init__(self, project: Project) -> None:
        super().__init__(f"Your role in {project.name} does not allow this.")
        self.project = project


class CommentNotInProject(Http404):
    """The comment of a URL is not in the URL's project (it may be in another one).

    It carries the comment's id, so the 404 page can point a member of the comment's real
    project there, and say nothing to anyone else.
    """

    def __init__(self, comment_id: int) -> None:
        super().__init__("No such comment in this project.")
        self.comment_id = comment_id


def role_of(user: User, project: Project) -> Role | None:
    """The user's role in ``project``, or None for a non-member (cached on the user)."""
    if not user.is_authenticated:
        return None
    cache = user.__dict__.setdefault("_project_roles", {})
    if project.pk not in cache:
        role = (
            Membership.objects.filter(project=project, user=user)
            .order_by()
            .values_list("role", flat=True)
            .first()
        )
        cache[project.pk] = Role(role) if role else None
    return cache[project.pk]


def remember_role(user: User, project: Project, role: str | None) -> None:
    """Keep ``user``'s role in ``project``, read by a view's own query, where ``role_of``
    looks first (the user's cache), so ``can`` asks the database nothing more."""
    if user.is_authenticated:
        user.__dict__.setdefault("_project_roles", {})[project.pk] = Role(role) if role else None


def can(user: User, action: Action, project: Project) -> bool:
    """Whether ``user`` may do ``action`` in ``project``."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    role = role_of(user, project)
    return role is not None and role in ALLOWED[action]


def can_create_projects(user: User) -> bool:
    """Staff accounts create projects (and become their admins)."""
    return bool(user.is_authenticated and user.is_active and (user.is_staff or user.is_superuser))


def visible_projects(user: User):
    """Projects the user belongs to (every project for a superuser)."""
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def project_for(user: User, slug: str, action: Action) -> Project:
    """Fetch the project for a view, or raise 404 (not a member) / 403 (role too weak)."""
    try:
        project = Project.objects.get(slug=slug)
    except Project.DoesNotExist:
        raise Http404("No such project.") from None
    if not can(user, Action.VIEW, project):
        raise Http404("No such project.")
    if not can(user, action, project):
        raise RoleTooWeak(project)
    return project


def comment_in(project: Project, comment_id: int, *related: str) -> Comment:
    """The comment ``comment_id`` of ``project`` (with its article, and ``related``) for a
    view, or 404 when it belongs to another project: call it after ``project_for``."""
    try:
        comment = Comment.objects.select_related("article", *related).get(
            pk=comment_id, article__project=project
        )
    except Comment.DoesNotExist:
        raise CommentNotInProject(comment_id) from None
    # Its project is the one asked for: saving a label reads its claim length without a query.
    comment.article.project = project
    return comment
