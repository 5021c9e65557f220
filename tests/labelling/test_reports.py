"""Wrong-parent reports: likely parents, one open report per person, fixes and dismissals."""

import pytest

from annotator.corpus.models import Comment
from annotator.labelling.models import ParentReport
from annotator.labelling.reports import (
    ParentReportError,
    dismiss_report,
    parent_candidates,
    report_wrong_parent,
    resolve_report,
)
from tests.factories import ArticleFactory, UserFactory, make_comment, make_thread

pytestmark = pytest.mark.django_db


@pytest.fixture
def thread(project):
    """Tree order: a, a1 (answers a), a1x (answers a1), a2 (answers a), b, b1, b1y, c."""
    article = ArticleFactory(project=project)
    a = make_comment(article, author="A", text="a")
    a1 = make_comment(article, a, text="a1")
    a1x = make_comment(article, a1, text="a1x")
    a2 = make_comment(article, a, text="a2")
    b = make_comment(article, author="B", text="b")
    b1 = make_comment(article, b, text="b1")
    b1y = make_comment(article, b1, text="b1y")
    c = make_comment(article, text="c")
    return {n.text: n for n in (a, a1, a1x, a2, b, b1, b1y, c)}


def texts(comments) -> list[str]:
    return [c.text for c in comments]


def thread_paths(article_id) -> list[tuple[int, int | None, str, int]]:
    rows = Comment.objects.filter(article_id=article_id).order_by("pk")
    return list(rows.values_list("pk", "parent_id", "path", "depth"))


# --- Candidates -------------------------------------------------------------------------------


def test_candidates_put_the_grandparent_first_then_the_nearest_comments_above(thread):
    assert texts(parent_candidates(thread["b1y"])) == ["b", "a2", "a1x", "a1", "a"]


def test_candidates_leave_out_the_current_parent(thread):
    assert texts(parent_candidates(thread["a2"])) == ["a1x", "a1"]
    assert texts(parent_candidates(thread["a1x"])) == ["a"]


def test_candidates_leave_out_the_comments_own_replies(thread):
    # b1 and b1y answer b and come right after it, but cannot be its parent.
    assert texts(parent_candidates(thread["b"])) == ["a2", "a1x", "a1", "a"]


def test_candidates_of_a_top_level_comment_are_the_comments_above_it(thread):
    assert texts(parent_candidates(thread["c"])) == ["b1y", "b1", "b", "a2", "a1x"]
    assert parent_candidates(thread["a"]) == []


def test_candidates_stay_in_the_comments_article(thread, project):
    other = ArticleFactory(project=project)
    make_thread(other, 30)
    assert texts(parent_candidates(thread["a2"])) == ["a1x", "a1"]


def test_candidates_respect_the_limit(thread):
    assert texts(parent_candidates(thread["b1y"], limit=2)) == ["b", "a2"]
    assert parent_candidates(thread["b1y"], limit=0) == []


def test_candidates_cost_two_queries_in_a_2000_comment_thread(project, django_assert_num_queries):
    article = ArticleFactory(project=project)
    comments = sorted(make_thread(article, 2000), key=lambda c: c.path)
    deep = [c for c in comments if c.depth >= 2][-1]
    with django_assert_num_queries(2):
        candidates = parent_candidates(deep)
    # The same answer worked out by hand from the whole thread.
    grandparent = deep.parent.parent
    above = [
        c for c in reversed(comments) if c.path < deep.path and c not in (deep.parent, grandparent)
    ]
    assert [c.pk for c in candidates] == [grandparent.pk] + [c.pk for c in above[:4]]


# --- Reporting --------------------------------------------------------------------------------


def test_it_records_a_report_with_a_suggested_comment(thread, project, annotator):
    report = report_wrong_parent(thread["a2"], annotator, thread["a1"], "  answers a1 ")
    report.refresh_from_db()
    assert report.project == project
    assert (report.comment, report.reported_by) == (thread["a2"], annotator)
    assert (report.suggested_parent, report.suggests_article) == (thread["a1"], False)
    assert (report.note, report.status) == ("answers a1", ParentReport.Status.OPEN)


