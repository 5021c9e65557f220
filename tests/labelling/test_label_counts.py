"""The kept label counts: equal to a recount after every path that changes them."""

import random
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from annotator.corpus.deletions import delete_article, impact_of_deleting
from annotator.corpus.models import Comment, ImportJob
from annotator.labelling.annotations import AnnotationConflict, Submission, save_annotation
from annotator.labelling.assignment import claim_next, waiting_for
from annotator.labelling.label_counts import recount_everything
from annotator.labelling.models import Annotation, CommentLabelCount, ProjectLabelCounts
from annotator.labelling.navigation import progress_for
from annotator.labelling.schemes import current_scheme_for
from tests.factories import (
    COMPLETE_REPLY,
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    MembershipFactory,
    UserFactory,
    make_comment,
    make_thread,
    save_from_current_revision,
)

# A time after every hold: ``waiting_for`` then counts submitted labels only, as the
# progress bar does (claims are left out of the share, navigation.progress_for).
CLAIMS_OVER = timezone.now() + timedelta(days=3650)


def people(project, count):
    users = [UserFactory() for _ in range(count)]
    for user in users:
        MembershipFactory(project=project, user=user)
    return users


save = save_from_current_revision


def assert_counts_match_a_recount(project, annotators):
    """The kept counts against the annotations, and every progress bar against the queue."""
    submitted = Counter(
        Annotation.objects.filter(project=project, status=Annotation.Status.SUBMITTED).values_list(
            "comment_id", flat=True
        )
    )
    kept = dict(
        CommentLabelCount.objects.filter(project=project)
        .exclude(submitted=0)
        .values_list("comment_id", "submitted")
    )
    assert kept == dict(submitted)
    for person in annotators:
        progress = progress_for(person, project, timezone.now())
        assert progress.waiting == waiting_for(person, project, now=CLAIMS_OVER).count()
        assert progress.total == Comment.objects.filter(article__project=project).count()
    row = ProjectLabelCounts.objects.get(project=project)
    k = project.annotators_per_comment
    assert row.full_comments == sum(n >= k for n in submitted.values())


@pytest.mark.parametrize("seed", range(4))
def test_random_saves_keep_the_counts_equal_to_a_recount(project, seed):
    rng = random.Random(seed)
    project.annotators_per_comment = rng.randint(1, 3)
    project.save(update_fields=["annotators_per_comment"])
    article = ArticleFactory(project=project)
    comments = [make_comment(article) for _ in range(6)]
    team = people(project, 4)
    for step in range(60):
        comment, person = rng.choice(comments), rng.choice(team)
        kind = rng.choice(["submit", "submit", "skip", "reopen", "draft"])
        if kind == "submit":
            save(comment, person, COMPLETE_TOP_LEVEL, action="submit")
        elif kind == "skip":
            save(comment, person, {}, action="skip", skip_reason="spam")
        elif kind == "reopen":  # an answer taken back: a submitted label goes back to draft
            save(comment, person, {"stance_article": "deny"})
        else:
            save(comment, person, {**COMPLETE_TOP_LEVEL, "stance_article": "query"})
        if step % 6 == 5:
            assert_counts_match_a_recount(project, team)
    assert_counts_match_a_recount(project, team)


def test_a_refused_save_moves_no_count(project, annotator):
    comment = make_comment(ArticleFactory(project=project))
    save(comment, annotator, COMPLETE_TOP_LEVEL, action="submit")
    with pytest.raises(AnnotationConflict):  # from a stale revision: nothing is written
        save_annotation(
            comment=comment,
            annotator=annotator,
            scheme=current_scheme_for(project),
            submission=Submission(answers={"stance_article": "deny"}),
            base_revision=0,
            action="autosave",
        )
    assert CommentLabelCount.objects.get(comment=comment).submitted == 1


def test_a_move_that_reopens_submitted_labels_lowers_the_counts(project, project_admin):
    article = ArticleFactory(project=project)  # k = 2
    top, other = make_comment(article), make_comment(article)
    reply = make_comment(article, parent=top)
    team = people(project, 3)
    for person in team[:2]:
        save(reply, person, COMPLETE_REPLY, action="submit")
    assert_counts_match_a_recount(project, team)
    assert progress_for(team[2], project, timezone.now()).not_for_them == 1
    reply.move_under(other, actor=project_admin)  # its stance toward the parent is stale
    assert set(Annotation.objects.values_list("status", flat=True)) == {"draft"}
    assert_counts_match_a_recount(project, team)
    assert progress_for(team[2], project, timezone.now()).not_for_them == 0


