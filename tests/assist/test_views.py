"""The models page, a model's settings and a run's page: who may open them, what they show.

The matrix is data like the corpus app's (tests/corpus/test_permissions.py): add a ``Page``
row to ``PAGES`` for each new route of ``annotator/assist/urls.py``; a test fails while a
route has none.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import URLPattern, reverse

from annotator.assist import urls as assist_urls
from annotator.assist.models import MachineLabeller, PredictionRun
from annotator.corpus.models import Article
from annotator.corpus.permissions import Action
from tests.corpus.test_permissions import PEOPLE, Page, expected, outcome, person
from tests.factories import ArticleFactory, make_comment, make_model, make_prediction

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class World:
    slug: str
    model_id: int
    run_id: int
    comment_id: int


PAGES = [
    Page("assist:model_list", Action.RESULTS, lambda w: [w.slug]),
    Page(
        "assist:model_settings",
        Action.MANAGE,
        lambda w: [w.slug, w.model_id],
        method="post",
        data={"m-suggestions": "nonsense"},  # refused by the form: nothing changes
    ),
    Page("assist:run_detail", Action.RESULTS, lambda w: [w.slug, w.run_id]),
    Page(
        "assist:llm_model_save",
        Action.MANAGE,
        lambda w: [w.slug],
        method="post",
        data={"llm-name": "no spaces allowed"},  # refused by the form: nothing changes
    ),
    Page(
        "assist:llm_run_start",
        Action.MANAGE,
        lambda w: [w.slug],
        method="post",
        data={"llmrun-model": "0"},  # no such model: refused, no run
    ),
    Page(
        "assist:predictions_import",
        Action.MANAGE,
        lambda w: [w.slug],
        method="post",
        data={},  # no file: refused by the form, nothing is stored
    ),
    # With no labels the run fails with its reason: the matrix only checks who may start it.
    Page("assist:train_learner", Action.MANAGE, lambda w: [w.slug], method="post"),
]


@pytest.fixture
def world(project) -> World:
    comment = make_comment(ArticleFactory(project=project))
    model = make_model(project)
    run = PredictionRun.objects.create(
        project=project, labeller=model, kind=PredictionRun.Kind.IMPORT, status="succeeded"
    )
    return World(project.slug, model.pk, run.pk, comment.pk)


@pytest.mark.parametrize("who", PEOPLE)
@pytest.mark.parametrize("page", PAGES, ids=str)
def test_the_matrix_of_person_and_page(client, world, project, other_project, page, who):
    user = person(who, project, other_project)
    if user is not None:
        client.force_login(user)
    url = reverse(page.name, args=page.args(world))
    response = getattr(client, page.method)(url, page.data)
    assert outcome(response) == expected(page, who, user)


def test_the_matrix_covers_every_route_of_the_assist_app():
    routes = {
        f"{assist_urls.app_name}:{p.name}"
        for p in assist_urls.urlpatterns
        if isinstance(p, URLPattern)
    }
    assert routes <= {page.name for page in PAGES}


def test_the_models_page_lists_the_newest_version_of_each_model_with_its_counts(
    client, project, project_admin
):
    comment = make_comment(ArticleFactory(project=project))
    make_model(project, "learner", version="1")
    newest = make_model(project, "learner", version="2")
    make_prediction(newest, comment, "stance_article", "deny", 0.3)
    client.force_login(project_admin)

    page = client.get(reverse("assist:model_list", args=[project.slug])).content.decode()

    assert "v2" in page and "v1" not in page
    assert f'id="model-{newest.pk}"' in page


def test_the_models_page_costs_the_same_queries_for_one_model_as_for_five(
    client, project, project_admin, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(project_admin)
    url = reverse("assist:model_list", args=[project.slug])
    make_model(project, "one")
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for index in range(4):
        make_model(project, f"more-{index}")
    with CaptureQueriesContext(connection) as five:
        client.get(url)
    assert len(five) == len(one)


def test_an_admin_makes_one_model_order_the_work_and_the_threads_follow_its_confidence(
    client, project, project_admin
):
    article = ArticleFactory(project=project)
    comment = make_comment(article)
    first, second = make_model(project, "first"), make_model(project, "second")
    make_prediction(second, comment, "stance_article", "deny", 0.25)
    MachineLabeller.objects.filter(pk=first.pk).update(orders_work=True)
    client.force_login(project_admin)

    response = client.post(
        reverse("assist:model_settings", args=[project.slug, second.pk]),
        {f"m{second.pk}-suggestions": "preselect", f"m{second.pk}-orders_work": "on"},
    )

    assert response.status_code == 302
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.orders_work, second.orders_work, second.suggestions) == (
        False,
        True,
        "preselect",
    )
    assert Article.objects.get(pk=article.pk).lowest_confidence == 0.25


def test_a_settings_form_with_a_value_not_offered_changes_nothing_and_says_why(
    client, project, project_admin
):
    model = make_model(project)
    client.force_login(project_admin)

    response = client.post(
        reverse("assist:model_settings", args=[project.slug, model.pk]),
        {f"m{model.pk}-suggestions": "always"},
        follow=True,
    )

    model.refresh_from_db()
    assert model.suggestions == "after"
    assert "not one of the available choices" in response.content.decode()
