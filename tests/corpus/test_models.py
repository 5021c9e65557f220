"""Reply trees: tree order, ancestors and re-parenting, with constant query counts."""

import pytest

from annotator.corpus.models import Comment, ancestor_paths, path_segment
from tests.factories import ArticleFactory, make_comment, make_thread


def test_path_segment_is_fixed_width_and_ordered():
    assert path_segment(1) == "000001"
    assert path_segment(2) > path_segment(1)
    assert path_segment(10) > path_segment(9)
    with pytest.raises(ValueError):
        path_segment(0)


def test_ancestor_paths_lists_every_prefix_root_first():
    assert ancestor_paths("000001") == []
    assert ancestor_paths("000001000002000003") == ["000001", "000001000002"]


@pytest.mark.django_db
def test_thread_comes_back_depth_first_with_siblings_in_order():
    article = ArticleFactory()
    first = make_comment(article, text="first")
    second = make_comment(article, text="second")
    reply_to_first = make_comment(article, first, text="reply to first")
    reply_to_reply = make_comment(article, reply_to_first, text="reply to reply")
    second_reply_to_first = make_comment(article, first, text="second reply to first")

    texts = [c.text for c in Comment.objects.thread(article)]

    assert texts == [
        first.text,
        reply_to_first.text,
        reply_to_reply.text,
        second_reply_to_first.text,
        second.text,
    ]


@pytest.mark.django_db
def test_ancestors_are_the_chain_from_the_top(django_assert_num_queries):
    article = ArticleFactory()
    top = make_comment(article)
    middle = make_comment(article, top)
    make_comment(article, top)  # a sibling of middle is not an ancestor
    leaf = make_comment(article, middle)

    with django_assert_num_queries(1):
        chain = list(leaf.ancestors())

    assert chain == [top, middle]


@pytest.mark.django_db
def test_reading_a_2000_comment_thread_in_tree_order_is_one_query(django_assert_num_queries):
    article = ArticleFactory()
    comments = make_thread(article, 2000)

    with django_assert_num_queries(1):
        thread = list(Comment.objects.thread(article))

    assert len(thread) == 2000
    # Every comment comes after its parent, and depth matches the parent chain.
    seen: set[int] = set()
    for comment in thread:
        if comment.parent_id is not None:
            assert comment.parent_id in seen
        seen.add(comment.pk)
    deepest = max(comments, key=lambda c: c.depth)
    assert deepest.depth >= 5


@pytest.mark.django_db
def test_ancestors_in_a_2000_comment_thread_is_one_query(django_assert_num_queries):
    article = ArticleFactory()
    comments = make_thread(article, 2000)
    deepest = Comment.objects.get(pk=max(comments, key=lambda c: c.depth).pk)

    with django_assert_num_queries(1):
        chain = list(deepest.ancestors())

    assert len(chain) == deepest.depth
    assert chain[-1].pk == deepest.parent_id
    for parent, child in zip(chain, [*chain[1:], deepest], strict=True):
        assert child.parent_id == parent.pk


@pytest.mark.django_db
def test_move_under_carries_the_subtree_along():
    article = ArticleFactory()
    a = make_comment(article, text="a")
    b = make_comment(article, text="b")
    a_reply = make_comment(article, a, text="a reply")
    a_reply_reply = make_comment(article, a_reply, text="a reply reply")

    a_reply.move_under(b)

    texts = [(c.text, c.depth) for c in Comment.objects.thread(article)]
    assert texts == [("a", 0), ("b", 0), ("a reply", 1), ("a reply reply", 2)]
    a_reply_reply.refresh_from_db()
    assert a_reply_reply.ancestors().count() == 2
    assert list(a_reply_reply.ancestors()) == [b, a_reply]


@pytest.mark.django_db
def test_move_under_to_the_article_makes_it_top_level():
    article = ArticleFactory()
    a = make_comment(article)
    reply = make_comment(article, a)

    reply.move_under(None)

    reply.refresh_from_db()
    assert reply.parent is None
    assert reply.depth == 0
    assert [c.pk for c in Comment.objects.thread(article)] == [a.pk, reply.pk]


@pytest.mark.django_db
def test_move_under_refuses_its_own_reply():
    article = ArticleFactory()
    a = make_comment(article)
    reply = make_comment(article, a)

    with pytest.raises(ValueError, match="own replies"):
        a.move_under(reply)
    with pytest.raises(ValueError, match="own replies"):
        a.move_under(a)


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://example.org/a?b=1", "https://example.org/a?b=1"),
        ("HTTP://example.org/", "HTTP://example.org/"),
        ("javascript:alert(1)", ""),
        (" JavaScript:alert(1)", ""),
        ("data:text/html,<script>alert(1)</script>", ""),
        ("vbscript:msgbox", ""),
        ("//example.org/no-scheme", ""),
        ("http:alert(1)", ""),
        ("", ""),
    ],
)
def test_an_article_links_only_to_http_addresses(project, url, link):
    article = ArticleFactory.build(project=project, url=url)
    assert article.link_url == link


def _comment_indexes() -> dict[str, list[str]]:
    from django.db import connection

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Comment._meta.db_table)
    return {name: c["columns"] for name, c in constraints.items() if c["index"] or c["unique"]}


@pytest.mark.django_db
def test_comments_have_no_index_on_the_article_alone_the_unique_indexes_start_with_it():
    indexes = _comment_indexes()
    # Every imported row writes each index: one on article_id alone would duplicate the
    # leading column of both unique indexes.
    assert ["article_id"] not in indexes.values()
    assert ["article_id", "path"] in indexes.values()
    assert ["article_id", "source_id"] in indexes.values()


@pytest.mark.django_db
def test_an_articles_comments_are_still_read_through_an_index():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the plan is PostgreSQL's")
    article = ArticleFactory()
    make_thread(article, 5)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"EXPLAIN SELECT id FROM {Comment._meta.db_table} WHERE article_id = %s",
            [article.pk],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "comment_path_unique" in plan or "comment_source_id_unique_in_article" in plan, plan
