"""The disagreement queue: scores, order worst first, what is left out, seeded spot checks,
and the scores kept between requests (what changes them, and that they match a fresh count)."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from annotator.labelling.annotations import Submission, save_annotation
from annotator.labelling.models import Annotation
from annotator.labelling.scheme import scheme_to_data
from annotator.labelling.schemes import current_scheme_for, save_scheme
from annotator.review import queue as queue_module
from annotator.review.gold import save_gold
from annotator.review.queue import (
    DISAGREE,
    FLAGGED,
    INCOMPLETE,
    SPOT_CHECK,
    disagreement,
    disagreement_queue,
    forget_scores,
    is_spot_check,
    next_in_queue,
    review_state,
)
from tests.factories import (
    ArticleFactory,
    ProjectFactory,
    label_in_bulk,
    make_comment,
    make_label,
    make_thread,
)
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


def test_a_flagged_comment_in_disagreement_is_marked_flagged_and_needs_a_look(article, people):
    flagged = make_comment(article)
    make_label(flagged, people[0], TOP, flagged=True, note="Is this sarcasm?")
    make_label(flagged, people[1], TOP_DENY, note="Reads as a denial to me.")
    quiet = labelled(article, people, TOP, TOP_DENY)
    queue = disagreement_queue(article.project)
    item = next(i for i in queue if i.comment_id == flagged.pk)
    assert item.reason == DISAGREE and item.flagged and item.notes == 2
    other = next(i for i in queue if i.comment_id == quiet.pk)
    assert not other.flagged and other.notes == 0
    state = review_state(article.project)
    assert state.disagreeing_count == 2 and state.needs_look_count == 1


def test_a_flagged_comment_with_a_single_label_needs_a_look_too(article, people):
    # With one annotator per comment (or before the second label) there is no disagreement
    # to find: the flag is the annotator's only way to ask for a reviewer.
    flagged = make_comment(article)
    make_label(flagged, people[0], TOP, flagged=True, note="Sarcasm?")
    alone = make_comment(article)
    make_label(alone, people[0], TOP)
    (item,) = disagreement_queue(article.project)
    assert (item.comment_id, item.reason, item.annotators, item.notes) == (
        flagged.pk,
        FLAGGED,
        1,
        1,
    )
    assert review_state(article.project).needs_look_count == 1
    # A flag given later reaches the kept queue the same way.
    resubmit(Annotation.objects.get(comment=alone), TOP, flagged=True)
    assert {i.comment_id for i in disagreement_queue(article.project)} == {flagged.pk, alone.pk}


def test_a_flag_set_after_scoring_reaches_the_kept_queue(article, people):
    comment = labelled(article, people, TOP, TOP_DENY)
    assert review_state(article.project).needs_look_count == 0
    first = Annotation.objects.get(comment=comment, annotator=people[0])
    resubmit(first, TOP, flagged=True, note="Check the parent")
    (item,) = disagreement_queue(article.project)
    assert item.flagged and item.notes == 1
    assert review_state(article.project).needs_look_count == 1


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
    # scheme, version, annotations (streamed); no gold yet, so no gold ids to read
    with django_assert_num_queries(3):
        state = review_state(project, include_spot_checks=True)
    assert state.disagreeing_count == 1000
    assert len(state.unanimous) == 2000
    # Kept: scheme and version only.
    with django_assert_num_queries(2):
        assert review_state(project, include_spot_checks=True) == state


# -- kept scores -----------------------------------------------------------------------------


def state_of(project, **options):
    state = review_state(project, **options)
    return [(i.comment_id, i.reason, i.score) for i in state.queue], [
        (a.comment_id, a.answers) for a in state.unanimous
    ]


def fresh_state_of(project, **options):
    forget_scores()
    return state_of(project, **options)


def resubmit(annotation, answers, **fields):
    """An annotator changes a submitted label through the one write path."""
    result = save_annotation(
        comment=annotation.comment,
        annotator=annotation.annotator,
        scheme=current_scheme_for(annotation.project),
        submission=Submission(answers=answers, **fields),
        base_revision=annotation.revision,
        action="submit",
    )
    assert result.ok, result.errors
    return result.annotation


def test_a_new_submitted_label_is_in_the_queue_at_once(article, people):
    agreed = labelled(article, people[:2], TOP, TOP)
    assert disagreement_queue(article.project) == []
    make_label(agreed, people[2], TOP_DENY)
    assert [i.comment_id for i in disagreement_queue(article.project)] == [agreed.pk]
    newcomer = labelled(article, people, TOP_DENY, TOP)
    assert [i.comment_id for i in disagreement_queue(article.project)] == [
        agreed.pk,  # three annotators before two
        newcomer.pk,
    ]


def test_a_changed_label_moves_its_comment_in_or_out_at_once(article, people):
    comment = make_comment(article)
    first = make_label(comment, people[0], TOP)
    make_label(comment, people[1], TOP)
    assert review_state(article.project).disagreeing_count == 0
    first = resubmit(first, TOP_DENY)
    state = review_state(article.project)
    assert [(i.comment_id, i.reason) for i in state.queue] == [(comment.pk, DISAGREE)]
    assert state.unanimous == []
    first = resubmit(first, TOP, flagged=True)
    assert [i.reason for i in review_state(article.project).queue] == [FLAGGED]
    resubmit(first, TOP)
    state = review_state(article.project)
    assert state.queue == [] and [a.comment_id for a in state.unanimous] == [comment.pk]


def test_gold_takes_a_comment_out_at_once_reading_only_the_new_gold(
    article, people, reviewer, django_assert_num_queries
):
    first = labelled(article, people, TOP, TOP_DENY)
    second = labelled(article, people, TOP_DENY, TOP)
    scheme = current_scheme_for(article.project)
    assert len(review_state(article.project, scheme=scheme).queue) == 2
    save_gold(first, TOP, reviewer, revision=0)
    # version, then the gold labels added since
    with django_assert_num_queries(2):
        state = review_state(article.project, scheme=scheme)
    assert [i.comment_id for i in state.queue] == [second.pk]
    assert state.gold_count == 1
    # ``keep`` still finds the settled comment's place.
    kept = review_state(article.project, scheme=scheme, keep=first.pk).queue
    assert next_in_queue(kept, first.pk).comment_id == second.pk


def test_a_label_change_reads_only_the_changed_comments(project, people, django_assert_num_queries):
    comments = make_thread(ArticleFactory(project=project), 300)
    label_in_bulk(comments, people[:2], lambda i, c, a: REPLY if c.parent_id else TOP)
    scheme = current_scheme_for(project)
    review_state(project, scheme=scheme)
    annotation = Annotation.objects.select_related("comment__article", "annotator").first()
    resubmit(annotation, {**annotation.answers, "speculation": "uncertain"})
    with django_assert_num_queries(2):  # version, annotations of the changed comments
        state = review_state(project, scheme=scheme)
    assert [i.comment_id for i in state.queue] == [annotation.comment_id]
    assert state_of(project) == fresh_state_of(project)


def test_kept_scores_match_a_fresh_count_after_many_changes(project, people, reviewer):
    """Random submits, drafts, deletions, flags and gold: always what a cold read gives."""
    rng = random.Random(5)
    comments = make_thread(ArticleFactory(project=project), 120)
    answer_sets = [TOP, TOP_DENY, {**TOP, "speculation": "uncertain"}]

    def answers_for(comment):
        base = rng.choice(answer_sets)
        return {**base, "stance_parent": "deny"} if comment.parent_id else base

    label_in_bulk(comments, people, lambda i, c, a: answers_for(c) if rng.random() < 0.8 else None)
    # Saved long ago: only what changes below is in the time window the queue reads again.
    Annotation.objects.update(updated_at=timezone.now() - timedelta(hours=2))
    by_id = {c.pk: c for c in comments}
    for _round in range(6):
        state_of(project, include_spot_checks=True)  # kept from here
        annotations = list(Annotation.objects.filter(project=project).select_related("annotator"))
        for annotation in rng.sample(annotations, 8):
            annotation.comment = by_id[annotation.comment_id]
            choice = rng.random()
            if choice < 0.5:
                resubmit(annotation, answers_for(annotation.comment), flagged=rng.random() < 0.1)
            elif choice < 0.7:
                Annotation.objects.filter(pk=annotation.pk).update(
                    status=Annotation.Status.DRAFT, updated_at=timezone.now(), revision=9
                )
            else:
                annotation.delete()
        unlabelled = [c for c in comments if not Annotation.objects.filter(comment=c).exists()]
        for comment in unlabelled[:2]:
            make_label(comment, people[0], answers_for(comment))
            make_label(comment, people[1], answers_for(comment))
        queue_now = review_state(project).queue
        if queue_now:
            target = by_id[queue_now[0].comment_id]
            save_gold(target, REPLY if target.parent_id else TOP, reviewer, revision=0)
        warm = state_of(project, include_spot_checks=True)
        assert warm == fresh_state_of(project, include_spot_checks=True)


def test_a_save_outside_the_time_window_is_caught_by_the_revision_sums(
    project, article, people, django_assert_num_queries
):
    long_ago = timezone.now() - timedelta(hours=2)
    comment = make_comment(article)
    for person in people[:2]:
        make_label(comment, person, TOP, updated_at=long_ago)
    scheme = current_scheme_for(project)
    assert review_state(project, scheme=scheme).queue == []
    mine = Annotation.objects.filter(comment=comment, annotator=people[0])
    # Its updated_at is from before the kept read (a slow transaction), within the margin.
    mine.update(answers=TOP_DENY, revision=2, updated_at=timezone.now() - timedelta(seconds=30))
    with django_assert_num_queries(2):  # version, the changed comments
        assert [i.comment_id for i in review_state(project, scheme=scheme).queue] == [comment.pk]
    # Older than the margin (a clock far behind): the revision sums no longer add up.
    mine.update(answers=TOP, revision=3, updated_at=long_ago)
    with django_assert_num_queries(3):  # version, the changed comments (none), all again
        assert review_state(project, scheme=scheme).queue == []
    # So does a deleted annotation, whenever it was saved.
    mine.update(answers=TOP_DENY, revision=4, updated_at=timezone.now())
    assert len(review_state(project, scheme=scheme).queue) == 1
    Annotation.objects.filter(comment=comment, annotator=people[0]).update(updated_at=long_ago)
    make_label(comment, people[2], TOP, updated_at=long_ago)
    mine.delete()
    assert review_state(project, scheme=scheme).queue == []


def test_a_moved_comment_is_scored_again(article, people):
    top = make_comment(article)
    reply = make_comment(article, top)
    # Submitted without a stance toward the parent: not valid gold for a reply.
    make_label(reply, people[0], TOP)
    make_label(reply, people[1], TOP)
    state = review_state(article.project)
    assert [(i.comment_id, i.reason) for i in state.queue] == [(reply.pk, INCOMPLETE)]
    # Now top-level: the same labels (nothing set aside, not a revision more) are complete.
    reply.move_under(None)
    assert Annotation.objects.filter(comment=reply, revision=1).count() == 2
    state = review_state(article.project)
    assert state.queue == []
    assert [a.comment_id for a in state.unanimous] == [reply.pk]


def test_a_top_level_comment_made_a_reply_leaves_review_until_it_is_labelled_again(article, people):
    top = make_comment(article)
    other = make_comment(article)
    make_label(other, people[0], TOP)
    make_label(other, people[1], TOP)
    assert len(review_state(article.project).unanimous) == 1
    # Now a reply: its labels lack the stance toward the parent and go back to draft.
    other.move_under(top)
    state = review_state(article.project)
    assert state.unanimous == []
    assert state.queue == []


def test_a_new_scheme_version_is_scored_again(article, people, project_admin):
    comment = labelled(article, people, TOP, TOP)
    assert len(review_state(article.project).unanimous) == 1
    data = scheme_to_data(current_scheme_for(article.project).scheme)
    # A required question added since: the agreed answers no longer make complete gold.
    data["questions"].append(
        {"key": "sarcasm", "title": "Sarcasm", "kind": "yes_no", "required": True}
    )
    save_scheme(article.project, data, project_admin)
    state = review_state(article.project)
    assert [(i.comment_id, i.reason) for i in state.queue] == [(comment.pk, INCOMPLETE)]


def test_kept_scores_are_per_project_and_bounded(people):
    projects = [ProjectFactory(slug=f"p{n}") for n in range(queue_module.MEMO_PROJECTS + 2)]
    for project in projects:
        review_state(project)
    assert len(queue_module._memo) == queue_module.MEMO_PROJECTS


def test_gold_removed_and_added_in_between_is_seen(article, people, reviewer):
    first = labelled(article, people, TOP, TOP_DENY)
    second = labelled(article, people, TOP_DENY, TOP)
    third = labelled(article, people, {**TOP, "speculation": "uncertain"}, TOP)
    save_gold(first, TOP, reviewer, revision=0)
    save_gold(second, TOP, reviewer, revision=0)
    assert [i.comment_id for i in disagreement_queue(article.project)] == [third.pk]
    # The newest gold label goes (an admin deletes it) and another is set: the count is as
    # before.
    from annotator.review.models import GoldLabel

    GoldLabel.objects.filter(comment=second).delete()
    save_gold(third, TOP, reviewer, revision=0)
    assert [i.comment_id for i in disagreement_queue(article.project)] == [second.pk]


def test_a_disagreement_only_about_the_old_parent_leaves_the_queue_when_the_comment_moves(
    article, people
):
    top = labelled(article, people)
    reply = labelled(article, people, REPLY, {**REPLY, "stance_parent": "support"}, parent=top)
    assert [item.comment_id for item in disagreement_queue(article.project)] == [reply.pk]
    reply.move_under(None)  # now top-level: the stance toward top is set aside
    assert disagreement_queue(article.project) == []
    assert [a.comment_id for a in review_state(article.project).unanimous] == [reply.pk]


def test_a_comment_whose_gold_a_move_reopened_is_reviewed_again(article, people, reviewer):
    from annotator.review.gold import accept_unanimous
    from annotator.review.models import GoldLabel

    top = make_comment(article, text="Top")
    other = make_comment(article, text="Other top")
    reply = make_comment(article, parent=top, text="Reply")
    labels = [make_label(reply, person, REPLY) for person in people[:2]]
    save_gold(reply, REPLY, reviewer, revision=0)
    assert review_state(article.project).unanimous == []  # settled
    reply.move_under(other)
    # The annotators answer again against the new parent, and agree.
    again = {**REPLY, "stance_parent": "query"}
    for label in labels:
        label.refresh_from_db()
        resubmit(label, again)
    state = review_state(article.project)
    assert [agreed.comment_id for agreed in state.unanimous] == [reply.pk]
    assert accept_unanimous(article.project, reviewer) == 1
    gold = GoldLabel.objects.get(comment=reply)
    assert gold.answers == again and not gold.needs_review
    assert gold.method == GoldLabel.Method.ACCEPTED
    assert review_state(article.project).unanimous == []
    # Moved again and answered differently this time: it is a disagreement to settle.
    reply.move_under(top)
    for label, stance in zip(labels, ["support", "deny"], strict=True):
        label.refresh_from_db()
        resubmit(label, {**REPLY, "stance_parent": stance})
    assert [item.comment_id for item in disagreement_queue(article.project)] == [reply.pk]
