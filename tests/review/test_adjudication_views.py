"""The reviewer's pages: who may open them, what they show, saving gold, conflicts, queries."""

import re

import pytest
from django.db import connection
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotator.corpus.models import Role
from annotator.labelling.models import Annotation
from annotator.labelling.schemes import current_scheme_for
from annotator.review.adjudication_views import gold_history
from annotator.review.models import GoldEvent, GoldLabel
from annotator.review.queue import review_state
from tests.factories import (
    ArticleFactory,
    MembershipFactory,
    UserFactory,
    label_in_bulk,
    make_comment,
    make_label,
    make_thread,
)
from tests.review.adjudication_data import REPLY, TOP, TOP_DENY, annotators

HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


def url(name, project, *args):
    return reverse(f"review:{name}", args=[project.slug, *args])


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def people(project):
    return annotators(project, 3)


@pytest.fixture
def disagreements(project, people):
    """Three comments in disagreement (worst first: worst, middle, mild) and one unanimous."""
    article = ArticleFactory(project=project, title="Ceasefire in Aleppo")
    mild = make_comment(article, author="alice", text="Mild disagreement")
    worst = make_comment(article, author="bob", text="Worst disagreement")
    middle = make_comment(article, author="carol", text="Middle disagreement")
    unanimous = make_comment(article, author="dan", text="Everyone agrees")
    make_label(mild, people[0], TOP)
    make_label(mild, people[1], TOP_DENY)
    make_label(worst, people[0], TOP)
    make_label(worst, people[1], {**TOP_DENY, "speculation": "uncertain", "claim_type": "policy"})
    make_label(middle, people[0], TOP)
    make_label(middle, people[1], {**TOP_DENY, "speculation": "uncertain"})
    make_label(unanimous, people[0], TOP)
    make_label(unanimous, people[1], TOP)
    return worst, middle, mild, unanimous


def post_gold(client, project, comment, answers, revision=0, **extra):
    data = {**answers, "revision": revision, **extra.pop("data", {})}
    return client.post(url("save", project, comment.pk), data, **extra)


# -- who may open what -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.ADMIN, 200), (Role.REVIEWER, 200), (Role.ANNOTATOR, 403), (Role.RESEARCHER, 403)],
)
def test_only_reviewers_and_admins_review(project, disagreements, role, status):
    worst, _, _, unanimous = disagreements
    user = UserFactory(username=f"someone-{role}")
    MembershipFactory(project=project, user=user, role=role)
    client = logged_in(user)
    assert client.get(url("queue", project)).status_code == status
    assert client.get(url("adjudicate", project, worst.pk)).status_code == status
    assert client.get(url("next", project)).status_code == (302 if status == 200 else status)
    saved = post_gold(client, project, worst, TOP)
    assert saved.status_code == (302 if status == 200 else status)
    accepted = client.post(url("accept_unanimous", project))
    assert accepted.status_code == (302 if status == 200 else status)
    assert GoldLabel.objects.filter(comment=worst).exists() == (status == 200)
    assert GoldLabel.objects.filter(comment=unanimous).exists() == (status == 200)


def test_outsiders_get_404_and_anonymous_people_are_sent_to_log_in(
    project, disagreements, outsider
):
    worst, *_ = disagreements
    client = logged_in(outsider)
    assert client.get(url("queue", project)).status_code == 404
    assert client.get(url("adjudicate", project, worst.pk)).status_code == 404
    assert client.get(url("next", project)).status_code == 404
    assert post_gold(client, project, worst, TOP).status_code == 404
    assert client.post(url("accept_unanimous", project)).status_code == 404
    anonymous = Client().get(url("queue", project))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert not GoldLabel.objects.exists()


def test_a_comment_of_another_project_is_not_found(project, other_project, reviewer):
    foreign = make_comment(ArticleFactory(project=other_project))
    client = logged_in(reviewer)
    assert client.get(url("adjudicate", project, foreign.pk)).status_code == 404
    assert post_gold(client, project, foreign, TOP).status_code == 404
    assert not GoldLabel.objects.exists()


