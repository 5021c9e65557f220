"""How API views ask ``annotator.corpus.permissions``: no rule of who may do what lives here.

``ProjectScopedMixin`` fetches the project of the URL through ``project_for`` once per
request, after DRF has authenticated the caller (so a missing or wrong token is a 401, a
non-member gets 404 and a role that is too weak 403 with a ``detail`` naming the project).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.request import Request

from annotator.corpus.models import Project
from annotator.corpus.permissions import Action, User, can, project_for


def project_from(user: User, slug: str, action: Action) -> Project:
    """``project_for`` with its refusals turned into DRF's 404 and 403 (messages kept)."""
    try:
        return project_for(user, slug, action)
    except Http404 as error:
        raise exceptions.NotFound(str(error) or "No such project.") from None
    except DjangoPermissionDenied as error:
        raise exceptions.PermissionDenied(str(error)) from None


def reads_all_annotations(user: User, project: Project) -> bool:
    """Whether ``user`` may read every annotator's labels in ``project``.

    Reviewers and admins adjudicate (``Action.REVIEW``) and researchers export every
    annotator's answers anyway (``Action.EXPORT``), so they read all; everyone else, in
    practice annotators, reads only their own, as in the labelling workspace.
    """
    return can(user, Action.REVIEW, project) or can(user, Action.EXPORT, project)


class ProjectScopedMixin:
    """For views under ``projects/<slug>/``: ``self.project``, checked for ``project_action``.

    ``project_action`` may be a dict from HTTP method to action when reading and writing
    need different roles.
    """

    project_action: Action | dict[str, Action] = Action.VIEW
    project: Project

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        action = self.project_action
        if isinstance(action, dict):
            action = action.get(request.method, Action.VIEW)
        self.project = project_from(request.user, kwargs["slug"], action)
