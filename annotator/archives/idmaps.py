"""Maps from an archive's ids to the ids its rows got here, compact enough for millions.

A dict of a million ints costs about 100 MB in Python; two ``array('q')`` columns cost
16 bytes a row. Pairs are appended as rows are written and sorted (with numpy) the first
time one is looked up; lookups of a whole batch are one ``searchsorted``.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import numpy as np


class MissingId(KeyError):
    """An archive's row points at a row of ``table`` that the archive does not hold."""

    def __init__(self, table: str, source_id: object) -> None:
        super().__init__(source_id)
        self.table = table
        self.source_id = source_id


class IdMap:
    """Source id -> new id for one table."""

    def __init__(self, table: str) -> None:
        self.table = table
        self._sources = array("q")
        self._news = array("q")
        self._keys: np.ndarray | None = None
        self._values: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._sources)

    def add(self, sources: Sequence[int], news: Sequence[int]) -> None:
        self._sources.extend(sources)
        self._news.extend(news)
        self._keys = self._values = None

    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        if self._keys is None:
            sources = np.frombuffer(self._sources, dtype=np.int64) if self._sources else None
            if sources is None:
                self._keys = self._values = np.zeros(0, dtype=np.int64)
            else:
                order = np.argsort(sources, kind="stable")
                self._keys = sources[order]
                self._values = np.frombuffer(self._news, dtype=np.int64)[order]
                repeated = np.flatnonzero(self._keys[1:] == self._keys[:-1])
                if len(repeated):
                    raise DuplicateId(self.table, int(self._keys[repeated[0]]))
        return self._keys, self._values

    def lookup(self, ids: Sequence[int | None]) -> list[int | None]:
        """The new ids of ``ids`` (None stays None); ``MissingId`` for one not in the map."""
        keys, values = self._sorted()
        present = [i for i in ids if i is not None]
        if not present:
            return list(ids)
        bad = next((i for i in present if type(i) is not int), None)  # bools and floats too
        if bad is not None:
            raise MissingId(self.table, bad)
        try:
            wanted = np.array(present, dtype=np.int64)
        except OverflowError:
            raise MissingId(self.table, max(present)) from None
        where = np.searchsorted(keys, wanted)
        inside = where < len(keys)
        found = np.zeros(len(wanted), dtype=bool)
        found[inside] = keys[where[inside]] == wanted[inside]
        if not found.all():
            raise MissingId(self.table, present[int(np.flatnonzero(~found)[0])])
        mapped = iter(values[where].tolist())
        return [None if i is None else next(mapped) for i in ids]

    def get(self, source_id: int | None) -> int | None:
        return self.lookup([source_id])[0]


class DuplicateId(ValueError):
    """Two rows of one table in an archive have the same id."""

    def __init__(self, table: str, source_id: int) -> None:
        super().__init__(f"two {table} rows have the id {source_id}")
        self.table = table
