"""The assignments page: who may open it, what it shows, settings, release and reassign."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotator.corpus.models import Role, WorkOrder
from annotator.labelling.assignment import claim_next
from annotator.labelling.models import Claim
from tests.factories import (
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    MembershipFactory,
    UserFactory,
    make_comment,
    make_label,
    make_thread,
)


def url(name, project):
    return reverse(f"labelling:{name}", args=[project.slug])


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def member(project, role=Role.ANNOTATOR, **fields):
    user = UserFactory(**fields)
    MembershipFactory(project=project, user=user, role=role)
    return user


@pytest.fixture
def held(project):
    """A comment held by ``holder``; ``stand_in`` is another annotator."""
    comment = make_comment(ArticleFactory(project=project))
    holder = member(project, username="holder")
    stand_in = member(project, username="stand_in")
    assert claim_next(holder, project) == comment
    return comment, holder, stand_in


# -- who may open what -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.ADMIN, 200), (Role.ANNOTATOR, 403), (Role.REVIEWER, 403), (Role.RESEARCHER, 403)],
)
def test_only_project_admins_open_the_assignments_page(project, held, role, status):
    _, holder, _ = held
    client = logged_in(member(project, role))
    assert client.get(url("assignments", project)).status_code == status
    settings = client.post(url("assignments", project), {"annotators_per_comment": 5})
    assert settings.status_code == (422 if status == 200 else status)
    released = client.post(url("assignments_release", project), {"person": holder.pk})
    assert released.status_code == (302 if status == 200 else status)
    assert Claim.objects.exists() == (status != 200)


def test_outsiders_get_404_and_anonymous_people_are_sent_to_log_in(project, held, outsider):
    _, holder, stand_in = held
    client = logged_in(outsider)
    assert client.get(url("assignments", project)).status_code == 404
    data = {"person": holder.pk, "to": stand_in.pk}
    assert client.post(url("assignments_reassign", project), data).status_code == 404
    anonymous = Client().get(url("assignments", project))
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert Claim.objects.get().annotator_id == holder.pk


def test_the_project_page_links_to_assignments_for_admins_only(project, project_admin, annotator):
    link = url("assignments", project)
    assert link in logged_in(project_admin).get(project.get_absolute_url()).content.decode()
    assert link not in logged_in(annotator).get(project.get_absolute_url()).content.decode()


def test_writes_need_post_and_the_csrf_token(project, held, project_admin):
    _, holder, _ = held
    client = Client(enforce_csrf_checks=True)
    client.force_login(project_admin)
    assert client.post(url("assignments_release", project), {"person": holder.pk}).status_code == (
        403
    )
    assert client.post(url("assignments", project), {"annotators_per_comment": 3}).status_code == (
        403
    )
    assert logged_in(project_admin).get(url("assignments_release", project)).status_code == 405
    assert Claim.objects.exists()


# -- what the page shows ---------------------------------------------------------------------


def test_the_page_shows_each_persons_work_and_held_comments(project, held, project_admin):
    comment, holder, stand_in = held
    make_label(comment, stand_in, COMPLETE_TOP_LEVEL, time_spent_ms=42_000)
    html = logged_in(project_admin).get(url("assignments", project)).content.decode()
    row = html.split(f'id="person-{stand_in.pk}"')[1].split("</tr>")[0]
    assert "stand_in" in row and "42 s" in row and ">1</td>" in row
    holder_row = html.split(f'id="person-{holder.pk}"')[1].split("</tr>")[0]
    assert "Release" in holder_row and "Reassign" in holder_row
    assert f'<option value="{stand_in.pk}">stand_in</option>' in holder_row
    assert f'<option value="{holder.pk}">' not in holder_row  # not to themselves
    assert "0 of 1 comment (0%) have their 2 labels; 1 is being labelled now." in html


def test_the_page_reads_a_constant_number_of_queries(
    project, project_admin, django_assert_num_queries
):
    client = logged_in(project_admin)
    counts = []
    for size, annotators in ((10, 2), (200, 12)):
        comments = make_thread(ArticleFactory(project=project), size)
        for _ in range(annotators):
            person = member(project)
            claim_next(person, project)
            make_label(comments[-1], person, COMPLETE_TOP_LEVEL, time_spent_ms=5_000)
        # session, user, project, role; members, their counts, held claims, recent times;
        # the people work can be handed to; comments, complete comments, held comments
        with django_assert_num_queries(12) as queries:
            assert client.get(url("assignments", project)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# -- settings --------------------------------------------------------------------------------


def test_an_admin_sets_k_the_order_and_how_long_comments_are_held(project, project_admin):
    response = logged_in(project_admin).post(
        url("assignments", project),
        {"annotators_per_comment": 3, "work_order": "shuffled", "claim_minutes": 15},
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.annotators_per_comment, project.work_order, project.claim_minutes) == (
        3,
        WorkOrder.SHUFFLED,
        15,
    )


@pytest.mark.parametrize(
    "data",
    [
        {"annotators_per_comment": 0, "work_order": "thread", "claim_minutes": 30},
        {"annotators_per_comment": "two", "work_order": "thread", "claim_minutes": 30},
        {"annotators_per_comment": 2, "work_order": "random", "claim_minutes": 30},
        {"annotators_per_comment": 2, "work_order": "thread", "claim_minutes": 0},
    ],
)
def test_bad_settings_are_refused_with_the_reason(project, project_admin, data):
    response = logged_in(project_admin).post(url("assignments", project), data)
    assert response.status_code == 422
    assert 'class="errorlist' in response.content.decode()
    project.refresh_from_db()
    assert (project.annotators_per_comment, project.work_order, project.claim_minutes) == (
        2,
        WorkOrder.THREAD,
        30,
    )


# -- release and reassign --------------------------------------------------------------------


def test_release_gives_a_persons_held_work_back(project, held, project_admin):
    _, holder, _ = held
    response = logged_in(project_admin).post(
        url("assignments_release", project), {"person": holder.pk}, follow=True
    )
    assert "Released 1 comment held by holder." in response.content.decode()
    assert not Claim.objects.exists()


def test_reassign_hands_held_work_to_another_annotator(project, held, project_admin):
    comment, holder, stand_in = held
    response = logged_in(project_admin).post(
        url("assignments_reassign", project), {"person": holder.pk, "to": stand_in.pk}, follow=True
    )
    assert "Handed 1 comment held by holder to stand_in." in response.content.decode()
    assert Claim.objects.get().annotator_id == stand_in.pk
    # The stand-in's next visit opens the comment handed to them.
    start = logged_in(stand_in).get(reverse("labelling:start", args=[project.slug]))
    assert start["Location"].endswith(f"/label/{comment.pk}/")


@pytest.mark.parametrize("target", ["self", "reviewer", "outsider", "missing", "garbage"])
def test_reassigning_to_someone_who_cannot_take_the_work_is_refused(
    project, held, project_admin, reviewer, outsider, target
):
    _, holder, _ = held
    to = {
        "self": holder.pk,
        "reviewer": reviewer.pk,
        "outsider": outsider.pk,
        "missing": 999_999,
        "garbage": "x'; drop",
    }[target]
    response = logged_in(project_admin).post(
        url("assignments_reassign", project), {"person": holder.pk, "to": to}
    )
    assert response.status_code == 400
    assert Claim.objects.get().annotator_id == holder.pk


def test_releasing_someone_of_another_project_is_refused(project, other_project, project_admin):
    stranger = member(other_project)
    Claim.objects.create(
        project=other_project,
        comment=make_comment(ArticleFactory(project=other_project)),
        annotator=stranger,
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    response = logged_in(project_admin).post(
        url("assignments_release", project), {"person": stranger.pk}
    )
    assert response.status_code == 400
    assert Claim.objects.exists()


def test_the_held_work_of_someone_who_left_can_still_be_released(project, held, project_admin):
    _, holder, _ = held
    holder.memberships.all().delete()
    html = logged_in(project_admin).get(url("assignments", project)).content.decode()
    assert "no longer labels here" in html
    response = logged_in(project_admin).post(
        url("assignments_release", project), {"person": holder.pk}
    )
    assert response.status_code == 302
    assert not Claim.objects.exists()


def test_the_settings_inputs_carry_the_limits_the_server_checks(project, project_admin):
    html = logged_in(project_admin).get(url("assignments", project)).content.decode()
    assert 'name="annotators_per_comment" value="2" min="1" max="50"' in html
    assert 'name="claim_minutes" value="30" min="1" max="1440"' in html
