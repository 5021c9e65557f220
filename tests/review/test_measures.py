"""The queries feeding agreement: submitted labels per question and subset, the tables."""

import pytest

from annotator.labelling.schemes import default_definition, save_scheme
from annotator.review import measures
from annotator.review.measures import (
    SUBSETS,
    agreement_table,
    labels_by_question,
    stance_comparison,
)
from tests.factories import (
    ArticleFactory,
    UserFactory,
    label_in_bulk,
    make_comment,
    make_label,
    make_thread,
)

pytestmark = pytest.mark.django_db

SOURCE_VALUES = [
    "link",
    "named_source",
    "article",
    "unnamed_source",
    "first_hand",
    "media",
    "reasoning",
    "none",
]


def answers(stance, claim="opinion", speculation="certain", sources=("none",), **more):
    return {
        "stance_article": stance,
        "claim_type": claim,
        "speculation": speculation,
        "source_cited": list(sources),
        **more,
    }


@pytest.fixture
def people(db):
    return [UserFactory(username=name) for name in ("anna", "bert", "cleo")]


@pytest.fixture
def labelled(project, people):
    """Top-level t1, t2, t3; replies r1 (to t1), r2 (to t2), r3 (to r1, depth 2).

    stance_article, submitted, by anna / bert: t1 S/S, t2 D/S, r1 Q/Q, r2 C/C, r3 D/S;
    t3 only by anna (bert's is a draft). stance_parent: r1 D/D, r2 S/D, r3 D/D. cleo
    answered r1's stance_article only, and skipped r2.
    """
    anna, bert, cleo = people
    article = ArticleFactory(project=project)
    t1 = make_comment(article)
    t2 = make_comment(article)
    t3 = make_comment(article)
    r1 = make_comment(article, t1)
    r2 = make_comment(article, t2)
    r3 = make_comment(article, r1)
    make_label(
        t1,
        anna,
        answers("support", "factual", sources=["link", "named_source"], checkworthy="yes"),
    )
    make_label(t1, bert, answers("support", "factual", sources=["link"], checkworthy="no"))
    make_label(t2, anna, answers("deny"))
    make_label(t2, bert, answers("support", speculation="uncertain"))
    make_label(t3, anna, answers("comment"))
    make_label(t3, bert, answers("comment"), status="draft")
    make_label(r1, anna, answers("query", sources=["reasoning"], stance_parent="deny"))
    make_label(r1, bert, {"stance_article": "query", "stance_parent": "deny"})
    make_label(r1, cleo, {"stance_article": "query"})
    make_label(r2, anna, answers("comment", stance_parent="support"))
    make_label(r2, bert, answers("comment", stance_parent="deny"))
    make_label(r2, cleo, answers("deny", stance_parent="deny"), status="skipped")
    make_label(r3, anna, answers("deny", stance_parent="deny"))
    make_label(r3, bert, answers("support", stance_parent="deny"))
    return {"t1": t1, "t2": t2, "t3": t3, "r1": r1, "r2": r2, "r3": r3}


def ids(labelled, units):
    names = {c.pk: name for name, c in labelled.items()}
    return {names[pk]: labels for pk, labels in units.items()}


# --- labels_by_question ------------------------------------------------------------------------


def test_submitted_single_choice_answers_become_units(labelled, people):
    anna, bert, cleo = (p.pk for p in people)
    units = ids(labelled, labels_by_question(labelled["t1"].article.project)["stance_article"])
    assert units == {
        "t1": {anna: "support", bert: "support"},
        "t2": {anna: "deny", bert: "support"},
        "t3": {anna: "comment"},  # bert's draft is no judgement yet
        "r1": {anna: "query", bert: "query", cleo: "query"},
        "r2": {anna: "comment", bert: "comment"},  # cleo skipped it
        "r3": {anna: "deny", bert: "support"},
    }


