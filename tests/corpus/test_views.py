"""The corpus pages: projects, members, threads and moving comments, with their query counts."""

import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.corpus.models import Article, Comment, DeletedArticle, Membership, Project, Role
from annotator.labelling.models import Annotation
from annotator.review.models import GoldLabel
from tests.factories import (
    COMPLETE_REPLY,
    PASSWORD,
    ArticleFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_comment,
    make_gold_label,
    make_label,
    make_thread,
)

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    """The flash messages rendered on a followed response."""
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def staff(db):
    return UserFactory(username="stella_staff", is_staff=True)


# --- Accounts ---------------------------------------------------------------------------------


def test_it_shows_a_login_form_with_labelled_fields(client):
    response = client.get(reverse("login"))
    html = response.content.decode()
    assert '<label for="id_username">Username:</label>' in html
    assert '<label for="id_password">Password:</label>' in html
    assert ">Log in</button>" in html


def test_it_logs_in_and_lands_on_the_project_list(client, annotator):
    response = client.post(
        reverse("login"), {"username": annotator.username, "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("corpus:project_list")
    assert response.context["user"] == annotator


def test_it_logs_out_with_a_post_from_the_header(client, annotator):
    client.force_login(annotator)
    page = client.get(reverse("corpus:project_list")).content.decode()
    assert f'action="{reverse("logout")}"' in page
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_it_changes_the_password(client, annotator):
    client.force_login(annotator)
    assert client.get(reverse("password_change")).status_code == 200
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a new and long passphrase",
            "new_password2": "a new and long passphrase",
        },
    )
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200
    annotator.refresh_from_db()
    assert annotator.check_password("a new and long passphrase")


# --- Project list -----------------------------------------------------------------------------


def test_it_lists_only_my_projects_with_my_role_and_counts(
    client, annotator, project, other_project
):
    article = ArticleFactory(project=project)
    ArticleFactory(project=project)
    make_thread(article, 5)
    ArticleFactory(project=other_project)
    client.force_login(annotator)
    response = client.get(reverse("corpus:project_list"))
    (listed,) = response.context["projects"]
    assert listed == project
    assert (listed.member_role, listed.article_count, listed.comment_count) == (
        Role.ANNOTATOR,
        2,
        5,
    )
    assert "Other newsroom" not in response.content.decode()
    assert "New project" not in response.content.decode()


def test_it_lists_projects_in_a_constant_number_of_queries(
    client, django_assert_num_queries, annotator
):
    for i in range(6):
        other = ProjectFactory()
        MembershipFactory(project=other, user=annotator, role=Role.REVIEWER)
        make_thread(ArticleFactory(project=other), i)
    client.force_login(annotator)
    # session, user, projects with role and counts, invitations waiting
    with django_assert_num_queries(4):
        response = client.get(reverse("corpus:project_list"))
    assert len(response.context["projects"]) == 7


def test_it_offers_new_project_to_staff_only(client, staff, annotator):
    client.force_login(staff)
    assert "New project" in client.get(reverse("corpus:project_list")).content.decode()


# --- Project create ---------------------------------------------------------------------------


def test_it_creates_a_project_with_its_creator_as_admin(client, staff):
    client.force_login(staff)
    response = client.post(
        reverse("corpus:project_create"),
        {"name": "Syria threads", "slug": "syria", "description": "Reader comments."},
    )
    project = Project.objects.get(slug="syria")
    assert response["Location"] == project.get_absolute_url()
    assert Membership.objects.get(project=project).user == staff
    assert Membership.objects.get(project=project).role == Role.ADMIN


def test_it_derives_the_slug_from_the_name_when_left_empty(client, staff):
    client.force_login(staff)
    client.post(reverse("corpus:project_create"), {"name": "Élection 2026: Paris", "slug": ""})
    assert Project.objects.filter(slug="election-2026-paris").exists()


def test_it_refuses_a_slug_already_taken(client, staff, project):
    client.force_login(staff)
    response = client.post(reverse("corpus:project_create"), {"name": "Again", "slug": "aleppo"})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Project.objects.count() == 1


