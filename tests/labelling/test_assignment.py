"""Sharing work out: k people per comment, work order, held comments, expiry, concurrency."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotator.corpus.models import Role, WorkOrder
from annotator.labelling.annotations import Submission, save_annotation
from annotator.labelling.assignment import (
    VIEWING_HOLD,
    ReassignError,
    claim_next,
    in_work_order,
    reassign,
    release,
    release_unstarted,
    thread_rank,
    work_order_key,
)
from annotator.labelling.models import Annotation, Claim
from annotator.labelling.schemes import current_scheme_for
from annotator.labelling.team_progress import annotator_progress, project_coverage
from tests.factories import (
    COMPLETE_REPLY,
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_comment,
    make_label,
    make_thread,
    save_from_current_revision,
)

ON_POSTGRESQL = connection.vendor == "postgresql"  # the PgBouncer backend too


def people(project, count, role=Role.ANNOTATOR):
    users = [UserFactory() for _ in range(count)]
    for user in users:
        MembershipFactory(project=project, user=user, role=role)
    return users


def act(comment, user, action="submit", **extra):
    """Submit (complete answers), skip or autosave ``comment`` as ``user``, as the form does."""
    answers = COMPLETE_REPLY if comment.parent_id else COMPLETE_TOP_LEVEL
    if action == "skip":
        extra.setdefault("skip_reason", "Not English")
    return save_from_current_revision(comment, user, answers, action, **extra)


@pytest.fixture
def thread(project):
    article = ArticleFactory(project=project)
    top = make_comment(article, text="Top-level comment")
    reply = make_comment(article, parent=top, text="A reply")
    second = make_comment(article, text="Second top-level comment")
    return article, top, reply, second


def set_k(project, k):
    project.annotators_per_comment = k
    project.save(update_fields=["annotators_per_comment"])


# -- k people per comment --------------------------------------------------------------------


def test_a_comment_is_handed_to_k_people_and_no_more(project):
    only = make_comment(ArticleFactory(project=project))
    first, second, third = people(project, 3)
    assert claim_next(first, project) == only
    assert claim_next(second, project) == only
    assert claim_next(third, project) is None
    assert Claim.objects.filter(comment=only).count() == 2


def test_k_is_the_projects_setting(project):
    only = make_comment(ArticleFactory(project=project))
    set_k(project, 3)
    first, second, third, fourth = people(project, 4)
    assert [claim_next(p, project) for p in (first, second, third)] == [only] * 3
    assert claim_next(fourth, project) is None


def test_labels_submitted_by_others_count_toward_k(project, thread, annotator):
    _, top, reply, _ = thread
    for other in people(project, 2):
        make_label(top, other, COMPLETE_TOP_LEVEL)
    assert claim_next(annotator, project) == reply


def test_skips_and_drafts_by_others_do_not_count(project, thread, annotator):
    _, top, *_ = thread
    skipper, drafter = people(project, 2)
    make_label(top, skipper, {}, status="skipped", skip_reason="spam")
    make_label(top, drafter, {"stance_article": "deny"}, status="draft")
    assert claim_next(annotator, project) == top


def test_what_the_annotator_submitted_or_skipped_is_not_handed_out_again(
    project, thread, annotator
):
    _, top, reply, second = thread
    make_label(top, annotator, COMPLETE_TOP_LEVEL)
    make_label(reply, annotator, {}, status="skipped", skip_reason="spam")
    assert claim_next(annotator, project) == second


def test_the_annotators_own_draft_is_still_handed_out(project, thread, annotator):
    _, top, *_ = thread
    make_label(top, annotator, {"stance_article": "deny"}, status="draft")
    assert claim_next(annotator, project) == top


def test_with_everything_labelled_k_times_nothing_is_handed_out(project, thread, annotator):
    _, *comments = thread
    for other in people(project, 2):
        for comment in comments:
            make_label(comment, other, COMPLETE_TOP_LEVEL)
    assert claim_next(annotator, project) is None
    assert not Claim.objects.exists()


# -- held comments ---------------------------------------------------------------------------


def held_for(claim):
    return claim.expires_at - timezone.now()


def test_a_reload_returns_the_held_comment_and_renews_it(project, thread, annotator):
    _, top, *_ = thread
    assert claim_next(annotator, project) == top
    claim = Claim.objects.get()
    Claim.objects.filter(pk=claim.pk).update(expires_at=timezone.now() + timedelta(seconds=10))
    assert claim_next(annotator, project) == top
    renewed = Claim.objects.get()
    assert renewed.pk == claim.pk
    assert VIEWING_HOLD - timedelta(seconds=5) < held_for(renewed) <= VIEWING_HOLD


def test_a_page_view_holds_briefly_and_the_first_save_holds_for_claim_minutes(
    project, thread, annotator
):
    project.claim_minutes = 5
    project.save(update_fields=["claim_minutes"])
    _, top, *_ = thread
    claim_next(annotator, project)
    claim = Claim.objects.get()
    assert claim.expires_at - claim.claimed_at == VIEWING_HOLD
    assert act(top, annotator, action="autosave").ok
    working = Claim.objects.get()
    assert working.pk == claim.pk and working.claimed_at == claim.claimed_at
    assert timedelta(minutes=5) - timedelta(seconds=5) < held_for(working) <= timedelta(minutes=5)


def test_a_reload_never_shortens_the_hold_of_someone_at_work(project, thread, annotator):
    _, top, *_ = thread
    claim_next(annotator, project)
    act(top, annotator, action="autosave")
    assert claim_next(annotator, project) == top
    assert held_for(Claim.objects.get()) > timedelta(minutes=29)


def test_a_viewing_hold_is_never_longer_than_the_projects_claim_minutes(project, thread, annotator):
    project.claim_minutes = 1
    project.save(update_fields=["claim_minutes"])
    claim_next(annotator, project)
    claim = Claim.objects.get()
    assert claim.expires_at - claim.claimed_at == timedelta(minutes=1)


def test_a_lapsed_viewing_hold_does_not_count_toward_k(project):
    only = make_comment(ArticleFactory(project=project))
    set_k(project, 1)
    looker, worker = people(project, 2)
    assert claim_next(looker, project) == only
    assert claim_next(worker, project) is None
    Claim.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert claim_next(worker, project) == only


def test_saving_a_comment_opened_by_its_address_holds_it(project, thread, annotator):
    _, top, *_ = thread
    set_k(project, 1)
    act(top, annotator, action="autosave")  # no claim before: opened by its address
    assert held_for(Claim.objects.get(comment=top, annotator=annotator)) > timedelta(minutes=29)
    assert claim_next(people(project, 1)[0], project) != top


def test_editing_a_submitted_label_takes_no_hold(project, thread, annotator):
    _, top, *_ = thread
    act(top, annotator)
    act(top, annotator, action="autosave")  # still complete: still submitted
    assert not Claim.objects.exists()


def test_release_unstarted_gives_back_only_a_hold_with_nothing_saved(project, thread):
    _, top, reply, _ = thread
    looker, worker = people(project, 2)
    assert claim_next(looker, project) == top
    assert claim_next(worker, project) == top
    act(top, worker, action="autosave")
    assert release_unstarted(worker, top) is False  # a draft: kept
    assert release_unstarted(looker, reply) is False  # holds nothing there
    assert release_unstarted(looker, top) is True
    assert list(Claim.objects.values_list("annotator_id", flat=True)) == [worker.pk]


def test_submit_ends_the_claim_and_the_next_claim_moves_forward(project, thread, annotator):
    _, top, reply, _ = thread
    assert claim_next(annotator, project) == top
    assert act(top, annotator).ok
    assert not Claim.objects.exists()
    assert claim_next(annotator, project, after=top) == reply
    assert list(Claim.objects.values_list("comment_id", flat=True)) == [reply.pk]


def test_skip_ends_the_claim_but_autosave_and_an_incomplete_submit_keep_it(
    project, thread, annotator
):
    _, top, *_ = thread
    claim_next(annotator, project)
    act(top, annotator, action="autosave")
    assert Claim.objects.count() == 1
    incomplete = save_annotation(
        comment=top,
        annotator=annotator,
        scheme=current_scheme_for(project),
        submission=Submission(answers={"stance_article": "deny"}),
        base_revision=1,
        action="submit",
    )
    assert incomplete.missing and Claim.objects.count() == 1
    act(top, annotator, action="skip")
    assert not Claim.objects.exists()


def test_an_expired_claim_frees_the_comment(project):
    only = make_comment(ArticleFactory(project=project))
    set_k(project, 1)
    slow, quick = people(project, 2)
    assert claim_next(slow, project) == only
    assert claim_next(quick, project) is None
    Claim.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert claim_next(quick, project) == only
    assert list(Claim.objects.values_list("annotator_id", flat=True)) == [quick.pk]


def test_someone_whose_claim_expired_can_claim_again(project, thread, annotator):
    _, top, *_ = thread
    claim_next(annotator, project)
    Claim.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert claim_next(annotator, project) == top
    assert Claim.objects.get().expires_at > timezone.now()


def test_claims_are_per_project(project, other_project, annotator):
    mine = make_comment(ArticleFactory(project=project))
    elsewhere = make_comment(ArticleFactory(project=other_project))
    MembershipFactory(project=other_project, user=annotator)
    assert claim_next(annotator, project) == mine
    assert claim_next(annotator, other_project) == elsewhere
    assert claim_next(annotator, project) == mine


# -- release and reassign --------------------------------------------------------------------


def test_release_gives_the_held_comments_back(project):
    only = make_comment(ArticleFactory(project=project))
    set_k(project, 1)
    holder, waiting = people(project, 2)
    claim_next(holder, project)
    assert release(holder, project) == 1
    assert claim_next(waiting, project) == only


def test_reassign_moves_held_comments_and_holds_them_afresh(project, thread):
    _, top, *_ = thread
    away, stand_in = people(project, 2)
    claim_next(away, project)
    Claim.objects.update(expires_at=timezone.now() + timedelta(minutes=1))
    assert reassign(away, stand_in, project) == 1
    claim = Claim.objects.get()
    assert claim.annotator_id == stand_in.pk and claim.comment_id == top.pk
    assert claim.expires_at > timezone.now() + timedelta(minutes=29)
    assert claim_next(stand_in, project) == top
    assert Claim.objects.filter(comment=top).count() == 1  # moved, not copied


def test_reassign_releases_what_the_new_person_already_did_or_holds(project, thread):
    _, top, reply, second = thread
    set_k(project, 3)
    away, stand_in = people(project, 2)
    for comment in (top, reply, second):
        Claim.objects.create(
            project=project,
            comment=comment,
            annotator=away,
            expires_at=timezone.now() + timedelta(minutes=5),
        )
    make_label(top, stand_in, COMPLETE_TOP_LEVEL)
    Claim.objects.create(
        project=project,
        comment=reply,
        annotator=stand_in,
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    assert reassign(away, stand_in, project) == 1
    held = sorted(Claim.objects.values_list("annotator_id", "comment_id"))
    assert held == sorted([(stand_in.pk, reply.pk), (stand_in.pk, second.pk)])


def test_reassigning_to_the_same_person_is_refused(project, annotator):
    with pytest.raises(ReassignError):
        reassign(annotator, annotator, project)


# -- work order ------------------------------------------------------------------------------


def drain(annotator, project):
    """Every comment the queue hands ``annotator``, submitting each, in order."""
    order = []
    after = None
    while (comment := claim_next(annotator, project, after=after)) is not None:
        order.append(comment.pk)
        assert act(comment, annotator).ok
        after = comment
    return order


@pytest.fixture
def articles(project):
    return [make_thread(ArticleFactory(project=project), 5, fanout=2) for _ in range(8)]


def test_thread_order_is_thread_by_thread_in_tree_order(project, articles, annotator):
    expected = [c.pk for thread in articles for c in sorted(thread, key=lambda c: c.path)]
    assert drain(annotator, project) == expected


def test_shuffled_order_shuffles_threads_and_keeps_tree_order_inside(project, articles, annotator):
    project.work_order = WorkOrder.SHUFFLED
    project.save(update_fields=["work_order"])
    by_rank = sorted(articles, key=lambda thread: thread_rank(project, thread[0].article_id))
    expected = [c.pk for thread in by_rank for c in sorted(thread, key=lambda c: c.path)]
    order = drain(annotator, project)
    assert order == expected
    assert [t[0].article_id for t in by_rank] != [t[0].article_id for t in articles]
    # Stable: another annotator of the same project gets the very same order, from where the
    # others last labelled (a newcomer starts there, and wraps round).
    again = drain(people(project, 1)[0], project)
    start = expected.index(again[0])
    assert again == expected[start:] + expected[:start]


def test_the_shuffle_rank_in_sql_matches_python(project, articles):
    project.work_order = WorkOrder.SHUFFLED
    from annotator.corpus.models import Comment

    ranked = in_work_order(Comment.objects.filter(article__project=project), project)
    for article_id, rank in ranked.values_list("article_id", "thread_rank"):
        assert rank == thread_rank(project, article_id)


@pytest.mark.django_db
def test_the_shuffle_depends_on_the_project():
    first, second = ProjectFactory(), ProjectFactory()
    ids = range(1, 30)
    assert sorted(ids, key=lambda a: thread_rank(first, a)) != sorted(
        ids, key=lambda a: thread_rank(second, a)
    )


def test_after_a_comment_the_queue_wraps_round_to_what_was_left(project, thread, annotator):
    _, top, reply, second = thread
    assert claim_next(annotator, project, after=reply) == second
    act(second, annotator)
    assert claim_next(annotator, project, after=second) == top


def test_a_single_annotator_gets_the_old_order(project, thread, annotator):
    """With k=2 and one person, the queue is what ``next_comment_for`` gave before."""
    _, top, reply, second = thread
    assert drain(annotator, project) == [top.pk, reply.pk, second.pk]


# -- overlap comes early ---------------------------------------------------------------------


def tree_order(comments):
    return sorted(comments, key=lambda c: (c.article_id, c.path))


def submit_next(annotator, project, after=None):
    """``annotator`` asks for work and submits what the queue hands them; returns it."""
    comment = claim_next(annotator, project, after=after)
    if comment is not None:
        assert act(comment, annotator).ok
    return comment


def fully_labelled(project, k):
    labels = Annotation.objects.filter(project=project, status=Annotation.Status.SUBMITTED)
    per_comment: dict[int, int] = {}
    for comment_id in labels.values_list("comment_id", flat=True):
        per_comment[comment_id] = per_comment.get(comment_id, 0) + 1
    return sum(n >= k for n in per_comment.values())


def test_a_newcomer_first_gets_what_the_first_annotator_left_with_one_label(project):
    """The reported case: k=2, the first annotator at #13, #2-#12 with one label each."""
    comments = tree_order(make_thread(ArticleFactory(project=project), 30))
    first, second, earlier = people(project, 3)
    for comment in comments[:12]:
        make_label(comment, first, COMPLETE_TOP_LEVEL)
    make_label(comments[0], earlier, COMPLETE_TOP_LEVEL)  # #1 has its two labels
    assert claim_next(first, project, after=comments[11]) == comments[12]  # holds #13
    # The second annotator starts at #2, not at #14, and works down to #13 in tree order.
    handed = []
    after = None
    for _ in range(12):
        handed.append(submit_next(second, project, after=after))
        after = handed[-1]
    assert handed == comments[1:13]
    assert fully_labelled(project, 2) == 12  # #1-#12 have both labels; #13 is held by both


