"""The wrong-parent report form in the workspace and the admins' report list and fixes."""

import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.corpus.models import Comment
from annotator.labelling.models import ParentReport
from annotator.labelling.reports import report_wrong_parent
from tests.factories import (
    COMPLETE_REPLY,
    ArticleFactory,
    UserFactory,
    make_comment,
    make_label,
    make_thread,
)

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def thread(project):
    """Tree order: a, a1 (answers a), a1x (answers a1), a2 (answers a), b, b1, b1y, c."""
    article = ArticleFactory(project=project, title="Ceasefire")
    a = make_comment(article, author="A", text="a")
    a1 = make_comment(article, a, author="Ann", text="a1")
    a1x = make_comment(article, a1, text="a1x")
    a2 = make_comment(article, a, text="a2")
    b = make_comment(article, author="B", text="b")
    b1 = make_comment(article, b, text="b1")
    b1y = make_comment(article, b1, text="b1y")
    c = make_comment(article, text="c")
    return {n.text: n for n in (a, a1, a1x, a2, b, b1, b1y, c)}


def form_url(comment) -> str:
    return reverse("labelling:report_form", args=[comment.article.project.slug, comment.pk])


def workspace_url(comment) -> str:
    return reverse("labelling:workspace", args=[comment.article.project.slug, comment.pk])


def list_url(project) -> str:
    return reverse("labelling:report_list", args=[project.slug])


def resolve_url(report) -> str:
    return reverse("labelling:report_resolve", args=[report.project.slug, report.pk])


def messages_after(client, project) -> list[str]:
    """The flash messages shown on the next page the person opens."""
    return [str(m) for m in client.get(project.get_absolute_url()).context["messages"]]


