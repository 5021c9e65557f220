"""How well the scraped-text importer reconstructs the seed thread's reply tree.

Reads fixtures/seed_thread.txt with the importer (``reconstruct_thread``) and prints, against
each person's reading of it (tests/corpus/importers/seed_reading.py and
seed_reading_second.py), top-1 (the chosen parent is the reading's) and top-3 (the reading's
parent is among the first three candidates offered), for named replies, unnamed comments and
all; with ``--misses`` also every comment where the choice differs. No database needed:

    .venv/bin/python bench/reconstruction_accuracy.py [--misses] [PATH]

The tests in tests/corpus/importers/test_reconstruction_accuracy.py hold these figures as
floors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from annotator.corpus.importers.text import reconstruct_thread  # noqa: E402
from tests.corpus.importers.reading_scores import (  # noqa: E402
    KINDS,
    disagreements,
    score_reading,
)
from tests.corpus.importers.seed_reading import SEED_READING  # noqa: E402
from tests.corpus.importers.seed_reading_second import SECOND_READING  # noqa: E402

READINGS = {"first reading (seed_reading.py)": SEED_READING}
READINGS["second reading (seed_reading_second.py)"] = SECOND_READING


def main() -> None:
    """Parse the command line, reconstruct the thread and print the scores per reading."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", default=ROOT / "fixtures" / "seed_thread.txt")
    parser.add_argument("--misses", action="store_true", help="list every disagreement")
    args = parser.parse_args()
    path = Path(args.path)
    comments = reconstruct_thread(path.read_text("utf-8"), path.name).comments
    for name, reading in READINGS.items():
        scores = score_reading(comments, reading)
        print(name)
        for kind in KINDS:
            print(f"  {kind:8} {scores[kind]}")
        if args.misses:
            print("\n".join(disagreements(comments, reading)))


if __name__ == "__main__":
    main()
