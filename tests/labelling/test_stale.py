"""Answers about a comment's parent are set aside when the comment moves (labelling/stale.py)."""

import pytest

from annotator.corpus.moves import impact_of_move
from annotator.labelling.annotations import AnnotationConflict, Submission, save_annotation
from annotator.labelling.assignment import claim_next
from annotator.labelling.default_scheme import DEFAULT_SCHEME_DATA
from annotator.labelling.models import Annotation, AnnotationEvent
from annotator.labelling.scheme import parse_scheme
from annotator.labelling.schemes import current_scheme_for, save_scheme
from annotator.labelling.stale import parent_dependent_keys, stale_answers_of
from tests.factories import (
    COMPLETE_REPLY,
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    MembershipFactory,
    UserFactory,
    make_comment,
)


@pytest.fixture
def tree(project):
    """#1 top, #2 its reply, #3 another top-level comment, #4 a reply to the reply."""
    article = ArticleFactory(project=project)
    top = make_comment(article, text="Top")
    reply = make_comment(article, parent=top, text="Reply")
    other = make_comment(article, text="Other top")
    deeper = make_comment(article, parent=reply, text="Reply to the reply")
    return top, reply, other, deeper


@pytest.fixture
def second_annotator(project):
    user = UserFactory(username="bea_annotator")
    MembershipFactory(project=project, user=user)
    return user


def submit(comment, user, answers, revision=0, action="submit"):
    result = save_annotation(
        comment=comment,
        annotator=user,
        scheme=current_scheme_for(comment.article.project),
        submission=Submission(answers=answers),
        base_revision=revision,
        action=action,
    )
    assert result.ok, result.missing
    return result.annotation


def with_follow_up(project, user):
    """The default scheme plus "why?" shown only when the stance toward the parent is deny."""
    data = {**DEFAULT_SCHEME_DATA, "questions": list(DEFAULT_SCHEME_DATA["questions"])}
    data["questions"].insert(
        2,
        {
            "key": "deny_reason",
            "title": "Why does it deny the parent?",
            "kind": "single",
            "required": False,
            "show_if": {"question": "stance_parent", "in": ["deny"]},
            "choices": [{"value": "facts"}, {"value": "tone"}],
        },
    )
    return save_scheme(project, data, user)


def test_parent_dependent_keys_follow_show_if_and_replies_only():
    data = {**DEFAULT_SCHEME_DATA, "questions": list(DEFAULT_SCHEME_DATA["questions"])}
    data["questions"].insert(
        2,
        {
            "key": "deny_reason",
            "title": "Why?",
            "kind": "text",
            "show_if": {"question": "stance_parent", "in": ["deny"]},
        },
    )
    scheme = parse_scheme(data)
    assert parent_dependent_keys([scheme], is_reply=True) == {"stance_parent", "deny_reason"}
    # checkworthy depends on claim_type, which is about the comment itself: not stale.
    assert "checkworthy" not in parent_dependent_keys([scheme], is_reply=False)


def test_moving_a_reply_sets_aside_the_parent_answers_of_every_annotator_and_keeps_the_rest(
    tree, annotator, second_annotator, project_admin
):
    top, reply, other, _ = tree
    submit(reply, annotator, COMPLETE_REPLY)
    submit(reply, second_annotator, {**COMPLETE_REPLY, "stance_parent": "support"})
    submit(other, annotator, COMPLETE_TOP_LEVEL)  # another comment: untouched
    reply.move_under(other, actor=project_admin)
    for user, old in ((annotator, "deny"), (second_annotator, "support")):
        annotation = Annotation.objects.get(comment=reply, annotator=user)
        assert annotation.answers == COMPLETE_TOP_LEVEL
        assert "stance_parent" not in annotation.answered_under
        stale = annotation.stale_answers["stance_parent"]
        assert stale["value"] == old
        assert stale["parent_id"] == top.pk
        assert stale["parent_source_id"] == top.source_id
        assert stale["scheme_version"] == 1
        assert stale["marked_stale_at"]
    untouched = Annotation.objects.get(comment=other, annotator=annotator)
    assert untouched.answers == COMPLETE_TOP_LEVEL
    assert untouched.stale_answers == {}
    assert untouched.revision == 1