class RadioParser(HTMLParser):
    """The report form's radio buttons as (data-key, value, checked), in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.radios: list[tuple[str, str, bool]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "radio" and attrs.get("name") == "suggestion":
            self.radios.append((attrs["data-key"], attrs["value"], "checked" in attrs))


def radios_of(html: str) -> list[tuple[str, str, bool]]:
    parser = RadioParser()
    parser.feed(html)
    return parser.radios


# --- Who may report ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("outsider", 404),
        ("reviewer", 403),
        ("researcher", 403),
        ("annotator", 200),
        ("project_admin", 200),
    ],
)
def test_the_report_form_is_for_people_who_label(client, request, thread, who, status):
    client.force_login(request.getfixturevalue(who))
    assert client.get(form_url(thread["a2"]), headers=HTMX).status_code == status
    response = client.post(form_url(thread["a2"]), {"suggestion": "unknown"}, headers=HTMX)
    assert response.status_code == status
    assert ParentReport.objects.count() == (1 if status == 200 else 0)


def test_the_report_form_sends_anonymous_people_to_log_in(client, thread):
    response = client.get(form_url(thread["a2"]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_comment_of_another_project_cannot_be_reported(client, annotator, other_project):
    foreign = make_comment(ArticleFactory(project=other_project))
    client.force_login(annotator)
    url = reverse("labelling:report_form", args=["aleppo", foreign.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"suggestion": "unknown"}).status_code == 404
    assert not ParentReport.objects.exists()


def test_reporting_needs_a_csrf_token(annotator, thread):
    client = Client(enforce_csrf_checks=True)
    client.force_login(annotator)
    response = client.post(form_url(thread["a2"]), {"suggestion": "unknown"})
    assert response.status_code == 403
    assert not ParentReport.objects.exists()


# --- The form ---------------------------------------------------------------------------------


def test_htmx_gets_the_form_as_a_partial_with_a_key_per_answer(client, annotator, thread):
    client.force_login(annotator)
    response = client.get(form_url(thread["b1y"]), headers=HTMX)
    html = response.content.decode()
    assert "<html" not in html
    url = form_url(thread["b1y"])
    assert re.search(
        rf'<form class="report-form" method="post" action="{url}" hx-post="{url}" '
        r'hx-target="this" hx-swap="outerHTML">',
        html,
    )
    assert "<legend>This comment answers…</legend>" in html
    ids = [str(thread[t].pk) for t in ("b", "a2", "a1x", "a1", "a")]
    assert radios_of(html) == [
        ("0", "article", False),
        ("1", ids[0], True),  # the grandparent, likeliest, is pre-checked
        ("2", ids[1], False),
        ("3", ids[2], False),
        ("4", ids[3], False),
        ("5", ids[4], False),
        ("9", "unknown", False),
    ]
    assert "the article itself" in html
    assert f"#{thread['b'].pk} B: b</label>" in html
    assert f"#{thread['a1x'].pk} anonymous: a1x</label>" in html
    assert "don&#x27;t know, just not this one" in html
    assert 'name="note"' in html
    assert 'type="submit"' in html
    assert f'href="{workspace_url(thread["b1y"])}" data-dismiss=".report-form"' in html


def test_the_article_is_checked_when_there_is_no_other_candidate(client, annotator, thread):
    client.force_login(annotator)
    html = client.get(form_url(thread["a1"]), headers=HTMX).content.decode()
    assert radios_of(html) == [("0", "article", True), ("9", "unknown", False)]


def test_a_top_level_comment_is_not_offered_the_article_it_already_answers(
    client, annotator, thread
):
    client.force_login(annotator)
    html = client.get(form_url(thread["b"]), headers=HTMX).content.decode()
    assert [key for key, _, _ in radios_of(html)] == ["1", "2", "3", "4", "9"]
    html = client.get(form_url(thread["a"]), headers=HTMX).content.decode()
    assert radios_of(html) == [("9", "unknown", True)]


def test_without_htmx_the_form_is_a_page_of_its_own(client, annotator, thread):
    client.force_login(annotator)
    response = client.get(form_url(thread["a2"]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html
    assert html.count('class="report-form"') == 1
    assert "hx-post" not in html  # a plain form: it redirects back to the workspace
    assert [key for key, _, _ in radios_of(html)] == ["0", "1", "2", "9"]


def test_the_form_reads_a_constant_number_of_queries_in_a_2000_comment_thread(
    client, django_assert_num_queries, annotator, project
):
    comments = make_thread(ArticleFactory(project=project), 2000)
    deep = max(comments, key=lambda c: (c.depth, c.path))
    client.force_login(annotator)
    # session, user, project, membership, comment with article and parent, grandparent, nearest
    with django_assert_num_queries(7):
        response = client.get(form_url(deep), headers=HTMX)
    assert len(radios_of(response.content.decode())) == 7


def test_the_form_escapes_hostile_comment_text(client, annotator, project):
    article = ArticleFactory(project=project)
    hostile = make_comment(article, author="<b>x</b>", text="<script>alert(1)</script>")
    reply = make_comment(article, hostile, text="reply")
    later = make_comment(article, reply, text="<img src=x onerror=alert(1)>")
    client.force_login(annotator)
    for url in (form_url(later), form_url(reply)):
        html = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "<img src=x" not in html and "<b>x</b>" not in html
    html = client.get(form_url(later), headers=HTMX).content.decode()
    assert "&lt;b&gt;x&lt;/b&gt;: &lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- Reporting --------------------------------------------------------------------------------


def test_htmx_reporting_answers_with_a_confirmation(client, annotator, thread):
    client.force_login(annotator)
    response = client.post(
        form_url(thread["a2"]),
        {"suggestion": str(thread["a1"].pk), "note": "quotes a1"},
        headers=HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode().strip()
    assert html.startswith('<p class="report-done" role="status">Reported')
    assert "admins will fix the tree.</p>" in html
    assert "parent-reported" in response["HX-Trigger"]
    report = ParentReport.objects.get()
    assert (report.comment, report.reported_by) == (thread["a2"], annotator)
    assert (report.suggested_parent, report.note) == (thread["a1"], "quotes a1")


def test_a_plain_post_reports_and_goes_back_to_the_workspace(client, annotator, thread, project):
    client.force_login(annotator)
    response = client.post(form_url(thread["a2"]), {"suggestion": "article", "note": ""})
    assert response.status_code == 302
    assert response["Location"] == workspace_url(thread["a2"])
    report = ParentReport.objects.get()
    assert (report.suggested_parent, report.suggests_article) == (None, True)
    assert messages_after(client, project) == [
        f"Reported #{thread['a2'].pk} as attached to the wrong parent; admins will fix the tree."
    ]


def test_reporting_twice_replaces_the_first_answer(client, annotator, thread):
    client.force_login(annotator)
    client.post(form_url(thread["a2"]), {"suggestion": "article"}, headers=HTMX)
    client.post(form_url(thread["a2"]), {"suggestion": "unknown", "note": "?"}, headers=HTMX)
    report = ParentReport.objects.get()
    assert (report.suggests_article, report.suggested_parent, report.note) == (False, None, "?")


@pytest.mark.parametrize("suggestion", ["b1", "b", "elsewhere", "nonsense", "", None])
def test_an_answer_that_was_not_offered_writes_nothing(
    client, annotator, thread, project, suggestion
):
    """b1 is b's own reply, b is itself, elsewhere a comment of another article."""
    thread["elsewhere"] = make_comment(ArticleFactory(project=project))
    if suggestion in thread:
        suggestion = str(thread[suggestion].pk)
    data = {"note": "x"} if suggestion is None else {"suggestion": suggestion, "note": "x"}
    client.force_login(annotator)
    response = client.post(form_url(thread["b"]), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="errorlist" role="alert"' in html
    assert html.count('class="report-form"') == 1
    # htmx swaps only 2xx answers, so the form comes back with its error as a 200 partial.
    response = client.post(form_url(thread["b"]), data, headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert 'class="errorlist" role="alert"' in response.content.decode()
    assert not ParentReport.objects.exists()


def test_an_overlong_note_writes_nothing_and_keeps_the_answer(client, annotator, thread):
    client.force_login(annotator)
    response = client.post(form_url(thread["a2"]), {"suggestion": "unknown", "note": "x" * 501})
    assert response.status_code == 400
    html = response.content.decode()
    assert "at most 500 characters" in html
    assert [value for _, value, checked in radios_of(html) if checked] == ["unknown"]
    assert not ParentReport.objects.exists()


# --- The admins' list -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("outsider", 404),
        ("annotator", 403),
        ("reviewer", 403),
        ("researcher", 403),
        ("project_admin", 200),
    ],
)
def test_only_project_admins_see_the_reports(client, request, project, who, status):
    client.force_login(request.getfixturevalue(who))
    assert client.get(list_url(project)).status_code == status


