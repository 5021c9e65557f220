"""The dashboard page and its CSV downloads: who may open them, what they show, the htmx
swap of the confusion matrix, bad input, hostile names and query counts."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.corpus.models import Role
from annotator.review import measures
from annotator.review.dashboard_views import safe_cell
from tests.factories import (
    ArticleFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    label_in_bulk,
    make_comment,
    make_label,
    make_thread,
)

HTMX = {"HTTP_HX_REQUEST": "true"}
CHARTS = ["progress", "distribution", "agreement", "pace", "confusion"]
DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOP = {
    "stance_article": "support",
    "claim_type": "opinion",
    "speculation": "certain",
    "source_cited": ["none"],
}
STANCES = ["support", "deny", "query", "comment"]


def page_url(project, **params):
    url = reverse("review:dashboard", args=[project.slug])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def csv_url(project, chart, **params):
    url = reverse("review:dashboard_csv", args=[project.slug, chart])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


@pytest.fixture(autouse=True)
def empty_cache():
    """Every test starts without cached agreement figures."""
    caches["default"].clear()


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def read_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def member(project, name, role=Role.ANNOTATOR):
    user = UserFactory(username=name)
    MembershipFactory(project=project, user=user, role=role)
    return user


@pytest.fixture
def labelled(project):
    """Three annotators on six comments (two of them replies), over two days."""
    ann, bob, cy = (member(project, name) for name in ("ann", "bob", "cy"))
    article = ArticleFactory(project=project)
    tops = [make_comment(article) for _ in range(4)]
    replies = [make_comment(article, parent=tops[0]), make_comment(article, parent=tops[1])]
    for index, comment in enumerate(tops + replies):
        day = DAY + timedelta(days=index // 3, minutes=10 * index)
        answers = {**TOP, "stance_article": STANCES[index % 4]}
        if comment.parent_id:
            answers["stance_parent"] = "deny"
        make_label(comment, ann, answers, updated_at=day, time_spent_ms=30_000)
        other = {**answers, "stance_article": STANCES[(index + index // 2) % 4]}
        make_label(comment, bob, other, updated_at=day, time_spent_ms=50_000)
        if index < 3:
            make_label(comment, cy, answers, updated_at=day, time_spent_ms=40_000)
    make_label(tops[3], cy, {}, status="skipped", updated_at=DAY)
    return {"ann": ann, "bob": bob, "cy": cy, "comments": tops + replies}


# -- who may open it -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.ADMIN, 200), (Role.REVIEWER, 200), (Role.RESEARCHER, 200), (Role.ANNOTATOR, 403)],
)
def test_admins_reviewers_and_researchers_open_the_dashboard_but_not_annotators(
    project, labelled, role, status
):
    client = logged_in(member(project, f"someone-{role}", role))
    assert client.get(page_url(project)).status_code == status
    assert client.get(page_url(project), **HTMX).status_code == status
    for chart in CHARTS:
        assert client.get(csv_url(project, chart)).status_code == status, chart


def test_outsiders_get_404_and_anonymous_people_are_sent_to_log_in(project, labelled, outsider):
    client = logged_in(outsider)
    assert client.get(page_url(project)).status_code == 404
    for chart in CHARTS:
        assert client.get(csv_url(project, chart)).status_code == 404
    for url in [page_url(project), csv_url(project, "pace")]:
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_the_dashboard_only_answers_get(project, reviewer):
    client = logged_in(reviewer)
    assert client.post(page_url(project)).status_code == 405
    assert client.post(csv_url(project, "pace")).status_code == 405


def test_an_unknown_chart_is_not_found(project, reviewer):
    assert logged_in(reviewer).get(csv_url(project, "secrets")).status_code == 404


def test_the_project_page_links_to_the_dashboard_for_those_who_may_open_it(
    project, reviewer, annotator
):
    link = page_url(project)
    assert link in logged_in(reviewer).get(project.get_absolute_url()).content.decode()
    assert link not in logged_in(annotator).get(project.get_absolute_url()).content.decode()


# -- what the page shows ---------------------------------------------------------------------


def test_the_page_shows_every_chart_with_its_csv_link(project, labelled, reviewer):
    response = logged_in(reviewer).get(page_url(project))
    html = response.content.decode()
    assert response.status_code == 200
    for heading in [
        "Progress over time",
        "Agreement between annotators",
        "Where annotators disagree most",
        "Confusion matrix of two annotators",
        "Labels given, per question",
        "Pace per annotator",
        "Stance toward the article vs toward the parent",
    ]:
        assert heading in html, heading
    for chart in CHARTS[:-1]:
        assert f'href="{csv_url(project, chart)}"' in html
    assert html.count('role="img"') >= 2
    assert "Krippendorff\u2019s \u03b1" in html
    assert "Cohen\u2019s \u03ba per pair" in html
    assert 'class="table confusion-table"' in html
    assert "style=" not in html  # the CSP forbids inline styles
    context = response.context
    assert context["progress"].submitted == 15
    assert context["matrix"].a_name == "ann"
    assert context["matrix"].b_name == "bob"


def test_the_page_of_a_project_without_labels_says_so(project, reviewer):
    html = logged_in(reviewer).get(page_url(project)).content.decode()
    assert "No annotations submitted yet." in html
    assert "A confusion matrix needs two annotators who submitted labels." in html


def test_htmx_swaps_only_the_confusion_matrix_the_form_asks_for(project, labelled, reviewer):
    bob, cy = labelled["bob"], labelled["cy"]
    response = logged_in(reviewer).get(
        page_url(project, question="stance_article", a=bob.pk, b=cy.pk), **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="confusion"')
    assert "<html" not in html
    assert "Agreement between annotators" not in html
    assert "rows are <strong>bob</strong>\u2019s labels, columns <strong>cy</strong>\u2019s" in html
    assert "on the 3 comments both labelled" in html
    assert f'value="{cy.pk}" selected' in html


def test_htmx_restoring_history_gets_the_whole_page(project, labelled, reviewer):
    response = logged_in(reviewer).get(
        page_url(project), HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX
    )
    assert "Progress over time" in response.content.decode()


def test_without_javascript_the_form_reloads_the_page_with_its_choice(project, labelled, reviewer):
    ann, cy = labelled["ann"], labelled["cy"]
    url = page_url(project, question="source_cited%3Dnone", a=cy.pk, b=ann.pk)
    response = logged_in(reviewer).get(url)
    assert response.status_code == 200
    assert "Progress over time" in response.content.decode()
    matrix = response.context["matrix"]
    assert (matrix.a_name, matrix.b_name, matrix.question) == ("cy", "ann", "source_cited=none")
    assert matrix.columns == ["picked"]


@pytest.mark.parametrize(
    "params",
    [
        {"question": "stance_article", "a": "same", "b": "same"},
        {"question": "no_such_question", "a": "ann", "b": "bob"},
        {"question": "stance_article", "a": "999999", "b": "bob"},
        {"question": "stance_article", "a": "not-a-number", "b": "bob"},
        {"question": "stance_article"},
    ],
)
def test_a_bad_choice_is_refused_with_a_message_not_an_error(project, labelled, reviewer, params):
    ids = {"ann": labelled["ann"].pk, "bob": labelled["bob"].pk, "same": labelled["ann"].pk}
    params = {k: ids.get(v, v) for k, v in params.items()}
    client = logged_in(reviewer)
    page = client.get(page_url(project, **params))
    assert page.status_code == 400
    assert page.context["matrix"] is None
    assert 'class="errorlist' in page.content.decode()
    swapped = client.get(page_url(project, **params), **HTMX)
    assert swapped.status_code == 200  # htmx swaps 2xx only: the form shows why
    assert "confusion-table" not in swapped.content.decode()
    assert 'class="errorlist' in swapped.content.decode()
    download = client.get(csv_url(project, "confusion", **params))
    assert download.status_code == 400
    assert download["Content-Type"].startswith("text/plain")


def test_a_reviewer_is_not_offered_in_the_matrix(project, labelled, reviewer):
    response = logged_in(reviewer).get(
        page_url(project, question="stance_article", a=reviewer.pk, b=labelled["ann"].pk)
    )
    assert response.status_code == 400


def test_hostile_usernames_are_escaped(project, labelled, reviewer):
    evil = member(project, "<script>alert(1)</script>")
    for comment in labelled["comments"][:2]:
        make_label(comment, evil, TOP)
    response = logged_in(reviewer).get(
        page_url(project, question="stance_article", a=evil.pk, b=labelled["ann"].pk)
    )
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# -- CSV downloads ---------------------------------------------------------------------------


def test_each_csv_is_an_attachment_named_after_the_project_and_chart(project, labelled, reviewer):
    client = logged_in(reviewer)
    for chart in CHARTS[:-1]:
        response = client.get(csv_url(project, chart))
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"] == f'attachment; filename="aleppo-{chart}.csv"'
    ann, bob = labelled["ann"].pk, labelled["bob"].pk
    response = client.get(
        csv_url(project, "confusion", question="source_cited%3Dnone", a=ann, b=bob)
    )
    assert response["Content-Disposition"] == (
        f'attachment; filename="aleppo-confusion-source_cited-none-{ann}-{bob}.csv"'
    )


def test_the_progress_csv_matches_the_page(project, labelled, reviewer):
    client = logged_in(reviewer)
    progress = client.get(page_url(project)).context["progress"]
    rows = read_csv(client.get(csv_url(project, "progress")))
    assert rows == [
        {
            "day": d.day.isoformat(),
            "submitted": str(d.submitted),
            "cumulative": str(d.cumulative),
            "comments_labelled": str(d.labelled),
            "comments_with_2_labels": str(d.complete),
            "comments": "6",
        }
        for d in progress.days
    ]
    assert [(r["comments_labelled"], r["comments_with_2_labels"]) for r in rows] == [
        ("3", "3"),
        ("6", "6"),
    ]
    assert [r["submitted"] for r in rows] == ["9", "6"]
    assert rows[-1]["cumulative"] == "15"


def test_the_distribution_csv_matches_the_page(project, labelled, reviewer):
    client = logged_in(reviewer)
    html = client.get(page_url(project)).content.decode()
    rows = read_csv(client.get(csv_url(project, "distribution")))
    stance = {r["value"]: r for r in rows if r["question"] == "stance_article"}
    assert {v: int(r["count"]) for v, r in stance.items()} == {
        "support": 5,
        "deny": 4,
        "query": 3,
        "comment": 3,
    }
    assert stance["support"]["answered"] == "15"
    assert float(stance["support"]["share"]) == pytest.approx(5 / 15, abs=1e-4)
    assert "5 (33%)" in html
    parent = {r["value"]: int(r["count"]) for r in rows if r["question"] == "stance_parent"}
    assert parent["deny"] == 4


def test_the_pace_csv_matches_the_page(project, labelled, reviewer):
    client = logged_in(reviewer)
    paces = {p.username: p for p in client.get(page_url(project)).context["paces"]}
    rows = {r["annotator"]: r for r in read_csv(client.get(csv_url(project, "pace")))}
    assert set(rows) == {"ann", "bob", "cy"}
    assert rows["cy"]["submitted"] == "3"
    assert rows["cy"]["skipped"] == "1"
    assert float(rows["ann"]["median_seconds_per_comment"]) == 30.0
    assert rows["ann"]["active_days"] == "2"
    assert float(rows["ann"]["comments_per_hour"]) == pytest.approx(paces["ann"].per_hour, abs=0.01)
    assert rows["ann"]["last_activity"] == paces["ann"].last_activity.isoformat()


def test_the_agreement_csv_matches_the_page(project, labelled, reviewer):
    client = logged_in(reviewer)
    agreement = client.get(page_url(project)).context["agreement"]
    rows = read_csv(client.get(csv_url(project, "agreement")))
    by_key = {
        (r["table"], r["question"], r["subset"], r["measure"], r["annotator_a"]): r for r in rows
    }
    for row in agreement.rows:
        alpha = by_key[("agreement", row.question, row.subset, "alpha", "")]
        expected = row.result.alpha
        assert alpha["comments"] == str(expected.units)
        if expected.value is None:
            assert alpha["value"] == ""
        else:
            assert float(alpha["value"]) == pytest.approx(expected.value, abs=1e-4)
            assert float(alpha["low_95"]) == pytest.approx(expected.low, abs=1e-4)
    kappas = [r for r in rows if r["measure"] == "cohen_kappa" and r["subset"] == "all"]
    assert {(r["annotator_a"], r["annotator_b"]) for r in kappas} >= {("ann", "bob")}
    assert {r["question"] for r in rows if r["table"] == "stance_comparison"} == {
        "stance_article",
        "stance_parent",
    }


def test_the_confusion_csv_matches_the_matrix_on_the_page(project, labelled, reviewer):
    client = logged_in(reviewer)
    ann, bob = labelled["ann"].pk, labelled["bob"].pk
    matrix = client.get(page_url(project, question="stance_article", a=ann, b=bob)).context[
        "matrix"
    ]
    rows = read_csv(
        client.get(csv_url(project, "confusion", question="stance_article", a=ann, b=bob))
    )
    assert len(rows) == len(matrix.columns) ** 2
    cells = {(r["label_a"], r["label_b"]): int(r["count"]) for r in rows}
    for row in matrix.rows:
        for column, cell in zip(matrix.columns, row.cells, strict=True):
            assert cells[(row.label, column)] == cell.count
    assert sum(cells.values()) == matrix.shared == 6
    assert {r["annotator_a"] for r in rows} == {"ann"}


def test_csv_cells_that_a_spreadsheet_would_run_are_defused(project, labelled, reviewer):
    evil = member(project, "=HYPERLINK(1)")
    at = member(project, "@SUM(A1)")
    for comment in labelled["comments"][:2]:
        make_label(comment, evil, TOP)
        make_label(comment, at, TOP)
    client = logged_in(reviewer)
    names = {r["annotator"] for r in read_csv(client.get(csv_url(project, "pace")))}
    assert {"'=HYPERLINK(1)", "'@SUM(A1)"} <= names
    rows = read_csv(
        client.get(csv_url(project, "confusion", question="stance_article", a=evil.pk, b=at.pk))
    )
    assert {r["annotator_a"] for r in rows} == {"'=HYPERLINK(1)"}
    agreement = read_csv(client.get(csv_url(project, "agreement")))
    assert "'@SUM(A1)" in {r["annotator_b"] for r in agreement} | {
        r["annotator_a"] for r in agreement
    }
    assert not any(value.startswith(("=", "+", "@")) for row in agreement for value in row.values())


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        (-0.5, -0.5),
        (3, 3),
    ],
)
def test_safe_cell_quotes_formula_starts_but_leaves_numbers(value, safe):
    assert safe_cell(value) == safe


# -- queries ---------------------------------------------------------------------------------


def labelled_project(slug: str, size: int):
    project = ProjectFactory(slug=slug)
    viewer = member(project, f"{slug}-reviewer", Role.REVIEWER)
    people = [member(project, f"{slug}-a{i}") for i in range(3)]
    thread = make_thread(ArticleFactory(project=project), size)
    label_in_bulk(
        thread,
        people,
        lambda i, comment, person: (
            None
            if (i + person.pk) % 4 == 0
            else {**TOP, "stance_article": STANCES[(i * person.pk) % 4], "stance_parent": "deny"}
        ),
    )
    return project, viewer


LABELS_READ = '"labelling_annotation"."answers"'  # only a read of the labels selects them


@pytest.mark.parametrize(
    ("htmx", "expected"),
    # Session, user, project, role; people and names, scheme; then for the page the labels
    # version, the models (none here), the labels (once, for every chart) and the comment
    # count, for htmx the two annotators' labels.
    [(False, 11), (True, 8)],
    ids=["page", "htmx"],
)
def test_the_dashboard_reads_with_the_same_queries_for_10_or_300_comments(db, htmx, expected):
    counts = []
    for slug, size in (("small", 10), ("large", 300)):
        project, viewer = labelled_project(slug, size)
        client = logged_in(viewer)
        client.get(page_url(project), **(HTMX if htmx else {}))  # warm the session
        caches["default"].clear()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page_url(project), **(HTMX if htmx else {}))
        assert response.status_code == 200
        counts.append(len(queries))
        reads = [q["sql"] for q in queries.captured_queries if LABELS_READ in q["sql"]]
        assert len(reads) == 1, reads  # the labels are read once per page load
        if htmx:
            assert 'annotator_id" IN (' in reads[0]  # only the two annotators' labels
    assert counts == [expected, expected]


def test_a_reload_without_new_labels_does_not_compute_agreement_again(
    project, labelled, reviewer, monkeypatch
):
    client = logged_in(reviewer)
    first = client.get(page_url(project)).context["agreement"]

    def no_recomputing(*args, **kwargs):
        raise AssertionError("the agreement figures were computed again")

    monkeypatch.setattr(measures, "agreement_from_tally", no_recomputing)
    response = client.get(page_url(project))
    assert response.status_code == 200
    assert response.context["agreement"] == first
    assert client.get(csv_url(project, "agreement")).status_code == 200


def test_a_new_submitted_label_shows_on_the_next_load(project, labelled, reviewer):
    client = logged_in(reviewer)
    before = client.get(page_url(project)).context
    newcomer = member(project, "dee")
    make_label(labelled["comments"][5], newcomer, {**TOP, "stance_article": "query"})

    after = client.get(page_url(project)).context
    assert after["progress"].submitted == before["progress"].submitted + 1

    def stance(context):
        return next(
            r
            for r in context["agreement"].rows
            if (r.question, r.subset) == ("stance_article", "all")
        )

    assert stance(after).result.percent.value != stance(before).result.percent.value
    assert ("bob", "dee") in {(a, b) for a, b, _pair in stance(after).pairs}
    rows = read_csv(client.get(csv_url(project, "agreement")))
    assert "dee" in {r["annotator_b"] for r in rows if r["measure"] == "cohen_kappa"}


def test_the_dashboard_of_a_project_without_a_scheme_creates_nothing(project, reviewer):
    from annotator.labelling.models import Guidelines, LabelScheme

    LabelScheme.objects.filter(project=project).delete()
    Guidelines.objects.filter(project=project).delete()
    client = logged_in(reviewer)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(page_url(project)).status_code == 200
        assert client.get(page_url(project), **HTMX).status_code == 200
        for chart in CHARTS:
            assert client.get(csv_url(project, chart)).status_code == 200, chart
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []
    assert not LabelScheme.objects.filter(project=project).exists()
    assert not Guidelines.objects.filter(project=project).exists()


@pytest.mark.parametrize("chart", CHARTS)
def test_each_csv_reads_with_the_same_queries_for_10_or_300_comments(db, chart):
    counts = []
    for slug, size in (("small", 10), ("large", 300)):
        project, viewer = labelled_project(slug, size)
        client = logged_in(viewer)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(csv_url(project, chart)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
