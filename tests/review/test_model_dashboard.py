"""The dashboard's Models section and its CSV: shown only with models, the figures on the
page and in the CSV, hostile names escaped, the page's queries constant in size, and the
proof on the seed thread (an import of predictions, the model-vs-gold table by hand)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.corpus.models import Comment, Role
from annotator.labelling.schemes import current_scheme_for
from annotator.review.model_agreement import model_figures
from tests.factories import (
    ArticleFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    label_in_bulk,
    make_comment,
    make_gold_label,
    make_label,
    make_model,
    make_prediction,
    make_thread,
)
from tests.review.adjudication_data import REPLY, TOP

LABELS_READ = '"labelling_annotation"."answers"'
SEED = Path(__file__).resolve().parents[2] / "fixtures" / "seed_thread.txt"


@pytest.fixture(autouse=True)
def empty_cache():
    caches["default"].clear()


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(client, project):
    return client.get(reverse("review:dashboard", args=[project.slug]))


def models_csv(client, project) -> list[dict]:
    response = client.get(reverse("review:dashboard_csv", args=[project.slug, "models"]))
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def stance(value, reply=False):
    return {**(REPLY if reply else TOP), "stance_article": value}


@pytest.fixture
def judged(project, reviewer, annotator):
    """Four comments labelled by one annotator and settled as gold; the model right on 3."""
    article = ArticleFactory(project=project)
    model = make_model(project, "stance-bert", version="2")
    for gold, said in [("support", "support"), ("deny", "deny"), ("deny", "deny"),
                       ("support", "deny")]:  # fmt: skip
        comment = make_comment(article)
        make_label(comment, annotator, stance(gold))
        make_gold_label(comment, reviewer, stance(gold))
        make_prediction(model, comment, "stance_article", said, confidence=0.7)
    return model


def test_a_project_without_models_has_no_models_section(project, reviewer, annotator):
    make_label(make_comment(ArticleFactory(project=project)), annotator, stance("deny"))
    response = page(logged_in(reviewer), project)
    assert response.status_code == 200
    assert response.context["models"] == []
    assert 'id="models"' not in response.content.decode()
    assert models_csv(logged_in(reviewer), project) == []


def test_the_models_section_shows_the_figures_against_gold(project, reviewer, judged):
    response = page(logged_in(reviewer), project)
    html = response.content.decode()
    assert 'id="models"' in html and 'href="#models"' in html
    assert "stance-bert@2" in html
    (model,) = response.context["models"]
    stance_row = next(q for q in model["questions"] if q["key"] == "stance_article")
    assert stance_row["gold"]["all"]["percent"]["value"] == "75%"
    assert stance_row["gold"]["all"]["units"] == 4
    # Kappa by hand: po 3/4; model s1 d3, gold s2 d2: pe (1*2 + 3*2)/16 = 1/2; (3/4-1/2)/(1/2).
    assert stance_row["gold"]["all"]["kappa"]["value"] == "0.50"
    assert stance_row["confusion"].shared == 4
    assert [row.total for row in stance_row["confusion"].rows] == [1, 3]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.REVIEWER, Role.RESEARCHER])
def test_those_who_see_results_see_the_section_and_its_csv(project, judged, role):
    viewer = UserFactory(username=f"viewer-{role}")
    MembershipFactory(project=project, user=viewer, role=role)
    client = logged_in(viewer)
    assert 'id="models"' in page(client, project).content.decode()
    assert models_csv(client, project)


def test_annotators_see_neither(project, judged, annotator):
    client = logged_in(annotator)
    assert page(client, project).status_code == 403
    url = reverse("review:dashboard_csv", args=[project.slug, "models"])
    assert client.get(url).status_code == 403


def test_the_csv_has_the_figures_of_the_page(project, reviewer, judged):
    rows = models_csv(logged_in(reviewer), project)
    kappa = next(
        r
        for r in rows
        if (r["table"], r["question"], r["against"], r["subset"], r["measure"])
        == ("agreement", "stance_article", "gold", "all", "cohen_kappa")
    )
    assert float(kappa["value"]) == pytest.approx(0.5)
    assert kappa["comments"] == "4"
    confusion = {
        (r["model_label"], r["other_label"]): int(r["value"])
        for r in rows
        if r["table"] == "confusion" and r["question"] == "stance_article"
    }
    assert confusion == {("Support", "Support"): 1, ("Deny", "Deny"): 2, ("Deny", "Support"): 1}


def test_hostile_model_and_annotator_names_are_escaped(project, reviewer):
    article = ArticleFactory(project=project)
    evil = UserFactory(username="<script>x</script>")
    MembershipFactory(project=project, user=evil, role=Role.ANNOTATOR)
    model = make_model(project, "<b>bold</b>", version="1")
    for value in ("support", "deny"):
        comment = make_comment(article)
        make_label(comment, evil, stance(value))
        make_prediction(model, comment, "stance_article", value)
    html = page(logged_in(reviewer), project).content.decode()
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;@1" in html


def models_project(slug: str, size: int):
    project = ProjectFactory(slug=slug)
    viewer = UserFactory(username=f"{slug}-viewer")
    MembershipFactory(project=project, user=viewer, role=Role.REVIEWER)
    people = [UserFactory(username=f"{slug}-a{i}") for i in range(3)]
    for person in people:
        MembershipFactory(project=project, user=person, role=Role.ANNOTATOR)
    thread = make_thread(ArticleFactory(project=project), size)
    label_in_bulk(
        thread,
        people,
        lambda i, c, person: stance(["support", "deny"][(i + person.pk) % 2], c.parent_id),
    )
    model = make_model(project)
    for index, comment in enumerate(thread):
        make_prediction(model, comment, "stance_article", "support")
        if index % 4 == 0:
            make_gold_label(comment, viewer, stance("support", comment.parent_id))
    return project, viewer


def test_the_page_with_models_reads_with_the_same_queries_for_10_or_200_comments(db):
    counts = []
    for slug, size in (("small", 10), ("large", 200)):
        project, viewer = models_project(slug, size)
        client = logged_in(viewer)
        page(client, project)  # warm the session
        caches["default"].clear()
        with CaptureQueriesContext(connection) as queries:
            response = page(client, project)
        assert response.status_code == 200
        assert response.context["models"][0]["questions"][0]["majority"]["all"]["units"] > 0
        reads = [q["sql"] for q in queries.captured_queries if LABELS_READ in q["sql"]]
        assert len(reads) == 1  # the models share the page's one read of the labels
        counts.append(len(queries))
    # The page without models (11), then the models' versions, predictions and gold.
    assert counts == [14, 14]


def test_the_models_csv_reads_with_the_same_queries_for_10_or_200_comments(db):
    counts = []
    for slug, size in (("small", 10), ("large", 200)):
        project, viewer = models_project(slug, size)
        client = logged_in(viewer)
        with CaptureQueriesContext(connection) as queries:
            assert models_csv(client, project)
        counts.append(len(queries))
    assert counts[0] == counts[1]


# -- the proof on the seed thread ------------------------------------------------------------


STANCES = ["support", "deny", "query", "comment"]


def import_predictions(model, comments, said):
    """Predictions for every comment, through the one check and the one bulk write every
    import goes through (``check_answers``, ``write_predictions``)."""
    from annotator.assist.answers import check_answers
    from annotator.assist.predictions import PredictionItem, write_predictions

    current = current_scheme_for(model.project)
    items = [
        PredictionItem(
            comment.pk,
            check_answers(
                current.scheme,
                {"stance_article": said(i)},
                {"stance_article": 0.6},
                is_reply=comment.parent_id is not None,
            ),
        )
        for i, comment in enumerate(comments)
    ]
    return write_predictions(model, items, scheme_version=current.version)


def test_the_seed_thread_with_imported_predictions_gives_the_model_vs_gold_table(project, reviewer):
    """The seed thread imported and labelled, gold for every third comment, a prediction for
    every comment; the model-vs-gold table checked against a count by hand."""
    from annotator.corpus.importers.loader import import_file

    import_file(project, SEED, fmt="text")
    comments = list(Comment.objects.filter(article__project=project).order_by("path"))
    assert len(comments) > 12
    people = [UserFactory(username=f"seed-{i}") for i in range(2)]

    def human(i):
        return STANCES[i % 4]

    def model_says(i):  # right on all but every fifth comment
        return human(i) if i % 5 else STANCES[(i + 1) % 4]

    for i, comment in enumerate(comments):
        for person in people:
            make_label(comment, person, stance(human(i), comment.parent_id is not None))
    gold_ids = set()
    for i, comment in enumerate(comments):
        if i % 3 == 0:
            make_gold_label(comment, reviewer, stance(human(i), comment.parent_id is not None))
            gold_ids.add(i)
    model = make_model(project, "seed-model")
    assert import_predictions(model, comments, model_says) == len(comments)

    # By hand: the gold comments, how many the model got right, and Cohen's kappa.
    pairs = [(model_says(i), human(i)) for i in sorted(gold_ids)]
    right = sum(said == gold for said, gold in pairs)
    n = len(pairs)
    chance = sum(sum(s == v for s, _ in pairs) * sum(g == v for _, g in pairs) for v in STANCES) / (
        n * n
    )
    kappa = (right / n - chance) / (1 - chance)
    top = [i for i in gold_ids if comments[i].parent_id is None]

    (figures,) = model_figures(project, current_scheme_for(project).scheme, resamples=200)
    vs_gold = next(q for q in figures.questions if q.key == "stance_article")
    assert vs_gold.gold["all"].units == n
    assert vs_gold.gold["all"].percent.value == pytest.approx(right / n)
    assert vs_gold.gold["all"].kappa.value == pytest.approx(kappa)
    assert vs_gold.gold["top-level"].units == len(top)
    assert vs_gold.gold["replies"].units == n - len(top)
    assert sum(vs_gold.confusion.values()) == n
    assert sum(c for (s, g), c in vs_gold.confusion.items() if s == g) == right
    # The majority: two people who always agree, so every comment, as often right.
    assert vs_gold.majority["all"].units == len(comments)
    right_all = sum(model_says(i) == human(i) for i in range(len(comments)))
    assert vs_gold.majority["all"].percent.value == pytest.approx(right_all / len(comments))

    client = logged_in(reviewer)
    (shown,) = page(client, project).context["models"]
    row = next(q for q in shown["questions"] if q["key"] == "stance_article")
    assert row["gold"]["all"]["kappa"]["value"] == f"{kappa:.2f}"
    assert row["gold"]["all"]["units"] == n