def test_writes_need_post_and_the_csrf_token(project, disagreements, reviewer):
    worst, *_ = disagreements
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)
    assert post_gold(client, project, worst, TOP).status_code == 403
    assert client.post(url("accept_unanimous", project)).status_code == 403
    assert client.get(url("save", project, worst.pk)).status_code == 405
    assert client.get(url("accept_unanimous", project)).status_code == 405
    assert not GoldLabel.objects.exists()


# -- the queue page --------------------------------------------------------------------------


def test_the_queue_page_lists_disagreements_worst_first_with_counts(
    project, disagreements, reviewer
):
    worst, middle, mild, unanimous = disagreements
    other = make_comment(worst.article, text="settled already")
    GoldLabel.objects.create(project=project, comment=other, scheme=project.schemes.first())
    html = logged_in(reviewer).get(url("queue", project)).content.decode()
    positions = [html.index(url("adjudicate", project, c.pk)) for c in (worst, middle, mild)]
    assert positions == sorted(positions)
    assert url("adjudicate", project, unanimous.pk) not in html
    assert 'id="count-disagreeing">3<' in html
    assert 'id="count-unanimous">1<' in html
    assert 'id="count-gold">1<' in html
    assert "Accept 1 unanimous comment" in html
    assert "data-confirm=" in html
    assert "75%" in html  # worst: three of four questions in disagreement
    assert "Claim type, Speculation, Stance toward the article" in html


def test_the_queue_page_marks_a_flagged_comment_in_disagreement_and_counts_it(
    project, disagreements, people, reviewer
):
    worst, middle, *_ = disagreements
    Annotation.objects.filter(comment=middle, annotator=people[0]).update(
        flagged=True, note="Sarcasm? Please check."
    )
    html = logged_in(reviewer).get(url("queue", project)).content.decode()
    assert 'id="count-disagreeing">3<' in html
    assert 'id="count-needs-look">1<' in html
    row = re.search(rf'<tr[^>]*data-comment-id="{middle.pk}".*?</tr>', html, re.S).group(0)
    assert re.search(r'class="badge flagged"[^>]*>\s*flagged\s*·\s*1 note<', row)
    worst_row = re.search(rf'<tr[^>]*data-comment-id="{worst.pk}".*?</tr>', html, re.S).group(0)
    assert "badge flagged" not in worst_row


def test_a_flagged_comment_with_one_label_is_listed_and_can_be_settled(project, people, reviewer):
    project.annotators_per_comment = 1
    project.save(update_fields=["annotators_per_comment"])
    article = ArticleFactory(project=project)
    comment = make_comment(article, text="Is this sarcasm?")
    make_label(comment, people[0], TOP, flagged=True, note="Not sure of the stance")
    client = logged_in(reviewer)
    html = client.get(url("queue", project)).content.decode()
    assert 'id="count-needs-look">1<' in html
    assert f'data-comment-id="{comment.pk}"' in html
    page = client.get(url("adjudicate", project, comment.pk))
    assert page.status_code == 200
    assert "Not sure of the stance" in page.content.decode()
    assert post_gold(client, project, comment, TOP).status_code in (200, 302)
    assert GoldLabel.objects.get(comment=comment).answers == TOP


def test_the_queue_page_can_include_spot_checks(project, people, reviewer):
    comments = make_thread(ArticleFactory(project=project), 100)
    label_in_bulk(comments, people[:2], lambda i, c, a: REPLY if c.parent_id else TOP)
    client = logged_in(reviewer)
    assert "spot check: all" not in client.get(url("queue", project)).content.decode()
    html = client.get(url("queue", project) + "?spot=1").content.decode()
    assert "spot check: all annotators agree" in html
    assert "?spot=1" in html  # links keep the spot checks on


def test_the_queue_page_escapes_comment_text(project, people, reviewer):
    comment = make_comment(ArticleFactory(project=project), author=XSS, text=XSS)
    make_label(comment, people[0], TOP)
    make_label(comment, people[1], TOP_DENY)
    html = logged_in(reviewer).get(url("queue", project)).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_accepting_unanimous_comments_in_bulk(project, disagreements, reviewer):
    *_, unanimous = disagreements
    client = logged_in(reviewer)
    response = client.post(url("accept_unanimous", project), follow=True)
    assert response.redirect_chain[-1][0] == url("queue", project)
    assert "Accepted 1 unanimous comment as gold." in response.content.decode()
    gold = GoldLabel.objects.get()
    assert gold.comment == unanimous
    assert gold.method == GoldLabel.Method.ACCEPTED
    assert gold.decided_by == reviewer
    again = client.post(url("accept_unanimous", project), follow=True)
    assert "No unanimous comments were waiting." in again.content.decode()
    assert GoldLabel.objects.count() == 1