def test_every_question_but_free_text_has_an_entry_in_scheme_order(project, labelled):
    keys = list(labels_by_question(project))
    assert keys == [
        "stance_article",
        "stance_parent",
        "claim_type",
        "checkworthy",
        "speculation",
        *(f"source_cited={value}" for value in SOURCE_VALUES),
    ]
    definition = default_definition()
    definition["questions"].append({"key": "why", "title": "Why?", "kind": "text"})
    save_scheme(project, definition, None)
    assert "why" not in labels_by_question(project)


def test_a_multiple_choice_question_is_one_yes_no_entry_per_value(project, labelled, people):
    anna, bert, _cleo = (p.pk for p in people)
    table = labels_by_question(project)
    assert ids(labelled, table["source_cited=link"]) == {
        "t1": {anna: True, bert: True},
        "t2": {anna: False, bert: False},
        "t3": {anna: False},
        "r1": {anna: False},  # bert did not answer the question at all: absent, not "no"
        "r2": {anna: False, bert: False},
        "r3": {anna: False, bert: False},
    }
    assert ids(labelled, table["source_cited=named_source"])["t1"] == {anna: True, bert: False}
    assert ids(labelled, table["source_cited=reasoning"])["r1"] == {anna: True}


def test_conditional_questions_are_absent_where_unanswered(project, labelled, people):
    anna, bert, _cleo = (p.pk for p in people)
    table = labels_by_question(project)
    assert ids(labelled, table["checkworthy"]) == {"t1": {anna: "yes", bert: "no"}}
    assert set(ids(labelled, table["stance_parent"])) == {"r1", "r2", "r3"}


def test_subsets_split_by_depth(project, labelled):
    top = ids(labelled, labels_by_question(project, subset="top-level")["stance_article"])
    replies = ids(labelled, labels_by_question(project, subset="replies")["stance_article"])
    assert set(top) == {"t1", "t2", "t3"}
    assert set(replies) == {"r1", "r2", "r3"}  # r3 is two levels down: a reply too
    assert labels_by_question(project, subset="top-level")["stance_parent"] == {}


def test_an_unknown_subset_is_refused(project):
    with pytest.raises(ValueError, match="subset"):
        labels_by_question(project, subset="deep")


def test_other_projects_labels_stay_out(project, other_project, labelled, people):
    elsewhere = make_comment(ArticleFactory(project=other_project))
    make_label(elsewhere, people[0], answers("support"))
    make_label(elsewhere, people[1], answers("support"))
    units = labels_by_question(project)["stance_article"]
    assert elsewhere.pk not in units


# --- agreement_table ---------------------------------------------------------------------------


def row(rows, question, subset):
    return next(r for r in rows if r.question == question and r.subset == subset)


def test_the_table_has_every_question_in_every_subset(project, labelled):
    rows = agreement_table(project, resamples=50)
    keys = list(labels_by_question(project))
    assert [(r.question, r.subset) for r in rows] == [(k, s) for k in keys for s in SUBSETS]
    empty = row(rows, "stance_parent", "top-level")
    assert (empty.alpha.value, empty.alpha.units, empty.pairs) == (None, 0, [])