def test_deleting_an_article_counts_the_project_again(project, project_admin):
    first, second = ArticleFactory(project=project), ArticleFactory(project=project)
    make_thread(first, 3)
    gone = make_thread(second, 4)
    team = people(project, 2)
    for person in team:
        save(gone[0], person, COMPLETE_TOP_LEVEL, action="submit")
    assert progress_for(team[0], project, timezone.now()).total == 7
    delete_article(second, project_admin, impact_of_deleting(second))
    assert progress_for(team[0], project, timezone.now()).total == 3
    assert_counts_match_a_recount(project, team)


def test_an_import_is_counted_once_its_job_has_succeeded(project, annotator):
    make_thread(ArticleFactory(project=project), 3)
    assert progress_for(annotator, project, timezone.now()).total == 3
    make_thread(ArticleFactory(project=project), 5)  # bulk, as the loader writes
    ImportJob.objects.create(
        project=project,
        file="imports/x.jsonl",
        original_name="x.jsonl",
        status=ImportJob.Status.SUCCEEDED,
    )
    assert progress_for(annotator, project, timezone.now()).total == 8


def test_a_comment_added_one_at_a_time_is_counted(project, annotator):
    article = ArticleFactory(project=project)
    make_comment(article)
    assert progress_for(annotator, project, timezone.now()).total == 1
    make_comment(article)
    assert progress_for(annotator, project, timezone.now()).total == 2


def test_changing_k_counts_the_full_comments_again(project):
    comments = [make_comment(ArticleFactory(project=project)) for _ in range(3)]
    team = people(project, 3)
    for person in team[:2]:
        save(comments[0], person, COMPLETE_TOP_LEVEL, action="submit")
    save(comments[1], team[0], COMPLETE_TOP_LEVEL, action="submit")
    assert progress_for(team[2], project, timezone.now()).not_for_them == 1  # k = 2
    project.annotators_per_comment = 1
    project.save(update_fields=["annotators_per_comment"])
    assert progress_for(team[2], project, timezone.now()).not_for_them == 2
    assert_counts_match_a_recount(project, team)


def test_held_comments_stay_in_the_share_until_their_labels_arrive(project):
    comment = make_comment(ArticleFactory(project=project))
    first, second, me = people(project, 3)
    assert claim_next(first, project) == comment
    assert claim_next(second, project) == comment  # k = 2: both hold it
    assert progress_for(me, project, timezone.now()).share == 1
    save(comment, first, COMPLETE_TOP_LEVEL, action="submit")
    save(comment, second, COMPLETE_TOP_LEVEL, action="submit")
    assert progress_for(me, project, timezone.now()).share == 0


def test_progress_reads_one_query_with_the_counts_kept(project, django_assert_num_queries):
    comments = make_thread(ArticleFactory(project=project), 40)
    team = people(project, 3)
    for comment in comments[:10]:
        for person in team[:2]:
            save(comment, person, COMPLETE_REPLY, action="submit")
    progress_for(team[2], project, timezone.now())  # counted once
    with django_assert_num_queries(1):
        progress = progress_for(team[2], project, timezone.now())
    assert progress.not_for_them == 10
    assert_counts_match_a_recount(project, team)


def test_the_recount_command_puts_drifted_counts_right(project, annotator):
    comments = [make_comment(ArticleFactory(project=project)) for _ in range(3)]
    team = people(project, 2)
    for person in team:
        save(comments[0], person, COMPLETE_TOP_LEVEL, action="submit")
    progress_for(annotator, project, timezone.now())
    CommentLabelCount.objects.update(submitted=7)  # as after a manual fix in the database
    ProjectLabelCounts.objects.update(full_comments=0)
    call_command("recount_label_counts", project.slug, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert_counts_match_a_recount(project, [annotator, *team])


def test_recounting_everything_gives_the_same_counts(project):
    comments = [make_comment(ArticleFactory(project=project)) for _ in range(4)]
    team = people(project, 3)
    for number, comment in enumerate(comments):
        for person in team[: number % 4]:
            save(comment, person, COMPLETE_TOP_LEVEL, action="submit")
    kept = set(CommentLabelCount.objects.values_list("comment_id", "submitted"))
    recount_everything(project)
    assert set(CommentLabelCount.objects.values_list("comment_id", "submitted")) == kept


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_of_one_comment_count_each_once(project):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises every write")
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    comment = make_comment(ArticleFactory(project=project))
    project.annotators_per_comment = 4
    project.save(update_fields=["annotators_per_comment"])
    team = people(project, 8)
    progress_for(team[0], project, timezone.now())  # the project's row exists

    def submit(person):
        try:
            save(comment, person, COMPLETE_TOP_LEVEL, action="submit")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(submit, team))
    assert CommentLabelCount.objects.get(comment=comment).submitted == 8
    assert ProjectLabelCounts.objects.get(project=project).full_comments == 1