# -- the adjudication page -------------------------------------------------------------------


def test_the_page_shows_every_annotators_answers_notes_and_flags_escaped(project, reviewer):
    article = ArticleFactory(project=project, title=XSS, body=XSS)
    top = make_comment(article, author=XSS, text=f"parent says {XSS}")
    reply = make_comment(article, parent=top, author="bob", text=f"reply says {XSS}")
    first, second, third = annotators(project, 3, prefix="x")
    make_label(reply, first, REPLY, note=f"first note {XSS}")
    make_label(reply, second, {**REPLY, "stance_parent": "query"}, flagged=True)
    make_label(reply, third, {}, status="skipped", skip_reason=f"no idea {XSS}")
    html = logged_in(reviewer).get(url("adjudicate", project, reply.pk)).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "first note &lt;script&gt;" in html
    assert "no idea &lt;script&gt;" in html
    assert "parent says &lt;script&gt;" in html
    for person in (first, second, third):
        assert person.username in html
    assert "flagged for review" in html
    # Choice labels side by side; the question they split on is marked.
    assert html.count(">Deny</td>") == 1 and html.count(">Query</td>") == 1
    row = html[html.index('id="row-stance_parent"') :]
    row = row[: row.index("</tr>")]
    assert "is-disagreement" in html[html.index('id="row-stance_parent"') - 80 :][:120]
    assert 'data-key="1"' in row  # the scheme's keys on the gold choices
    assert "checked" not in row  # no agreement on it: nothing preselected


def test_the_agreed_answers_are_preselected(project, disagreements, reviewer):
    _, _, mild, _ = disagreements
    html = logged_in(reviewer).get(url("adjudicate", project, mild.pk)).content.decode()
    assert 'value="opinion" data-key="3" checked' in html
    assert 'value="certain" data-key="1" checked' in html
    stance = html[html.index('id="row-stance_article"') :]
    stance = stance[: stance.index("</tr>")]
    assert " checked" not in stance


def test_existing_gold_is_what_the_form_shows(project, disagreements, reviewer):
    _, _, mild, _ = disagreements
    client = logged_in(reviewer)
    post_gold(client, project, mild, TOP_DENY)
    html = client.get(url("adjudicate", project, mild.pk)).content.decode()
    assert 'value="deny" data-key="2" checked' in html
    assert 'name="revision" id="gold-revision" value="1"' in html
    assert "by rev_reviewer" in html


def test_saving_without_htmx_goes_to_the_next_comment_of_the_queue(
    project, disagreements, reviewer
):
    worst, middle, mild, _ = disagreements
    client = logged_in(reviewer)
    response = post_gold(client, project, worst, TOP, data={"note": "claim is an opinion"})
    assert response.status_code == 302
    assert response["Location"] == url("adjudicate", project, middle.pk)
    gold = GoldLabel.objects.get(comment=worst)
    assert gold.answers == TOP and gold.note == "claim is an opinion"
    assert gold.method == GoldLabel.Method.ADJUDICATED
    # Opened out of order: the next is the one after it in the queue.
    response = post_gold(client, project, mild, TOP_DENY)
    assert response["Location"] == url("adjudicate", project, middle.pk)
    response = post_gold(client, project, middle, TOP)
    assert response["Location"] == url("queue", project)
    assert GoldLabel.objects.count() == 3


def test_saving_with_htmx_swaps_in_the_next_comment_and_pushes_its_url(
    project, disagreements, reviewer
):
    worst, middle, *_ = disagreements
    response = post_gold(logged_in(reviewer), project, worst, TOP, **HTMX)
    assert response.status_code == 200
    assert response["HX-Push-Url"] == url("adjudicate", project, middle.pk)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="adjudication"')
    assert f'data-comment-id="{middle.pk}"' in html
    assert f"Gold saved for comment #{worst.pk}" in html
    assert "<html" not in html