def test_the_move_is_in_history_by_the_person_who_moved_it(tree, annotator, project_admin):
    top, reply, other, _ = tree
    submit(reply, annotator, COMPLETE_REPLY)
    reply.move_under(other, actor=project_admin)
    event = AnnotationEvent.objects.filter(annotation__comment=reply).latest("id")
    assert event.kind == AnnotationEvent.Kind.REPARENT
    assert event.actor == project_admin
    assert event.revision == 2
    assert event.before["answers"] == COMPLETE_REPLY
    assert event.before["status"] == "submitted"
    assert event.after["answers"] == COMPLETE_TOP_LEVEL
    assert event.after["status"] == "draft"
    change = event.after["parent_change"]
    assert change["from"] == top.pk
    assert change["to"] == other.pk
    assert change["stale"] == ["stance_parent"]
    assert change["reopened"] is True
    assert f"#{other.pk}" in change["reason"]


def test_a_save_from_the_revision_before_the_move_is_a_conflict(tree, annotator, project_admin):
    _, reply, other, _ = tree
    annotation = submit(reply, annotator, COMPLETE_REPLY)
    reply.move_under(other, actor=project_admin)
    reply.refresh_from_db()
    with pytest.raises(AnnotationConflict):
        submit(reply, annotator, COMPLETE_REPLY, revision=annotation.revision)
    assert Annotation.objects.get(pk=annotation.pk).answers == COMPLETE_TOP_LEVEL


def test_a_submitted_annotation_goes_back_to_draft_and_the_queue_hands_the_comment_out_again(
    tree, annotator, project_admin
):
    top, reply, other, deeper = tree
    for comment, answers in ((top, COMPLETE_TOP_LEVEL), (other, COMPLETE_TOP_LEVEL)):
        submit(comment, annotator, answers)
    submit(reply, annotator, COMPLETE_REPLY)
    submit(deeper, annotator, COMPLETE_REPLY)
    assert claim_next(annotator, top.article.project) is None
    reply.move_under(other, actor=project_admin)
    annotation = Annotation.objects.get(comment=reply, annotator=annotator)
    assert annotation.status == Annotation.Status.DRAFT
    assert claim_next(annotator, top.article.project) == reply
    # Its replies still answer it: their labels stay as they were.
    assert Annotation.objects.get(comment=deeper, annotator=annotator).answers == COMPLETE_REPLY


def test_moving_back_to_the_first_parent_restores_nothing(tree, annotator, project_admin):
    top, reply, other, _ = tree
    submit(reply, annotator, COMPLETE_REPLY)
    reply.move_under(other, actor=project_admin)
    reply.refresh_from_db()
    reply.move_under(top, actor=project_admin)
    annotation = Annotation.objects.get(comment=reply, annotator=annotator)
    assert "stance_parent" not in annotation.answers
    assert annotation.stale_answers["stance_parent"]["value"] == "deny"
    assert annotation.status == Annotation.Status.DRAFT
    # The annotator answers again; the old answer stays kept apart.
    submit(reply, annotator, {**COMPLETE_REPLY, "stance_parent": "query"}, annotation.revision)
    annotation.refresh_from_db()
    assert annotation.answers["stance_parent"] == "query"
    assert annotation.status == Annotation.Status.SUBMITTED
    assert annotation.stale_answers["stance_parent"]["value"] == "deny"


def test_a_reply_that_becomes_top_level_loses_the_reply_only_answers_and_stays_done(
    tree, annotator, project_admin
):
    top, reply, _, _ = tree
    submit(reply, annotator, COMPLETE_REPLY)
    reply.move_under(None, actor=project_admin)
    annotation = Annotation.objects.get(comment=reply, annotator=annotator)
    assert annotation.answers == COMPLETE_TOP_LEVEL
    assert annotation.stale_answers["stance_parent"]["parent_id"] == top.pk
    # Complete as a top-level comment: nothing more to ask.
    assert annotation.status == Annotation.Status.SUBMITTED
    assert annotation.revision == 2


