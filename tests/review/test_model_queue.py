"""The queue's "model and humans disagree" filter: which comments it lists and in what
order, the model's answer beside the people's and gold's, bad filters refused, escaping,
and queries constant in the project's size."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotator.assist.models import Prediction
from annotator.corpus.models import Role
from annotator.labelling.schemes import current_scheme_for
from annotator.review.model_queue import model_disagreements
from tests.factories import (
    ArticleFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_comment,
    make_gold_label,
    make_label,
    make_model,
    make_prediction,
)
from tests.review.adjudication_data import TOP, annotators


@pytest.fixture
def article(project):
    return ArticleFactory(project=project)


@pytest.fixture
def people(project):
    return annotators(project, 3)


@pytest.fixture
def model(project):
    return make_model(project, "stance-bert")


def stance(value):
    return {**TOP, "stance_article": value}


def labelled(article, people, *values, **fields):
    comment = make_comment(article, **fields)
    for person, value in zip(people, values, strict=False):
        make_label(comment, person, stance(value))
    return comment


def listed(project, model):
    return model_disagreements(project, model, current_scheme_for(project).scheme)


def queue_url(project, **params):
    url = reverse("review:queue", args=[project.slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_comments_where_the_model_differs_from_the_majority_or_gold_are_listed(
    project, article, people, model, reviewer
):
    agrees = labelled(article, people, "support", "support", "deny")
    against_majority = labelled(article, people, "support", "support", "deny")
    tie = labelled(article, people, "support", "deny")
    against_gold = labelled(article, people, "deny", "deny")
    make_gold_label(against_gold, reviewer, stance("query"))
    make_prediction(model, agrees, "stance_article", "support")
    make_prediction(model, against_majority, "stance_article", "deny")
    make_prediction(model, tie, "stance_article", "query")  # no majority, no gold: not listed
    make_prediction(model, against_gold, "stance_article", "deny")

    found = {item.comment_id: item for item in listed(project, model)}
    assert set(found) == {against_majority.pk, against_gold.pk}
    item = found[against_gold.pk]
    assert item.keys == ("stance_article",)
    assert (item.model, item.majority, item.gold) == (
        {"stance_article": "deny"},
        {"stance_article": "deny"},
        {"stance_article": "query"},
    )


def test_the_list_is_worst_first_then_in_thread_order(project, article, people, model):
    first = labelled(article, people, "support", "support")
    second = labelled(article, people, "support", "support")
    worst = labelled(article, people, "support", "support")
    for comment in (first, second):
        make_prediction(model, comment, "stance_article", "deny")
        make_prediction(model, comment, "claim_type", "opinion")  # agrees: half of two
    make_prediction(model, worst, "stance_article", "deny")  # one of one
    assert [i.comment_id for i in listed(project, model)] == [worst.pk, first.pk, second.pk]
    assert [i.percent for i in listed(project, model)] == [100, 50, 50]


def test_stale_predictions_and_other_models_are_left_out(project, article, people, model):
    comment = labelled(article, people, "support", "support")
    make_prediction(model, comment, "stance_article", "deny")
    Prediction.objects.update(stale_since=timezone.now())
    other = make_model(project, "other")
    make_prediction(other, comment, "claim_type", "factual")
    assert listed(project, model) == []
    assert [i.comment_id for i in listed(project, other)] == [comment.pk]


def test_the_filter_shows_the_models_answer_beside_the_peoples(
    project, article, people, model, reviewer
):
    comment = labelled(article, people, "support", "support")
    make_gold_label(comment, reviewer, stance("support"))
    make_prediction(model, comment, "stance_article", "deny")
    labelled(article, people, "support", "deny")  # annotators disagree: the usual queue
    client = logged_in(reviewer)
    usual = client.get(queue_url(project)).content.decode()
    assert f'href="{queue_url(project, model=model.pk)}"' in usual
    response = client.get(queue_url(project, model=model.pk))
    assert response.status_code == 200
    html = response.content.decode()
    rows = re.findall(r'class="queue-item[^"]*" data-comment-id="(\d+)"', html)
    assert rows == [str(comment.pk)]
    assert '<td class="model-answer">Deny</td>' in html
    assert '<td class="people-answer">Support</td>' in html
    assert '<td class="gold-answer">Support</td>' in html
    assert 'aria-current="page">stance-bert@1 and humans disagree' in html


@pytest.mark.parametrize("value", ["abc", "0", "999999", ""])
def test_a_model_not_of_the_project_is_a_400(project, reviewer, model, value):
    response = logged_in(reviewer).get(queue_url(project, model=value))
    assert response.status_code == 400


def test_a_model_of_another_project_or_an_older_version_is_a_400(project, other_project, reviewer):
    elsewhere = make_model(other_project)
    old = make_model(project, "bert", version="1")
    make_model(project, "bert", version="2")
    client = logged_in(reviewer)
    assert client.get(queue_url(project, model=elsewhere.pk)).status_code == 400
    assert client.get(queue_url(project, model=old.pk)).status_code == 400


def test_annotators_and_researchers_may_not_filter_the_queue(project, model):
    for role in (Role.ANNOTATOR, Role.RESEARCHER):
        user = UserFactory(username=f"who-{role}")
        MembershipFactory(project=project, user=user, role=role)
        assert logged_in(user).get(queue_url(project, model=model.pk)).status_code == 403


def test_comment_text_and_model_names_are_escaped(project, article, people, reviewer):
    evil = make_model(project, "<b>evil</b>")
    comment = labelled(article, people, "support", "support", text="<script>alert(1)</script>")
    make_prediction(evil, comment, "stance_article", "deny")
    html = logged_in(reviewer).get(queue_url(project, model=evil.pk)).content.decode()
    assert "<script>alert(1)</script>" not in html and "<b>evil</b>" not in html
    assert "&lt;script&gt;" in html


def disagreeing_project(slug: str, size: int):
    project = ProjectFactory(slug=slug)
    viewer = UserFactory(username=f"{slug}-rev")
    MembershipFactory(project=project, user=viewer, role=Role.REVIEWER)
    people = annotators(project, 2, prefix=f"{slug}-")
    article = ArticleFactory(project=project)
    model = make_model(project)
    for index in range(size):
        comment = labelled(article, people, "support", "support")
        make_prediction(model, comment, "stance_article", "deny" if index % 2 else "support")
    return project, viewer, model


def test_the_filtered_page_reads_with_the_same_queries_for_6_or_40_comments(db):
    counts = []
    for slug, size in (("small", 6), ("large", 40)):
        project, viewer, model = disagreeing_project(slug, size)
        client = logged_in(viewer)
        client.get(queue_url(project))  # warm the session and the kept scores
        with CaptureQueriesContext(connection) as queries:
            response = client.get(queue_url(project, model=model.pk))
        assert response.content.decode().count('class="queue-item') == size // 2
        counts.append(len(queries))
    assert counts[0] == counts[1]