def test_it_records_the_article_or_unknown_as_the_suggestion(thread, annotator):
    to_article = report_wrong_parent(thread["a2"], annotator, "article", "")
    unknown = report_wrong_parent(thread["b1"], annotator, None, "")
    assert (to_article.suggested_parent, to_article.suggests_article) == (None, True)
    assert (unknown.suggested_parent, unknown.suggests_article) == (None, False)


def test_reporting_again_replaces_my_open_report(thread, annotator):
    first = report_wrong_parent(thread["a2"], annotator, thread["a1"], "a1?")
    again = report_wrong_parent(thread["a2"], annotator, "article", "no, the article")
    assert again.pk == first.pk
    report = ParentReport.objects.get()
    assert (report.suggested_parent, report.suggests_article) == (None, True)
    assert report.note == "no, the article"


def test_other_people_report_the_same_comment_separately(thread, annotator):
    colleague = UserFactory(username="colleague")
    report_wrong_parent(thread["a2"], annotator, thread["a1"], "")
    report_wrong_parent(thread["a2"], colleague, None, "")
    assert ParentReport.objects.filter(comment=thread["a2"]).count() == 2


def test_a_closed_report_does_not_absorb_a_new_one(thread, annotator, project_admin):
    first = report_wrong_parent(thread["a2"], annotator, None, "")
    dismiss_report(first, project_admin)
    second = report_wrong_parent(thread["a2"], annotator, thread["a1"], "")
    assert second.pk != first.pk
    first.refresh_from_db()
    assert first.status == ParentReport.Status.DISMISSED


@pytest.mark.parametrize(
    ("comment", "suggestion", "reason"),
    [
        ("b", "b1", "its own replies"),
        ("b", "b", "its own replies"),
        ("a2", "a", "already answers"),
        ("a", "article", "already answers the article"),
        ("a2", "everything", "Unknown suggestion"),
    ],
)
def test_it_refuses_suggestions_that_cannot_be_the_parent(
    thread, annotator, comment, suggestion, reason
):
    suggestion = thread.get(suggestion, suggestion)
    with pytest.raises(ParentReportError, match=reason):
        report_wrong_parent(thread[comment], annotator, suggestion, "")
    assert not ParentReport.objects.exists()


def test_it_refuses_a_suggestion_from_another_article(thread, project, annotator):
    foreign = make_comment(ArticleFactory(project=project))
    with pytest.raises(ParentReportError, match="same article"):
        report_wrong_parent(thread["a2"], annotator, foreign, "")
    assert not ParentReport.objects.exists()


def test_it_refuses_an_overlong_note(thread, annotator):
    with pytest.raises(ParentReportError, match="longer than 500"):
        report_wrong_parent(thread["a2"], annotator, None, "x" * 501)
    assert not ParentReport.objects.exists()


# --- Resolving --------------------------------------------------------------------------------


def test_resolving_moves_the_subtree_and_closes_every_open_report_on_it(
    thread, annotator, project_admin
):
    colleague = UserFactory(username="colleague")
    report = report_wrong_parent(thread["a1"], annotator, thread["b"], "")
    second = report_wrong_parent(thread["a1"], colleague, None, "")
    elsewhere = report_wrong_parent(thread["c"], annotator, None, "")

    resolution = resolve_report(report, project_admin, thread["b"])

    assert (resolution.moved, resolution.closed) == (True, 2)
    a1 = Comment.objects.get(pk=thread["a1"].pk)
    a1x = Comment.objects.get(pk=thread["a1x"].pk)
    assert (a1.parent_id, a1.depth) == (thread["b"].pk, 1)
    assert (a1x.parent_id, a1x.depth) == (a1.pk, 2)
    assert a1x.path.startswith(a1.path)
    article = thread["a"].article_id
    assert texts(Comment.objects.thread(article)) == ["a", "a2", "b", "b1", "b1y", "a1", "a1x", "c"]
    for closed in (report, second):
        closed.refresh_from_db()
        assert closed.status == ParentReport.Status.FIXED
        assert closed.resolved_by == project_admin
        assert closed.resolved_at is not None
    elsewhere.refresh_from_db()
    assert elsewhere.status == ParentReport.Status.OPEN


