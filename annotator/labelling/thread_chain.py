"""The chain of comments a comment answers, laid out so the comment itself stays in view.

Shared by the labelling workspace and the adjudication page (templates/labelling/
_thread_context.html renders it).
"""

from __future__ import annotations

from functools import lru_cache

from django.db import connection

from annotator.corpus.models import Comment, ancestor_paths

# A chain of more ancestors than this shows the root, an "N more" expander and the parent:
# a depth-6 reply must not push the comment being labelled below the fold.
CHAIN_SHOWN_IN_FULL = 2
# Indents stop growing here, so a deep chain keeps a readable width.
MAX_INDENT = 6


class ChainView:
    """The comments a comment answers, as the workspace lays them out.

    Up to ``CHAIN_SHOWN_IN_FULL`` ancestors are all shown; a longer chain shows its root and
    the parent, with the comments between them behind an "N more" expander. Each keeps its
    depth (for the indent) and the author it replies to (the "replies to" marker).
    """

    def __init__(self, ancestors: list[Comment]):
        self.all = ancestors
        for above, below in zip([None, *ancestors], ancestors, strict=False):
            below.replies_to = above
            below.indent = min(below.depth, MAX_INDENT)
        if len(ancestors) > CHAIN_SHOWN_IN_FULL:
            self.root, self.middle, self.parent = ancestors[:1], ancestors[1:-1], ancestors[-1:]
        else:
            self.root, self.middle, self.parent = ancestors[:-1], [], ancestors[-1:]

    def __bool__(self) -> bool:
        return bool(self.all)


def thread_around(comment: Comment, replies_shown: int) -> tuple[list[Comment], list[Comment]]:
    """The chain ``comment`` answers (top-level first) and up to ``replies_shown + 1`` of its
    direct replies in tree order, in one query (the extra one says there are more).

    One ``UNION ALL`` of the two index lookups, its text built once per chain length
    (``_thread_sql``): composing the two querysets with the ORM on every comment shown cost
    more CPU than the database's work.
    """
    paths = ancestor_paths(comment.path)
    params = [comment.article_id, *paths, comment.pk, replies_shown + 1]
    rows = list(Comment.objects.raw(_thread_sql(len(paths)), params))
    ancestors = [row for row in rows if not row.is_reply]
    return ancestors, [row for row in rows if row.is_reply]


@lru_cache(maxsize=64)
def _thread_sql(chain_length: int) -> str:
    q = connection.ops.quote_name
    table = q(Comment._meta.db_table)
    columns = ", ".join(f"c.{q(field.column)}" for field in Comment._meta.concrete_fields)
    # The ancestors' branch is kept for a top-level comment (an empty IN list is not SQL):
    # it matches no row there, as no path is NULL.
    in_list = ", ".join(["%s"] * chain_length) or "NULL"
    return (
        f"SELECT * FROM (SELECT {columns}, 0 AS is_reply FROM {table} c "
        f"WHERE c.article_id = %s AND c.path IN ({in_list})) chain "
        f"UNION ALL SELECT * FROM (SELECT {columns}, 1 AS is_reply FROM {table} c "
        f"WHERE c.parent_id = %s ORDER BY c.path LIMIT %s) replies "
        f"ORDER BY is_reply, path"
    )