def test_a_top_level_comment_that_becomes_a_reply_goes_back_to_draft_with_the_reason(
    tree, annotator, second_annotator, project_admin
):
    top, _, other, _ = tree
    submit(other, annotator, COMPLETE_TOP_LEVEL)
    submit(other, second_annotator, {"stance_article": "query"}, action="autosave")
    assert impact_of_move(other, top).reopened == 1
    other.move_under(top, actor=project_admin)
    done = Annotation.objects.get(comment=other, annotator=annotator)
    assert done.answers == COMPLETE_TOP_LEVEL
    assert done.stale_answers == {}
    assert done.status == Annotation.Status.DRAFT
    event = done.events.latest("id")
    assert event.kind == AnnotationEvent.Kind.REPARENT
    assert event.after["parent_change"]["stale"] == []
    assert "asked the questions about its parent" in event.after["parent_change"]["reason"]
    # A draft with nothing set aside is not touched (no revision, no history).
    draft = Annotation.objects.get(comment=other, annotator=second_annotator)
    assert draft.revision == 1
    assert draft.events.count() == 1


def test_answers_shown_only_because_of_a_parent_answer_go_stale_with_it(
    tree, annotator, project_admin
):
    _, reply, other, _ = tree
    with_follow_up(reply.article.project, project_admin)
    submit(reply, annotator, {**COMPLETE_REPLY, "deny_reason": "facts"})
    reply.move_under(other, actor=project_admin)
    annotation = Annotation.objects.get(comment=reply, annotator=annotator)
    assert set(annotation.stale_answers) == {"stance_parent", "deny_reason"}
    assert annotation.answers == COMPLETE_TOP_LEVEL


def test_the_impact_counts_what_the_move_would_set_aside_and_writes_nothing(
    tree, annotator, second_annotator
):
    _, reply, other, _ = tree
    with_follow_up(reply.article.project, annotator)
    submit(reply, annotator, {**COMPLETE_REPLY, "deny_reason": "facts"})
    submit(reply, second_annotator, COMPLETE_REPLY)
    impact = impact_of_move(reply, other)
    assert (impact.answers, impact.annotators, impact.gold, impact.reopened) == (3, 2, 0, 2)
    assert not Annotation.objects.filter(comment=reply).exclude(stale_answers={}).exists()
    assert impact_of_move(other, None).is_empty


def test_moving_among_siblings_under_the_same_parent_sets_nothing_aside(
    tree, annotator, project_admin
):
    top, reply, _, _ = tree
    submit(reply, annotator, COMPLETE_REPLY)
    reply.move_under(top, actor=project_admin)  # same parent: only its position changes
    annotation = Annotation.objects.get(comment=reply, annotator=annotator)
    assert annotation.answers == COMPLETE_REPLY
    assert annotation.revision == 1


def test_a_failed_move_sets_nothing_aside(tree, annotator, project_admin):
    _, reply, _, deeper = tree
    submit(reply, annotator, COMPLETE_REPLY)
    with pytest.raises(ValueError):
        reply.move_under(deeper, actor=project_admin)
    assert Annotation.objects.get(comment=reply).answers == COMPLETE_REPLY


def test_stale_answers_of_gives_titles_labels_and_whether_answered_again(
    tree, annotator, project_admin
):
    top, reply, other, _ = tree
    submit(reply, annotator, COMPLETE_REPLY)
    reply.move_under(other, actor=project_admin)
    annotation = Annotation.objects.select_related("scheme").get(comment=reply)
    scheme = current_scheme_for(reply.article.project).scheme
    [item] = stale_answers_of(annotation, scheme)
    assert item.question == "stance_parent"
    assert item.title == "Stance toward the parent comment"
    assert item.value == "deny"
    assert item.value_label == scheme.question("stance_parent").choice("deny").label
    assert item.parent_id == top.pk
    assert item.marked_stale_at is not None
    assert item.answered_again is False
    assert stale_answers_of(None, scheme) == []
