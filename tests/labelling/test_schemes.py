"""Creating and versioning a project's scheme: in place while unused, a new version after."""

import pytest

from annotator.labelling.default_scheme import default_scheme, guidelines_from_scheme
from annotator.labelling.models import Annotation, Guidelines, LabelScheme
from annotator.labelling.scheme import SchemeError, scheme_to_data
from annotator.labelling.schemes import (
    create_default_scheme,
    current_scheme_for,
    default_definition,
    save_scheme,
)
from tests.factories import ArticleFactory, ProjectFactory, UserFactory, make_comment

pytestmark = pytest.mark.django_db


def changed(definition: dict, title: str = "Stance (edited)") -> dict:
    """A copy of ``definition`` with the first question's title changed."""
    first = {**definition["questions"][0], "title": title}
    return {"questions": [first, *definition["questions"][1:]]}


def annotate_under(scheme: LabelScheme) -> Annotation:
    article = ArticleFactory(project=scheme.project)
    return Annotation.objects.create(
        project=scheme.project,
        comment=make_comment(article),
        annotator=UserFactory(),
        scheme=scheme,
        answers={"stance_article": "support"},
        answered_under={"stance_article": scheme.version},
    )


def test_a_new_project_gets_version_1_of_the_default_scheme_and_guidelines(project):
    (scheme,) = LabelScheme.objects.filter(project=project)
    assert scheme.version == 1
    assert scheme.definition == scheme_to_data(default_scheme())
    assert scheme.scheme == default_scheme()
    assert project.guidelines.text == guidelines_from_scheme(default_scheme())


def test_creating_the_default_twice_adds_nothing(project):
    assert create_default_scheme(project) == LabelScheme.objects.get(project=project)
    assert LabelScheme.objects.filter(project=project).count() == 1
    assert Guidelines.objects.filter(project=project).count() == 1


def test_a_project_without_a_scheme_gets_the_default_when_asked(project):
    LabelScheme.objects.filter(project=project).delete()
    scheme = current_scheme_for(project)
    assert (scheme.version, scheme.scheme) == (1, default_scheme())


def test_the_current_scheme_is_the_newest_version(project):
    LabelScheme.objects.create(project=project, version=2, definition=default_definition())
    assert current_scheme_for(project).version == 2
    assert LabelScheme.objects.current_for(project).version == 2
    assert LabelScheme.objects.current_for(ProjectFactory()).version == 1


def test_it_edits_an_unused_version_in_place(project):
    user = UserFactory()
    before = current_scheme_for(project)
    saved = save_scheme(project, changed(before.definition), user)
    assert (saved.pk, saved.version) == (before.pk, 1)
    saved.refresh_from_db()
    assert saved.definition["questions"][0]["title"] == "Stance (edited)"
    assert saved.created_by == user
    assert LabelScheme.objects.filter(project=project).count() == 1


def test_it_creates_the_next_version_once_an_annotation_uses_the_current_one(project):
    user = UserFactory()
    first = current_scheme_for(project)
    annotation = annotate_under(first)
    saved = save_scheme(project, changed(first.definition), user)
    assert saved.pk != first.pk
    assert (saved.version, saved.created_by) == (2, user)
    first.refresh_from_db()
    assert first.definition == default_definition()  # the version answers use is untouched
    annotation.refresh_from_db()
    assert annotation.scheme_id == first.pk
    assert current_scheme_for(project) == saved


def test_an_unchanged_definition_changes_nothing(project):
    first = current_scheme_for(project)
    annotate_under(first)
    created_at = first.created_at
    saved = save_scheme(project, default_definition(), UserFactory())
    assert saved.pk == first.pk
    first.refresh_from_db()
    assert (first.created_at, first.created_by) == (created_at, None)
    assert LabelScheme.objects.filter(project=project).count() == 1


def test_it_stores_the_definition_normalised(project):
    definition = changed(default_definition())
    definition["questions"][0]["title"] = "  Padded title  "
    saved = save_scheme(project, definition, None)
    assert saved.definition["questions"][0]["title"] == "Padded title"


def test_an_invalid_definition_writes_nothing(project):
    first = current_scheme_for(project)
    annotate_under(first)
    bad = changed(first.definition)
    bad["questions"][0]["kind"] = "scale"
    with pytest.raises(SchemeError, match="'kind' must be one of"):
        save_scheme(project, bad, UserFactory())
    assert list(LabelScheme.objects.filter(project=project)) == [first]
    first.refresh_from_db()
    assert first.definition == default_definition()


def test_default_definition_is_a_fresh_copy():
    one = default_definition()
    one["questions"].clear()
    assert default_definition()["questions"]