def test_it_refuses_an_invalid_slug(client, staff):
    client.force_login(staff)
    response = client.post(reverse("corpus:project_create"), {"name": "X", "slug": "no spaces!"})
    assert response.context["form"].errors["slug"]
    assert not Project.objects.filter(name="X").exists()


def test_it_refuses_project_creation_to_non_staff(client, project_admin):
    client.force_login(project_admin)
    response = client.post(reverse("corpus:project_create"), {"name": "Mine", "slug": "mine"})
    assert response.status_code == 403
    assert not Project.objects.filter(slug="mine").exists()


# --- Project detail ---------------------------------------------------------------------------


def test_it_lists_articles_with_comment_counts_and_thread_links(client, annotator, project):
    article = ArticleFactory(project=project, title="Ceasefire holds")
    make_thread(article, 7)
    client.force_login(annotator)
    response = client.get(project.get_absolute_url())
    (listed,) = response.context["articles"]
    assert listed.comment_count == 7
    html = response.content.decode()
    assert reverse("corpus:article_thread", args=[project.slug, article.pk]) in html
    assert reverse("corpus:member_list", args=[project.slug]) not in html
    assert reverse("corpus:import_list", args=[project.slug]) not in html


def test_it_links_admins_to_members_and_imports(client, project_admin, project):
    client.force_login(project_admin)
    html = client.get(project.get_absolute_url()).content.decode()
    assert reverse("corpus:member_list", args=[project.slug]) in html
    assert reverse("corpus:import_list", args=[project.slug]) in html


def test_it_shows_a_project_in_a_constant_number_of_queries(
    client, django_assert_num_queries, annotator, project
):
    for size in (0, 3, 10, 40):
        make_thread(ArticleFactory(project=project), size)
    client.force_login(annotator)
    # session, user, project, membership, articles with counts
    with django_assert_num_queries(5):
        response = client.get(project.get_absolute_url())
    assert [a.comment_count for a in response.context["articles"]] == [40, 10, 3, 0]


# --- Members ----------------------------------------------------------------------------------


def member_url(project) -> str:
    return reverse("corpus:member_list", args=[project.slug])


def test_it_lists_members_with_their_roles(client, project_admin, annotator, project):
    client.force_login(project_admin)
    response = client.get(member_url(project))
    assert [(m.user.username, m.role) for m in response.context["memberships"]] == [
        ("ada_admin", Role.ADMIN),
        ("ann_annotator", Role.ANNOTATOR),
    ]


def test_it_invites_a_person_by_email_with_a_role(client, project_admin, project):
    newcomer = UserFactory(username="nina", email="Nina@Example.org")
    client.force_login(project_admin)
    response = client.post(
        member_url(project),
        {"action": "add", "who": "nina@example.org", "role": "reviewer"},
        follow=True,
    )
    # Nobody joins before the link is used (annotator/accounts/invitations.py).
    assert not Membership.objects.filter(project=project, user=newcomer).exists()
    invitation = response.context["invitations"].get()
    assert (invitation.invitee, invitation.role) == ("nina@example.org", Role.REVIEWER)
    assert messages_of(response) == [
        "Invited nina@example.org as reviewer. Copy the link below and send it to them."
    ]


def test_it_invites_a_person_by_username(client, project_admin, project):
    UserFactory(username="nina")
    client.force_login(project_admin)
    client.post(member_url(project), {"action": "add", "who": "nina", "role": "annotator"})
    assert project.invitations.filter(invitee="nina", role=Role.ANNOTATOR).exists()
    assert not project.memberships.filter(user__username="nina").exists()


def test_it_says_when_the_person_is_already_a_member(client, project_admin, annotator, project):
    client.force_login(project_admin)
    response = client.post(
        member_url(project), {"action": "add", "who": annotator.username, "role": "admin"}
    )
    assert response.status_code == 400
    assert "ann_annotator is already a member." in response.content.decode()
    assert Membership.objects.get(user=annotator).role == Role.ANNOTATOR
    assert not project.invitations.exists()


