"""The chain of comments a comment answers, laid out so the comment itself stays in view.

Shared by the labelling workspace and the adjudication page (templates/labelling/
_thread_context.html renders it).
"""

from __future__ import annotations

from annotator.corpus.models import Comment

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
