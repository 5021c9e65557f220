"""The Django admin for labelling: held comments (claims) listed read-only and released."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from annotator.corpus.models import Role
from annotator.labelling.assignment import claim_next, waiting_for
from annotator.labelling.models import Claim
from tests.factories import ArticleFactory, MembershipFactory, UserFactory, make_thread

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:labelling_claim_changelist"


def person(project, username):
    user = UserFactory(username=username)
    MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
    return user


@pytest.fixture
def claims(project, other_project):
    """Two live claims in ``project`` (one comment each, k = 1), one expired, one elsewhere."""
    project.annotators_per_comment = 1
    project.save(update_fields=["annotators_per_comment"])
    make_thread(ArticleFactory(project=project), 4)
    make_thread(ArticleFactory(project=other_project), 2)
    first, second, late = (person(project, name) for name in ("first", "second", "late"))
    claim_next(first, project)
    claim_next(second, project)
    claim_next(late, project)
    Claim.objects.filter(annotator=late).update(expires_at=timezone.now() - timedelta(minutes=1))
    elsewhere = person(other_project, "elsewhere")
    claim_next(elsewhere, other_project)
    return {c.annotator.username: c for c in Claim.objects.select_related("annotator")}


def listed(response) -> list[str]:
    return sorted(c.annotator.username for c in response.context["cl"].result_list)


def test_staff_see_every_claim_with_who_holds_it_until_when_and_whether_it_is_live(
    admin_client, claims
):
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert listed(response) == ["elsewhere", "first", "late", "second"]
    html = response.content.decode()
    for header in ("Comment", "Project", "Annotator", "Claimed at", "Expires at", "Live"):
        assert f">{header}<" in html or f">{header}</a>" in html
    # The expired claim shows as not live, the others as live.
    assert html.count('alt="True"') == 3
    assert html.count('alt="False"') == 1


def test_claims_filter_by_project_and_by_live_or_expired(admin_client, claims, project):
    by_project = admin_client.get(reverse(CHANGELIST), {"project__id__exact": project.pk})
    assert listed(by_project) == ["first", "late", "second"]
    assert listed(admin_client.get(reverse(CHANGELIST), {"state": "expired"})) == ["late"]
    live = admin_client.get(
        reverse(CHANGELIST), {"state": "live", "project__id__exact": project.pk}
    )
    assert listed(live) == ["first", "second"]


def test_claims_are_read_only(admin_client, claims):
    claim = claims["first"]
    assert admin_client.get(reverse("admin:labelling_claim_add")).status_code == 403
    change_url = reverse("admin:labelling_claim_change", args=[claim.pk])
    page = admin_client.get(change_url)
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    data = {"expires_at_0": "2099-01-01", "expires_at_1": "00:00:00"}
    assert admin_client.post(change_url, data).status_code == 403
    claim.refresh_from_db()
    assert claim.expires_at.year != 2099


def test_the_release_action_gives_the_selected_comments_back_to_the_queue(
    admin_client, claims, project
):
    first, second = claims["first"], claims["second"]
    newcomer = person(project, "newcomer")
    assert first.comment not in waiting_for(newcomer, project)
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "release_claims", ACTION_CHECKBOX_NAME: [first.pk]},
        follow=True,
    )
    assert "Released 1 claim." in response.content.decode()
    assert not Claim.objects.filter(pk=first.pk).exists()
    assert Claim.objects.filter(pk=second.pk).exists()
    # The released comment is waiting again, for the next person who asks.
    assert first.comment in waiting_for(newcomer, project)
    assert second.comment not in waiting_for(newcomer, project)


def test_only_staff_who_may_delete_claims_get_the_release_action(client, claims):
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_claim"))
    client.force_login(viewer)
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert "release_claims" not in response.content.decode()
    refused = client.post(
        reverse(CHANGELIST),
        {"action": "release_claims", ACTION_CHECKBOX_NAME: [claims["first"].pk]},
    )
    assert refused.status_code in (200, 302)
    assert Claim.objects.filter(pk=claims["first"].pk).exists()

    viewer.user_permissions.add(Permission.objects.get(codename="delete_claim"))
    assert "release_claims" in client.get(reverse(CHANGELIST)).content.decode()


def test_the_claim_list_reads_a_constant_number_of_queries(
    admin_client, project, django_assert_max_num_queries
):
    make_thread(ArticleFactory(project=project), 40)
    for number in range(30):
        claim_next(person(project, f"p{number}"), project)
    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse(CHANGELIST))
    assert response.context["cl"].result_count == 30
