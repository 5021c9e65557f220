"""Configuring an LLM model: its endpoint settings as versions of a ``MachineLabeller``.

A change of settings is a new version, so the predictions of the earlier settings stay
what they were and each names the endpoint and model that made it. The API key is never
here: ``config`` holds the *name* of the environment variable that holds it, and pages say
only whether that variable is set.
"""

from __future__ import annotations

import os

from django.db import transaction

from annotator.assist.models import MachineLabeller
from annotator.corpus.models import Project


class LLMModelError(ValueError):
    """Settings that cannot be saved under that name; the message says why."""


def key_is_set(env_name: str) -> bool:
    """Whether the server's environment has a non-empty ``env_name`` (never its value)."""
    return bool(env_name) and bool(os.environ.get(env_name))


def next_version(versions: list[str]) -> str:
    """The version after ``versions``: one more than the highest number among them."""
    numbers = [int(v) for v in versions if v.isdigit()]
    return str(max(numbers, default=0) + 1) if versions else "1"


def llm_models(project: Project) -> list[MachineLabeller]:
    """The newest version of each of the project's LLM models (one query)."""
    return list(
        MachineLabeller.objects.filter(project=project)
        .newest()
        .filter(kind=MachineLabeller.Kind.LLM)
    )


@transaction.atomic
def save_llm_model(project: Project, name: str, config: dict, user) -> tuple[MachineLabeller, bool]:
    """The LLM model ``name`` with ``config``: a new version when the settings changed
    (created, True), the newest one as it is when they did not (False).

    A new version keeps the suggestions setting of the one before and takes over ordering
    the work from it, so changing the endpoint does not silently change the workspace.
    """
    versions = list(
        MachineLabeller.objects.select_for_update()
        .filter(project=project, name=name)
        .order_by("-id")
    )
    newest = versions[0] if versions else None
    if newest is not None and newest.kind != MachineLabeller.Kind.LLM:
        raise LLMModelError(
            f"The name “{name}” belongs to a model of another kind ({newest.get_kind_display()})."
        )
    if newest is not None and newest.config == config:
        return newest, False
    fields = {}
    if newest is not None:
        fields = {"suggestions": newest.suggestions, "orders_work": newest.orders_work}
        if newest.orders_work:
            MachineLabeller.objects.filter(pk=newest.pk).update(orders_work=False)
    labeller = MachineLabeller.objects.create(
        project=project,
        name=name,
        version=next_version([v.version for v in versions]),
        kind=MachineLabeller.Kind.LLM,
        config=config,
        created_by=user,
        **fields,
    )
    return labeller, True