def test_the_project_page_links_admins_to_the_reports(client, project_admin, annotator, project):
    client.force_login(project_admin)
    assert list_url(project) in client.get(project.get_absolute_url()).content.decode()
    client.force_login(annotator)
    assert list_url(project) not in client.get(project.get_absolute_url()).content.decode()


def test_the_list_shows_each_report_with_its_comment_parent_and_suggestion(
    client, project_admin, annotator, thread, project
):
    colleague = UserFactory(username="colleague")
    report_wrong_parent(thread["a1x"], annotator, thread["a2"], "it quotes a2")
    report_wrong_parent(thread["c"], annotator, None, "")
    report_wrong_parent(thread["a1x"], colleague, "article", "")
    client.force_login(project_admin)
    html = client.get(list_url(project)).content.decode()

    thread_page = reverse("corpus:article_thread", args=[project.slug, thread["a"].article_id])
    groups = re.findall(r'<section class="card report-group".*?</section>', html, re.S)
    assert len(groups) == 2  # the two reports on a1x share one block, in thread order
    on_a1x, on_c = groups
    assert f'href="{thread_page}#comment-{thread["a1x"].pk}"' in on_a1x
    assert f'#comment-{thread["a1"].pk}">#{thread["a1"].pk}</a> Ann: a1' in on_a1x
    assert f'#comment-{thread["a2"].pk}">#{thread["a2"].pk}</a> anonymous: a2' in on_a1x
    assert "the article" in on_a1x and "“it quotes a2”" in on_a1x
    assert "ann_annotator" in on_a1x and "colleague" in on_a1x
    assert on_a1x.count("Move under the suggestion") == 2
    assert on_a1x.count('value="dismiss"') == 2
    assert on_a1x.count('name="parent"') == 1
    assert "Now answers:\n    the article" in on_c
    assert "unknown" in on_c
    assert "Move under the suggestion" not in on_c