def test_two_annotators_taking_turns_label_the_same_comments_from_the_start(project):
    comments = tree_order(make_thread(ArticleFactory(project=project), 20))
    first, second = people(project, 2)
    after = {first.pk: None, second.pk: None}
    for round_number in range(1, 8):
        for person in (first, second):
            after[person.pk] = submit_next(person, project, after=after[person.pk])
        # Every round adds a comment with two labels: agreement data from the first one.
        assert fully_labelled(project, 2) == round_number
    assert after[first.pk] == after[second.pk] == comments[6]


def test_with_one_annotator_per_comment_two_people_still_share_the_work_out(project):
    comments = tree_order(make_thread(ArticleFactory(project=project), 12))
    set_k(project, 1)
    first, second = people(project, 2)
    after = {first.pk: None, second.pk: None}
    handed = []
    for _ in range(6):
        for person in (first, second):
            after[person.pk] = submit_next(person, project, after=after[person.pk])
            handed.append(after[person.pk])
    assert sorted(c.pk for c in handed) == sorted(c.pk for c in comments)  # each once
    assert handed[:2] == comments[:2]  # the second starts after the first's comment


def test_with_k_three_a_comment_started_by_two_goes_to_the_third(project):
    comments = tree_order(make_thread(ArticleFactory(project=project), 12))
    set_k(project, 3)
    first, second, third = people(project, 3)
    for comment in comments[:5]:
        make_label(comment, first, COMPLETE_TOP_LEVEL)
    for comment in comments[:2]:
        make_label(comment, second, COMPLETE_TOP_LEVEL)
    assert claim_next(first, project, after=comments[4]) == comments[5]
    # The third person: #1 and #2 have two of three labels, #3-#5 one, #6 is held.
    handed = []
    after = None
    for _ in range(7):
        handed.append(submit_next(third, project, after=after))
        after = handed[-1]
    assert handed == comments[:7]
    # The second person goes on with what has one or two takers: #3 first.
    assert claim_next(second, project, after=comments[1]) == comments[2]


