"""Train / dev / test by whole thread (``rows.py``'s docstring, "Split"): which thread goes
where, how many each split gets, and a sentence for when a split stays empty."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from annotator.datasets.options import ExportOptionsError

SPLITS = ("train", "dev", "test")
MAX_SPLIT_SEARCH = 10_000  # thread counts tried when saying how many a split needs


def assign_splits(article_ids: Iterable[str], seed: int, ratios: Sequence[float]) -> dict[str, str]:
    """Give each article (thread) train, dev or test, deterministically from ``seed``.

    The ids are sorted, shuffled with ``random.Random(seed)`` and cut by ``ratios`` (rounded;
    test takes the rest), so the same articles and seed always give the same split, and no
    thread is ever in two splits. Adding articles to the project reshuffles.
    """
    ratios = _checked_ratios(ratios)
    ids = sorted(set(article_ids))
    random.Random(seed).shuffle(ids)
    total = sum(ratios)
    train = round(len(ids) * ratios[0] / total)
    dev = min(len(ids) - train, round(len(ids) * ratios[1] / total))
    names = ["train"] * train + ["dev"] * dev + ["test"] * (len(ids) - train - dev)
    return dict(zip(ids, names, strict=True))


def split_sizes(thread_count: int, ratios: Sequence[float]) -> dict[str, int]:
    """How many threads ``assign_splits`` gives train, dev and test out of ``thread_count``."""
    ratios = _checked_ratios(ratios)
    total = sum(ratios)
    train = round(thread_count * ratios[0] / total)
    dev = min(thread_count - train, round(thread_count * ratios[1] / total))
    return {"train": train, "dev": dev, "test": thread_count - train - dev}


def empty_splits(thread_count: int, ratios: Sequence[float]) -> list[str]:
    """The splits that were asked for (ratio above 0) but get no thread at all."""
    sizes = split_sizes(thread_count, ratios)
    names = ("train", "dev", "test")
    return [
        name for name, ratio in zip(names, ratios, strict=True) if ratio > 0 and not sizes[name]
    ]


def split_shortfall(thread_count: int, ratios: Sequence[float]) -> str | None:
    """Why a split of ``thread_count`` threads leaves dev or test empty, in a sentence.

    Splits go by whole thread, so a project with few threads cannot fill every split: with
    3 threads and 0.8 / 0.1 / 0.1 all three go to train. Such an export is still valid (the
    split column says train throughout), so the export's page says so rather than leave the
    researcher to find an empty dev set later. None when every split asked for has a thread.
    """
    empty = empty_splits(thread_count, ratios)
    if not empty:
        return None
    needed = next(
        (n for n in range(thread_count + 1, MAX_SPLIT_SEARCH) if not empty_splits(n, ratios)),
        None,
    )
    shares = " / ".join(f"{ratio:g}" for ratio in ratios)
    message = (
        f"This project has {thread_count} thread{'s' if thread_count != 1 else ''} and the "
        f"split goes by whole thread: with {shares}, {_and(empty)} "
        f"{'get' if len(empty) > 1 else 'gets'} no thread."
    )
    if needed is not None:
        message += f" These ratios need at least {needed} threads to fill every split."
    return message


def _and(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _checked_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    if len(ratios) != 3 or any(not isinstance(r, int | float) or r < 0 for r in ratios):
        raise ExportOptionsError("split_ratios needs three numbers >= 0 (train, dev, test).")
    if sum(ratios) <= 0:
        raise ExportOptionsError("split_ratios must not all be 0.")
    return (float(ratios[0]), float(ratios[1]), float(ratios[2]))
