"""Saving an LLM model's settings as versions (llm_models.py)."""

from __future__ import annotations

import pytest

from annotator.assist.llm_models import (
    LLMModelError,
    key_is_set,
    llm_models,
    next_version,
    save_llm_model,
)
from annotator.assist.models import MachineLabeller
from tests.factories import make_model

pytestmark = pytest.mark.django_db

CONFIG = {"base_url": "http://x/v1", "model": "m", "api_key_env": "K", "concurrency": 2}


@pytest.mark.parametrize(
    "versions, expected",
    [([], "1"), (["1"], "2"), (["1", "2", "9"], "10"), (["beta"], "1"), (["3", "rc"], "4")],
)
def test_the_next_version_is_one_more_than_the_highest_number(versions, expected):
    assert next_version(versions) == expected


def test_a_change_of_settings_is_a_new_version_and_no_change_is_none(project, project_admin):
    first, created = save_llm_model(project, "gpt", CONFIG, project_admin)
    same, again = save_llm_model(project, "gpt", dict(CONFIG), project_admin)
    second, changed = save_llm_model(project, "gpt", CONFIG | {"model": "n"}, project_admin)

    assert (created, again, changed) == (True, False, True)
    assert same.pk == first.pk
    assert (first.version, second.version) == ("1", "2")
    assert [m.pk for m in llm_models(project)] == [second.pk]


def test_the_new_version_takes_over_ordering_the_work(project, project_admin):
    first, _ = save_llm_model(project, "gpt", CONFIG, project_admin)
    MachineLabeller.objects.filter(pk=first.pk).update(orders_work=True, suggestions="hidden")

    second, _ = save_llm_model(project, "gpt", CONFIG | {"temperature": 1.0}, project_admin)

    first.refresh_from_db()
    assert (first.orders_work, second.orders_work, second.suggestions) == (False, True, "hidden")


def test_a_name_of_another_kind_of_model_is_refused(project, project_admin):
    make_model(project, "gpt")

    with pytest.raises(LLMModelError, match="another kind"):
        save_llm_model(project, "gpt", CONFIG, project_admin)
    assert MachineLabeller.objects.count() == 1


def test_key_is_set_reads_the_environment(monkeypatch):
    monkeypatch.setenv("SOME_KEY", "v")
    monkeypatch.setenv("EMPTY_KEY", "")
    monkeypatch.delenv("NO_KEY", raising=False)

    assert (key_is_set("SOME_KEY"), key_is_set("EMPTY_KEY"), key_is_set("NO_KEY")) == (
        True,
        False,
        False,
    )