def test_the_list_shows_recently_closed_reports_after_the_open_ones(
    client, project_admin, annotator, thread, project
):
    from annotator.labelling.reports import dismiss_report

    dismiss_report(report_wrong_parent(thread["c"], annotator, None, ""), project_admin)
    report_wrong_parent(thread["a2"], annotator, None, "")
    client.force_login(project_admin)
    response = client.get(list_url(project))
    assert [r.comment for r in response.context["open_reports"]] == [thread["a2"]]
    assert [r.comment for r in response.context["resolved"]] == [thread["c"]]
    assert "Dismissed" in response.content.decode()


def test_the_list_reads_a_constant_number_of_queries(
    client, django_assert_num_queries, project_admin, annotator, project
):
    client.force_login(project_admin)
    article = ArticleFactory(project=project)
    comments = make_thread(article, 40)

    def report_on(comment):
        suggestion = comment.parent.parent if comment.depth >= 2 else None
        return report_wrong_parent(comment, annotator, suggestion, "note")

    report_on(comments[30])
    with CaptureQueriesContext(connection) as one:
        client.get(list_url(project))
    for comment in comments[31:40]:
        report = report_on(comment)
    report.status = ParentReport.Status.FIXED
    report.resolved_by = project_admin
    report.save()
    # session, user, project, membership, open reports, recently closed
    with django_assert_num_queries(6):
        response = client.get(list_url(project))
    assert len(one) == 6
    assert len(response.context["open_reports"]) + len(response.context["resolved"]) == 10


def test_the_list_escapes_hostile_comment_text(client, project_admin, annotator, project):
    article = ArticleFactory(project=project)
    hostile = make_comment(article, author="<b>x</b>", text="<script>alert(1)</script>")
    reply = make_comment(article, hostile, text="<img src=x onerror=alert(1)>")
    report_wrong_parent(reply, annotator, "article", "<script>alert(2)</script>")
    client.force_login(project_admin)
    html = client.get(list_url(project)).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>x</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html


# --- Fixing -----------------------------------------------------------------------------------


@pytest.fixture
def report(thread, annotator):
    """ann_annotator says a1 (now under a) answers b."""
    return report_wrong_parent(thread["a1"], annotator, thread["b"], "")


@pytest.mark.parametrize(("who", "status"), [("outsider", 404), ("annotator", 403)])
def test_only_project_admins_fix_reports(client, request, report, who, status):
    client.force_login(request.getfixturevalue(who))
    for action in ("suggestion", "dismiss"):
        assert client.post(resolve_url(report), {"action": action}).status_code == status
    report.refresh_from_db()
    assert report.status == ParentReport.Status.OPEN


def test_fixing_needs_a_post_and_a_csrf_token(client, project_admin, report):
    client.force_login(project_admin)
    assert client.get(resolve_url(report)).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(project_admin)
    assert strict.post(resolve_url(report), {"action": "dismiss"}).status_code == 403
    report.refresh_from_db()
    assert report.status == ParentReport.Status.OPEN


def test_a_report_of_another_project_is_not_found(client, project_admin, other_project):
    foreign = make_comment(ArticleFactory(project=other_project))
    stranger = UserFactory(username="stranger")
    report = report_wrong_parent(foreign, stranger, None, "")
    client.force_login(project_admin)
    url = reverse("labelling:report_resolve", args=["aleppo", report.pk])
    assert client.post(url, {"action": "dismiss"}).status_code == 404
    report.refresh_from_db()
    assert report.status == ParentReport.Status.OPEN


