"""The compact id maps of a restore."""

from __future__ import annotations

import pytest

from annotator.archives.idmaps import DuplicateId, IdMap, MissingId


def test_it_maps_ids_added_in_any_order():
    ids = IdMap("comment")
    ids.add([30, 10], [3, 1])
    ids.add([20], [2])
    assert ids.lookup([10, None, 30, 20, 10]) == [1, None, 3, 2, 1]
    assert ids.get(None) is None


def test_it_takes_ids_added_after_a_lookup():
    ids = IdMap("comment")
    ids.add([1], [100])
    assert ids.get(1) == 100
    ids.add([2], [200])
    assert ids.lookup([2, 1]) == [200, 100]


@pytest.mark.parametrize("wanted", [5, 0, 10**12, 1.0, True, "1"])
def test_an_id_not_in_it_is_refused(wanted):
    ids = IdMap("comment")
    ids.add([1, 3], [10, 30])
    with pytest.raises(MissingId) as missing:
        ids.lookup([1, wanted])
    assert missing.value.table == "comment" and missing.value.source_id == wanted


def test_an_empty_map_refuses_every_id():
    with pytest.raises(MissingId):
        IdMap("article").get(1)


def test_two_rows_with_one_id_are_refused():
    ids = IdMap("article")
    ids.add([1, 2, 1], [10, 20, 30])
    with pytest.raises(DuplicateId, match="two article rows have the id 1"):
        ids.get(2)


def test_a_million_ids_take_little_memory():
    import tracemalloc

    tracemalloc.start()
    ids = IdMap("comment")
    for start in range(0, 1_000_000, 2000):
        ids.add(range(start + 2000, start, -1), range(start, start + 2000))
    assert ids.lookup([1, 2000, 1_000_000]) == [1999, 0, 998_000]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 60 * 1024 * 1024, peak
