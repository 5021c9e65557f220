"""Creating and changing a project's label scheme and guidelines.

Versioning rule: a scheme version that no annotation uses yet is edited in place; once any
annotation was saved under it, a change creates the next version. Old versions stay, so every
answer can always be read against the scheme it was given under.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from annotator.corpus.models import Project
from annotator.labelling.default_scheme import (
    DEFAULT_SCHEME_DATA,
    default_scheme,
    guidelines_from_scheme,
)
from annotator.labelling.models import Annotation, Guidelines, LabelScheme
from annotator.labelling.scheme import parse_scheme, scheme_to_data


def give_new_project_the_default_scheme(
    sender: type, instance: Project, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """``post_save`` receiver: a new project starts with the default scheme and guidelines."""
    if created and not raw:
        create_default_scheme(instance)


def create_default_scheme(project: Project) -> LabelScheme:
    """Version 1 of the default scheme and guidelines written from it (if none exist)."""
    with transaction.atomic():
        scheme, _ = LabelScheme.objects.get_or_create(
            project=project,
            version=1,
            defaults={"definition": scheme_to_data(default_scheme())},
        )
        Guidelines.objects.get_or_create(
            project=project, defaults={"text": guidelines_from_scheme(default_scheme())}
        )
    return scheme


def current_scheme_for(project: Project) -> LabelScheme:
    """The project's newest scheme version; a project from before schemes gets the default."""
    scheme = LabelScheme.objects.current_for(project)
    if scheme is None:
        scheme = create_default_scheme(project)
    return scheme


def save_scheme(project: Project, definition: Any, user) -> LabelScheme:
    """Store a changed definition; raise ``SchemeError`` if it is not a valid scheme.

    Returns the version now current: the same row when nobody has answered under it yet,
    otherwise a new version. An unchanged definition changes nothing.
    """
    normalised = scheme_to_data(parse_scheme(definition))
    with transaction.atomic():
        current = (
            LabelScheme.objects.select_for_update().filter(project=project).order_by("-version")
        ).first()
        if current is not None and current.definition == normalised:
            return current
        if current is not None and not Annotation.objects.filter(scheme=current).exists():
            current.definition = normalised
            current.created_by = user
            current.created_at = timezone.now()
            current.save(update_fields=["definition", "created_by", "created_at"])
            return current
        return LabelScheme.objects.create(
            project=project,
            version=(current.version + 1) if current else 1,
            definition=normalised,
            created_by=user,
        )


def default_definition() -> dict:
    """A copy of the default scheme's definition (for the editor's "start over")."""
    return scheme_to_data(parse_scheme(DEFAULT_SCHEME_DATA))