def test_spot_checks_stay_on_while_moving_through_the_queue(project, disagreements, reviewer):
    worst, middle, *_ = disagreements
    response = post_gold(logged_in(reviewer), project, worst, TOP, data={"spot": "1"})
    assert response["Location"] == url("adjudicate", project, middle.pk) + "?spot=1"


def test_the_last_save_with_htmx_goes_back_to_the_queue(project, people, reviewer):
    comment = make_comment(ArticleFactory(project=project))
    make_label(comment, people[0], TOP)
    make_label(comment, people[1], TOP_DENY)
    response = post_gold(logged_in(reviewer), project, comment, TOP, **HTMX)
    assert response.status_code == 204
    assert response["HX-Redirect"] == url("queue", project)


def test_missing_required_answers_are_a_422_with_the_questions_marked(
    project, disagreements, reviewer
):
    worst, *_ = disagreements
    client = logged_in(reviewer)
    partial = {"stance_article": "deny", "claim_type": "policy"}
    response = post_gold(client, project, worst, partial, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert "2 required answers missing" in html
    assert 'id="q-speculation-error"' in html and 'id="q-source_cited-error"' in html
    assert 'value="policy" data-key="4" checked' in html  # what was picked stays picked
    assert not GoldLabel.objects.exists()
    full = post_gold(client, project, worst, partial)
    assert full.status_code == 422
    assert "<html" in full.content.decode()


def test_a_bad_value_or_revision_is_a_clear_4xx(project, disagreements, reviewer):
    worst, *_ = disagreements
    client = logged_in(reviewer)
    assert post_gold(client, project, worst, {**TOP, "stance_article": "x"}).status_code == 422
    assert post_gold(client, project, worst, TOP, revision="abc").status_code == 400
    assert client.get(url("next", project) + "?after=abc").status_code == 400
    assert not GoldLabel.objects.exists()


def test_two_reviewers_saving_the_same_gold_get_a_conflict(project, disagreements, reviewer):
    worst, *_ = disagreements
    other = UserFactory(username="other_reviewer")
    MembershipFactory(project=project, user=other, role=Role.REVIEWER)
    assert post_gold(logged_in(other), project, worst, TOP_DENY).status_code == 302
    client = logged_in(reviewer)
    response = post_gold(client, project, worst, TOP, **HTMX)
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#gold-status"
    html = response.content.decode()
    assert "another reviewer set the gold label of this comment first" in html
    assert "by other_reviewer" in html
    assert "Stance toward the article" in html and "Support" in html
    assert 'data-overwrite-revision="1"' in html
    full = post_gold(client, project, worst, TOP)
    assert full.status_code == 409
    assert "<html" in full.content.decode()
    gold = GoldLabel.objects.get()
    assert gold.answers == TOP_DENY and gold.decided_by == other
    assert GoldEvent.objects.count() == 1
    # Overwriting on purpose: from the revision the conflict showed.
    assert post_gold(client, project, worst, TOP, revision=1).status_code == 302
    gold.refresh_from_db()
    assert gold.answers == TOP and gold.revision == 2


def test_next_moves_on_without_saving(project, disagreements, reviewer):
    worst, middle, *_ = disagreements
    client = logged_in(reviewer)
    response = client.get(url("next", project) + f"?after={worst.pk}")
    assert response["Location"] == url("adjudicate", project, middle.pk)
    response = client.get(url("next", project) + f"?after={worst.pk}", **HTMX)
    assert response.status_code == 200
    assert response["HX-Push-Url"] == url("adjudicate", project, middle.pk)
    assert not GoldLabel.objects.exists()


# -- query counts ----------------------------------------------------------------------------


@pytest.fixture
def big_thread(project, people):
    comments = make_thread(ArticleFactory(project=project), 2000)
    label_in_bulk(
        comments,
        people,
        lambda i, c, a: (
            {**(REPLY if c.parent_id else TOP), "speculation": "uncertain"}
            if a == people[0] and i % 2 == 0
            else (REPLY if c.parent_id else TOP)
        ),
    )
    return comments


def test_the_adjudication_page_reads_a_constant_number_of_queries(
    project, people, big_thread, reviewer, django_assert_num_queries
):
    small = make_thread(ArticleFactory(project=project), 3)
    make_label(small[-1], people[0], REPLY)
    deep = max(big_thread, key=lambda c: c.depth)
    assert deep.depth >= 5
    client = logged_in(reviewer)
    # session, user, project, role, comment, scheme, gold, annotations, ancestors and
    # replies (one), the models' answers (one)
    with django_assert_num_queries(10):
        response = client.get(url("adjudicate", project, deep.pk))
    assert response.status_code == 200
    with django_assert_num_queries(10):
        client.get(url("adjudicate", project, small[-1].pk))


def test_a_save_with_the_next_comment_runs_a_constant_number_of_queries(
    project, big_thread, reviewer, django_assert_num_queries
):
    # Top-level comments disagree on one question of four, replies on one of five: the
    # queue starts with the top-level ones, and each save moves on to the next of them.
    first, second = [c for i, c in enumerate(big_thread) if i % 2 == 0 and not c.parent_id][:2]
    client = logged_in(reviewer)
    # session, user, project, role, comment, scheme; save: savepoint, lock, insert, event,
    # release; next: queue version, every annotation (nothing kept yet), gold ids, comment,
    # and the page's gold, annotations, ancestors and replies (one), the models' answers
    with django_assert_num_queries(19):
        response = post_gold(client, project, first, REPLY if first.parent_id else TOP, **HTMX)
    assert response.status_code == 200
    assert response["HX-Push-Url"] == url("adjudicate", project, second.pk)
    # The scores are kept: the queue version and the new gold id only.
    with django_assert_num_queries(18):
        post_gold(client, project, second, REPLY if second.parent_id else TOP, **HTMX)


def test_the_next_comment_after_a_save_comes_from_the_kept_queue(
    project, big_thread, people, reviewer, django_assert_num_queries
):
    first, second, third = [c for i, c in enumerate(big_thread) if i % 2 == 0 and not c.parent_id][
        :3
    ]
    client = logged_in(reviewer)
    client.get(url("queue", project))  # the reviewer starts from the queue page
    with django_assert_num_queries(18):
        response = post_gold(client, project, first, TOP, **HTMX)
    assert response["HX-Push-Url"] == url("adjudicate", project, second.pk)
    # An annotator settles the next one meanwhile (they now agree): it is skipped at once.
    Annotation.objects.filter(comment=second, annotator=people[0]).update(
        answers=TOP, revision=F("revision") + 1, updated_at=timezone.now()
    )
    response = client.get(url("next", project) + f"?after={first.pk}", **HTMX)
    assert response["HX-Push-Url"] == url("adjudicate", project, third.pk)


def test_the_queue_page_reads_a_constant_number_of_queries(
    project, big_thread, reviewer, django_assert_num_queries
):
    client = logged_in(reviewer)
    # session, user, project, role, the models (offered as filters), scheme, queue version,
    # annotations, shown comments (no gold yet: no gold ids)
    with django_assert_num_queries(9):
        response = client.get(url("queue", project))
    html = response.content.decode()
    assert 'id="count-disagreeing">1000<' in html
    assert html.count('class="queue-item') == 100
    assert "1 to 100 of 1000" in html and "Page 1 of 10" in html
    # Kept: the annotations are not read again, also for another page.
    with django_assert_num_queries(8):
        response = client.get(url("queue", project) + "?page=10")
    assert response.content.decode().count('class="queue-item') == 100


def test_the_queue_page_is_paged_in_queue_order(project, big_thread, reviewer):
    client = logged_in(reviewer)
    order = [item.comment_id for item in review_state(project).queue]

    def shown(html):
        return [
            int(n) for n in re.findall(r'class="queue-item[^"]*" data-comment-id="(\d+)"', html)
        ]

    first = client.get(url("queue", project)).content.decode()
    second = client.get(url("queue", project) + "?page=2").content.decode()
    assert shown(first) == order[:100]
    assert shown(second) == order[100:200]
    assert "<td>101</td>" in second and "101 to 200 of 1000" in second
    assert 'rel="prev" href="/p/aleppo/review/"' in second
    assert 'rel="next" href="/p/aleppo/review/?page=3"' in second
    assert 'rel="prev"' not in first
    # Start with the worst: the first of the whole queue, on any page.
    assert f'id="start-review" href="{url("adjudicate", project, order[0])}"' in second
    # Past the end (the queue shrank): the last page.
    last = client.get(url("queue", project) + "?page=99").content.decode()
    assert shown(last) == order[900:] and 'rel="next"' not in last
    # With spot checks, the pages keep them.
    spot = client.get(url("queue", project) + "?spot=1&page=2").content.decode()
    assert 'href="/p/aleppo/review/?spot=1&amp;page=3"' in spot
    assert 'href="/p/aleppo/review/?spot=1"' in spot  # back to page 1
    # The counts are the whole queue's, on every page.
    assert 'id="count-disagreeing">1000<' in second and 'id="count-unanimous">1000<' in second


@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5"])
def test_a_bad_page_number_is_a_400(project, disagreements, reviewer, page):
    response = logged_in(reviewer).get(url("queue", project) + f"?page={page}")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("role", "shown"),
    [(Role.ADMIN, True), (Role.REVIEWER, True), (Role.ANNOTATOR, False), (Role.RESEARCHER, False)],
)
def test_the_project_page_links_to_the_review_for_those_who_may(project, role, shown):
    user = UserFactory(username=f"member-{role}")
    MembershipFactory(project=project, user=user, role=role)
    html = logged_in(user).get(project.get_absolute_url()).content.decode()
    assert (f'href="{url("queue", project)}"' in html) == shown