def test_moving_under_the_suggestion_fixes_the_tree_in_one_step(
    client, project_admin, report, thread, project
):
    other = report_wrong_parent(thread["a1"], UserFactory(username="colleague"), None, "")
    client.force_login(project_admin)
    response = client.post(resolve_url(report), {"action": "suggestion"})
    assert response["Location"] == list_url(project)
    a1 = Comment.objects.get(pk=thread["a1"].pk)
    assert (a1.parent_id, a1.depth) == (thread["b"].pk, 1)
    assert Comment.objects.get(pk=thread["a1x"].pk).depth == 2
    assert set(ParentReport.objects.values_list("status", flat=True)) == {"fixed"}
    other.refresh_from_db()
    assert other.resolved_by == project_admin
    assert messages_after(client, project) == [
        f"Moved #{a1.pk} Ann (“a1”) under #{thread['b'].pk} B (“b”); closed 2 reports."
    ]


def test_moving_under_a_comment_id_or_the_article(client, project_admin, thread, annotator):
    client.force_login(project_admin)
    first = report_wrong_parent(thread["a1"], annotator, None, "")
    client.post(resolve_url(first), {"action": "move", "parent": str(thread["c"].pk)})
    assert Comment.objects.get(pk=thread["a1"].pk).parent_id == thread["c"].pk
    second = report_wrong_parent(thread["b1"], annotator, None, "")
    client.post(resolve_url(second), {"action": "move", "parent": "0"}, follow=True)
    b1 = Comment.objects.get(pk=thread["b1"].pk)
    assert (b1.parent_id, b1.depth) == (None, 0)
    assert Comment.objects.get(pk=thread["b1y"].pk).depth == 1
    assert ParentReport.objects.filter(status="fixed").count() == 2


@pytest.mark.parametrize(
    ("parent", "message"),
    [
        ("a1x", "Nothing was changed: A comment cannot answer itself or one of its own replies."),
        ("elsewhere", "Nothing was changed: There is no comment #{elsewhere} in this article."),
        ("-3", "Nothing was changed: Enter the id of the comment it answers (0 for the article)."),
        ("x", "Nothing was changed: Enter the id of the comment it answers (0 for the article)."),
    ],
)
def test_a_refused_move_changes_nothing_and_says_why(
    client, project_admin, annotator, thread, project, parent, message
):
    thread["elsewhere"] = make_comment(ArticleFactory(project=project))
    report = report_wrong_parent(thread["a"], annotator, None, "")
    paths = list(Comment.objects.order_by("pk").values_list("parent_id", "path"))
    client.force_login(project_admin)
    value = str(thread[parent].pk) if parent in thread else parent
    response = client.post(resolve_url(report), {"action": "move", "parent": value})
    assert response["Location"] == list_url(project)
    assert list(Comment.objects.order_by("pk").values_list("parent_id", "path")) == paths
    report.refresh_from_db()
    assert report.status == ParentReport.Status.OPEN
    assert messages_after(client, project) == [message.format(elsewhere=thread["elsewhere"].pk)]