def test_stance_article_agreement_matches_the_hand_computation(project, labelled, people):
    anna, bert, cleo = (p.pk for p in people)
    rows = agreement_table(project, resamples=200)
    everything = row(rows, "stance_article", "all")
    # Pairable: t1 S/S, t2 D/S, r1 Q/Q/Q, r2 C/C, r3 D/S (t3 has one submitted label).
    # Pairs within units: 1 + 1 + 3 + 1 + 1 = 7, agreeing 1 + 0 + 3 + 1 + 0 = 5.
    assert everything.percent.value == pytest.approx(5 / 7)
    assert everything.percent.units == 5
    # Coincidences: values S 4, D 2, Q 3, C 2 (n = 11); the disagreeing pairable values are
    # the D-S and S-D of t2 and r3 (4 in all). alpha = 1 - (n - 1) * 4 / (n^2 - sum n_c^2).
    assert everything.alpha.value == pytest.approx(1 - 10 * 4 / (121 - (16 + 4 + 9 + 4)))
    assert everything.fleiss.value is None  # r1 has three labels, the others two
    # anna vs bert on t1, t2, r1, r2, r3: anna S D Q C D, bert S S Q C S.
    # p_o = 3/5; p_e = .2 * .6 (S) + .2 * .2 (Q) + .2 * .2 (C) = .2; kappa = .4 / .8.
    pairs = {(p.a, p.b): p for p in everything.pairs}
    assert set(pairs) == {
        tuple(sorted(pair)) for pair in [(anna, bert), (anna, cleo), (bert, cleo)]
    }
    anna_bert = pairs[tuple(sorted((anna, bert)))]
    assert anna_bert.kappa.value == pytest.approx(0.5)
    assert anna_bert.percent.value == pytest.approx(0.6)
    assert anna_bert.kappa.units == 5
    assert pairs[tuple(sorted((anna, cleo)))].kappa.units == 1
    assert pairs[tuple(sorted((anna, cleo)))].kappa.value is None  # one unit: too little

    top = row(rows, "stance_article", "top-level")
    assert (top.percent.value, top.percent.units) == (0.5, 2)  # t1 agree, t2 not
    replies = row(rows, "stance_article", "replies")
    assert replies.percent.value == pytest.approx(4 / 5)  # r1 3 of 3, r2 1 of 1, r3 0 of 1
    assert replies.percent.units == 3


def test_a_multiple_choice_value_is_measured_as_yes_no(project, labelled):
    rows = agreement_table(project, resamples=50)
    link = row(rows, "source_cited=link", "all")
    # Pairable: t1 yes/yes, t2 r2 r3 no/no: full agreement, and there is variation.
    assert (link.percent.value, link.percent.units) == (1.0, 4)
    assert link.alpha.value == pytest.approx(1.0)
    named = row(rows, "source_cited=named_source", "all")
    assert named.percent.value == pytest.approx(3 / 4)  # t1 disagrees


def test_fleiss_is_given_where_every_comment_has_two_labels(project, labelled):
    rows = agreement_table(project, resamples=50)
    parent = row(rows, "stance_parent", "replies")
    # r1 D/D, r2 S/D, r3 D/D: P-bar = 2/3; p_D = 5/6, p_S = 1/6; P_e = 26/36.
    expected = (2 / 3 - 26 / 36) / (1 - 26 / 36)
    assert parent.fleiss.value == pytest.approx(expected)
    assert parent.fleiss.units == 3


def test_the_table_is_the_same_for_the_same_seed(project, labelled):
    assert agreement_table(project, resamples=100, seed=3) == agreement_table(
        project, resamples=100, seed=3
    )


# --- stance_comparison -------------------------------------------------------------------------


def test_stance_comparison_uses_the_same_replies_and_annotators(project, labelled, people):
    result = stance_comparison(project, resamples=100)
    assert set(result) == {"stance_article", "stance_parent"}
    article, parent = result["stance_article"], result["stance_parent"]
    assert article.subset == parent.subset == "replies"
    # r1 (cleo left out: no parent stance), r2, r3 by anna and bert.
    assert article.percent.units == parent.percent.units == 3
    assert article.percent.value == pytest.approx(2 / 3)  # Q/Q, C/C, D/S
    assert parent.percent.value == pytest.approx(2 / 3)  # D/D, S/D, D/D
    assert len(article.pairs) == len(parent.pairs) == 1


def test_stance_comparison_is_empty_without_both_questions(project, labelled):
    definition = default_definition()
    definition["questions"] = [q for q in definition["questions"] if q["key"] != "stance_parent"]
    save_scheme(project, definition, None)
    assert stance_comparison(project) == {}


# --- queries -----------------------------------------------------------------------------------