def test_next_on_the_only_comment_left_says_so_and_goes_to_the_queue(project, people, reviewer):
    comment = make_comment(ArticleFactory(project=project))
    make_label(comment, people[0], TOP)
    make_label(comment, people[1], TOP_DENY)
    client = logged_in(reviewer)
    response = client.get(url("next", project) + f"?after={comment.pk}", follow=True)
    assert response.redirect_chain[-1][0] == url("queue", project)
    assert "No other comment is waiting in the queue." in response.content.decode()
    assert not GoldLabel.objects.exists()


# -- gold history ------------------------------------------------------------------------------


def test_the_page_shows_every_change_of_the_gold_label_newest_first(
    project, disagreements, reviewer
):
    worst, *_ = disagreements
    other = UserFactory(username="second_reviewer")
    MembershipFactory(project=project, user=other, role=Role.REVIEWER)
    post_gold(logged_in(reviewer), project, worst, TOP)
    post_gold(
        logged_in(other),
        project,
        worst,
        {**TOP, "stance_article": "deny"},
        revision=1,
        data={"note": "The second sentence denies it."},
    )

    html = logged_in(reviewer).get(url("adjudicate", project, worst.pk)).content.decode()

    history = html[html.index('id="gold-history"') :]
    assert "Gold history: 2 changes" in history
    second, first = history.split("<tr>")[2:4]  # header row first, then newest first
    assert "<td>2</td>" in second and "second_reviewer" in second
    assert "Stance toward the article: <del>Support</del> → <ins>Deny</ins>" in second
    assert "Note: <ins>The second sentence denies it.</ins>" in second
    assert "Claim type" not in second  # unchanged answers are not listed
    assert "<td>1</td>" in first and "rev_reviewer" in first
    assert "Stance toward the article: <ins>Support</ins>" in first
    assert "Claim type: <ins>Opinion</ins>" in first


