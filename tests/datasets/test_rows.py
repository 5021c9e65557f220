"""The row stream: tree order, labels, majority, filters, pseudonyms, splits, query bounds."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.corpus.models import Comment
from annotator.datasets.options import ExportOptions, ExportOptionsError, LabelSet
from annotator.datasets.rows import (
    ArticleRow,
    CommentRow,
    Majority,
    RowSource,
    assign_splits,
    empty_splits,
    final_answers,
    iter_articles,
    iter_comment_rows,
    majority_answer,
    split_shortfall,
    split_sizes,
)
from annotator.labelling.default_scheme import default_scheme
from annotator.labelling.models import LabelScheme
from annotator.labelling.scheme import scheme_to_data
from tests.datasets.corpus import make_gold
from tests.factories import (
    ArticleFactory,
    UserFactory,
    label_in_bulk,
    make_comment,
    make_label,
    make_thread,
)

SCHEME = default_scheme()
STANCE = SCHEME.question("stance_article")
SOURCES = SCHEME.question("source_cited")


@pytest.fixture
def people(db):
    return [UserFactory(username=name) for name in ("zoe", "adam", "mia")]


@pytest.fixture
def thread(project):
    """Article a-1: c-1 with replies c-2 (and its reply c-3) and c-4; then top-level c-5."""
    article = ArticleFactory(project=project, source_id="a-1")
    c1 = make_comment(article, source_id="c-1", author="Rami", text="First")
    c2 = make_comment(article, parent=c1, source_id="c-2", author="Lina")
    c3 = make_comment(article, parent=c2, source_id="c-3", author="Rami")
    c4 = make_comment(article, parent=c1, source_id="c-4", author="")
    c5 = make_comment(
        article,
        source_id="c-5",
        author="Omar",
        posted_at=datetime(2016, 12, 8, 11, 2, tzinfo=UTC),
        meta={"likes": 3},
    )
    return article, [c1, c2, c3, c4, c5]


def comment_ids(rows):
    return [row.comment_id for row in rows]


# --- Order and fields ---------------------------------------------------------------------------


def test_it_streams_comments_in_tree_order_article_by_article(project, thread):
    c5 = thread[1][4]
    later = ArticleFactory(project=project, source_id="a-0")  # newer pk, sorts after a-1
    d1 = make_comment(later, source_id="d-1")
    make_comment(later, parent=d1, source_id="d-2")
    ArticleFactory(source_id="elsewhere")  # another project's article

    rows = list(iter_comment_rows(project, ExportOptions()))

    assert [(r.article_id, r.comment_id, r.parent_id, r.depth, r.position) for r in rows] == [
        ("a-1", "c-1", None, 0, 1),
        ("a-1", "c-2", "c-1", 1, 1),
        ("a-1", "c-3", "c-2", 2, 1),
        ("a-1", "c-4", "c-1", 1, 2),
        ("a-1", "c-5", None, 0, 2),
        ("a-0", "d-1", None, 0, 1),
        ("a-0", "d-2", "d-1", 1, 1),
    ]
    last = rows[4]
    assert (last.author, last.text, last.posted_at) == (
        "Omar",
        c5.text,
        datetime(2016, 12, 8, 11, 2, tzinfo=UTC),
    )
    assert last.meta.replace(" ", "") == '{"likes":3}'
    assert rows[3].author == ""


def test_it_lists_articles_in_the_order_of_their_comments(project, thread):
    ArticleFactory(project=project, source_id="empty", title="No comments yet")

    articles = list(iter_articles(project, ExportOptions()))

    assert [a.source_id for a in articles] == ["a-1", "empty"]
    assert isinstance(articles[0], ArticleRow)
    assert articles[0].title == thread[0].title


def test_records_put_each_article_before_its_comments(project, thread):
    ArticleFactory(project=project, source_id="empty")
    other = ArticleFactory(project=project, source_id="b")
    make_comment(other, source_id="b-1")

    records = list(RowSource(project, ExportOptions()).records())

    assert [
        (r.source_id if isinstance(r, ArticleRow) else f"  {r.comment_id}") for r in records
    ] == ["a-1", "  c-1", "  c-2", "  c-3", "  c-4", "  c-5", "empty", "b", "  b-1"]


# --- Labels -------------------------------------------------------------------------------------


def test_it_lists_every_submitted_annotation_and_nothing_else(project, thread, people):
    zoe, adam, mia = people
    c1 = thread[1][0]
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    make_label(
        c1,
        zoe,
        {"stance_article": "deny", "claim_type": "opinion"},
        flagged=True,
        note="unsure",
        time_spent_ms=4200,
        updated_at=when,
    )
    make_label(c1, adam, {"stance_article": "support"}, status="draft")
    make_label(c1, mia, {}, status="skipped", skip_reason="spam")

    row = next(iter_comment_rows(project, ExportOptions()))

    assert row.labelled
    [annotation] = row.annotations
    assert annotation.annotator == "zoe"
    assert annotation.answers == {"stance_article": "deny", "claim_type": "opinion"}
    assert annotation.scheme_version == 1
    assert annotation.answered_under == {"stance_article": 1, "claim_type": 1}
    assert (annotation.flagged, annotation.note, annotation.time_spent_ms) == (True, "unsure", 4200)
    assert annotation.created_at == annotation.updated_at == annotation.submitted_at == when
    assert row.majority["stance_article"] == Majority("deny", 1, 1)
    assert row.majority["speculation"] == Majority(None, 0, 0)


def test_answers_are_restricted_to_the_chosen_questions(project, thread, people):
    make_label(thread[1][0], people[0], {"stance_article": "deny", "claim_type": "opinion"})

    source = RowSource(project, ExportOptions(questions=("claim_type",)))
    row = next(source.comments())

    assert source.question_keys == ("claim_type",)
    assert row.annotations[0].answers == {"claim_type": "opinion"}
    assert row.annotations[0].answered_under == {"claim_type": 1}
    assert list(row.majority) == ["claim_type"]


def test_chosen_questions_come_in_scheme_order(project):
    source = RowSource(project, ExportOptions(questions=("source_cited", "stance_article")))

    assert source.question_keys == ("stance_article", "source_cited")


def test_it_refuses_a_question_the_project_never_had(project):
    with pytest.raises(ExportOptionsError, match="stance_moon"):
        RowSource(project, ExportOptions(questions=("stance_moon", "claim_type")))


def test_a_question_only_an_older_scheme_version_had_can_be_asked_by_key(project, thread, people):
    make_label(thread[1][0], people[0], {"stance_article": "deny", "claim_type": "opinion"})
    newer = scheme_to_data(default_scheme())
    newer["questions"] = [
        q for q in newer["questions"] if q["key"] not in ("claim_type", "checkworthy")
    ]
    LabelScheme.objects.create(project=project, version=2, definition=newer)

    default = RowSource(project, ExportOptions())
    asked = RowSource(project, ExportOptions(questions=("claim_type", "stance_article")))

    assert "claim_type" not in default.question_keys
    assert next(default.comments()).annotations[0].answers == {"stance_article": "deny"}
    assert asked.question_keys == ("stance_article", "claim_type")
    assert next(asked.comments()).annotations[0].answers == {
        "stance_article": "deny",
        "claim_type": "opinion",
    }


def test_majority_counts_the_annotators_who_answered(project, thread, people):
    zoe, adam, mia = people
    c1 = thread[1][0]
    make_label(c1, zoe, {"stance_article": "deny", "claim_type": "opinion"})
    make_label(c1, adam, {"stance_article": "deny", "claim_type": "factual"})
    make_label(c1, mia, {"stance_article": "support"})

    majority = next(iter_comment_rows(project, ExportOptions())).majority

    assert majority["stance_article"] == Majority("deny", 2, 3)
    assert majority["stance_article"].support == pytest.approx(0.6667)
    assert majority["claim_type"] == Majority(None, 1, 2, ("factual", "opinion"))
    assert majority["claim_type"].is_tie


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([], Majority(None, 0, 0)),
        (["deny"], Majority("deny", 1, 1)),
        (["deny", "deny", "query"], Majority("deny", 2, 3)),
        (["deny", "query"], Majority(None, 1, 2, ("deny", "query"))),
        (["deny", "query", "query", "deny", "comment"], Majority(None, 2, 5, ("deny", "query"))),
    ],
)
def test_single_choice_majority_and_ties(answers, expected):
    assert majority_answer(STANCE, answers) == expected


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([["reasoning", "link"]], Majority(["link", "reasoning"], 1, 1)),
        # link: 3 of 3, reasoning 2 of 3, article 1 of 3: the set {link, reasoning}, given
        # exactly by two annotators.
        (
            [["link", "reasoning"], ["link", "reasoning"], ["article", "link"]],
            Majority(["link", "reasoning"], 2, 3),
        ),
        # Each choice 2 of 3: all three are in, though nobody gave that exact set.
        (
            [["link", "article"], ["article", "reasoning"], ["reasoning", "link"]],
            Majority(["link", "article", "reasoning"], 0, 3),
        ),
        # reasoning 1 of 2 is a tie: no set.
        ([["link"], ["link", "reasoning"]], Majority(None, 0, 2, ("reasoning",))),
    ],
)
def test_multiple_choice_majority_votes_choice_by_choice(answers, expected):
    assert majority_answer(SOURCES, answers) == expected


def test_final_answers_take_the_majority_and_let_gold_answers_win():
    majority = {
        "stance_article": Majority("deny", 2, 3),
        "claim_type": Majority(None, 1, 2, ("factual", "opinion")),
        "speculation": Majority(None, 0, 0),
    }

    assert final_answers(majority) == {
        "stance_article": "deny",
        "claim_type": None,
        "speculation": None,
    }
    assert final_answers(majority, gold={"claim_type": "factual", "speculation": None}) == {
        "stance_article": "deny",
        "claim_type": "factual",
        "speculation": None,
    }


def test_final_labels_give_one_answer_per_question(project, thread, people):
    c1 = thread[1][0]
    make_label(c1, people[0], {"stance_article": "deny"})
    make_label(c1, people[1], {"stance_article": "deny"})

    rows = list(iter_comment_rows(project, ExportOptions(labels=LabelSet.FINAL)))

    assert rows[0].final["stance_article"] == "deny"
    assert rows[0].final["claim_type"] is None
    assert rows[1].final == dict.fromkeys(SCHEME_KEYS, None)


SCHEME_KEYS = [q.key for q in SCHEME.questions]


# --- Gold labels ----------------------------------------------------------------------------------


@pytest.fixture
def disputed(project, thread, people):
    """c-1: zoe says deny, adam says support (a tie); a reviewer settles it as deny.
    c-2: both say query, no gold. c-5: no annotations, but gold (an odd case, kept)."""
    c1, c2, _, _, c5 = thread[1]
    make_label(c1, people[0], {"stance_article": "deny"})
    make_label(c1, people[1], {"stance_article": "support"})
    make_label(c2, people[0], {"stance_article": "query"})
    make_label(c2, people[1], {"stance_article": "query"})
    reviewer = UserFactory(username="rev")
    make_gold(c1, reviewer, {"stance_article": "deny", "claim_type": "opinion"})
    make_gold(c5, reviewer, {"stance_article": "comment"}, method="accepted")
    return project


def test_rows_carry_gold_apart_from_the_annotators_labels(disputed):
    rows = {row.comment_id: row for row in iter_comment_rows(disputed, ExportOptions())}

    gold = rows["c-1"].gold
    assert gold.answers == {"stance_article": "deny", "claim_type": "opinion"}
    assert (gold.method, gold.decided_by, gold.scheme_version) == ("adjudicated", "rev", 1)
    assert rows["c-1"].majority["stance_article"].is_tie  # the annotators' own labels stay
    assert rows["c-2"].gold is None
    assert rows["c-5"].gold.method == "accepted"


def test_final_labels_take_gold_over_the_majority(disputed):
    rows = {r.comment_id: r for r in iter_comment_rows(disputed, ExportOptions(labels="final"))}

    assert rows["c-1"].final["stance_article"] == "deny"  # gold settles the tie
    assert rows["c-1"].final["claim_type"] == "opinion"
    assert rows["c-2"].final["stance_article"] == "query"  # no gold: the majority
    assert rows["c-5"].final["stance_article"] == "comment"


def test_gold_labels_only_give_gold_answers_and_can_keep_only_gold_comments(disputed):
    options = ExportOptions(labels=LabelSet.GOLD, questions=["stance_article"])
    rows = {r.comment_id: r for r in iter_comment_rows(disputed, options)}
    assert rows["c-1"].final == {"stance_article": "deny"}
    assert rows["c-2"].final == {"stance_article": None}  # agreed, but nobody settled it

    kept = iter_comment_rows(
        disputed, ExportOptions(labels=LabelSet.GOLD, include_unlabelled=False)
    )
    assert comment_ids(kept) == ["c-1", "c-5"]


def test_pseudonymised_gold_names_reviewers_by_number(disputed):
    rows = list(iter_comment_rows(disputed, ExportOptions(pseudonymise=True)))

    assert {row.gold.decided_by for row in rows if row.gold} == {"reviewer-1"}


def test_stats_count_gold_labels_and_final_distribution(disputed):
    source = RowSource(disputed, ExportOptions(labels=LabelSet.FINAL))
    list(source.comments())

    assert source.stats.gold_comments == 2
    assert source.stats.gold_methods == {"adjudicated": 1, "accepted": 1}
    assert source.stats.gold["stance_article"] == {"deny": 1, "comment": 1}
    # Final answers over labelled comments: c-1 by gold, c-2 by majority; no tie left.
    assert source.stats.majority["stance_article"] == {"deny": 1, "query": 1}
    assert source.stats.ties["stance_article"] == 0


def test_gold_costs_one_query_per_chunk(project, people):
    article = ArticleFactory(project=project)
    comments = make_thread(article, 300)
    label_in_bulk(comments, people[:2], lambda i, c, user: {"stance_article": "deny"})
    with CaptureQueriesContext(connection) as without_gold:
        list(RowSource(project, ExportOptions(), chunk_size=100).comments())
    for comment in comments[::3]:
        make_gold(comment, people[2], {"stance_article": "support"})
    with CaptureQueriesContext(connection) as with_gold:
        rows = list(RowSource(project, ExportOptions(), chunk_size=100).comments())

    assert sum(1 for row in rows if row.gold) == 100
    # One gold query per chunk, plus the reviewer's name once.
    assert len(with_gold) - len(without_gold) == 3 + 1


# --- Filters ------------------------------------------------------------------------------------


def test_unlabelled_comments_can_be_left_out(project, thread, people):
    _, _, c3, c4, c5 = thread[1]
    make_label(c3, people[0], {"stance_article": "deny"})
    make_label(c5, people[0], {"stance_article": "deny"})
    make_label(c4, people[0], {"stance_article": "deny"}, status="draft")
    empty = ArticleFactory(project=project, source_id="unlabelled")
    make_comment(empty, source_id="u-1")

    options = ExportOptions(include_unlabelled=False)
    flat = RowSource(project, options)
    tree = RowSource(project, options, with_context=True)

    assert comment_ids(flat.comments()) == ["c-3", "c-5"]
    assert [a.source_id for a in flat.articles()] == ["a-1"]
    rows = list(tree.comments())
    assert [(r.comment_id, r.context, r.labelled) for r in rows] == [
        ("c-1", True, False),
        ("c-2", True, False),
        ("c-3", False, True),
        ("c-5", False, True),
    ]
    assert rows[0].majority == {}
    assert (tree.stats.comments, tree.stats.context_comments) == (2, 2)


def test_changed_since_keeps_comments_whose_annotations_changed(project, thread, people):
    c1, c2, _, c4, _ = thread[1]
    since = datetime(2026, 3, 1, tzinfo=UTC)
    make_label(c1, people[0], {"stance_article": "deny"}, updated_at=since - timedelta(days=1))
    make_label(c2, people[0], {"stance_article": "deny"}, updated_at=since + timedelta(hours=1))
    make_label(c4, people[1], {"stance_article": "deny"}, updated_at=since - timedelta(days=9))
    make_label(c4, people[0], {}, status="draft", updated_at=since + timedelta(days=1))

    rows = list(iter_comment_rows(project, ExportOptions(changed_since=since)))

    assert comment_ids(rows) == ["c-2", "c-4"]
    assert [len(r.annotations) for r in rows] == [1, 1]


# --- Pseudonyms ---------------------------------------------------------------------------------


def test_pseudonyms_number_people_by_first_appearance(project, thread, people):
    zoe, adam, mia = people
    _, c2, c3, _, c5 = thread[1]
    # Annotation ids and user ids in another order than the tree's, on purpose.
    make_label(c5, zoe, {"stance_article": "deny"})
    make_label(c2, mia, {"stance_article": "deny"})
    make_label(c2, adam, {"stance_article": "deny"})
    make_label(c3, zoe, {"stance_article": "deny"})

    rows = list(iter_comment_rows(project, ExportOptions(pseudonymise=True)))

    assert [r.author for r in rows] == ["author-1", "author-2", "author-1", "", "author-3"]
    assert [[a.annotator for a in r.annotations] for r in rows] == [
        [],
        ["annotator-1", "annotator-2"],  # adam before mia: annotations by annotator id
        ["annotator-3"],
        [],
        ["annotator-3"],
    ]
    assert {r.meta for r in rows} == {"{}"}
    everything = repr(rows)
    for name in ("zoe", "adam", "mia", "Rami", "Lina", "Omar", "likes"):
        assert name not in everything


def test_pseudonymised_annotator_names_match_the_rows(project, thread, people):
    make_label(thread[1][1], people[2], {"stance_article": "deny"})
    make_label(thread[1][1], people[0], {"stance_article": "deny"})

    real = RowSource(project, ExportOptions())
    hidden = RowSource(project, ExportOptions(pseudonymise=True))

    assert real.annotator_names() == ["mia", "zoe"]
    assert hidden.annotator_names() == ["annotator-1", "annotator-2"]


# --- Splits -------------------------------------------------------------------------------------


def test_splits_cut_shuffled_articles_by_the_ratios():
    ids = [f"a-{n}" for n in range(10)]

    splits = assign_splits(ids, 13, (0.8, 0.1, 0.1))

    assert sorted(splits) == sorted(ids)
    assert sorted(splits.values()).count("train") == 8
    assert list(splits.values()).count("dev") == list(splits.values()).count("test") == 1
    assert splits == assign_splits(reversed(ids), 13, (0.8, 0.1, 0.1))
    assert splits != assign_splits(ids, 14, (0.8, 0.1, 0.1))


@pytest.mark.parametrize("ratios", [(0.5, 0.5), (1, -1, 1), (0, 0, 0)])
def test_impossible_split_ratios_are_refused(ratios):
    with pytest.raises(ExportOptionsError):
        assign_splits(["a"], 1, ratios)


def test_every_comment_of_a_thread_is_in_its_article_split(project, people):
    for n in range(12):
        article = ArticleFactory(project=project, source_id=f"t-{n:02d}")
        make_thread(article, 5)
    options = ExportOptions(split=True, split_seed=7, split_ratios=(0.5, 0.25, 0.25))

    first = list(RowSource(project, options).records())
    again = list(RowSource(project, options).records())

    article_split = {r.source_id: r.split for r in first if isinstance(r, ArticleRow)}
    assert sorted(article_split.values()) == ["dev"] * 3 + ["test"] * 3 + ["train"] * 6
    for row in first:
        if isinstance(row, CommentRow):
            assert row.split == article_split[row.article_id]
    assert [r.split for r in again] == [r.split for r in first]


def test_a_filtered_export_keeps_each_thread_in_the_same_split(project, people):
    comments = []
    for n in range(10):
        article = ArticleFactory(project=project, source_id=f"t-{n}")
        comments.append(make_comment(article))
    for comment in comments[::3]:
        make_label(comment, people[0], {"stance_article": "deny"})
    full = ExportOptions(split=True, split_seed=3)
    labelled = ExportOptions(split=True, split_seed=3, include_unlabelled=False)

    everything = {r.article_id: r.split for r in iter_comment_rows(project, full)}
    some = {r.article_id: r.split for r in iter_comment_rows(project, labelled)}

    assert len(some) == 4
    assert all(everything[article] == split for article, split in some.items())


# --- Stats and progress -------------------------------------------------------------------------


def test_stats_count_what_was_streamed(project, thread, people):
    c1, c2 = thread[1][:2]
    make_label(c1, people[0], {"stance_article": "deny", "source_cited": ["link", "reasoning"]})
    make_label(c1, people[1], {"stance_article": "deny", "source_cited": ["link"]})
    make_label(c2, people[1], {"stance_article": "support", "stance_parent": "deny"})
    make_label(c2, people[2], {"stance_article": "deny", "stance_parent": "deny"})
    source = RowSource(project, ExportOptions(split=True))

    list(source.records())

    stats = source.stats
    assert (stats.articles, stats.comments, stats.labelled_comments) == (1, 5, 2)
    assert (stats.annotations, stats.annotator_count) == (4, 3)
    assert stats.answers["stance_article"] == {"deny": 3, "support": 1}
    assert stats.answers["source_cited"] == {"link": 2, "reasoning": 1}
    assert stats.majority["stance_article"] == {"deny": 1}
    assert stats.ties["stance_article"] == 1
    assert "source_cited" not in stats.majority  # reasoning: 1 of 2, a tie
    assert stats.ties["source_cited"] == 1
    assert stats.unanswered["claim_type"] == 2
    assert stats.scheme_versions == {1}
    assert sum(stats.split_comments.values()) == 5


def test_progress_is_reported_every_chunk(project):
    article = ArticleFactory(project=project)
    make_thread(article, 25)
    calls = []

    list(
        RowSource(
            project, ExportOptions(), chunk_size=10, progress=lambda *a: calls.append(a)
        ).comments()
    )

    assert calls == [(10, 25), (20, 25), (25, 25)]


def test_queries_grow_with_chunks_not_with_rows(project, people):
    article = ArticleFactory(project=project)
    comments = make_thread(article, 2_000)
    label_in_bulk(
        comments,
        people,
        lambda i, c, user: {"stance_article": "deny"} if (i + user.pk) % 3 else None,
    )
    options = ExportOptions(split=True, include_unlabelled=False, pseudonymise=True)

    with CaptureQueriesContext(connection) as small_chunks:
        rows = sum(1 for _ in RowSource(project, options, chunk_size=250).records())
    with CaptureQueriesContext(connection) as big_chunks:
        sum(1 for _ in RowSource(project, options, chunk_size=1_000).records())

    assert rows == 1 + Comment.objects.filter(annotations__isnull=False).distinct().count()
    # Setup (schemes, articles), the two streams, user names once, one query per chunk.
    assert len(small_chunks) <= 5 + 2_000 // 250
    assert len(big_chunks) <= 5 + 2_000 // 1_000
    assert len(small_chunks) - len(big_chunks) == 2_000 // 250 - 2_000 // 1_000


# --- Splits too small to fill -----------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 3, 7, 10, 25])
def test_split_sizes_are_what_assign_splits_gives(count):
    ids = [f"a-{n}" for n in range(count)]
    given = list(assign_splits(ids, 13, (0.8, 0.1, 0.1)).values())

    sizes = split_sizes(count, (0.8, 0.1, 0.1))

    assert sizes == {name: given.count(name) for name in ("train", "dev", "test")}


def test_a_split_of_two_threads_says_dev_and_test_get_none_and_how_many_are_needed():
    assert empty_splits(2, (0.8, 0.1, 0.1)) == ["dev", "test"]
    assert split_shortfall(2, (0.8, 0.1, 0.1)) == (
        "This project has 2 threads and the split goes by whole thread: with 0.8 / 0.1 / 0.1, "
        "dev and test get no thread. These ratios need at least 8 threads to fill every split."
    )
    assert split_shortfall(5, (0.8, 0.1, 0.1)).endswith(
        "dev gets no thread. These ratios need at least 8 threads to fill every split."
    )
    assert "train, dev and test get no thread" in split_shortfall(0, (0.8, 0.1, 0.1))


def test_a_split_that_asks_for_no_test_share_does_not_count_it_as_empty():
    assert empty_splits(2, (0.5, 0.5, 0)) == []
    assert split_shortfall(2, (0.5, 0.5, 0)) is None


def test_enough_threads_give_no_shortfall():
    assert split_shortfall(20, (0.8, 0.1, 0.1)) is None
