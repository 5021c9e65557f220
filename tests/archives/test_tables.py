"""What an archive holds: every model that belongs to a project is archived or left out
on purpose, with its reason."""

from __future__ import annotations

from django.apps import apps
from django.db import models

from annotator.archives.tables import NOT_ARCHIVED, TABLES
from annotator.corpus.models import Project

# Models whose rows belong to a project through these.
OWNERS = {Project}


def belongs_to_a_project(model: type[models.Model], seen: frozenset = frozenset()) -> bool:
    for field in model._meta.concrete_fields:
        target = field.related_model if field.is_relation else None
        if target is None or target in seen or target is model:
            continue
        if target in OWNERS or belongs_to_a_project(target, seen | {model}):
            return True
    return False


def label(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


def test_every_model_of_a_project_is_archived_or_left_out_with_a_reason():
    archived = {label(table.model) for table in TABLES}
    owned = {
        label(model)
        for model in apps.get_models()
        if model.__module__.startswith("annotator.") and belongs_to_a_project(model)
    }
    assert owned - archived - set(NOT_ARCHIVED) == set()
    assert archived & set(NOT_ARCHIVED) == set()
    assert all(reason for reason in NOT_ARCHIVED.values())


def test_no_table_points_at_a_table_that_comes_after_it():
    seen = {"user"}
    for table in TABLES:
        for target in table.refs.values():
            assert target in seen | {table.name}, (table.name, target)
        seen.add(table.name)