def test_the_history_escapes_what_reviewers_wrote(project, disagreements, reviewer):
    worst, *_ = disagreements
    post_gold(logged_in(reviewer), project, worst, TOP, data={"note": XSS})
    html = logged_in(reviewer).get(url("adjudicate", project, worst.pk)).content.decode()
    history = html[html.index('id="gold-history"') :]
    assert XSS not in history
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in history


def test_a_comment_without_gold_has_no_history(project, disagreements, reviewer):
    worst, *_ = disagreements
    html = logged_in(reviewer).get(url("adjudicate", project, worst.pk)).content.decode()
    assert 'id="gold-history"' not in html


def test_the_history_costs_one_query_however_long_it_is(project, disagreements, reviewer):
    worst, middle, *_ = disagreements
    client = logged_in(reviewer)

    def queries(comment) -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(url("adjudicate", project, comment.pk)).status_code == 200
        return len(context)

    without_gold = queries(worst)
    post_gold(client, project, worst, TOP)
    for revision in range(5):  # five changes of the middle one
        answers = {**TOP, "stance_article": "deny" if revision % 2 else "support"}
        post_gold(client, project, middle, answers, revision=revision)
    assert GoldEvent.objects.filter(gold__comment=middle).count() == 5

    assert queries(worst) == without_gold + 1  # the events, with their reviewers
    assert queries(middle) == without_gold + 1