@pytest.mark.parametrize("order", [WorkOrder.THREAD, WorkOrder.SHUFFLED])
def test_someone_done_with_a_thread_joins_the_thread_others_started(project, order):
    project.work_order = order
    project.save(update_fields=["work_order"])
    threads = [tree_order(make_thread(ArticleFactory(project=project), 6)) for _ in range(4)]
    threads.sort(key=lambda t: work_order_key(project, t[0]))
    first, second = people(project, 2)
    for comment in threads[0]:  # both finished the first thread
        make_label(comment, first, COMPLETE_TOP_LEVEL)
        make_label(comment, second, COMPLETE_TOP_LEVEL)
    for comment in threads[2][:3]:  # the first went on to the third thread
        make_label(comment, first, COMPLETE_TOP_LEVEL)
    assert claim_next(first, project, after=threads[2][2]) == threads[2][3]
    # Not the untouched second thread: the third, from its first comment with one label.
    assert submit_next(second, project, after=threads[0][-1]) == threads[2][0]
    assert submit_next(second, project, after=threads[2][0]) == threads[2][1]


def test_a_started_thread_comes_in_work_order_after_the_current_one(project):
    threads = [tree_order(make_thread(ArticleFactory(project=project), 3)) for _ in range(4)]
    first, second, third = people(project, 3)
    make_label(threads[1][0], first, COMPLETE_TOP_LEVEL)
    claim_next(first, project, after=threads[1][0])
    make_label(threads[3][0], second, COMPLETE_TOP_LEVEL)
    claim_next(second, project, after=threads[3][0])
    for comment in threads[2]:
        make_label(comment, third, COMPLETE_TOP_LEVEL)
    # After the third thread comes the fourth, before wrapping round to the second.
    assert claim_next(third, project, after=threads[2][-1]) == threads[3][0]