def test_it_changes_a_role(client, project_admin, annotator, project):
    membership = Membership.objects.get(user=annotator)
    client.force_login(project_admin)
    response = client.post(
        member_url(project),
        {"action": "role", "membership": membership.pk, "role": "researcher"},
        follow=True,
    )
    membership.refresh_from_db()
    assert membership.role == Role.RESEARCHER
    assert messages_of(response) == ["ann_annotator is now researcher."]


def test_it_removes_a_member(client, project_admin, annotator, project):
    membership = Membership.objects.get(user=annotator)
    client.force_login(project_admin)
    client.post(member_url(project), {"action": "remove", "membership": membership.pk})
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_it_refuses_to_remove_the_last_admin(client, project_admin, project):
    membership = Membership.objects.get(user=project_admin)
    client.force_login(project_admin)
    response = client.post(
        member_url(project), {"action": "remove", "membership": membership.pk}, follow=True
    )
    assert Membership.objects.filter(pk=membership.pk).exists()
    assert "last admin" in messages_of(response)[0]


def test_it_refuses_to_demote_the_last_admin(client, project_admin, project):
    membership = Membership.objects.get(user=project_admin)
    client.force_login(project_admin)
    response = client.post(
        member_url(project),
        {"action": "role", "membership": membership.pk, "role": "annotator"},
        follow=True,
    )
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN
    assert "last admin" in messages_of(response)[0]


def test_it_lets_an_admin_step_down_when_another_admin_remains(client, project_admin, project):
    MembershipFactory(project=project, user=UserFactory(username="bob"), role=Role.ADMIN)
    membership = Membership.objects.get(user=project_admin)
    client.force_login(project_admin)
    response = client.post(
        member_url(project), {"action": "role", "membership": membership.pk, "role": "reviewer"}
    )
    assert response["Location"] == project.get_absolute_url()
    membership.refresh_from_db()
    assert membership.role == Role.REVIEWER


def test_it_cannot_touch_members_of_another_project(client, project_admin, other_project):
    stranger = MembershipFactory(project=other_project, role=Role.ANNOTATOR)
    client.force_login(project_admin)
    response = client.post(
        member_url(Project.objects.get(slug="aleppo")),
        {"action": "remove", "membership": stranger.pk},
    )
    assert response.status_code == 404
    assert Membership.objects.filter(pk=stranger.pk).exists()


def test_it_needs_a_csrf_token_to_change_members(project_admin, annotator, project):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(project_admin)
    membership = Membership.objects.get(user=annotator)
    response = client.post(member_url(project), {"action": "remove", "membership": membership.pk})
    assert response.status_code == 403
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_it_shows_members_in_a_constant_number_of_queries(
    client, django_assert_num_queries, project_admin, project
):
    for _ in range(8):
        MembershipFactory(project=project)
    client.force_login(project_admin)
    # session, user, project, membership, members with users, pending invitations
    with django_assert_num_queries(6):
        client.get(member_url(project))


# --- Thread -----------------------------------------------------------------------------------


def thread_url(article) -> str:
    return reverse("corpus:article_thread", args=[article.project.slug, article.pk])


def test_it_shows_the_article_and_its_comments_in_tree_order(client, annotator, project):
    article = ArticleFactory(project=project, title="Ceasefire", body="One.\n\nTwo.")
    first = make_comment(article, author="Ann", text="first\nsecond line")
    second = make_comment(article, text="top two")
    reply = make_comment(article, first, author="Bo", text="reply")
    client.force_login(annotator)
    response = client.get(thread_url(article))
    assert [c.pk for c in response.context["comments"]] == [first.pk, reply.pk, second.pk]
    html = response.content.decode()
    assert "<p>One.</p>" in html and "<p>Two.</p>" in html
    assert "first<br>second line" in html
    assert f'id="comment-{reply.pk}"' in html
    assert "anonymous" in html
    assert 'class="comment indent-1"' in html
    assert "Move</a>" not in html  # annotators cannot fix the tree


