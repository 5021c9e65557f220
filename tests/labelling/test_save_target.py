"""What a save reads before it writes: one query, the usual 404/403 otherwise, no stale scheme."""

import pytest
from django.contrib.auth import get_user_model
from django.http import Http404

from annotator.corpus.models import Role
from annotator.corpus.permissions import CommentNotInProject, RoleTooWeak
from annotator.labelling.annotations import UNREAD, Submission, save_annotation
from annotator.labelling.save_target import save_target
from annotator.labelling.schemes import current_scheme_for, save_scheme
from tests.factories import ArticleFactory, MembershipFactory, UserFactory, make_comment


@pytest.fixture
def reply(project):
    article = ArticleFactory(project=project, title="Ceasefire")
    top = make_comment(article, text="Top", meta={"likes": 3})
    return make_comment(article, parent=top, text="A reply")


def autosave(comment, user, answers, revision=0):
    return save_annotation(
        comment=comment,
        annotator=user,
        scheme=current_scheme_for(comment.article.project),
        submission=Submission(answers=answers),
        base_revision=revision,
        action="autosave",
    )


def test_it_reads_project_comment_scheme_and_annotation_in_one_query(
    project, reply, annotator, django_assert_num_queries
):
    autosave(reply, annotator, {"stance_article": "query"})
    with django_assert_num_queries(1):
        target = save_target(annotator, project.slug, reply.pk)
        assert target.comment.article.project.claim_minutes == project.claim_minutes
        assert target.comment.parent_id == reply.parent_id
        assert target.annotation.scheme.version == 1
        assert target.annotation.annotator_id == annotator.pk
    assert target.project == project
    assert target.comment == reply
    assert target.comment.article.title == "Ceasefire"
    assert target.comment.created_at == reply.created_at  # an aware datetime, as stored
    assert target.scheme == current_scheme_for(project)
    assert target.scheme.scheme.questions == current_scheme_for(project).scheme.questions
    assert target.annotation.answers == {"stance_article": "query"}


def test_the_comments_meta_and_a_missing_annotation_read_as_the_orm_reads_them(
    project, reply, annotator
):
    target = save_target(annotator, project.slug, reply.parent_id)
    assert target.comment.meta == {"likes": 3}
    assert target.annotation is None


def test_a_scheme_edited_in_place_is_read_as_edited(project, reply, annotator, project_admin):
    save_target(annotator, project.slug, reply.pk)  # version 1 parsed and kept
    definition = current_scheme_for(project).definition
    definition["questions"][0]["title"] = "Stance, edited"
    edited = save_scheme(project, definition, project_admin)
    assert edited.version == 1  # nobody answered under it: edited in place
    target = save_target(annotator, project.slug, reply.pk)
    assert target.scheme.scheme.questions[0].title == "Stance, edited"


def test_an_annotation_of_an_older_version_keeps_that_version(
    project, reply, annotator, project_admin
):
    autosave(reply, annotator, {"stance_article": "query"})
    definition = current_scheme_for(project).definition
    definition["questions"][0]["title"] = "Stance, version 2"
    assert save_scheme(project, definition, project_admin).version == 2
    target = save_target(annotator, project.slug, reply.pk)
    assert target.scheme.version == 2
    assert target.annotation.scheme.version == 1
    assert target.annotation.scheme.scheme.questions[0].title != "Stance, version 2"


def test_outsiders_and_unknown_projects_get_404(project, reply, outsider, annotator):
    with pytest.raises(Http404):
        save_target(outsider, project.slug, reply.pk)
    with pytest.raises(Http404):
        save_target(annotator, "no-such-project", reply.pk)


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.RESEARCHER])
def test_members_who_do_not_label_get_403(project, reply, role):
    member = UserFactory(username=f"member_{role}")
    MembershipFactory(project=project, user=member, role=role)
    with pytest.raises(RoleTooWeak):
        save_target(member, project.slug, reply.pk)


def test_a_comment_of_another_project_is_not_found(project, other_project, annotator):
    MembershipFactory(project=other_project, user=annotator, role=Role.ANNOTATOR)
    elsewhere = make_comment(ArticleFactory(project=other_project), text="Elsewhere")
    with pytest.raises(CommentNotInProject):
        save_target(annotator, project.slug, elsewhere.pk)


def test_a_superuser_who_is_not_a_member_may_label(project, reply):
    boss = get_user_model().objects.create_superuser("boss", "boss@example.org", "pw")
    target = save_target(boss, project.slug, reply.pk)
    assert target.comment == reply
    assert target.annotation is None


def test_a_project_without_a_scheme_gets_the_default_the_usual_way(project, reply, annotator):
    project.schemes.all().delete()
    target = save_target(annotator, project.slug, reply.pk)
    assert target.scheme.version == 1
    assert target.annotation is UNREAD
