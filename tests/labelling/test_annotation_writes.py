"""Storing a save: compare and set on the revision, history and hold in the same write."""

import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from annotator.labelling.annotation_writes import Hold, store_save
from annotator.labelling.annotations import AnnotationConflict, Submission, save_annotation
from annotator.labelling.models import Annotation, AnnotationEvent, Claim
from annotator.labelling.schemes import current_scheme_for
from tests.factories import (
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_comment,
)

ON_POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture
def comment(project):
    return make_comment(ArticleFactory(project=project), text="Top-level comment")


def save(comment, user, answers, revision, action="autosave", **extra):
    return save_annotation(
        comment=comment,
        annotator=user,
        scheme=current_scheme_for(comment.article.project),
        submission=Submission(answers=answers),
        base_revision=revision,
        action=action,
        **extra,
    )


def test_a_write_from_a_revision_no_longer_stored_writes_nothing(comment, annotator):
    save(comment, annotator, {"stance_article": "query"}, 0)
    save(comment, annotator, {"stance_article": "deny"}, 1)
    old = Annotation.objects.get(comment=comment)
    old.answers = {"stance_article": "support"}
    old.revision = 2
    event = AnnotationEvent(actor=annotator, at=timezone.now(), kind="autosave", revision=2)
    event.before, event.after = {}, {}
    now = timezone.now()
    stored = store_save(
        old,
        is_new=False,
        changed=True,
        base_revision=1,  # it is at 2 now
        elapsed_ms=5,
        event=event,
        hold=Hold(end=True),
        now=now,
    )
    assert stored is False
    annotation = Annotation.objects.get(comment=comment)
    assert annotation.answers == {"stance_article": "deny"}
    assert annotation.revision == 2
    assert AnnotationEvent.objects.filter(annotation=annotation).count() == 2
    assert Claim.objects.filter(comment=comment, annotator=annotator).exists()  # not ended


def test_a_save_that_read_before_another_one_won_gets_the_conflict(comment, annotator):
    save(comment, annotator, {"stance_article": "query"}, 0)
    read_first = Annotation.objects.select_related("scheme").get(comment=comment)
    save(comment, annotator, {"stance_article": "deny"}, 1)  # the other tab, in between
    with pytest.raises(AnnotationConflict) as raised:
        save(comment, annotator, {"stance_article": "support"}, 1, stored=read_first)
    assert raised.value.current.revision == 2
    annotation = Annotation.objects.get(comment=comment)
    assert annotation.answers == {"stance_article": "deny"}
    assert AnnotationEvent.objects.filter(annotation=annotation).count() == 2


def test_a_retry_that_lost_to_its_own_first_attempt_is_answered_as_saved(comment, annotator):
    save(comment, annotator, {"stance_article": "query"}, 0)
    read_first = Annotation.objects.select_related("scheme").get(comment=comment)
    save(comment, annotator, {"stance_article": "deny"}, 1)  # the attempt whose answer got lost
    result = save(comment, annotator, {"stance_article": "deny"}, 1, stored=read_first)
    assert result.ok and not result.changed
    assert result.annotation.revision == 2
    assert AnnotationEvent.objects.filter(annotation__comment=comment).count() == 2


def test_a_first_save_racing_another_first_save_gets_the_conflict(comment, annotator):
    save(comment, annotator, {"stance_article": "query"}, 0)  # won; this one read nothing
    with pytest.raises(AnnotationConflict):
        save(comment, annotator, {"stance_article": "deny"}, 0, stored=None)
    assert Annotation.objects.get(comment=comment).answers == {"stance_article": "query"}
    assert AnnotationEvent.objects.filter(annotation__comment=comment).count() == 1


def test_a_draft_holds_the_comment_for_the_claim_length_and_a_submit_ends_it(comment, annotator):
    before = timezone.now()
    save(comment, annotator, {"stance_article": "query"}, 0)
    claim = Claim.objects.get(comment=comment, annotator=annotator)
    minutes = comment.article.project.claim_minutes
    assert (claim.expires_at - before).total_seconds() >= minutes * 60 - 1
    result = save(comment, annotator, COMPLETE_TOP_LEVEL, 1, action="submit")
    assert result.annotation.status == Annotation.Status.SUBMITTED
    assert result.annotation.submitted_at is not None
    assert not Claim.objects.filter(comment=comment, annotator=annotator).exists()
    stored = Annotation.objects.get(comment=comment)
    assert stored.submitted_at == result.annotation.submitted_at
    kinds = list(AnnotationEvent.objects.filter(annotation=stored).values_list("kind", "revision"))
    assert kinds == [("autosave", 1), ("submit", 2)]
    first = AnnotationEvent.objects.get(annotation=stored, before__isnull=True)
    assert first.revision == 1  # a first save has nothing before it (SQL NULL, not JSON null)


def test_a_save_that_changes_nothing_adds_its_time_as_stored(comment, annotator):
    save(comment, annotator, {"stance_article": "query"}, 0)
    result = save_annotation(
        comment=comment,
        annotator=annotator,
        scheme=current_scheme_for(comment.article.project),
        submission=Submission(answers={"stance_article": "query"}, elapsed_ms=1500),
        base_revision=1,
        action="autosave",
    )
    assert not result.changed
    assert Annotation.objects.get(comment=comment).time_spent_ms == 1500
    assert result.annotation.time_spent_ms == 1500


@pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="needs PostgreSQL: SQLite serialises every write, so nothing runs concurrently",
)
@pytest.mark.django_db(transaction=True)
def test_saves_from_the_same_revision_at_the_same_moment_apply_once():
    """Eight tabs save different answers from revision 1 at once: one applies, seven get the
    conflict, and history has one event per applied save. Without the revision in the
    write's WHERE, every one of them would apply."""
    project = ProjectFactory()
    person = UserFactory()
    MembershipFactory(project=project, user=person)
    comment = make_comment(ArticleFactory(project=project), text="Contested")
    save(comment, person, {"stance_article": "query"}, 0)
    # Eight different states: a loser whose state equals the winner's would be "already
    # applied" (a retry) and answered as saved.
    stances = [
        (stance, claim)
        for stance in ("support", "deny", "comment", "query")
        for claim in ("opinion", "factual")
    ]
    start = threading.Barrier(len(stances))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def tab(number: int) -> None:
        try:
            start.wait(timeout=30)
            stance, claim = stances[number]
            answers = {"stance_article": stance, "claim_type": claim}
            try:
                save(comment, person, answers, 1)
                outcomes.append("saved")
            except AnnotationConflict:
                outcomes.append("conflict")
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tab, args=(n,)) for n in range(len(stances))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(outcomes) == ["conflict"] * 7 + ["saved"]
    annotation = Annotation.objects.get(comment=comment)
    assert annotation.revision == 2
    assert AnnotationEvent.objects.filter(annotation=annotation).count() == 2