# -- query counts ----------------------------------------------------------------------------


def claim_queries(project, annotator, after=None):
    with CaptureQueriesContext(connection) as queries:
        assert claim_next(annotator, project, after=after) is not None
    return len(queries)


@pytest.mark.django_db
@pytest.mark.parametrize("order", [WorkOrder.THREAD, WorkOrder.SHUFFLED])
def test_claiming_runs_a_constant_number_of_queries(order):
    counts = []
    for size in (10, 200):
        project = ProjectFactory(work_order=order)
        comments = make_thread(ArticleFactory(project=project), size)
        first, second, me = people(project, 3)
        for comment in comments[: size // 2]:  # the first half is done by two others
            make_label(comment, first, COMPLETE_TOP_LEVEL)
            make_label(comment, second, COMPLETE_TOP_LEVEL)
        counts.append(claim_queries(project, me))  # a new claim
        counts.append(claim_queries(project, me))  # the held one again
    # New: savepoint, own claims, expired claims, where to start (my newest label, else the
    # latest claim, else the newest label: one query), the started comments of that thread
    # and the rest of it (one query), the guarded insert, the claimed comment with its
    # article, release (+ on PG: JIT off, the comment's lock).
    # Held: savepoint, own claims, renew, release (+ JIT off). The same at 10 and 200.
    on_pg = connection.vendor == "postgresql"
    assert counts == [8 + 2 * on_pg, 4 + on_pg] * 2


@pytest.mark.django_db
@pytest.mark.parametrize("order", [WorkOrder.THREAD, WorkOrder.SHUFFLED])
def test_moving_on_from_a_finished_thread_runs_a_constant_number_of_queries(order):
    """The longest searches: the current thread has nothing left, and then either a thread
    others work in has a comment they started, or (the worst) nothing has, and the search
    goes on to the next thread with work, wrapping round."""
    counts = []
    for size in (10, 200):
        project = ProjectFactory(work_order=order)
        threads = [make_thread(ArticleFactory(project=project), size) for _ in range(3)]
        threads.sort(key=lambda t: work_order_key(project, t[0]))
        *_, finished = threads  # the last in work order: the search wraps round
        other, me = people(project, 2)
        for comment in finished:
            make_label(comment, me, COMPLETE_TOP_LEVEL)
            make_label(comment, other, COMPLETE_TOP_LEVEL)
        last = max(finished, key=lambda c: c.path)
        counts.append(claim_queries(project, me, after=last))  # nothing started: step 3
        release(me, project)
        started = min(threads[1], key=lambda c: c.path)
        make_label(started, other, COMPLETE_TOP_LEVEL)
        assert claim_next(other, project, after=started) is not None  # at work there
        with CaptureQueriesContext(connection) as queries:
            assert claim_next(me, project, after=last) == started
        counts.append(len(queries))
    # Savepoint, own claims, expired claims, the search (one query: the current thread's
    # started comments and the rest of it, else the candidates of the first thread others
    # started, else of the next thread with work, wrapping round), the guarded insert, the
    # claimed comment with its article, release (+ on PG: JIT off, the comment's lock).
    # Whichever step finds it, at 10 or 200.
    lock = 2 if connection.vendor == "postgresql" else 0
    assert counts == [7 + lock] * 4


# -- progress for admins ---------------------------------------------------------------------


def test_progress_per_person_counts_work_pace_and_held_comments(project, thread):
    _, top, reply, second = thread
    fast, idle = people(project, 2)
    admin = people(project, 1, role=Role.ADMIN)[0]
    people(project, 1, role=Role.REVIEWER)  # reviewers do not label: not listed
    make_label(top, fast, COMPLETE_TOP_LEVEL, time_spent_ms=10_000)
    make_label(reply, fast, COMPLETE_REPLY, time_spent_ms=30_000)
    make_label(second, fast, {}, status="skipped", skip_reason="spam", time_spent_ms=20_000)
    old = timezone.now() - timedelta(days=30)
    make_label(top, idle, COMPLETE_TOP_LEVEL, time_spent_ms=999_000, updated_at=old)
    claim_next(idle, project)
    rows = {row.user.pk: row for row in annotator_progress(project)}
    assert set(rows) == {fast.pk, idle.pk, admin.pk}
    mine = rows[fast.pk]
    assert (mine.submitted, mine.skipped, mine.drafts, mine.held) == (2, 1, 0, 0)
    assert mine.median_ms == 20_000 and mine.median_seconds == 20
    assert mine.per_hour == 180  # 3 comments in 60 seconds of labelling
    assert rows[idle.pk].held == 1 and rows[idle.pk].per_hour is None
    assert rows[idle.pk].last_activity == old
    assert rows[admin.pk].submitted == 0 and rows[admin.pk].last_activity is None


def test_someone_who_left_still_shows_with_their_work(project, thread):
    _, top, *_ = thread
    gone = UserFactory(username="gone")
    make_label(top, gone, COMPLETE_TOP_LEVEL)
    rows = annotator_progress(project)
    assert [(row.user.pk, row.role, row.submitted) for row in rows] == [(gone.pk, "", 1)]


def test_coverage_counts_comments_with_k_labels(project, thread):
    _, top, reply, _ = thread
    first, second_person, third = people(project, 3)
    make_label(top, first, COMPLETE_TOP_LEVEL)
    make_label(top, second_person, COMPLETE_TOP_LEVEL)
    make_label(reply, first, COMPLETE_REPLY)
    claim_next(third, project)
    coverage = project_coverage(project)
    assert (coverage.total, coverage.complete, coverage.held, coverage.percent) == (3, 1, 1, 33)


# -- concurrency -----------------------------------------------------------------------------

WORKERS = 8
CONCURRENT_COMMENTS = 60


@pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="needs PostgreSQL: SQLite serialises every write, so nothing runs concurrently",
)
@pytest.mark.django_db(transaction=True)
def test_eight_annotators_at_once_never_take_a_comment_more_than_k_times():
    project = ProjectFactory(annotators_per_comment=2)
    k = project.annotators_per_comment
    comments = make_thread(ArticleFactory(project=project), CONCURRENT_COMMENTS)
    annotators = people(project, WORKERS)
    handed: dict[int, set[int]] = {}
    finished: set[int] = set()
    most_takers = [0]
    errors: list[BaseException] = []
    record = threading.Lock()

    def count_takers():
        """Runs once per round while every worker waits: live claims + labels per comment."""
        takers = Claim.objects.filter(project=project, expires_at__gt=timezone.now()).values_list(
            "comment_id", "annotator_id"
        )
        labels = Annotation.objects.filter(
            project=project, status=Annotation.Status.SUBMITTED
        ).values_list("comment_id", "annotator_id")
        per_comment: dict[int, set[int]] = {}
        for comment_id, annotator_id in [*takers, *labels]:
            per_comment.setdefault(comment_id, set()).add(annotator_id)
        most_takers[0] = max([most_takers[0], *map(len, per_comment.values())])

    start = threading.Barrier(WORKERS)
    claimed = threading.Barrier(WORKERS, action=count_takers)
    end = threading.Barrier(WORKERS)

    def work(annotator):
        after = None
        try:
            while True:
                start.wait(timeout=60)  # every worker asks at the same moment
                comment = None
                if annotator.pk not in finished:
                    comment = claim_next(annotator, project, after=after)
                    with record:
                        if comment is None:
                            finished.add(annotator.pk)
                        else:
                            handed.setdefault(comment.pk, set()).add(annotator.pk)
                claimed.wait(timeout=60)  # held, not yet submitted: takers are counted
                if comment is not None:
                    assert act(comment, annotator).ok
                    after = comment
                end.wait(timeout=60)
                if len(finished) == WORKERS:  # read by all after the same barrier
                    return
        except BaseException as error:
            errors.append(error)
            for barrier in (start, claimed, end):
                barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(a,)) for a in annotators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
    assert not errors
    over_handed = [pk for pk, who in handed.items() if len(who) > k]
    assert over_handed == [], f"{len(over_handed)} of {len(comments)} comments handed to > k"
    assert most_takers[0] <= k
    labels = dict.fromkeys((c.pk for c in comments), 0)
    for comment_id in Annotation.objects.filter(
        project=project, status=Annotation.Status.SUBMITTED
    ).values_list("comment_id", flat=True):
        labels[comment_id] += 1
    assert set(labels.values()) == {k}
    assert not Claim.objects.exists()


def test_moving_on_goes_forward_past_a_comment_they_left_open(project, thread, annotator):
    _, top, reply, second = thread
    assert claim_next(annotator, project) == top  # opened, then left as a draft
    act(reply, annotator, action="skip")  # they went on by hand and skipped the reply

    assert claim_next(annotator, project, after=reply) == second
    act(second, annotator)
    # Nothing after it is waiting: the search wraps round to the comment they left open,
    # which they still hold (renewed, not claimed twice).
    assert claim_next(annotator, project, after=second) == top
    assert Claim.objects.filter(comment=top, annotator=annotator).count() == 1
