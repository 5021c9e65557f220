"""Gold labels: saving with locking and history, validation, and bulk accept of unanimous ones."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.corpus.moves import impact_of_move
from annotator.review.gold import (
    ACCEPTED,
    ADJUDICATED,
    GoldConflict,
    GoldInvalid,
    accept_unanimous,
    insert_batch_size,
    save_gold,
)
from annotator.review.models import GoldEvent, GoldLabel
from annotator.review.queue import review_state
from tests.factories import ArticleFactory, label_in_bulk, make_comment, make_label, make_thread
from tests.review.adjudication_data import REPLY, TOP, TOP_DENY, annotators

# Statements that write a small set of accepted gold: a gold insert and an event insert on
# SQLite, one statement on PostgreSQL.
WRITES = 2 if connection.vendor == "sqlite" else 1


@pytest.fixture
def article(project):
    return ArticleFactory(project=project)


@pytest.fixture
def top(article):
    return make_comment(article, text="Top-level comment")


def test_a_first_save_creates_gold_with_who_and_when_and_a_history_row(top, reviewer):
    gold = save_gold(top, TOP, reviewer, revision=0, note=" close call ")
    gold.refresh_from_db()
    assert gold.answers == TOP
    assert gold.method == ADJUDICATED
    assert gold.decided_by == reviewer
    assert gold.decided_at is not None
    assert gold.note == "close call"
    assert gold.revision == 1
    assert gold.project_id == top.article.project_id
    (event,) = GoldEvent.objects.filter(gold=gold)
    assert event.before is None
    assert event.after["answers"] == TOP
    assert event.actor == reviewer
    assert event.revision == 1


def test_a_change_bumps_the_revision_and_keeps_before_and_after(top, reviewer, project_admin):
    save_gold(top, TOP, reviewer, revision=0)
    gold = save_gold(top, TOP_DENY, project_admin, revision=1, note="deny after all")
    assert gold.revision == 2
    assert gold.decided_by == project_admin
    events = list(GoldEvent.objects.filter(gold=gold).order_by("revision"))
    assert [e.revision for e in events] == [1, 2]
    assert events[1].before["answers"]["stance_article"] == "support"
    assert events[1].after["answers"]["stance_article"] == "deny"
    assert events[1].after["note"] == "deny after all"
    assert events[1].actor == project_admin


def test_saving_the_same_answers_again_adds_no_history(top, reviewer):
    save_gold(top, TOP, reviewer, revision=0)
    gold = save_gold(top, TOP, reviewer, revision=1)
    assert gold.revision == 1
    assert GoldEvent.objects.count() == 1


def test_a_stale_revision_is_a_conflict_and_writes_nothing(top, reviewer, project_admin):
    save_gold(top, TOP, reviewer, revision=0)
    with pytest.raises(GoldConflict) as raised:
        save_gold(top, TOP_DENY, project_admin, revision=0)
    assert raised.value.current.revision == 1
    assert raised.value.current.decided_by == reviewer
    gold = GoldLabel.objects.get()
    assert gold.answers == TOP and gold.revision == 1
    assert GoldEvent.objects.count() == 1
    with pytest.raises(GoldConflict):
        save_gold(top, TOP_DENY, project_admin, revision=5)


def test_a_revision_for_gold_that_does_not_exist_is_a_conflict(top, reviewer):
    with pytest.raises(GoldConflict):
        save_gold(top, TOP, reviewer, revision=1)
    assert not GoldLabel.objects.exists()


def test_gold_needs_every_required_answer(top, reviewer):
    with pytest.raises(GoldInvalid) as raised:
        save_gold(top, {"stance_article": "support"}, reviewer, revision=0)
    assert set(raised.value.missing) == {"claim_type", "speculation", "source_cited"}
    assert not GoldLabel.objects.exists()


def test_a_reply_needs_its_stance_toward_the_parent(article, top, reviewer):
    reply = make_comment(article, parent=top)
    with pytest.raises(GoldInvalid) as raised:
        save_gold(reply, TOP, reviewer, revision=0)
    assert raised.value.missing == ["stance_parent"]
    assert save_gold(reply, REPLY, reviewer, revision=0).answers == REPLY


def test_a_value_the_scheme_does_not_offer_is_refused(top, reviewer):
    with pytest.raises(GoldInvalid) as raised:
        save_gold(top, {**TOP, "stance_article": "maybe"}, reviewer, revision=0)
    assert "stance_article" in raised.value.errors
    with pytest.raises(GoldInvalid) as raised:
        save_gold(top, {**TOP, "source_cited": ["none", "link"]}, reviewer, revision=0)
    assert "source_cited" in raised.value.errors
    assert not GoldLabel.objects.exists()


def test_answers_to_hidden_questions_are_dropped(top, reviewer):
    # "Check-worthy?" is asked only for factual claims and predictions, "stance toward the
    # parent" only for replies.
    gold = save_gold(
        top, {**TOP, "checkworthy": "yes", "stance_parent": "support"}, reviewer, revision=0
    )
    assert gold.answers == TOP


# -- accept_unanimous ------------------------------------------------------------------------


def test_accept_unanimous_takes_only_comments_where_two_or_more_agree(project, article, reviewer):
    first, second, third = annotators(project, 3)
    agreed = make_comment(article)
    agreed_as_sets = make_comment(article)
    split = make_comment(article)
    single = make_comment(article)
    drafts = make_comment(article)
    already_gold = make_comment(article)
    flagged = make_comment(article)
    for comment in (agreed, split, already_gold, flagged):
        make_label(comment, first, TOP)
    make_label(agreed, second, TOP)
    make_label(agreed, third, TOP)
    make_label(agreed_as_sets, first, {**TOP, "source_cited": ["link", "reasoning"]})
    make_label(agreed_as_sets, second, {**TOP, "source_cited": ["reasoning", "link"]})
    make_label(split, second, TOP_DENY)
    make_label(single, first, TOP)
    make_label(drafts, first, TOP, status="draft")
    make_label(drafts, second, TOP, status="draft")
    make_label(already_gold, second, TOP)
    save_gold(already_gold, TOP_DENY, reviewer, revision=0)
    make_label(flagged, second, TOP, flagged=True)

    assert accept_unanimous(project, reviewer) == 2

    accepted = GoldLabel.objects.filter(method=ACCEPTED)
    assert {g.comment_id for g in accepted} == {agreed.pk, agreed_as_sets.pk}
    gold = accepted.get(comment=agreed)
    assert gold.answers == TOP
    assert gold.decided_by == reviewer
    assert gold.revision == 1
    (event,) = gold.events.all()
    assert event.before is None and event.after["method"] == "accepted"
    assert GoldLabel.objects.get(comment=already_gold).answers == TOP_DENY


def test_accept_unanimous_is_safe_to_run_twice(project, article, reviewer):
    first, second = annotators(project, 2)
    comment = make_comment(article)
    make_label(comment, first, TOP)
    make_label(comment, second, TOP)
    assert accept_unanimous(project, reviewer) == 1
    assert accept_unanimous(project, reviewer) == 0
    assert GoldLabel.objects.count() == 1
    assert GoldEvent.objects.count() == 1


def test_accept_unanimous_skips_agreed_answers_the_current_scheme_refuses(
    project, article, reviewer
):
    first, second = annotators(project, 2)
    comment = make_comment(article)
    incomplete = {"stance_article": "support"}  # submitted under an older, smaller scheme
    make_label(comment, first, incomplete)
    make_label(comment, second, incomplete)
    assert accept_unanimous(project, reviewer) == 0
    assert not GoldLabel.objects.exists()


def test_accept_unanimous_leaves_other_projects_alone(project, other_project, reviewer):
    foreign = make_comment(ArticleFactory(project=other_project))
    first, second = annotators(other_project, 2, prefix="other")
    make_label(foreign, first, TOP)
    make_label(foreign, second, TOP)
    assert accept_unanimous(project, reviewer) == 0
    assert not GoldLabel.objects.exists()


@pytest.mark.parametrize("size", [10, 1000])
def test_accept_unanimous_runs_a_constant_number_of_queries(
    project, reviewer, django_assert_num_queries, size
):
    comments = make_thread(ArticleFactory(project=project), size)
    people = annotators(project, 3)
    label_in_bulk(
        comments, people, lambda index, comment, annotator: REPLY if comment.parent_id else TOP
    )
    # scheme, queue version, annotations (no gold yet: no gold ids), gold sent back to
    # review among them, savepoint, the writes, release
    with django_assert_num_queries(6 + WRITES):
        assert accept_unanimous(project, reviewer) == size
    assert GoldEvent.objects.count() == size


def test_accept_unanimous_takes_the_queue_the_reviewer_just_read(
    project, reviewer, django_assert_num_queries
):
    comments = make_thread(ArticleFactory(project=project), 50)
    people = annotators(project, 2)
    label_in_bulk(comments, people, lambda i, c, a: REPLY if c.parent_id else TOP)
    review_state(project)  # the queue page
    # scheme, queue version, gold sent back to review, savepoint, the writes, release
    with django_assert_num_queries(5 + WRITES):
        assert accept_unanimous(project, reviewer) == 50


def test_accept_unanimous_sees_a_label_changed_just_before(project, article, reviewer):
    first, second = annotators(project, 2)
    comment = make_comment(article)
    make_label(comment, first, TOP)
    label = make_label(comment, second, TOP)
    assert len(review_state(project).unanimous) == 1
    label.answers = TOP_DENY
    label.revision += 1
    label.save()
    assert accept_unanimous(project, reviewer) == 0
    assert not GoldLabel.objects.exists()


def test_sqlite_batches_are_as_large_as_its_parameter_limit_allows(db):
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL writes in one statement")
    # SQLite's 32,766 parameters: 11 columns a gold label, 6 a history event.
    assert insert_batch_size(GoldLabel) == 32_766 // 11
    assert insert_batch_size(GoldEvent) == 32_766 // 6


def test_accept_unanimous_writes_in_few_statements_on_either_database(project, reviewer):
    size = 3700  # more than one SQLite batch of gold labels
    comments = make_thread(ArticleFactory(project=project), size)
    people = annotators(project, 2)
    label_in_bulk(comments, people, lambda i, c, a: REPLY if c.parent_id else TOP)
    with CaptureQueriesContext(connection) as captured:
        assert accept_unanimous(project, reviewer) == size
    writes = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].lstrip().startswith(("INSERT", "WITH"))
    ]
    if connection.vendor == "sqlite":
        assert len(writes) == 2 + 1  # 3,640 + 60 gold labels, 3,700 events
        assert connection.features.max_query_params == 999  # Django's own limit is back
    else:
        assert len(writes) == 1
    assert GoldLabel.objects.count() == GoldEvent.objects.count() == size
    assert set(GoldEvent.objects.values_list("gold__comment_id", flat=True)) == {
        c.pk for c in comments
    }
    assert accept_unanimous(project, reviewer) == 0


def test_accepted_gold_and_its_history_are_what_a_single_save_would_write(
    project, article, reviewer
):
    first, second = annotators(project, 2)
    top = make_comment(article)
    reply = make_comment(article, parent=top)
    multiple = {**TOP, "source_cited": ["link", "reasoning"]}
    for comment, answers in ((top, multiple), (reply, REPLY)):
        make_label(comment, first, answers)
        make_label(comment, second, answers)
    assert accept_unanimous(project, reviewer) == 2
    for comment, answers in ((top, multiple), (reply, REPLY)):
        gold = GoldLabel.objects.select_related("scheme").get(comment=comment)
        assert gold.answers == answers
        assert (gold.method, gold.note, gold.revision) == (ACCEPTED, "", 1)
        assert gold.project == project and gold.decided_by == reviewer
        assert gold.scheme == project.schemes.get()
        (event,) = gold.events.all()
        assert event.before is None and event.after == gold.snapshot()
        assert (event.actor, event.revision, event.at) == (reviewer, 1, gold.decided_at)


# -- a re-parented comment -------------------------------------------------------------------


def test_moving_a_reply_sets_aside_its_gold_answers_about_the_parent(
    article, top, reviewer, project_admin
):
    reply = make_comment(article, parent=top, text="A reply")
    other = make_comment(article, text="Another top-level comment")
    gold = save_gold(reply, REPLY, reviewer, revision=0)
    assert impact_of_move(reply, other).gold == 1
    reply.move_under(other, actor=project_admin)
    gold.refresh_from_db()
    assert gold.answers == TOP
    assert gold.stale_answers["stance_parent"]["value"] == REPLY["stance_parent"]
    assert gold.stale_answers["stance_parent"]["parent_id"] == top.pk
    assert gold.revision == 2
    assert gold.decided_by == reviewer  # the answers left are still the reviewer's
    event = gold.events.latest("id")
    assert event.actor == project_admin
    assert event.before["answers"] == REPLY
    assert event.after["answers"] == TOP
    assert event.after["parent_change"] == {
        "from": top.pk,
        "to": other.pk,
        "stale": ["stance_parent"],
    }
    # A reviewer's form from before the move gets a conflict instead of writing it back.
    with pytest.raises(GoldConflict):
        save_gold(reply, REPLY, reviewer, revision=1)


def test_gold_of_a_top_level_comment_made_a_reply_keeps_its_answers_and_goes_back_to_review(
    article, top, reviewer
):
    other = make_comment(article, text="Another top-level comment")
    gold = save_gold(other, TOP, reviewer, revision=0)
    assert impact_of_move(other, top).gold == 1  # the admin is told before the move
    other.move_under(top)
    gold.refresh_from_db()
    assert gold.answers == TOP
    assert gold.stale_answers == {}
    assert gold.revision == 2 and gold.needs_review
    # It now needs the stance toward its parent before it is complete gold again.
    with pytest.raises(GoldInvalid):
        save_gold(other, TOP, reviewer, revision=2, note="again")
    settled = save_gold(other, REPLY, reviewer, revision=2)
    assert not settled.needs_review


def test_gold_that_loses_a_required_answer_goes_back_to_review_until_settled(
    article, top, reviewer, project_admin
):
    reply = make_comment(article, parent=top, text="A reply")
    other = make_comment(article, text="Another top-level comment")
    gold = save_gold(reply, REPLY, reviewer, revision=0)
    assert not gold.needs_review
    reply.move_under(other, actor=project_admin)
    gold.refresh_from_db()
    assert gold.needs_review
    settled = save_gold(reply, {**REPLY, "stance_parent": "query"}, reviewer, revision=2)
    assert not settled.needs_review
    assert settled.answers["stance_parent"] == "query"
    assert settled.stale_answers["stance_parent"]["value"] == REPLY["stance_parent"]
    # Made top-level, the gold is complete without a stance toward a parent: still settled.
    reply.move_under(None, actor=project_admin)
    settled.refresh_from_db()
    assert not settled.needs_review and "stance_parent" not in settled.answers