def test_the_history_names_answers_to_questions_the_scheme_no_longer_has(project):
    event = GoldEvent(
        revision=2,
        at=timezone.now(),
        before={"answers": {**TOP, "tone": ["angry", "ironic"]}, "method": "adjudicated"},
        after={"answers": {**TOP, "stance_article": "query"}, "method": "adjudicated"},
    )
    (change,) = gold_history([event], current_scheme_for(project))
    assert change.actor == ""
    assert change.method == "Adjudicated by a reviewer"
    assert change.changes == [
        ("Stance toward the article", "Support", "Query"),
        ("tone", "angry, ironic", ""),
    ]
    assert change.note is None


def test_gold_a_move_sent_back_says_what_it_said_about_the_old_parent(project, people, reviewer):
    from annotator.review.gold import save_gold
    from tests.review.adjudication_data import REPLY

    article = ArticleFactory(project=project)
    top = make_comment(article, text="Top")
    other = make_comment(article, text="Other top")
    reply = make_comment(article, parent=top, text="Reply")
    for person in people[:2]:
        make_label(reply, person, REPLY)
    save_gold(reply, REPLY, reviewer, revision=0)
    client = logged_in(reviewer)
    assert (
        'id="gold-stale-notice"'
        not in client.get(url("adjudicate", project, reply.pk)).content.decode()
    )
    reply.move_under(other)
    html = client.get(url("adjudicate", project, reply.pk)).content.decode()
    assert 'id="gold-stale-notice"' in html
    assert f"toward #{top.pk}" in html
    assert "moved to another parent after its gold was set" in html


# -- a reviewer adopting a model's answers ------------------------------------------------------


def test_the_reviewer_sees_every_models_answers_hidden_ones_too_as_predictions(project, reviewer):
    from tests.factories import make_comment, make_model, make_prediction

    comment = make_comment(ArticleFactory(project=project), text="<b>bold</b> claim")
    quiet = make_model(project, "quiet", suggestions="hidden")
    make_prediction(quiet, comment, "stance_article", "deny", 0.42)
    make_prediction(quiet, comment, "source_cited", ["link", "named_source"], None)

    page = logged_in(reviewer).get(url("adjudicate", project, comment.pk)).content.decode()

    section = page[page.index('id="model-answers"') :]
    assert "quiet@1" in section and "“Deny” (42%)" in section
    assert "“Link, Named source”" in section
    assert "Put its answers in the gold form" in section
    assert not GoldLabel.objects.exists()  # looking is not adopting


def test_adopting_a_models_answers_fills_the_gold_form_and_only_saving_makes_gold(
    project, reviewer
):
    from tests.factories import make_comment, make_model, make_prediction

    comment = make_comment(ArticleFactory(project=project))
    model = make_model(project, "learner", version="3")
    make_prediction(model, comment, "stance_article", "query", 0.9)
    make_prediction(model, comment, "claim_type", "question", 0.8)
    client = logged_in(reviewer)

    page = client.get(
        url("adjudicate", project, comment.pk), {"use_model": str(model.pk)}
    ).content.decode()

    for key, value in [("stance_article", "query"), ("claim_type", "question")]:
        (tag,) = re.findall(rf'<input [^>]*id="a-{key}-{value}"[^>]*>', page)
        assert " checked" in tag
    assert "Answers adopted from the model learner@3, checked by the reviewer." in page
    assert "in the gold form below" in page
    assert not GoldLabel.objects.exists()


def test_an_unknown_model_to_adopt_changes_nothing(project, reviewer):
    from tests.factories import make_comment

    comment = make_comment(ArticleFactory(project=project))
    response = logged_in(reviewer).get(
        url("adjudicate", project, comment.pk), {"use_model": "999999"}
    )

    assert response.status_code == 200
    assert "adopted" not in response.content.decode()
