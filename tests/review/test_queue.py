"""The disagreement queue: scores, order worst first, what is left out, seeded spot checks."""

import pytest

from annotator.review.gold import save_gold
from annotator.review.queue import (
    DISAGREE,
    FLAGGED,
    INCOMPLETE,
    SPOT_CHECK,
    disagreement,
    disagreement_queue,
    is_spot_check,
    next_in_queue,
    review_state,
)
from tests.factories import ArticleFactory, label_in_bulk, make_comment, make_label, make_thread
from tests.review.adjudication_data import REPLY, TOP, TOP_DENY, annotators


@pytest.fixture
def article(project):
    return ArticleFactory(project=project)


@pytest.fixture
def people(project):
    return annotators(project, 3)


def labelled(article, people, *answer_sets, **fields):
    comment = make_comment(article, **fields)
    for annotator, answers in zip(people, answer_sets, strict=False):
        make_label(comment, annotator, answers)
    return comment


def test_the_score_is_the_share_of_answered_questions_in_disagreement():
    assert disagreement([TOP, TOP]) == (0.0, ())
    assert disagreement([TOP, TOP_DENY]) == (0.25, ("stance_article",))
    # A multiple choice is compared as a set.
    assert disagreement([{"s": ["a", "b"]}, {"s": ["b", "a"]}]) == (0.0, ())
    # Answered by one and not by another: a disagreement on that question.
    score, split = disagreement([{**TOP, "checkworthy": "yes"}, TOP])
    assert split == ("checkworthy",) and score == pytest.approx(1 / 5)
    assert disagreement([{}, {}]) == (0.0, ())


def test_the_queue_is_worst_first_then_by_annotators_then_in_thread_order(article, people):
    one_of_four = labelled(article, people, TOP, TOP_DENY)
    two_of_four = labelled(article, people, TOP, {**TOP_DENY, "speculation": "uncertain"}, TOP)
    one_of_four_three_people = labelled(article, people, TOP, TOP, TOP_DENY)
    later_one_of_four = labelled(article, people, TOP_DENY, TOP)
    queue = disagreement_queue(article.project)
    assert [item.comment_id for item in queue] == [
        two_of_four.pk,
        one_of_four_three_people.pk,
        one_of_four.pk,
        later_one_of_four.pk,
    ]
    assert queue[0].score == pytest.approx(0.5)
    assert queue[0].disagreeing == ("speculation", "stance_article")
    assert queue[0].annotators == 3
    assert {item.reason for item in queue} == {DISAGREE}


def test_the_queue_leaves_out_gold_unanimous_single_and_unsubmitted_labels(
    article, people, reviewer
):
    disagreeing = labelled(article, people, TOP, TOP_DENY)
    settled = labelled(article, people, TOP, TOP_DENY)
    save_gold(settled, TOP, reviewer, revision=0)
    labelled(article, people, TOP, TOP)  # unanimous
    labelled(article, people, TOP)  # one label only
    drafts = make_comment(article)
    make_label(drafts, people[0], TOP)
    make_label(drafts, people[1], TOP_DENY, status="draft")
    skipped = make_comment(article)
    make_label(skipped, people[0], TOP)
    make_label(skipped, people[1], {}, status="skipped", skip_reason="not English")
    make_comment(article)  # nobody labelled it
    assert [item.comment_id for item in disagreement_queue(article.project)] == [disagreeing.pk]


def test_flagged_and_incomplete_unanimous_comments_need_a_look_after_disagreements(article, people):
    flagged = make_comment(article)
    make_label(flagged, people[0], TOP, flagged=True)
    make_label(flagged, people[1], TOP)
    incomplete = labelled(article, people, {"stance_article": "query"}, {"stance_article": "query"})
    disagreeing = labelled(article, people, TOP, TOP_DENY)
    queue = disagreement_queue(article.project)
    assert [(i.comment_id, i.reason) for i in queue] == [
        (disagreeing.pk, DISAGREE),
        (flagged.pk, FLAGGED),
        (incomplete.pk, INCOMPLETE),
    ]
    state = review_state(article.project)
    assert state.disagreeing_count == 1 and state.needs_look_count == 2
    assert state.unanimous == []