def test_it_shows_a_2000_comment_thread_in_a_constant_number_of_queries(
    client, django_assert_num_queries, project_admin, project
):
    article = ArticleFactory(project=project)
    make_thread(article, 2000)
    client.force_login(project_admin)
    # session, user, project, membership, article, comments
    with django_assert_num_queries(6):
        response = client.get(thread_url(article))
    assert len(response.context["comments"]) == 2000
    assert response.content.decode().count('class="move-link') == 2000
    # The page stays light: no form per comment, the move form is loaded on demand.
    assert response.content.decode().count("<form") == 1  # the logout form
    assert len(response.content) < 1_500_000


def test_it_escapes_hostile_comment_text(client, annotator, project):
    article = ArticleFactory(project=project, title="<b>bold</b>", body="<iframe src=x>")
    make_comment(article, author="<script>x</script>", text="<script>alert(1)</script>")
    make_comment(article, text="<img src=x onerror=alert(1)>")
    client.force_login(annotator)
    html = client.get(thread_url(article)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<iframe" not in html and "<b>bold</b>" not in html


def test_it_hides_an_article_of_another_project(client, annotator, other_project):
    article = ArticleFactory(project=other_project)
    client.force_login(annotator)
    url = reverse("corpus:article_thread", args=["aleppo", article.pk])
    assert client.get(url).status_code == 404


# --- Moving comments --------------------------------------------------------------------------


@pytest.fixture
def small_thread(project):
    """#1 a, #2 a1 (answers a), #3 b, #4 c — in tree order."""
    article = ArticleFactory(project=project)
    a = make_comment(article, author="A", text="a")
    a1 = make_comment(article, a, text="a1")
    b = make_comment(article, author="B", text="b")
    c = make_comment(article, text="c")
    return article, a, a1, b, c


def move_url(comment) -> str:
    return reverse("corpus:comment_reparent", args=[comment.article.project.slug, comment.pk])


def test_it_loads_the_move_form_on_demand_with_htmx(client, project_admin, small_thread):
    _, _, _, _, c = small_thread
    client.force_login(project_admin)
    response = client.get(move_url(c), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html
    assert f'action="{move_url(c)}"' in html
    assert 'name="parent_number"' in html


def test_it_shows_the_move_form_in_the_thread_without_htmx(client, project_admin, small_thread):
    _, _, _, _, c = small_thread
    client.force_login(project_admin)
    html = client.get(move_url(c)).content.decode()
    assert "<html" in html
    assert html.count('name="parent_number"') == 1


def test_it_moves_a_comment_under_the_comment_with_that_number(client, project_admin, small_thread):
    article, a, a1, b, c = small_thread
    client.force_login(project_admin)
    response = client.post(move_url(c), {"parent_number": "3"})
    assert response["Location"] == f"{thread_url(article)}#comment-{c.pk}"
    c.refresh_from_db()
    assert (c.parent_id, c.depth) == (b.pk, 1)
    response = client.get(response["Location"])
    assert [x.pk for x in response.context["comments"]] == [a.pk, a1.pk, b.pk, c.pk]
    assert messages_of(response) == ["Moved: the comment now answers B (“b”)."]


def test_it_moves_a_subtree_to_the_article(client, project_admin, small_thread):
    article, _a, a1, b, _ = small_thread
    client.force_login(project_admin)
    client.post(move_url(b), {"parent_number": "2"})  # b now answers a1
    client.post(move_url(a1), {"parent_number": "0"})  # a1 and its reply b leave a
    a1.refresh_from_db()
    b.refresh_from_db()
    assert a1.parent_id is None and a1.depth == 0
    assert (b.parent_id, b.depth) == (a1.pk, 1)
    assert list(Comment.objects.thread(article).values_list("text", flat=True)) == [
        "a",
        "c",
        "a1",
        "b",
    ]


def test_it_refuses_to_move_a_comment_under_its_own_reply(client, project_admin, small_thread):
    _, a, _a1, _, _ = small_thread
    client.force_login(project_admin)
    response = client.post(move_url(a), {"parent_number": "2"}, follow=True)
    a.refresh_from_db()
    assert a.parent_id is None
    assert messages_of(response) == [
        "Not moved: A comment cannot answer itself or one of its own replies."
    ]


def test_it_says_when_the_number_is_not_in_the_thread(client, project_admin, small_thread):
    _, _, _, _, c = small_thread
    client.force_login(project_admin)
    response = client.post(move_url(c), {"parent_number": "99"}, follow=True)
    assert messages_of(response) == ["There is no comment #99 in this thread."]
    response = client.post(move_url(c), {"parent_number": "x"}, follow=True)
    assert "Enter the number" in messages_of(response)[0]


def test_it_leaves_a_comment_already_under_that_parent_alone(client, project_admin, small_thread):
    _, _a, a1, _, _ = small_thread
    client.force_login(project_admin)
    response = client.post(move_url(a1), {"parent_number": "1"}, follow=True)
    a1.refresh_from_db()
    assert a1.position == 1
    assert messages_of(response) == ["Nothing to do: it already answers that."]


def test_it_refuses_moves_to_annotators(client, annotator, small_thread):
    _, _, _, _, c = small_thread
    client.force_login(annotator)
    assert client.post(move_url(c), {"parent_number": "1"}).status_code == 403
    c.refresh_from_db()
    assert c.parent_id is None


def test_it_cannot_move_a_comment_of_another_project(client, project_admin, other_project):
    foreign = make_comment(ArticleFactory(project=other_project))
    client.force_login(project_admin)
    url = reverse("corpus:comment_reparent", args=["aleppo", foreign.pk])
    assert client.post(url, {"parent_number": "0"}).status_code == 404


# --- Moving a labelled comment: the confirmation ---------------------------------------------


@pytest.fixture
def labelled_reply(small_thread, project):
    """a1 (#2, a reply to a) submitted by two annotators with a stance toward a, and gold."""
    from annotator.review.gold import save_gold

    _, _, a1, _, _ = small_thread
    people = []
    for name in ("ann_one", "ann_two"):
        user = UserFactory(username=name)
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
        make_label(a1, user, COMPLETE_REPLY)
        people.append(user)
    save_gold(a1, COMPLETE_REPLY, people[0], revision=0)
    return a1, people


def test_a_move_that_sets_labels_aside_asks_first_with_the_counts(
    client, project_admin, small_thread, labelled_reply
):
    article, a, a1, _, _ = small_thread
    client.force_login(project_admin)
    response = client.post(move_url(a1), {"parent_number": "3"})
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        "Moving #2 under #3 marks 2 answers by 2 annotators and 1 gold label as stale; "
        "they will be asked again, and sends 2 finished annotations back to the annotators"
        "&#x27; queues." in html
    )
    assert 'name="confirm" value="1"' in html
    assert 'name="parent_number" value="3"' in html
    assert f'href="{thread_url(article)}#comment-{a1.pk}"' in html  # Cancel
    a1.refresh_from_db()
    assert a1.parent_id == a.pk
    assert all(x.answers == COMPLETE_REPLY for x in Annotation.objects.filter(comment=a1))
    assert GoldLabel.objects.get(comment=a1).answers == COMPLETE_REPLY


def test_the_confirmed_move_moves_and_sets_the_labels_aside(
    client, project_admin, small_thread, labelled_reply
):
    article, _, a1, b, _ = small_thread
    client.force_login(project_admin)
    response = client.post(move_url(a1), {"parent_number": "3", "confirm": "1"})
    assert response["Location"] == f"{thread_url(article)}#comment-{a1.pk}"
    a1.refresh_from_db()
    assert a1.parent_id == b.pk
    for annotation in Annotation.objects.filter(comment=a1):
        assert "stance_parent" in annotation.stale_answers
        assert annotation.status == Annotation.Status.DRAFT
        assert annotation.events.latest("id").actor == project_admin
    assert "stance_parent" in GoldLabel.objects.get(comment=a1).stale_answers


def test_the_confirmation_is_a_partial_for_htmx_and_the_move_redirects_the_page(
    client, project_admin, small_thread, labelled_reply
):
    article, _, a1, b, _ = small_thread
    client.force_login(project_admin)
    response = client.post(move_url(a1), {"parent_number": "3"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html
    assert "marks 2 answers by 2 annotators" in html
    assert f'hx-post="{move_url(a1)}"' in html
    response = client.post(
        move_url(a1),
        {"parent_number": "3", "confirm": "1"},
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{thread_url(article)}"},
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"{thread_url(article)}#comment-{a1.pk}"
    assert response["HX-Refresh"] == "true"  # only the #fragment changes: reload the page
    a1.refresh_from_db()
    assert a1.parent_id == b.pk


def test_a_move_that_sets_nothing_aside_needs_no_confirmation(
    client, project_admin, small_thread, annotator
):
    _, _, _, b, c = small_thread
    make_label(c, annotator, {"stance_article": "query"}, status="draft")
    client.force_login(project_admin)
    response = client.post(move_url(c), {"parent_number": "0"})
    assert response.status_code == 302  # nothing to do (already top-level), no question asked
    response = client.post(move_url(b), {"parent_number": "1"})
    assert response.status_code == 302
    b.refresh_from_db()
    assert b.parent_id is not None


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER, Role.RESEARCHER])
def test_only_admins_see_or_confirm_the_move(client, project, small_thread, labelled_reply, role):
    _, a, a1, _, _ = small_thread
    user = UserFactory(username=f"the_{role}")
    MembershipFactory(project=project, user=user, role=role)
    client.force_login(user)
    assert client.post(move_url(a1), {"parent_number": "3"}).status_code == 403
    response = client.post(move_url(a1), {"parent_number": "3", "confirm": "1"})
    assert response.status_code == 403
    a1.refresh_from_db()
    assert a1.parent_id == a.pk


def test_outsiders_get_no_confirmation(client, outsider, small_thread, labelled_reply):
    _, a, a1, _, _ = small_thread
    client.force_login(outsider)
    assert client.post(move_url(a1), {"parent_number": "3"}).status_code == 404
    assert client.post(move_url(a1), {"parent_number": "3", "confirm": "1"}).status_code == 404
    a1.refresh_from_db()
    assert a1.parent_id == a.pk


@pytest.mark.parametrize("labels", [2, 12])
def test_the_move_runs_a_constant_number_of_queries_whatever_the_labels(
    client, project_admin, project, django_assert_num_queries, labels
):
    article = ArticleFactory(project=project)
    top = make_comment(article)
    reply = make_comment(article, top)
    make_comment(article)  # #3, the new parent
    for index in range(labels):
        user = UserFactory(username=f"ann{index}")
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
        make_label(reply, user, COMPLETE_REPLY)
    client.force_login(project_admin)
    client.get(thread_url(article))
    # The confirmation: session, user, project, role, comment, new parent, impact (scheme,
    # annotations, gold, the comment's predictions), numbers.
    with django_assert_num_queries(11):
        assert client.post(move_url(reply), {"parent_number": "3"}).status_code == 200
    # The move: the same lookups, then the tree (siblings, subtree, 2 updates, save) and the
    # labels (lock, scheme, old parent, bulk update, events; gold), in savepoints; the reopened
    # labels leave the comment's submitted count (labelling/label_counts.py: 2 queries); the
    # comment has no predictions to set aside (assist/staleness.py: 1 query).
    with django_assert_num_queries(26):
        response = client.post(move_url(reply), {"parent_number": "3", "confirm": "1"})
    assert response.status_code == 302
    assert Annotation.objects.filter(comment=reply).exclude(stale_answers={}).count() == labels


# --- Security headers -------------------------------------------------------------------------


def test_every_page_sends_a_strict_content_security_policy(
    client, project_admin, small_thread, project
):
    article, *_ = small_thread
    client.force_login(project_admin)
    urls = [
        reverse("corpus:project_list"),
        project.get_absolute_url(),
        member_url(project),
        thread_url(article),
        reverse("password_change"),
    ]
    for url in urls:
        policy = client.get(url)["Content-Security-Policy"]
        script_src = re.search(r"script-src ([^;]*)", policy).group(1)
        assert "'unsafe-inline'" not in script_src, url
        assert "'unsafe-inline'" not in re.search(r"style-src ([^;]*)", policy).group(1)
    client.logout()
    assert "script-src" in client.get(reverse("login"))["Content-Security-Policy"]


def test_pages_carry_no_inline_script_or_style_or_handlers(client, project_admin, small_thread):
    article, *_ = small_thread
    client.force_login(project_admin)
    html = client.get(thread_url(article)).content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert " style=" not in html and "<style" not in html
    assert not re.search(r"\son[a-z]+=", html)


def test_superusers_see_every_project(client, project):
    boss = User.objects.create_superuser("boss", "boss@example.org", PASSWORD)
    client.force_login(boss)
    response = client.get(reverse("corpus:project_list"))
    assert [p.slug for p in response.context["projects"]] == ["aleppo"]
    assert "superuser" in response.content.decode()


def test_the_project_list_shows_an_annotators_own_progress(client, project, annotator):
    from annotator.labelling.annotations import Submission, save_annotation
    from annotator.labelling.schemes import current_scheme_for
    from tests.factories import ArticleFactory, make_comment

    article = ArticleFactory(project=project)
    first, _ = make_comment(article), make_comment(article)
    save_annotation(
        comment=first,
        annotator=annotator,
        scheme=current_scheme_for(project),
        submission=Submission(answers={}, skip_reason="spam"),
        base_revision=0,
        action="skip",
    )
    client.force_login(annotator)
    html = client.get(reverse("corpus:project_list")).content.decode()
    assert "1 / 2 labelled" in html
    assert reverse("labelling:start", args=[project.slug]) in html


def test_the_project_page_offers_labelling_only_to_those_who_label(
    client, project, annotator, researcher
):
    start = reverse("labelling:start", args=[project.slug])
    client.force_login(annotator)
    assert start in client.get(project.get_absolute_url()).content.decode()
    client.force_login(researcher)
    assert start not in client.get(project.get_absolute_url()).content.decode()


def test_pages_show_no_template_comment_text(client, project, annotator):
    client.force_login(annotator)
    html = client.get(project.get_absolute_url()).content.decode()
    assert "{#" not in html and "{%" not in html


# --- Deleting an article ----------------------------------------------------------------------


@pytest.fixture
def labelled_article(project, reviewer):
    """An article with 2 comments, 2 annotations by 2 annotators and a gold label."""
    article = ArticleFactory(project=project, source_id="sf-1", title="Ceasefire in Aleppo")
    first = make_comment(article)
    make_comment(article, parent=first)
    make_label(first, UserFactory(username="zoe"), COMPLETE_REPLY)
    make_label(first, UserFactory(username="adam"), COMPLETE_REPLY)
    make_gold_label(first, reviewer, COMPLETE_REPLY)
    return article


def delete_url(article) -> str:
    return reverse("corpus:article_delete", args=[article.project.slug, article.pk])


def confirmed_counts(**changes) -> dict:
    """What the confirmation form of ``labelled_article`` posts back."""
    return {"comments": 2, "annotations": 2, "annotators": 2, "gold_labels": 1, **changes}


def test_the_thread_page_offers_deletion_to_admins_only(
    client, project_admin, annotator, labelled_article
):
    thread = reverse(
        "corpus:article_thread", args=[labelled_article.project.slug, labelled_article.pk]
    )
    client.force_login(project_admin)
    assert f'href="{delete_url(labelled_article)}"' in client.get(thread).content.decode()
    client.force_login(annotator)
    assert f'href="{delete_url(labelled_article)}"' not in client.get(thread).content.decode()


def test_the_confirmation_says_what_goes_and_deletes_nothing(
    client, project_admin, labelled_article
):
    client.force_login(project_admin)

    response = client.get(delete_url(labelled_article))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Deletes 2 comments, 2 annotations by 2 annotators, 1 gold label." in html
    assert "Ceasefire in Aleppo" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'name="annotations" value="2"' in html
    assert Comment.objects.count() == 2


def test_confirming_deletes_the_article_with_its_labels_and_records_it(
    client, project_admin, project, labelled_article
):
    client.force_login(project_admin)

    response = client.post(delete_url(labelled_article), confirmed_counts(), follow=True)

    assert response.redirect_chain[-1][0] == project.get_absolute_url()
    assert messages_of(response) == [
        "Deleted “Ceasefire in Aleppo”: 2 comments, 2 annotations, 1 gold labels."
    ]
    assert not Article.objects.exists()
    assert (Comment.objects.count(), Annotation.objects.count(), GoldLabel.objects.count()) == (
        0,
        0,
        0,
    )
    record = DeletedArticle.objects.get()
    assert (record.source_id, record.deleted_by, record.gold_labels) == ("sf-1", project_admin, 1)


def test_new_labels_since_the_confirmation_stop_the_deletion_and_show_new_counts(
    client, project_admin, labelled_article
):
    client.force_login(project_admin)
    make_label(labelled_article.comments.last(), UserFactory(username="late"), COMPLETE_REPLY)

    response = client.post(delete_url(labelled_article), confirmed_counts())

    assert response.status_code == 409
    html = response.content.decode()
    assert "The counts changed since the page was shown" in html
    assert "Deletes 2 comments, 3 annotations by 3 annotators, 1 gold label." in html
    assert Comment.objects.count() == 2


@pytest.mark.parametrize(
    "data",
    [
        {},
        confirmed_counts(comments="-1"),
        confirmed_counts(annotations="many"),
        confirmed_counts(gold_labels=str(2**40)),
    ],
)
def test_a_broken_confirmation_is_a_400_and_deletes_nothing(
    client, project_admin, labelled_article, data
):
    client.force_login(project_admin)

    response = client.post(delete_url(labelled_article), data)

    assert response.status_code == 400
    assert "The confirmation was incomplete" in response.content.decode()
    assert Comment.objects.count() == 2


@pytest.mark.parametrize("role_fixture", ["annotator", "reviewer", "researcher"])
def test_members_who_are_not_admins_cannot_delete_an_article(
    client, request, labelled_article, role_fixture
):
    client.force_login(request.getfixturevalue(role_fixture))

    assert client.get(delete_url(labelled_article)).status_code == 403
    assert client.post(delete_url(labelled_article), confirmed_counts()).status_code == 403
    assert Comment.objects.count() == 2


def test_outsiders_and_other_projects_admins_get_404(
    client, outsider, other_project, labelled_article
):
    client.force_login(outsider)
    assert client.post(delete_url(labelled_article), confirmed_counts()).status_code == 404
    other_admin = UserFactory(username="olga")
    other_project.memberships.create(user=other_admin, role="admin")
    client.force_login(other_admin)
    through_other = reverse("corpus:article_delete", args=[other_project.slug, labelled_article.pk])
    assert client.post(through_other, confirmed_counts()).status_code == 404
    assert Comment.objects.count() == 2


def test_anonymous_visitors_are_sent_to_log_in_before_deleting(client, labelled_article):
    response = client.post(delete_url(labelled_article), confirmed_counts())

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert Comment.objects.count() == 2


def test_the_confirmation_reads_in_a_constant_number_of_queries(client, project_admin, project):
    small = ArticleFactory(project=project)
    make_comment(small)
    large = ArticleFactory(project=project)
    for comment in make_thread(large, 60):
        make_label(comment, project_admin, COMPLETE_REPLY)
    client.force_login(project_admin)

    counts = []
    for article in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(delete_url(article)).status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1] <= 10