def labelled_project(project, size, people):
    comments = make_thread(ArticleFactory(project=project), size)

    def answers_for(index, comment, annotator):
        stance = ["support", "deny", "query", "comment"][(index + annotator.pk) % 4 // 3]
        extra = {"stance_parent": stance} if comment.depth else {}
        return answers(stance, sources=["link"] if index % 2 else ["none"], **extra)

    label_in_bulk(comments, people, answers_for)


@pytest.mark.parametrize("size", [10, 100])
def test_the_queries_do_not_grow_with_the_project(
    project, other_project, people, size, django_assert_num_queries
):
    labelled_project(project, size, people)
    with django_assert_num_queries(2):  # the current scheme, then the annotations
        tables = labels_by_question(project)
    assert len(tables["stance_article"]) == size
    with django_assert_num_queries(2):
        rows = agreement_table(project, resamples=20)
    assert row(rows, "stance_article", "all").alpha.units == size
    with django_assert_num_queries(2):
        stance_comparison(project, resamples=20)


def test_reading_in_small_chunks_gives_the_same_figures(project, labelled, monkeypatch):
    whole = measures.agreement_table(project, resamples=200)
    whole_units = measures.labels_by_question(project)
    whole_stance = measures.stance_comparison(project, resamples=200)
    monkeypatch.setattr(measures, "CHUNK_SIZE", 1)  # one comment per chunk

    assert measures.agreement_table(project, resamples=200) == whole
    assert measures.labels_by_question(project) == whole_units
    assert measures.stance_comparison(project, resamples=200) == whole_stance


# --- reading never writes ----------------------------------------------------------------------


def writes(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


@pytest.fixture
def schemeless(project):
    """A project from before schemes: no scheme version, no guidelines."""
    from annotator.labelling.models import Guidelines, LabelScheme

    LabelScheme.objects.filter(project=project).delete()
    Guidelines.objects.filter(project=project).delete()
    return project


def test_a_project_without_a_scheme_has_no_questions_and_gets_none(schemeless):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from annotator.labelling.models import Guidelines, LabelScheme

    with CaptureQueriesContext(connection) as queries:
        assert measures.current_scheme(schemeless).questions == ()
        assert labels_by_question(schemeless) == {}
        assert measures.agreement_report(schemeless, resamples=10) == ([], {})
        assert stance_comparison(schemeless) == {}
        assert measures.cached_agreement_report(schemeless, resamples=10) == ([], {})
    assert writes(queries) == []
    assert not LabelScheme.objects.filter(project=schemeless).exists()
    assert not Guidelines.objects.filter(project=schemeless).exists()


def test_the_agreement_api_on_a_project_without_a_scheme_creates_nothing(schemeless, researcher):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from annotator.labelling.models import Guidelines, LabelScheme

    client = Client()
    client.force_login(researcher)  # a session, not a token: a token's use is recorded
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("api:agreement", args=[schemeless.slug]))
    assert response.status_code == 200
    assert response.json()["figures"] == []
    assert writes(queries) == []
    assert not LabelScheme.objects.filter(project=schemeless).exists()
    assert not Guidelines.objects.filter(project=schemeless).exists()


# --- label_of reads as the units do --------------------------------------------------------------


def test_label_of_gives_the_label_labels_by_question_gives(project, labelled, people):
    from annotator.labelling.models import Annotation

    scheme = measures.current_scheme(project)
    tables = labels_by_question(project)
    for annotation in Annotation.objects.filter(project=project, status="submitted"):
        for key, units in tables.items():
            expected = units.get(annotation.comment_id, {}).get(annotation.annotator_id)
            assert measures.label_of(scheme, key, annotation.answers) == expected, key
    assert measures.label_of(scheme, "no_such_question", {"no_such_question": "x"}) is None
    assert measures.label_of(scheme, "stance_article=support", answers("support")) is None
    assert measures.label_of(scheme, "source_cited", answers("support")) is None
    assert measures.label_of(scheme, "stance_article", ["not", "a", "dict"]) is None


# --- the labels version and the cached figures ---------------------------------------------------


def test_the_labels_version_moves_with_every_change_agreement_depends_on(project, labelled, people):
    from django.utils import timezone

    from annotator.labelling.models import Annotation

    anna, _bert, cleo = people
    seen = [measures.labels_version(project)]

    def changed() -> bool:
        seen.append(measures.labels_version(project))
        return seen[-1] != seen[-2]

    make_label(labelled["t3"], cleo, answers("deny"), status="draft")
    assert not changed()  # a draft is no label
    new = make_label(make_comment(labelled["t1"].article), cleo, answers("deny"))
    assert changed()  # a new submitted label
    new.answers = answers("support")
    new.revision += 1
    new.updated_at = timezone.now()
    new.save()
    assert changed()  # an edit (every save bumps revision and updated_at)
    Annotation.objects.filter(pk=new.pk).update(status="draft")
    assert changed()  # un-submitted
    assert seen[-1] == seen[1]  # the same labels as before "new": the same version
    labelled["r2"].move_under(None)
    assert changed()  # a labelled reply became top-level: the subsets changed
    Annotation.objects.filter(comment=labelled["t2"], annotator=anna).delete()
    assert changed()  # a label removed
    assert not changed()


def test_cached_figures_are_the_figures_and_are_not_recomputed(
    project, labelled, people, monkeypatch, django_assert_num_queries
):
    from django.core.cache import caches

    caches["default"].clear()
    fresh = measures.agreement_report(project, resamples=100)
    assert measures.cached_agreement_report(project, resamples=100) == fresh

    def no_recomputing(*args, **kwargs):
        raise AssertionError("the figures were computed again")

    monkeypatch.setattr(measures, "agreement_from_tally", no_recomputing)
    with django_assert_num_queries(2):  # the scheme and the labels version: no labels read
        assert measures.cached_agreement_report(project, resamples=100) == fresh
    monkeypatch.undo()
    # Other resamples, or another seed, are other figures.
    assert measures.cached_agreement_report(project, resamples=50) == measures.agreement_report(
        project, resamples=50
    )


def test_a_new_submitted_label_shows_in_the_cached_figures_at_once(project, labelled, people):
    from annotator.labelling.models import Annotation

    _anna, bert, _cleo = people
    before = measures.cached_agreement_report(project, resamples=50)
    assert row(before[0], "stance_article", "all").percent.units == 5
    make_label(make_comment(labelled["t1"].article), bert, answers("comment"))
    assert measures.cached_agreement_report(project, resamples=50) == before  # one label: unpaired
    draft = Annotation.objects.get(comment=labelled["t3"], annotator=bert)
    draft.status = "submitted"  # bert submits t3: it now has two labels
    draft.revision += 1
    draft.save()
    after = measures.cached_agreement_report(project, resamples=50)
    assert after == measures.agreement_report(project, resamples=50)
    assert row(after[0], "stance_article", "all").percent.units == 6


def test_a_changed_scheme_is_not_served_the_old_figures(project, labelled):
    measures.cached_agreement_report(project, resamples=20)
    definition = default_definition()
    definition["questions"] = [q for q in definition["questions"] if q["key"] != "speculation"]
    save_scheme(project, definition, None)
    rows, _stance = measures.cached_agreement_report(project, resamples=20)
    assert "speculation" not in {r.question for r in rows}


# --- a re-parented comment ---------------------------------------------------------------------


def test_answers_set_aside_by_a_move_leave_the_figures_and_refresh_the_cache(project, labelled):
    """r2 (a reply to t2, stance_parent S/D) becomes top-level: its annotations stay
    submitted and complete, but their stance toward t2 no longer counts."""
    scheme = measures.current_scheme(project)
    cached = measures.cached_agreement(project, scheme)
    cached.store(measures.cached_agreement_report(project))
    assert measures.cached_agreement(project, scheme).report is not None
    assert "r2" in ids(labelled, labels_by_question(project)["stance_parent"])
    labelled["r2"].move_under(None)
    on_parent = ids(labelled, labels_by_question(project)["stance_parent"])
    assert "r2" not in on_parent
    assert set(on_parent) == {"r1", "r3"}
    assert "r2" in ids(labelled, labels_by_question(project)["stance_article"])
    assert measures.cached_agreement(project, scheme).report is None