def test_spot_checks_are_a_seeded_sample_of_unanimous_comments_after_the_rest(project, people):
    comments = make_thread(ArticleFactory(project=project), 200)
    label_in_bulk(comments, people[:2], lambda i, comment, a: REPLY if comment.parent_id else TOP)
    disagreeing = labelled(comments[0].article, people, TOP, TOP_DENY)
    assert len(disagreement_queue(project)) == 1
    queue = disagreement_queue(project, include_spot_checks=True, spot_check_share=0.1, seed=7)
    assert queue[0].comment_id == disagreeing.pk
    spots = [item for item in queue if item.is_spot_check]
    assert spots == queue[1:]
    assert {item.reason for item in spots} == {SPOT_CHECK}
    assert 5 <= len(spots) <= 40  # about 10% of 200
    assert all(is_spot_check(item.comment_id, 7, 0.1) for item in spots)
    again = disagreement_queue(project, include_spot_checks=True, spot_check_share=0.1, seed=7)
    assert again == queue
    other_seed = disagreement_queue(project, include_spot_checks=True, spot_check_share=0.1, seed=8)
    assert {i.comment_id for i in other_seed} != {i.comment_id for i in queue}
    none = disagreement_queue(project, include_spot_checks=True, spot_check_share=0)
    assert len(none) == 1


def test_a_spot_check_sample_stays_put_while_others_are_settled(project, people, reviewer):
    comments = make_thread(ArticleFactory(project=project), 120)
    label_in_bulk(comments, people[:2], lambda i, c, a: REPLY if c.parent_id else TOP)
    by_id = {c.pk: c for c in comments}
    before = disagreement_queue(project, include_spot_checks=True, seed=3)
    sampled = {item.comment_id for item in before}
    not_sampled = next(c for c in comments if c.pk not in sampled)
    save_gold(not_sampled, REPLY if not_sampled.parent_id else TOP, reviewer, revision=0)
    assert disagreement_queue(project, include_spot_checks=True, seed=3) == before
    first = by_id[before[0].comment_id]
    save_gold(first, REPLY if first.parent_id else TOP, reviewer, revision=0)
    assert disagreement_queue(project, include_spot_checks=True, seed=3) == before[1:]


def test_next_in_queue_moves_forward_and_wraps_round(article, people, reviewer):
    first = labelled(article, people, TOP, {**TOP_DENY, "speculation": "uncertain"})
    second = labelled(article, people, TOP, TOP_DENY)
    third = labelled(article, people, TOP_DENY, TOP)
    project = article.project
    queue = disagreement_queue(project)
    assert next_in_queue(queue, first.pk).comment_id == second.pk
    assert next_in_queue(queue, third.pk).comment_id == first.pk
    assert next_in_queue(queue, None).comment_id == first.pk
    # Settled: kept in the queue read for moving on, so the reviewer goes forward.
    save_gold(second, TOP, reviewer, revision=0)
    kept = review_state(project, keep=second.pk).queue
    assert next_in_queue(kept, second.pk).comment_id == third.pk
    assert second.pk not in [i.comment_id for i in disagreement_queue(project)]
    assert next_in_queue([], None) is None


def test_the_queue_reads_a_constant_number_of_queries(project, people, django_assert_num_queries):
    comments = make_thread(ArticleFactory(project=project), 3000)
    label_in_bulk(
        comments,
        people,
        lambda i, comment, a: (
            {**(REPLY if comment.parent_id else TOP), "speculation": "uncertain"}
            if i % 3 == 0 and a == people[0]
            else (REPLY if comment.parent_id else TOP)
        ),
    )
    # scheme, annotations (streamed), gold count
    with django_assert_num_queries(3):
        state = review_state(project, include_spot_checks=True)
    assert state.disagreeing_count == 1000
    assert len(state.unanimous) == 2000
