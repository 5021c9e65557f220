"""The per-comment guard: many annotators claiming at once never take a comment past k."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from annotator.labelling.assignment import claim_next, waiting_for
from annotator.labelling.claim_guard import insert_if_waiting
from annotator.labelling.models import Annotation, Claim
from tests.factories import (
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    ProjectFactory,
    make_label,
    make_thread,
)
from tests.labelling.test_assignment import act, people


def test_the_guard_lets_through_exactly_what_the_queue_counts_as_waiting(project):
    """One comment per situation; the guard's own SQL and ``waiting_for`` must agree."""
    project.annotators_per_comment = 2
    project.save(update_fields=["annotators_per_comment"])
    comments = make_thread(ArticleFactory(project=project), 9)
    me, first, second = people(project, 3)
    now = timezone.now()

    def hold(comment, person, minutes=5):
        Claim.objects.create(
            project=project,
            comment=comment,
            annotator=person,
            claimed_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )

    make_label(comments[0], me, COMPLETE_TOP_LEVEL)  # done by me
    make_label(comments[1], me, {}, status="skipped", skip_reason="spam")  # skipped by me
    make_label(comments[2], me, {"stance_article": "deny"}, status="draft")  # my draft
    make_label(comments[3], first, COMPLETE_TOP_LEVEL)  # one label: waits
    make_label(comments[4], first, COMPLETE_TOP_LEVEL)  # two labels: full
    make_label(comments[4], second, COMPLETE_TOP_LEVEL)
    make_label(comments[5], first, COMPLETE_TOP_LEVEL)  # a label and a live hold: full
    hold(comments[5], second)
    hold(comments[6], first)  # a live hold and a lapsed one: waits
    hold(comments[6], second, minutes=-1)
    hold(comments[7], me)  # my own hold does not count
    make_label(comments[8], first, {}, status="skipped", skip_reason="spam")  # skips: waits
    expected = set(waiting_for(me, project, now).values_list("pk", flat=True))
    let_through = {
        comment.pk
        for comment in comments
        if comment.pk != comments[7].pk  # (an insert would clash with my own hold)
        and insert_if_waiting(
            project_id=project.pk,
            comment_id=comment.pk,
            annotator_id=me.pk,
            k=2,
            claimed_at=now,
            expires_at=now + timedelta(minutes=2),
        )
    }
    assert let_through == expected - {comments[7].pk}
    assert let_through == {c.pk for c in (comments[2], comments[3], comments[6], comments[8])}


ON_POSTGRESQL = connection.vendor == "postgresql"  # the PgBouncer backend too
CLIENTS = 32


@pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="needs PostgreSQL: SQLite serialises every write, so nothing runs concurrently",
)
@pytest.mark.django_db(transaction=True)
def test_32_annotators_flat_out_never_take_a_comment_more_than_k_times():
    """No barriers: every client claims and submits as fast as it can, in one small project
    (so they meet on the same comments), until the queue is empty for everyone."""
    project = ProjectFactory(annotators_per_comment=2)
    k = project.annotators_per_comment
    comments = [
        comment for _ in range(3) for comment in make_thread(ArticleFactory(project=project), 20)
    ]
    annotators = people(project, CLIENTS)
    handed: dict[int, set[int]] = {}
    errors: list[BaseException] = []
    record = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def work(annotator):
        try:
            start.wait(timeout=60)
            comment = claim_next(annotator, project)
            while comment is not None:
                with record:
                    handed.setdefault(comment.pk, set()).add(annotator.pk)
                assert act(comment, annotator).ok
                comment = claim_next(annotator, project, after=comment)
        except BaseException as error:
            errors.append(error)
            start.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(a,)) for a in annotators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    over_handed = [pk for pk, who in handed.items() if len(who) > k]
    assert over_handed == [], f"{len(over_handed)} of {len(comments)} comments handed to > k"
    takers: dict[int, set[int]] = {}
    for comment_id, annotator_id in [
        *Annotation.objects.filter(project=project).values_list("comment_id", "annotator_id"),
        *Claim.objects.filter(project=project).values_list("comment_id", "annotator_id"),
    ]:
        takers.setdefault(comment_id, set()).add(annotator_id)
    assert max(map(len, takers.values())) <= k
    labels = dict.fromkeys((c.pk for c in comments), 0)
    for comment_id in Annotation.objects.filter(
        project=project, status=Annotation.Status.SUBMITTED
    ).values_list("comment_id", flat=True):
        labels[comment_id] += 1
    assert set(labels.values()) == {k}  # and nothing was left behind
    assert not Claim.objects.exists()
