"""The queue's search SQL against the rule it implements, on random states of a project."""

import random
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from annotator.corpus.models import WorkOrder
from annotator.labelling import assignment_search
from annotator.labelling.assignment import thread_rank, waiting_for, work_order_key
from annotator.labelling.models import Annotation, Claim
from tests.factories import (
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    ProjectFactory,
    make_label,
    make_thread,
)
from tests.labelling.test_assignment import people


def expected_candidates(project, me, now, after, comments, k):
    """``assignment._first_waiting``'s three steps, in Python, from the rows themselves."""
    takers = dict.fromkeys((c.pk for c in comments), 0)
    for annotation in Annotation.objects.filter(project=project):
        if annotation.annotator_id == me.pk:
            takers[annotation.comment_id] += (
                k if annotation.status in ("submitted", "skipped") else 0
            )
        elif annotation.status == "submitted":
            takers[annotation.comment_id] += 1
    live = Claim.objects.filter(project=project, expires_at__gt=now).exclude(annotator=me)
    worked_in = set()
    for claim in live.select_related("comment"):
        takers[claim.comment_id] += 1
        worked_in.add(claim.comment.article_id)
    waiting = [c for c in comments if takers[c.pk] < k]
    # The rule in ORM form (the progress counts') says the same.
    assert {c.pk for c in waiting} == set(
        waiting_for(me, project, now).values_list("pk", flat=True)
    )
    overlap = k > 1

    def started(c):
        return overlap and takers[c.pk] > 0

    def best(rows):
        return [c.pk for c in sorted(rows, key=lambda c: (not started(c), c.path))][:8]

    def thread_key(article_id):
        return work_order_key(project, next(c for c in comments if c.article_id == article_id))[:-1]

    def first_after(article_ids):
        ordered = sorted(article_ids, key=thread_key)
        if after is not None:
            later = [a for a in ordered if thread_key(a) > thread_key(after.article_id)]
            ordered = later + [a for a in ordered if a not in later]
        return ordered[0] if ordered else None

    if after is not None:
        in_thread = [
            c
            for c in waiting
            if c.article_id == after.article_id and (started(c) or c.path > after.path)
        ]
        if in_thread:
            return best(in_thread)
    thread = None
    if overlap:
        thread = first_after({c.article_id for c in waiting if started(c)} & worked_in)
    if thread is None:
        thread = first_after({c.article_id for c in waiting})
    return best([c for c in waiting if c.article_id == thread])


@pytest.mark.django_db
@pytest.mark.parametrize("order", [WorkOrder.THREAD, WorkOrder.SHUFFLED, WorkOrder.UNCERTAIN])
@pytest.mark.parametrize("seed", range(6))
def test_the_search_sql_hands_out_what_the_rule_says_on_random_states(order, seed):
    rng = random.Random(seed)
    k = rng.choice([1, 2, 3])
    project = ProjectFactory(work_order=order, annotators_per_comment=k)
    comments = []
    for _ in range(5):
        # Most uncertain first: ties, and threads the model has no confidence for, included.
        article = ArticleFactory(
            project=project, lowest_confidence=rng.choice([None, 0.1, 0.5, 0.5, 0.9])
        )
        comments += make_thread(article, rng.randint(1, 12), fanout=2)
    me, *others = people(project, 4)
    now = timezone.now()
    for comment in comments:
        for person in [me, *others]:
            roll = rng.random()
            if roll < 0.25:
                make_label(comment, person, COMPLETE_TOP_LEVEL)
            elif roll < 0.3:
                make_label(comment, person, {}, status="skipped", skip_reason="spam")
            elif roll < 0.35:
                make_label(comment, person, {}, status="draft")
            elif roll < 0.45:  # my own holds do not count toward k
                minutes = rng.choice([-3, 5])  # a lapsed hold and a live one
                Claim.objects.create(
                    project=project,
                    comment=comment,
                    annotator=person,
                    claimed_at=now,
                    expires_at=now + timedelta(minutes=minutes),
                )
    for after in [None, *rng.sample(comments, 4)]:
        rank = None
        if after is not None:
            rank = after.article_id
            if order == WorkOrder.SHUFFLED:
                rank = thread_rank(project, after.article_id)
        found = assignment_search.first_waiting(me, project, now, after, rank)
        assert [c.pk for c in found] == expected_candidates(project, me, now, after, comments, k)


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL plan")
@pytest.mark.parametrize(
    ("order", "index"),
    [(WorkOrder.SHUFFLED, "article_thread_rank"), (WorkOrder.UNCERTAIN, "article_uncertainty")],
)
def test_the_walk_reads_threads_down_the_index_of_its_order(order, index):
    """The query's rank must be the index's expression exactly, or PostgreSQL ranks and
    sorts every article of the project on every claim."""
    project = ProjectFactory(work_order=order)
    thread = make_thread(ArticleFactory(project=project, lowest_confidence=0.3), 3)
    sql = assignment_search._statements(order)["elsewhere"]
    parameters = assignment_search._parameters(project, people(project, 1)[0], timezone.now(), 2)
    parameters.update(article=thread[0].article_id, path="", rank=0)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, parameters)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # The rank and id bound the range scan itself (a Filter would read every article).
    assert re.search(rf"{index} .*\n.*Index Cond: \(\(project_id = \d+\) AND \(ROW\(", plan), plan
