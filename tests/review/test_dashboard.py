"""The dashboard's numbers: progress, label distribution, pace, confusion and agreement."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import caches

from annotator.corpus.models import Role
from annotator.review import dashboard, measures
from annotator.review.dashboard import (
    PairChoice,
    agreement_overview,
    agreement_questions,
    annotator_pace,
    annotator_totals,
    busiest_pair,
    confusion,
    label_distribution,
    progress_over_time,
    read_dashboard,
    scheme_of,
    shade_of,
)
from tests.factories import (
    ArticleFactory,
    MembershipFactory,
    UserFactory,
    label_in_bulk,
    make_comment,
    make_label,
    make_thread,
)

DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOP = {
    "stance_article": "support",
    "claim_type": "opinion",
    "speculation": "certain",
    "source_cited": ["none"],
}


@pytest.fixture(autouse=True)
def empty_cache():
    """Every test starts without cached agreement figures."""
    caches["default"].clear()


def people(project, *names, role=Role.ANNOTATOR):
    users = []
    for name in names:
        user = UserFactory(username=name)
        MembershipFactory(project=project, user=user, role=role)
        users.append(user)
    return users


@pytest.fixture
def comments(project):
    article = ArticleFactory(project=project)
    first = make_comment(article)
    reply = make_comment(article, parent=first)
    return [first, reply, make_comment(article), make_comment(article)]


# -- progress over time ----------------------------------------------------------------------


def test_progress_counts_submissions_per_day_and_fills_the_days_between(project, comments):
    ann, bob = people(project, "ann", "bob")
    make_label(comments[0], ann, TOP, updated_at=DAY)
    make_label(comments[1], ann, TOP, updated_at=DAY + timedelta(hours=2))
    make_label(comments[0], bob, TOP, updated_at=DAY + timedelta(days=2))
    make_label(comments[2], bob, TOP, status="draft", updated_at=DAY)
    make_label(comments[3], bob, {}, status="skipped", updated_at=DAY)

    progress = progress_over_time(project)

    assert [(d.day.isoformat(), d.submitted, d.cumulative) for d in progress.days] == [
        ("2026-03-02", 2, 2),
        ("2026-03-03", 0, 2),
        ("2026-03-04", 1, 3),
    ]
    # Comment 0 got its second label (the target) on the third day.
    assert [(d.labelled, d.complete) for d in progress.days] == [(2, 0), (2, 0), (2, 1)]
    assert progress.submitted == 3
    assert (progress.comments, progress.labelled, progress.complete) == (4, 2, 1)
    assert progress.target == 2


def test_progress_uses_the_projects_annotators_per_comment(project, comments):
    ann, bob, cy = people(project, "ann", "bob", "cy")
    for person in (ann, bob):
        make_label(comments[0], person, TOP)
    for person in (ann, bob, cy):
        make_label(comments[1], person, TOP)
    project.annotators_per_comment = 3

    progress = progress_over_time(project)

    assert (progress.labelled, progress.complete, progress.target) == (2, 1, 3)
    assert (progress.days[-1].labelled, progress.days[-1].complete) == (2, 1)


def test_progress_counts_a_submission_without_a_time_but_not_on_a_day(project, comments):
    ann, bob = people(project, "ann", "bob")
    make_label(comments[0], ann, TOP, updated_at=DAY)
    make_label(comments[0], bob, TOP, submitted_at=None)
    progress = progress_over_time(project)
    assert (progress.labelled, progress.complete) == (1, 1)
    assert [(d.submitted, d.labelled, d.complete) for d in progress.days] == [(1, 1, 0)]


def test_progress_of_a_project_without_labels_is_empty(project, comments):
    progress = progress_over_time(project)
    assert progress.days == []
    assert (progress.submitted, progress.comments, progress.labelled) == (0, 4, 0)
    assert progress.first_day is None


# -- label distribution ----------------------------------------------------------------------


def test_distribution_counts_each_choice_of_submitted_annotations(project, comments):
    ann, bob = people(project, "ann", "bob")
    make_label(comments[0], ann, {**TOP, "source_cited": ["link", "reasoning"]})
    make_label(comments[0], bob, {**TOP, "stance_article": "deny"})
    make_label(comments[1], ann, {**TOP, "stance_parent": "query"})
    make_label(comments[2], bob, {**TOP, "stance_article": "deny"}, status="draft")

    by_key = {d.key: d for d in label_distribution(project)}

    stance = by_key["stance_article"]
    assert stance.answered == 3
    assert [(c.value, c.count) for c in stance.counts] == [
        ("support", 2),
        ("deny", 1),
        ("query", 0),
        ("comment", 0),
    ]
    assert stance.counts[0].label == "Support"
    assert stance.counts[0].share == pytest.approx(2 / 3)
    assert stance.largest == 2
    # Only the reply answers the stance toward its parent.
    assert by_key["stance_parent"].answered == 1
    # Multiple choice: once per value picked, shares of the annotations answering it.
    sources = {c.value: c for c in by_key["source_cited"].counts}
    assert by_key["source_cited"].answered == 3
    assert (sources["none"].count, sources["link"].count, sources["reasoning"].count) == (2, 1, 1)
    assert sources["link"].share == pytest.approx(1 / 3)


def test_distribution_keeps_values_no_longer_in_the_scheme(project, comments):
    (ann,) = people(project, "ann")
    make_label(comments[0], ann, {**TOP, "stance_article": "retracted_value"})
    stance = next(d for d in label_distribution(project) if d.key == "stance_article")
    assert stance.counts[-1].value == "retracted_value"
    assert stance.counts[-1].count == 1


def test_distribution_leaves_out_free_text_questions(project):
    from annotator.labelling.schemes import save_scheme

    save_scheme(
        project,
        {
            "questions": [
                {"key": "topic", "title": "Topic", "kind": "text"},
                {"key": "ok", "title": "OK?", "kind": "yes_no"},
            ]
        },
        None,
    )
    assert [d.key for d in label_distribution(project)] == ["ok"]


# -- per-annotator pace ----------------------------------------------------------------------


def test_pace_counts_work_times_and_speed_per_person(project, comments):
    ann, bob, _idle = people(project, "ann", "bob", "idle")
    # ann: two comments half an hour apart on one day (60 s each), one on the next day.
    make_label(comments[0], ann, TOP, updated_at=DAY, time_spent_ms=60_000)
    make_label(comments[1], ann, TOP, updated_at=DAY + timedelta(minutes=30), time_spent_ms=60_000)
    make_label(comments[2], ann, TOP, updated_at=DAY + timedelta(days=1), time_spent_ms=120_000)
    make_label(comments[3], ann, {}, status="skipped", updated_at=DAY + timedelta(days=1, hours=1))
    make_label(comments[0], bob, {}, status="draft", updated_at=DAY)

    paces = {p.username: p for p in annotator_pace(project)}

    assert [p.username for p in annotator_pace(project)] == ["ann", "bob", "idle"]
    mine = paces["ann"]
    assert (mine.submitted, mine.skipped, mine.drafts) == (3, 1, 0)
    assert mine.median_seconds == 60
    assert mine.active_days == 2
    # 30 minutes + one median minute on day one, one median minute on day two.
    assert mine.per_hour == pytest.approx(3 / (32 / 60))
    assert mine.last_activity == DAY + timedelta(days=1, hours=1)
    assert (paces["bob"].submitted, paces["bob"].drafts, paces["bob"].per_hour) == (0, 1, None)
    assert paces["idle"].submitted == 0
    assert paces["idle"].last_activity is None
    assert paces["idle"].median_seconds is None


def test_pace_leaves_out_reviewers_who_never_labelled(project, comments, reviewer):
    assert [p.username for p in annotator_pace(project)] == []


def test_busiest_pair_is_the_two_who_submitted_most(project, comments):
    ann, bob, cy = people(project, "ann", "bob", "cy")
    for comment in comments[:3]:
        make_label(comment, bob, TOP)
    for comment in comments[:2]:
        make_label(comment, cy, TOP)
    make_label(comments[0], ann, TOP)
    assert busiest_pair(annotator_pace(project)) == (bob.pk, cy.pk)
    assert busiest_pair(annotator_pace(project)[:1]) is None


# -- confusion matrix ------------------------------------------------------------------------


def test_confusion_counts_two_annotators_labels_in_scheme_order(project, comments):
    ann, bob, cy = people(project, "ann", "bob", "cy")
    pairs = [("support", "support"), ("support", "deny"), ("deny", "deny"), ("comment", "deny")]
    for comment, (a, b) in zip(comments, pairs, strict=True):
        make_label(comment, ann, {**TOP, "stance_article": a})
        make_label(comment, bob, {**TOP, "stance_article": b})
    make_label(comments[0], cy, {**TOP, "stance_article": "query"})

    matrix = confusion(project, "stance_article", ann.pk, bob.pk)

    assert (matrix.a_name, matrix.b_name, matrix.title) == (
        "ann",
        "bob",
        "Stance toward the article",
    )
    assert matrix.columns == ["Support", "Deny", "Comment"]
    assert [r.label for r in matrix.rows] == ["Support", "Deny", "Comment"]
    assert [[c.count for c in r.cells] for r in matrix.rows] == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    assert [r.total for r in matrix.rows] == [2, 1, 1]
    assert matrix.column_totals == [1, 3, 0]
    assert (matrix.shared, matrix.agreed, matrix.agreement) == (4, 2, 0.5)
    assert [c.agree for c in matrix.rows[0].cells] == [True, False, False]
    assert [c.shade for c in matrix.rows[0].cells] == [dashboard.SHADES - 1] * 2 + [0]


def test_confusion_of_a_multiple_choice_value_reads_picked_or_not(project, comments):
    ann, bob = people(project, "ann", "bob")
    make_label(comments[0], ann, {**TOP, "source_cited": ["link"]})
    make_label(comments[0], bob, {**TOP, "source_cited": ["none"]})
    make_label(comments[2], ann, {**TOP, "source_cited": ["link"]})
    make_label(comments[2], bob, {**TOP, "source_cited": ["link", "reasoning"]})

    matrix = confusion(project, "source_cited=link", ann.pk, bob.pk)

    assert matrix.title.endswith(": Link")
    assert matrix.columns == ["picked", "not picked"]
    assert [[c.count for c in r.cells] for r in matrix.rows] == [[1, 1], [0, 0]]


def test_confusion_of_people_without_shared_comments_is_empty(project, comments):
    ann, bob = people(project, "ann", "bob")
    make_label(comments[0], ann, TOP)
    make_label(comments[1], bob, TOP)
    matrix = confusion(project, "stance_article", ann.pk, bob.pk)
    assert (matrix.rows, matrix.shared, matrix.agreement) == ([], 0, None)


@pytest.mark.parametrize(
    ("count", "largest", "shade"), [(0, 5, 0), (1, 100, 1), (5, 10, 2), (10, 10, 5), (3, 0, 0)]
)
def test_shades_grow_with_the_share_of_the_largest_cell(count, largest, shade):
    assert shade_of(count, largest) == shade


def test_agreement_questions_split_multiple_choice_into_values(project):
    keys = [q.key for q in agreement_questions(scheme_of(project))]
    assert keys[:2] == ["stance_article", "stance_parent"]
    assert "source_cited=link" in keys
    assert "source_cited" not in keys


# -- agreement -------------------------------------------------------------------------------


def test_agreement_overview_names_people_and_ranks_the_worst_questions(project):
    ann, bob = people(project, "ann", "bob")
    article = ArticleFactory(project=project)
    thread = [make_comment(article) for _ in range(8)]
    stances = ["support", "deny", "query", "comment"]
    claims = ["factual", "opinion"]
    for index, comment in enumerate(thread):
        # They agree on every claim type but often not on the stance.
        claim = claims[index % 2]
        make_label(comment, ann, {**TOP, "stance_article": stances[index % 4], "claim_type": claim})
        other = stances[(index + index // 2) % 4]
        make_label(comment, bob, {**TOP, "stance_article": other, "claim_type": claim})

    overview = agreement_overview(project, resamples=50)

    rows = {(r.question, r.subset): r for r in overview.rows}
    assert rows[("claim_type", "all")].result.alpha.value == pytest.approx(1.0)
    assert rows[("stance_article", "all")].title == "Stance toward the article"
    assert rows[("stance_article", "all")].pairs[0][:2] == ("ann", "bob")
    alphas = [r.result.alpha.value for r in overview.worst]
    assert alphas == sorted(alphas)
    assert overview.worst[0].question == "stance_article"
    assert "claim_type" not in {r.question for r in overview.worst}  # reliable: not listed
    assert all(value < dashboard.RELIABLE for value in alphas)
    assert all(r.subset == "all" for r in overview.worst)
    assert len(overview.worst) <= dashboard.WORST_QUESTIONS
    assert {r.question for r in overview.stance} == {"stance_article", "stance_parent"}


# -- queries ---------------------------------------------------------------------------------


def labelled_project(project, size: int):
    annotators = people(project, *(f"{project.slug}-a{i}" for i in range(3)))
    article = ArticleFactory(project=project)
    thread = make_thread(article, size)
    label_in_bulk(
        thread,
        annotators,
        lambda i, comment, person: None if (i + person.pk) % 4 == 0 else TOP,
    )
    return project


@pytest.mark.parametrize(
    ("read", "queries"),
    [
        (progress_over_time, 2),
        (label_distribution, 2),
        (annotator_pace, 3),
    ],
)
def test_each_chart_reads_with_the_same_queries_whatever_the_size(
    db, read, queries, django_assert_num_queries
):
    from tests.factories import ProjectFactory

    small = labelled_project(ProjectFactory(slug="small"), 10)
    large = labelled_project(ProjectFactory(slug="large"), 300)
    for project in (small, large):
        with django_assert_num_queries(queries):
            read(project)


@pytest.mark.parametrize("size", [10, 300])
def test_confusion_and_agreement_read_with_the_same_queries_whatever_the_size(
    db, size, django_assert_num_queries
):
    from tests.factories import ProjectFactory

    project = labelled_project(ProjectFactory(slug=f"size-{size}"), size)
    a, b = (p.annotator_id for p in annotator_totals(project)[:2])
    with django_assert_num_queries(3):  # the scheme, two people's labels, their names
        confusion(project, "stance_article", a, b)
    with django_assert_num_queries(4):  # the scheme, the labels version, the labels, names
        agreement_overview(project, resamples=20)
    with django_assert_num_queries(3):  # cached: no labels read
        agreement_overview(project, resamples=20)


# -- the whole page from one read ------------------------------------------------------------


def test_the_one_read_gives_every_chart_as_its_own_function_does(project, comments):
    ann, bob, cy = people(project, "ann", "bob", "cy")
    stances = ["support", "deny", "query", "comment"]
    for index, comment in enumerate(comments):
        day = DAY + timedelta(days=index % 2, minutes=7 * index)
        make_label(comment, ann, {**TOP, "stance_article": stances[index]}, updated_at=day)
        other = {**TOP, "stance_article": stances[(index * 3) % 4], "source_cited": ["link"]}
        if comment.parent_id:
            other["stance_parent"] = "deny"
        make_label(comment, bob, other, updated_at=day, time_spent_ms=40_000 + index)
    make_label(comments[0], cy, TOP, updated_at=DAY)
    make_label(comments[1], cy, {}, status="skipped")
    scheme = scheme_of(project)
    pair = PairChoice("source_cited=link", ann.pk, bob.pk)

    page = read_dashboard(
        project, scheme=scheme, people=annotator_totals(project), pair=pair, resamples=50
    )

    assert page.progress == progress_over_time(project)
    assert page.distributions == label_distribution(project)
    assert page.paces == annotator_pace(project)
    assert page.matrix == confusion(project, pair.question, ann.pk, bob.pk)
    assert page.matrix.shared == 4
    alone = agreement_overview(project, resamples=50)
    assert page.agreement == alone
    assert page.agreement.rows[0].pairs  # names and pairs, not an empty table
    assert read_dashboard(project, scheme=scheme, people=[], resamples=50).matrix is None


def test_the_one_read_makes_the_same_queries_for_10_or_300_comments(db, django_assert_num_queries):
    from tests.factories import ProjectFactory

    for size in (10, 300):
        project = labelled_project(ProjectFactory(slug=f"one-read-{size}"), size)
        scheme = scheme_of(project)
        people_ = annotator_totals(project)
        pair = PairChoice("stance_article", people_[0].annotator_id, people_[1].annotator_id)
        # The labels version, the labels (once, for every chart), the comment count.
        with django_assert_num_queries(3):
            page = read_dashboard(project, scheme=scheme, people=people_, pair=pair, resamples=20)
        assert page.progress.comments == size
        with django_assert_num_queries(3):  # cached agreement: the same reads, no tallies
            read_dashboard(project, scheme=scheme, people=people_, pair=pair, resamples=20)


def test_a_reload_without_new_labels_does_not_compute_agreement_again(
    project, comments, monkeypatch
):
    ann, bob = people(project, "ann", "bob")
    for comment in comments:
        make_label(comment, ann, TOP)
        make_label(comment, bob, {**TOP, "claim_type": "factual"})
    scheme, people_ = scheme_of(project), annotator_totals(project)
    first = read_dashboard(project, scheme=scheme, people=people_, resamples=50)

    def no_tallies(*args, **kwargs):
        raise AssertionError("the agreement tallies were built again")

    monkeypatch.setattr(dashboard, "AgreementTallies", no_tallies)
    monkeypatch.setattr(measures, "agreement_from_tally", no_tallies)
    again = read_dashboard(project, scheme=scheme, people=people_, resamples=50)
    assert again.agreement == first.agreement
    assert agreement_overview(project, resamples=50) == first.agreement


def test_a_new_submitted_label_shows_in_the_agreement_at_once(project, comments):
    ann, bob = people(project, "ann", "bob")
    for comment in comments[:3]:
        make_label(comment, ann, TOP)
        make_label(comment, bob, TOP)
    make_label(comments[3], ann, TOP)
    scheme = scheme_of(project)

    def units() -> int:
        page = read_dashboard(
            project, scheme=scheme, people=annotator_totals(project), resamples=20
        )
        row = next(
            r for r in page.agreement.rows if (r.question, r.subset) == ("claim_type", "all")
        )
        return row.result.percent.units

    assert units() == 3
    make_label(comments[3], bob, {**TOP, "claim_type": "factual"})
    assert units() == 4
    assert agreement_overview(project, resamples=20).rows[0].result.percent.units == 4


def test_the_distribution_is_the_same_when_answer_combinations_are_folded_often(
    project, comments, monkeypatch
):
    ann, bob = people(project, "ann", "bob")
    make_label(comments[0], ann, {**TOP, "source_cited": ["link", "link", ""]})
    make_label(comments[0], bob, {**TOP, "stance_article": ["deny"], "claim_type": {"x": 1}})
    make_label(comments[1], ann, {**TOP, "stance_parent": "query", "source_cited": [{"x": 1}]})
    make_label(comments[2], ann, {**TOP, "speculation": "", "claim_type": 3})
    make_label(comments[3], bob, "not a dict")
    whole = label_distribution(project)
    monkeypatch.setattr(dashboard.DistributionReader, "MAX_SHAPES", 0)
    assert label_distribution(project) == whole
    by_key = {d.key: d for d in whole}
    # A list where one value belongs still counts its values; odd values count for nothing.
    assert {c.value: c.count for c in by_key["stance_article"].counts}["deny"] == 1
    assert by_key["claim_type"].answered == 2
    assert by_key["speculation"].answered == 3
    links = {c.value: c.count for c in by_key["source_cited"].counts}
    assert (links["link"], links["none"], by_key["source_cited"].answered) == (1, 2, 3)


def test_a_chart_read_alone_does_not_read_what_it_does_not_need(project, comments):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    (ann,) = people(project, "ann")
    make_label(comments[1], ann, TOP)
    with CaptureQueriesContext(connection) as queries:
        assert progress_over_time(project).submitted == 1
        assert annotator_pace(project)[0].submitted == 1
    reads = "\n".join(q["sql"] for q in queries.captured_queries)
    assert '"answers"' not in reads
    assert "corpus_comment.depth" not in reads.replace('"', "")
