"""Saving annotations (revisions, history, conflicts) and choosing the next comment."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotator.labelling.annotations import (
    MAX_ELAPSED_PER_SAVE_MS,
    AnnotationConflict,
    Submission,
    next_comment_for,
    save_annotation,
)
from annotator.labelling.assignment import claim_next, waiting_for
from annotator.labelling.label_counts import recount_everything
from annotator.labelling.models import Annotation, AnnotationEvent
from annotator.labelling.navigation import neighbours_of, progress_for
from annotator.labelling.schemes import current_scheme_for, save_scheme
from tests.factories import (
    COMPLETE_REPLY,
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    MembershipFactory,
    UserFactory,
    make_comment,
    make_thread,
)


@pytest.fixture
def thread(project):
    article = ArticleFactory(project=project)
    top = make_comment(article, text="Top-level comment")
    reply = make_comment(article, parent=top, text="A reply")
    second = make_comment(article, text="Second top-level comment")
    return article, top, reply, second


def save(comment, user, answers, revision=0, action="autosave", **extra):
    scheme = current_scheme_for(comment.article.project)
    return save_annotation(
        comment=comment,
        annotator=user,
        scheme=scheme,
        submission=Submission(answers=answers, **extra),
        base_revision=revision,
        action=action,
    )


def test_a_first_autosave_keeps_partial_answers_as_a_draft_with_history(thread, annotator):
    _, top, _, _ = thread
    result = save(top, annotator, {"stance_article": "query"})
    annotation = Annotation.objects.get(comment=top, annotator=annotator)
    assert result.changed
    assert annotation.status == Annotation.Status.DRAFT
    assert annotation.answers == {"stance_article": "query"}
    assert annotation.revision == 1
    assert annotation.answered_under == {"stance_article": 1}
    event = AnnotationEvent.objects.get(annotation=annotation)
    assert event.kind == AnnotationEvent.Kind.AUTOSAVE
    assert event.before is None
    assert event.after["answers"] == {"stance_article": "query"}
    assert event.actor == annotator


def test_submit_with_missing_answers_keeps_them_as_draft_and_lists_the_missing(thread, annotator):
    _, _, reply, _ = thread
    result = save(reply, annotator, {"stance_article": "support"}, action="submit")
    assert not result.ok
    assert result.missing == ["stance_parent", "claim_type", "speculation", "source_cited"]
    assert Annotation.objects.get().status == Annotation.Status.DRAFT


def test_a_complete_submit_marks_the_annotation_done(thread, annotator):
    _, _, reply, _ = thread
    result = save(reply, annotator, COMPLETE_REPLY, action="submit")
    annotation = Annotation.objects.get()
    assert result.ok
    assert annotation.status == Annotation.Status.SUBMITTED
    assert annotation.submitted_at is not None
    assert annotation.events.get().kind == AnnotationEvent.Kind.SUBMIT


def test_every_change_is_kept_in_history_with_before_and_after(thread, annotator):
    _, top, _, _ = thread
    save(top, annotator, {"stance_article": "query"})
    save(top, annotator, {"stance_article": "deny"}, revision=1)
    save(top, annotator, COMPLETE_TOP_LEVEL, revision=2, action="submit")
    events = list(AnnotationEvent.objects.order_by("revision"))
    assert [e.revision for e in events] == [1, 2, 3]
    assert events[1].before["answers"] == {"stance_article": "query"}
    assert events[1].after["answers"] == {"stance_article": "deny"}
    assert events[2].before["status"] == "draft"
    assert events[2].after["status"] == "submitted"


def test_a_save_from_a_stale_revision_is_refused_and_changes_nothing(thread, annotator):
    _, top, _, _ = thread
    save(top, annotator, {"stance_article": "query"})  # tab A, revision 0 -> 1
    with pytest.raises(AnnotationConflict) as raised:
        save(top, annotator, {"stance_article": "deny"}, revision=0)  # tab B, stale
    assert raised.value.current.revision == 1
    annotation = Annotation.objects.get()
    assert annotation.answers == {"stance_article": "query"}
    assert annotation.revision == 1
    assert AnnotationEvent.objects.count() == 1


def test_a_retried_save_that_was_already_applied_is_answered_as_saved(thread, annotator):
    # The browser sent a save, the server applied it, the answer was lost (a time-out): the
    # browser retries from the same revision. Nothing would be overwritten, so no conflict.
    _, top, _, _ = thread
    first = save(top, annotator, {"stance_article": "query"}, note="sarcasm?", elapsed_ms=900)
    retried = save(top, annotator, {"stance_article": "query"}, note="sarcasm?", elapsed_ms=900)
    assert retried.ok and retried.annotation.revision == first.annotation.revision == 1
    annotation = Annotation.objects.get()
    assert annotation.revision == 1
    assert annotation.time_spent_ms == 900  # the retry adds no time...
    assert AnnotationEvent.objects.count() == 1  # ...and no history
    # A retried submit of a comment already submitted is as good as saved too.
    done = dict(COMPLETE_TOP_LEVEL)
    save(top, annotator, done, revision=1, action="submit")
    again = save(top, annotator, done, revision=1, action="submit")
    assert again.ok and again.annotation.status == Annotation.Status.SUBMITTED
    # Anything that differs from what is stored is still a conflict.
    with pytest.raises(AnnotationConflict):
        save(top, annotator, {**done, "stance_article": "deny"}, revision=1, action="submit")
    with pytest.raises(AnnotationConflict):
        save(top, annotator, done, revision=1, action="submit", flagged=True)


def test_a_save_claiming_a_revision_that_was_never_stored_is_a_conflict(thread, annotator):
    _, top, _, _ = thread
    with pytest.raises(AnnotationConflict):
        save(top, annotator, {"stance_article": "deny"}, revision=3)
    assert not Annotation.objects.exists()


def test_answers_to_hidden_questions_are_dropped(thread, annotator):
    _, top, _, _ = thread
    save(
        top,
        annotator,
        {"claim_type": "opinion", "checkworthy": "yes", "stance_parent": "support"},
    )
    assert Annotation.objects.get().answers == {"claim_type": "opinion"}


def test_a_shown_conditional_question_is_kept(thread, annotator):
    _, top, _, _ = thread
    save(top, annotator, {"claim_type": "factual", "checkworthy": "yes"})
    assert Annotation.objects.get().answers == {"claim_type": "factual", "checkworthy": "yes"}


def test_an_exclusive_choice_combined_with_others_is_refused(thread, annotator):
    _, top, _, _ = thread
    result = save(top, annotator, {"source_cited": ["none", "link"]})
    assert "source_cited" in result.errors
    assert not Annotation.objects.exists()


def test_an_unknown_value_is_refused(thread, annotator):
    _, top, _, _ = thread
    result = save(top, annotator, {"stance_article": "<script>"})
    assert result.errors == {"stance_article": "Not a choice: <script>."}
    assert not Annotation.objects.exists()


def test_skipping_needs_a_reason(thread, annotator):
    _, top, _, _ = thread
    result = save(top, annotator, {}, action="skip")
    assert "skip_reason" in result.errors
    assert not Annotation.objects.exists()
    save(top, annotator, {}, action="skip", skip_reason="Not in English")
    annotation = Annotation.objects.get()
    assert annotation.status == Annotation.Status.SKIPPED
    assert annotation.skip_reason == "Not in English"


def test_a_save_that_changes_nothing_adds_time_but_no_history(thread, annotator):
    _, top, _, _ = thread
    save(top, annotator, {"stance_article": "query"}, elapsed_ms=1000)
    result = save(top, annotator, {"stance_article": "query"}, revision=1, elapsed_ms=2500)
    annotation = Annotation.objects.get()
    assert not result.changed
    assert annotation.revision == 1
    assert annotation.time_spent_ms == 3500
    assert AnnotationEvent.objects.count() == 1


def test_time_per_save_is_capped(thread, annotator):
    _, top, _, _ = thread
    save(top, annotator, {"stance_article": "query"}, elapsed_ms=10**9)
    assert Annotation.objects.get().time_spent_ms == MAX_ELAPSED_PER_SAVE_MS


def test_flag_and_note_are_saved_and_count_as_changes(thread, annotator):
    _, top, _, _ = thread
    save(top, annotator, {"stance_article": "query"})
    save(top, annotator, {"stance_article": "query"}, revision=1, flagged=True, note=" unsure ")
    annotation = Annotation.objects.get()
    assert annotation.flagged
    assert annotation.note == "unsure"
    assert annotation.revision == 2


def test_editing_a_done_annotation_keeps_it_done_while_complete(thread, annotator):
    _, top, _, _ = thread
    save(top, annotator, COMPLETE_TOP_LEVEL, action="submit")
    save(top, annotator, {**COMPLETE_TOP_LEVEL, "stance_article": "deny"}, revision=1)
    assert Annotation.objects.get().status == Annotation.Status.SUBMITTED
    save(top, annotator, {"stance_article": "deny"}, revision=2)
    assert Annotation.objects.get().status == Annotation.Status.DRAFT


def test_answers_keep_the_scheme_version_they_were_given_under(
    thread, annotator, project_admin, project
):
    _, top, _, _ = thread
    save(top, annotator, {"stance_article": "query", "claim_type": "opinion"})
    definition = current_scheme_for(project).definition
    claim = next(q for q in definition["questions"] if q["key"] == "claim_type")
    claim["choices"] = [c for c in claim["choices"] if c["value"] != "opinion"]
    claim["choices"].append({"value": "evaluation", "label": "Evaluation"})
    new_version = save_scheme(project, definition, project_admin)
    assert new_version.version == 2
    # The old answer stays valid though "opinion" is gone; the changed one gets version 2.
    save(top, annotator, {"stance_article": "deny", "claim_type": "opinion"}, revision=1)
    annotation = Annotation.objects.get()
    assert annotation.answers == {"stance_article": "deny", "claim_type": "opinion"}
    assert annotation.answered_under == {"stance_article": 2, "claim_type": 1}
    assert annotation.scheme == new_version


def test_a_value_removed_from_the_scheme_cannot_be_newly_chosen(
    thread, annotator, project_admin, project
):
    _, top, _, _ = thread
    save(top, annotator, {"stance_article": "query"})
    definition = current_scheme_for(project).definition
    claim = next(q for q in definition["questions"] if q["key"] == "claim_type")
    claim["choices"] = [c for c in claim["choices"] if c["value"] != "opinion"]
    save_scheme(project, definition, project_admin)
    result = save(top, annotator, {"stance_article": "query", "claim_type": "opinion"}, revision=1)
    assert "claim_type" in result.errors


def test_next_comment_follows_thread_order_and_skips_what_is_done(thread, annotator):
    _, top, reply, second = thread
    assert next_comment_for(annotator, top.article.project) == top
    save(top, annotator, COMPLETE_TOP_LEVEL, action="submit")
    assert next_comment_for(annotator, top.article.project) == reply
    save(reply, annotator, {}, action="skip", skip_reason="spam")
    assert next_comment_for(annotator, top.article.project) == second


def test_a_draft_is_not_done(thread, annotator):
    _, top, _, _ = thread
    save(top, annotator, {"stance_article": "query"})
    assert next_comment_for(annotator, top.article.project) == top


def test_next_comment_after_one_moves_forward_then_wraps_round(thread, annotator):
    _, top, reply, second = thread
    project = top.article.project
    assert next_comment_for(annotator, project, after=top) == reply
    assert next_comment_for(annotator, project, after=second) == top


def test_next_comment_is_per_annotator(thread, annotator):
    _, top, reply, _ = thread
    other = UserFactory()
    save(top, other, COMPLETE_TOP_LEVEL, action="submit")
    assert next_comment_for(annotator, top.article.project) == top
    assert next_comment_for(other, top.article.project) == reply


def test_next_comment_crosses_articles_and_ignores_other_projects(thread, annotator, other_project):
    _, top, reply, second = thread
    make_comment(ArticleFactory(project=other_project))
    later = make_comment(ArticleFactory(project=top.article.project))
    for comment in (top, reply, second):
        save(comment, annotator, {}, action="skip", skip_reason="x")
    assert next_comment_for(annotator, top.article.project) == later


def test_neighbours_are_the_comments_before_and_after_in_thread_order(thread):
    _, top, reply, second = thread
    project = top.article.project
    assert neighbours_of(top, project) == (None, reply.pk)
    assert neighbours_of(reply, project) == (top.pk, second.pk)
    assert neighbours_of(second, project) == (reply.pk, None)


def test_progress_counts_done_and_this_sessions_work(thread, annotator):
    _, top, reply, _ = thread
    save(top, annotator, COMPLETE_TOP_LEVEL, action="submit")
    session_start = timezone.now()
    save(reply, annotator, {}, action="skip", skip_reason="x")
    progress = progress_for(annotator, top.article.project, session_start)
    assert (progress.done, progress.total, progress.session_done) == (2, 3, 1)
    assert progress.percent == 67


# -- progress under k ------------------------------------------------------------------------


def progress_now(annotator, project):
    """``progress_for`` now, checked against the queue's own rule (``waiting_for``) with
    live claims left out, as the progress bar leaves them out (navigation.progress_for)."""
    progress = progress_for(annotator, project, timezone.now())
    assert progress.waiting == waiting_for(annotator, project, now=CLAIMS_OVER).count()
    return progress


# A time after every hold: ``waiting_for`` then counts submitted labels only.
CLAIMS_OVER = timezone.now() + timedelta(days=3650)


def _others(project, count):
    users = [UserFactory() for _ in range(count)]
    for user in users:
        MembershipFactory(project=project, user=user)
    return users


@pytest.fixture
def four(project):
    """Four top-level comments, k = 2, and two other annotators."""
    project.annotators_per_comment = 2
    project.save(update_fields=["annotators_per_comment"])
    article = ArticleFactory(project=project)
    return [make_comment(article) for _ in range(4)], _others(project, 2)


def test_progress_counts_the_annotators_share_not_the_whole_project(project, four, annotator):
    (a, b, c, d), (first, second) = four
    save(a, first, COMPLETE_TOP_LEVEL, action="submit")
    save(a, second, COMPLETE_TOP_LEVEL, action="submit")  # a has its k labels
    save(b, first, COMPLETE_TOP_LEVEL, action="submit")
    assert claim_next(second, project, after=a) == b  # b: one label and one held: waiting
    save(c, first, COMPLETE_TOP_LEVEL, action="submit")  # c: one label, still waiting
    save(d, second, {}, action="skip", skip_reason="spam")  # a skip does not count

    progress = progress_now(annotator, project)
    assert (progress.done, progress.waiting, progress.share, progress.total) == (0, 3, 3, 4)

    save(c, annotator, COMPLETE_TOP_LEVEL, action="submit")
    progress = progress_now(annotator, project)
    assert (progress.done, progress.share, progress.percent) == (1, 3, 33)

    # A comment they label by its address after others gave it k labels is theirs too.
    save(a, annotator, COMPLETE_TOP_LEVEL, action="submit")
    save(d, annotator, COMPLETE_TOP_LEVEL, action="submit")
    progress = progress_now(annotator, project)
    assert (progress.done, progress.waiting, progress.share, progress.percent) == (3, 1, 4, 75)
    save(b, second, COMPLETE_TOP_LEVEL, action="submit")  # b has its k labels now
    progress = progress_now(annotator, project)
    assert (progress.done, progress.waiting, progress.share, progress.percent) == (3, 0, 3, 100)


def test_a_hold_by_others_leaves_the_comment_in_everyones_share(project, four, annotator):
    (a, *_), (first, second) = four
    save(a, first, COMPLETE_TOP_LEVEL, action="submit")
    assert claim_next(second, project, after=None) == a
    assert progress_now(annotator, project).share == 4  # claims are not counted
    save(a, second, COMPLETE_TOP_LEVEL, action="submit")
    assert progress_now(annotator, project).share == 3


def test_their_own_hold_and_draft_stay_in_their_share(project, four, annotator):
    (a, *_), (first, _second) = four
    save(a, first, COMPLETE_TOP_LEVEL, action="submit")
    assert claim_next(annotator, project) == a
    save(a, annotator, {"stance_article": "deny"})  # a draft: not done, still theirs
    progress = progress_now(annotator, project)
    assert (progress.done, progress.share) == (0, 4)


def test_with_k_at_least_the_team_the_share_is_the_whole_project(project, four, annotator):
    (a, b, *_), (first, second) = four
    project.annotators_per_comment = 3  # three people label: everyone labels everything
    project.save(update_fields=["annotators_per_comment"])
    save(a, first, COMPLETE_TOP_LEVEL, action="submit")
    save(a, second, COMPLETE_TOP_LEVEL, action="submit")
    save(b, annotator, COMPLETE_TOP_LEVEL, action="submit")
    progress = progress_now(annotator, project)
    assert (progress.done, progress.share, progress.total) == (1, 4, 4)


@pytest.mark.parametrize("size", [30, 600])
def test_progress_reads_one_query_whatever_the_size(
    project, annotator, django_assert_num_queries, size
):
    comments = make_thread(ArticleFactory(project=project), size)
    others = _others(project, 3)
    # A third of the comments have their k = 2 labels, a third one label, a third none.
    rows = [
        Annotation(
            project=project,
            comment=comment,
            annotator=person,
            scheme=current_scheme_for(project),
            status=Annotation.Status.SUBMITTED,
            answers={},
        )
        for number, comment in enumerate(comments)
        for person in others[: 2 - number % 3]
    ]
    Annotation.objects.bulk_create(rows)
    recount_everything(project)  # labels written around save_annotation: counted here
    claim_next(others[2], project)  # and one held by someone else
    with django_assert_num_queries(1):
        progress = progress_for(annotator, project, timezone.now())
    assert progress.total == size
    assert progress.waiting == waiting_for(annotator, project, now=CLAIMS_OVER).count()
    assert size // 3 <= progress.share < size
