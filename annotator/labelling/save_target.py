"""What a save needs before it writes, read in one query: project, role, comment, scheme.

Every autosave would otherwise ask four times (``project_for``: the project, then the role;
``comment_in``: the comment with its article; ``current_scheme_for``: the scheme). Here one
query reads the comment with its article and project, the person's role there and the
project's current scheme version; the scheme's parsed form is kept per process, by the
definition's text, so a save neither compiles nor parses what did not change (an edited
version has another text, so it can never be served stale). Anything unusual (no such
project, comment or role, a project without a scheme) goes the usual way, which raises the
usual 404 or 403.
"""

from __future__ import annotations

import json

from django.db.models import OuterRef, Subquery, TextField

from annotator.corpus.models import Comment, Membership, Project
from annotator.corpus.permissions import Action, can, comment_in, project_for, remember_role
from annotator.labelling.models import LabelScheme
from annotator.labelling.scheme import Scheme, parse_scheme
from annotator.labelling.schemes import current_scheme_for

# Parsed schemes by definition text; a handful of projects and versions per process.
_PARSED: dict[str, tuple[dict, Scheme]] = {}
_PARSED_MAX = 64


def save_target(user, slug: str, comment_id: int) -> tuple[Project, Comment, LabelScheme]:
    """The project ``slug`` (``user`` may label in it), its comment and current scheme.

    Raises what ``project_for`` and ``comment_in`` raise. One query when all is in order.
    """
    current = LabelScheme.objects.filter(project=OuterRef("article__project")).order_by("-version")
    comment = (
        Comment.objects.select_related("article__project")
        .annotate(
            member_role=Subquery(
                Membership.objects.filter(project=OuterRef("article__project"), user=user)
                .order_by()
                .values("role")[:1]
            ),
            scheme_pk=Subquery(current.values("pk")[:1]),
            scheme_version=Subquery(current.values("version")[:1]),
            scheme_text=Subquery(current.values("definition")[:1], output_field=TextField()),
        )
        .filter(pk=comment_id, article__project__slug=slug)
        .first()
    )
    if comment is None or comment.scheme_pk is None:
        return _the_usual_way(user, slug, comment_id)
    project = comment.article.project
    remember_role(user, project, comment.member_role)
    if not (can(user, Action.VIEW, project) and can(user, Action.LABEL, project)):
        return _the_usual_way(user, slug, comment_id)
    return project, comment, _scheme(comment, project)


def _the_usual_way(user, slug: str, comment_id: int) -> tuple[Project, Comment, LabelScheme]:
    project = project_for(user, slug, Action.LABEL)
    comment = comment_in(project, comment_id)
    return project, comment, current_scheme_for(project)


def _scheme(comment: Comment, project: Project) -> LabelScheme:
    """The current scheme version as read with ``comment``, parsed once per definition."""
    text = comment.scheme_text
    parsed = _PARSED.get(text)
    if parsed is None:
        definition = json.loads(text)
        parsed = (definition, parse_scheme(definition))
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[text] = parsed
    scheme = LabelScheme(
        pk=comment.scheme_pk, project=project, version=comment.scheme_version, definition=parsed[0]
    )
    scheme.__dict__["scheme"] = parsed[1]  # the cached_property, already known
    return scheme
