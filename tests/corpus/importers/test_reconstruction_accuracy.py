"""The seed's reply tree against both readings: floors for top-1 and top-3, by kind.

``bench/reconstruction_accuracy.py`` prints the same figures. Raise a floor when the
heuristics improve; a change that lowers one fails here, against either reading.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.corpus.importers.text import reconstruct_thread
from tests.corpus.importers.reading_scores import Score, score_reading
from tests.corpus.importers.seed_reading import SEED_READING
from tests.corpus.importers.seed_reading_second import SECOND_READING

SEED = Path(__file__).resolve().parents[3] / "fixtures" / "seed_thread.txt"

# (comments, top-1, top-3) of each kind, measured when the floors were last raised.
FLOORS = {
    "first": {"named": Score(22, 22, 22), "unnamed": Score(41, 35, 41), "all": Score(63, 57, 63)},
    "second": {"named": Score(22, 19, 21), "unnamed": Score(41, 36, 41), "all": Score(63, 55, 62)},
}
READINGS = {"first": SEED_READING, "second": SECOND_READING}


@pytest.fixture(scope="module")
def seed_comments():
    return reconstruct_thread(SEED.read_text("utf-8"), SEED.name).comments


@pytest.mark.parametrize("reading", sorted(READINGS))
@pytest.mark.parametrize("kind", ["named", "unnamed", "all"])
def test_the_seeds_parents_agree_with_each_reading_at_least_as_often_as_before(
    seed_comments, reading, kind
):
    score = score_reading(seed_comments, READINGS[reading])[kind]
    floor = FLOORS[reading][kind]
    print(f"{reading} reading, {kind}: {score}")

    assert score.comments == floor.comments
    assert score.top1 >= floor.top1
    assert score.top3 >= floor.top3


def test_both_readings_split_the_seed_into_the_same_comments_and_authors():
    assert [(line, a) for line, a, _ in SECOND_READING] == [
        (line, a) for line, a, _ in SEED_READING
    ]


def test_every_parent_of_the_second_reading_is_a_comment_above_or_the_article():
    lines = [line for line, _, _ in SECOND_READING]
    for position, (line, _, parent) in enumerate(SECOND_READING):
        assert parent is None or parent in lines[:position], line


def test_the_scores_refuse_a_reading_of_other_comments(seed_comments):
    with pytest.raises(ValueError, match="line 17"):
        score_reading(seed_comments, [(17, "Someone", None)])
    with pytest.raises(ValueError, match=r"lines \[999\]"):
        score_reading(seed_comments, [*SEED_READING, (999, "", None)])
