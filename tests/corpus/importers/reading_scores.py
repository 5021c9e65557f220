"""How far the importer's parents agree with a person's reading of a thread, by kind.

Shared by the tests that hold the seed's scores as floors and by
``bench/reconstruction_accuracy.py``, which prints them: top-1 counts the comments whose
chosen parent is the reading's, top-3 those whose reading's parent is among the first three
candidates offered (what the admin sees first in the preview).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from annotator.corpus.importers.text_parents import ReconstructedComment

Reading = list[tuple[int, str, int | None]]
KINDS = ("named", "unnamed", "all")


@dataclass(frozen=True, slots=True)
class Score:
    """Top-1 and top-3 agreement over ``comments`` comments of one kind."""

    comments: int
    top1: int
    top3: int

    def __str__(self) -> str:
        def share(n: int) -> str:
            return f"{n}/{self.comments} ({100 * n / max(1, self.comments):.0f}%)"

        return f"top-1 {share(self.top1)}, top-3 {share(self.top3)}"


def score_reading(comments: Iterable[ReconstructedComment], reading: Reading) -> dict[str, Score]:
    """The scores of ``comments`` against ``reading``, for named and unnamed comments and all.

    Raises ``ValueError`` when the comments are not the reading's (another split or author).
    """
    parents = {line: (author, parent) for line, author, parent in reading}
    tallies = {kind: [0, 0, 0] for kind in KINDS}
    seen = set()
    for comment in comments:
        if parents.get(comment.line, (None,))[0] != comment.author:
            raise ValueError(f"line {comment.line}: not a comment of the reading")
        seen.add(comment.line)
        parent = parents[comment.line][1]
        offered = [candidate.parent_line for candidate in comment.candidates]
        top1 = comment.parent_line == parent
        top3 = parent in offered[:3]
        for kind in ("named" if comment.author else "unnamed", "all"):
            tallies[kind][0] += 1
            tallies[kind][1] += top1
            tallies[kind][2] += top3
    if missing := sorted(set(parents) - seen):
        raise ValueError(f"lines {missing}: comments of the reading the importer did not find")
    return {kind: Score(*tally) for kind, tally in tallies.items()}


def disagreements(comments: Iterable[ReconstructedComment], reading: Reading) -> list[str]:
    """One line per comment whose chosen parent is not the reading's, for the bench."""
    parents = {line: parent for line, _, parent in reading}
    lines = []
    for comment in comments:
        parent = parents[comment.line]
        if comment.parent_line != parent:
            offered = [candidate.parent_line for candidate in comment.candidates]
            rank = offered.index(parent) + 1 if parent in offered else None
            lines.append(
                f"  line {comment.line}: chose {comment.parent_line}, reading {parent}"
                f" (offered {'#' + str(rank) if rank else 'not at all'}; {comment.confidence})"
            )
    return lines