def test_resolving_to_none_makes_the_comment_answer_the_article(thread, annotator, project_admin):
    report = report_wrong_parent(thread["a1"], annotator, "article", "")
    resolve_report(report, project_admin, None)
    a1 = Comment.objects.get(pk=thread["a1"].pk)
    assert (a1.parent_id, a1.depth) == (None, 0)
    assert Comment.objects.get(pk=thread["a1x"].pk).depth == 1


def test_keep_closes_the_reports_without_moving_anything(thread, annotator, project_admin):
    report = report_wrong_parent(thread["a1"], annotator, None, "")
    before = thread_paths(thread["a"].article_id)
    resolution = resolve_report(report, project_admin, "keep")
    assert (resolution.moved, resolution.closed) == (False, 1)
    assert thread_paths(thread["a"].article_id) == before
    report.refresh_from_db()
    assert report.status == ParentReport.Status.FIXED


def test_resolving_to_the_current_parent_moves_nothing(thread, annotator, project_admin):
    report = report_wrong_parent(thread["a1"], annotator, None, "")
    before = thread_paths(thread["a"].article_id)
    resolution = resolve_report(report, project_admin, thread["a"])
    assert not resolution.moved
    assert thread_paths(thread["a"].article_id) == before


def test_resolving_into_the_comments_own_reply_is_refused_and_changes_nothing(
    thread, annotator, project_admin
):
    report = report_wrong_parent(thread["a"], annotator, None, "")
    before = thread_paths(thread["a"].article_id)
    with pytest.raises(ParentReportError, match="its own replies"):
        resolve_report(report, project_admin, thread["a1x"])
    assert thread_paths(thread["a"].article_id) == before
    report.refresh_from_db()
    assert (report.status, report.resolved_by) == (ParentReport.Status.OPEN, None)


def test_resolving_under_a_comment_of_another_article_is_refused(
    thread, project, annotator, project_admin
):
    foreign = make_comment(ArticleFactory(project=project))
    report = report_wrong_parent(thread["a1"], annotator, None, "")
    before = thread_paths(thread["a"].article_id)
    with pytest.raises(ParentReportError, match="same article"):
        resolve_report(report, project_admin, foreign)
    assert thread_paths(thread["a"].article_id) == before
    report.refresh_from_db()
    assert report.status == ParentReport.Status.OPEN


def test_a_closed_report_cannot_be_resolved_again(thread, annotator, project_admin):
    report = report_wrong_parent(thread["a1"], annotator, None, "")
    dismiss_report(report, project_admin)
    with pytest.raises(ParentReportError, match="already closed"):
        resolve_report(report, project_admin, None)
    assert Comment.objects.get(pk=thread["a1"].pk).parent_id == thread["a"].pk


# --- Dismissing -------------------------------------------------------------------------------


def test_dismissing_closes_only_that_report_and_leaves_the_tree(thread, annotator, project_admin):
    colleague = UserFactory(username="colleague")
    report = report_wrong_parent(thread["a1"], annotator, None, "")
    other = report_wrong_parent(thread["a1"], colleague, "article", "")
    before = thread_paths(thread["a"].article_id)
    dismiss_report(report, project_admin)
    assert (report.status, report.resolved_by) == (ParentReport.Status.DISMISSED, project_admin)
    assert report.resolved_at is not None
    other.refresh_from_db()
    assert other.status == ParentReport.Status.OPEN
    assert thread_paths(thread["a"].article_id) == before


def test_dismissing_twice_is_refused(thread, annotator, project_admin):
    report = report_wrong_parent(thread["a1"], annotator, None, "")
    dismiss_report(report, project_admin)
    with pytest.raises(ParentReportError, match="already closed"):
        dismiss_report(report, project_admin)
