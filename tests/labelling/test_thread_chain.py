"""How the chain of comments above the one being labelled is laid out."""

import pytest

from annotator.labelling.thread_chain import (
    CHAIN_SHOWN_IN_FULL,
    MAX_INDENT,
    ChainView,
    thread_around,
)
from tests.factories import ArticleFactory, make_comment


@pytest.fixture
def chain(project):
    """A top-level comment and eight nested replies under it."""
    article = ArticleFactory(project=project)
    comments, parent = [], None
    for depth in range(9):
        parent = make_comment(article, parent, author=f"reader{depth}")
        comments.append(parent)
    return comments


def test_a_short_chain_is_shown_whole(chain):
    for depth in range(1, CHAIN_SHOWN_IN_FULL + 1):
        view = ChainView(list(chain[depth].ancestors()))
        assert view.root + view.middle + view.parent == chain[:depth]
        assert view.middle == []
        assert view.parent == [chain[depth - 1]]


def test_a_long_chain_keeps_its_root_and_parent_and_folds_the_rest(chain):
    view = ChainView(list(chain[6].ancestors()))
    assert view.root == [chain[0]]
    assert view.middle == chain[1:5]
    assert view.parent == [chain[5]]


def test_each_comment_knows_whom_it_answers_and_how_far_to_indent(chain):
    view = ChainView(list(chain[8].ancestors()))
    assert view.all[0].replies_to is None
    assert [c.replies_to.author for c in view.all[1:]] == [f"reader{d}" for d in range(7)]
    assert [c.indent for c in view.all] == [min(d, MAX_INDENT) for d in range(8)]


def test_a_top_level_comment_has_no_chain(chain):
    view = ChainView(list(chain[0].ancestors()))
    assert not view
    assert view.parent == []


def test_thread_around_reads_the_chain_top_first_and_the_direct_replies_in_tree_order(
    chain, django_assert_num_queries
):
    middle = chain[4]
    later = make_comment(middle.article, middle, author="later reply")
    with django_assert_num_queries(1):
        ancestors, replies = thread_around(middle, 5)
    assert ancestors == chain[:4]
    assert replies == [chain[5], later]  # not the reply's own replies
    assert [c.author for c in ancestors] == [f"reader{depth}" for depth in range(4)]


def test_thread_around_reads_one_reply_more_than_shown_and_no_chain_at_the_top(project):
    article = ArticleFactory(project=project)
    top = make_comment(article, None)
    for _ in range(4):
        make_comment(article, top)
    ancestors, replies = thread_around(top, 2)
    assert ancestors == []
    assert len(replies) == 3  # the third says there are more
    assert replies == sorted(replies, key=lambda c: c.path)