def test_a_report_without_a_suggestion_asks_for_an_id(client, project_admin, annotator, thread):
    report = report_wrong_parent(thread["a1"], annotator, None, "")
    client.force_login(project_admin)
    response = client.post(resolve_url(report), {"action": "suggestion"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Nothing was changed: This report suggests no parent: give a comment id."
    ]
    report.refresh_from_db()
    assert report.status == ParentReport.Status.OPEN


def test_dismissing_leaves_the_tree_alone(client, project_admin, report, thread, project):
    client.force_login(project_admin)
    response = client.post(resolve_url(report), {"action": "dismiss"})
    assert response["Location"] == list_url(project)
    report.refresh_from_db()
    assert (report.status, report.resolved_by) == ("dismissed", project_admin)
    assert Comment.objects.get(pk=thread["a1"].pk).parent_id == thread["a"].pk
    assert messages_after(client, project) == [
        f"Dismissed the report by ann_annotator on #{thread['a1'].pk}; nothing moved."
    ]


def test_a_closed_report_is_not_fixed_twice(client, project_admin, report, thread, project):
    client.force_login(project_admin)
    client.post(resolve_url(report), {"action": "dismiss"})
    messages_after(client, project)
    client.post(resolve_url(report), {"action": "suggestion"})
    assert messages_after(client, project) == [
        "Nothing was changed: This report was already closed."
    ]
    assert Comment.objects.get(pk=thread["a1"].pk).parent_id == thread["a"].pk


def test_an_unknown_action_changes_nothing(client, project_admin, report, project):
    client.force_login(project_admin)
    client.post(resolve_url(report), {"action": "delete"})
    assert messages_after(client, project) == ["Nothing was changed: unknown action."]
    report.refresh_from_db()
    assert report.status == ParentReport.Status.OPEN


# --- Pages stay within the content security policy --------------------------------------------


def test_report_pages_carry_no_inline_script_or_style_or_handlers(
    client, project_admin, report, thread, project
):
    client.force_login(project_admin)
    for url in (form_url(thread["a2"]), list_url(project)):
        html = client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
        assert " style=" not in html and "<style" not in html, url
        assert not re.search(r"\son[a-z]+=", html), url


# --- Resolving a report on a labelled comment: the confirmation -------------------------------


@pytest.fixture
def labelled_a1(thread, annotator):
    """a1 (a reply to a) submitted with a stance toward a."""
    return make_label(thread["a1"], annotator, COMPLETE_REPLY)


def test_moving_a_labelled_comment_asks_first_and_changes_nothing(
    client, project_admin, report, thread, labelled_a1
):
    client.force_login(project_admin)
    response = client.post(resolve_url(report), {"action": "suggestion"})
    assert response.status_code == 200
    html = response.content.decode()
    a1, b = thread["a1"], thread["b"]
    assert f"Moving #{a1.pk} under #{b.pk} marks 1 answer by 1 annotator as stale" in html
    assert 'name="confirm" value="1"' in html
    assert 'name="action" value="suggestion"' in html
    assert f'href="{list_url(report.project)}"' in html  # Cancel
    assert Comment.objects.get(pk=a1.pk).parent_id == thread["a"].pk
    report.refresh_from_db()
    assert report.status == ParentReport.Status.OPEN
    labelled_a1.refresh_from_db()
    assert labelled_a1.answers == COMPLETE_REPLY


def test_the_confirmed_resolution_moves_and_sets_the_answers_aside(
    client, project_admin, report, thread, labelled_a1, project
):
    client.force_login(project_admin)
    response = client.post(resolve_url(report), {"action": "suggestion", "confirm": "1"})
    assert response["Location"] == list_url(project)
    assert Comment.objects.get(pk=thread["a1"].pk).parent_id == thread["b"].pk
    labelled_a1.refresh_from_db()
    assert labelled_a1.stale_answers["stance_parent"]["parent_id"] == thread["a"].pk
    assert labelled_a1.events.latest("id").actor == project_admin
    report.refresh_from_db()
    assert report.status == ParentReport.Status.FIXED


def test_a_move_by_id_keeps_its_parent_through_the_confirmation(
    client, project_admin, report, thread, labelled_a1
):
    client.force_login(project_admin)
    data = {"action": "move", "parent": str(thread["c"].pk)}
    html = client.post(resolve_url(report), data, headers=HTMX).content.decode()
    assert "<html" not in html
    assert f'name="parent" value="{thread["c"].pk}"' in html
    client.post(resolve_url(report), {**data, "confirm": "1"})
    assert Comment.objects.get(pk=thread["a1"].pk).parent_id == thread["c"].pk


def test_a_resolution_that_sets_nothing_aside_needs_no_confirmation(
    client, project_admin, report, thread
):
    client.force_login(project_admin)
    response = client.post(resolve_url(report), {"action": "suggestion"})
    assert response.status_code == 302
    assert Comment.objects.get(pk=thread["a1"].pk).parent_id == thread["b"].pk


@pytest.mark.parametrize(("who", "status"), [("outsider", 404), ("annotator", 403)])
def test_only_project_admins_see_or_confirm_the_move(
    client, request, report, thread, labelled_a1, who, status
):
    client.force_login(request.getfixturevalue(who))
    for data in ({"action": "suggestion"}, {"action": "suggestion", "confirm": "1"}):
        assert client.post(resolve_url(report), data).status_code == status
    assert Comment.objects.get(pk=thread["a1"].pk).parent_id == thread["a"].pk
