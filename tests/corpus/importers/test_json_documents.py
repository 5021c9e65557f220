"""json_values: JSON Lines, a JSON array and one document read alike, bad JSON refused by line."""

import io

import pytest

from annotator.corpus.importers.json_documents import json_values
from annotator.corpus.importers.records import ImportFileError


def values(data: bytes, **kwargs) -> list:
    return list(json_values(io.BufferedReader(io.BytesIO(data)), "dump.json", **kwargs))


def refusal(data: bytes, **kwargs) -> str:
    with pytest.raises(ImportFileError) as refused:
        values(data, **kwargs)
    return str(refused.value)


def test_json_lines_are_numbered_by_line_skipping_blank_ones():
    data = b'\xef\xbb\xbf\n{"a": 1}\n\n  \n{"a": 2}\r\n'

    assert values(data) == [(2, {"a": 1}), (5, {"a": 2})]


def test_an_array_gives_its_elements_numbered_from_one():
    assert values(b'[\n  {"a": 1},\n  {"a": 2}\n]\n') == [(1, {"a": 1}), (2, {"a": 2})]


def test_a_pretty_printed_object_is_one_value():
    assert values(b'{\n  "a": {\n    "b": []\n  }\n}\n') == [(1, {"a": {"b": []}})]


def test_an_empty_file_has_no_values():
    assert values(b"\n \n") == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"a": 1}\n{"a": \n', "dump.json, line 2: malformed JSON: "),
        (b'{"a": 1}\n[1]\n', "dump.json, line 2: expected a JSON object, found an array"),
        (b"[\n{},\n{", "dump.json, line 3: malformed JSON"),
        (b'[{"a": 1}, 2]', "dump.json, array element 2: expected a JSON object, found a number"),
        (b"<html>", "dump.json, line 1: not JSON: this looks like XML or HTML"),
        (b"a,b\n", "dump.json, line 1: not JSON: a JSON object or array was expected"),
        (b'{"a": 1}\n{"a": "\xff"}\n', "line 2: not valid UTF-8"),
    ],
)
def test_what_is_not_json_is_refused_with_its_line(data, expected):
    assert expected in refusal(data)


def test_a_document_over_the_limit_is_refused_before_it_is_parsed():
    data = b"[" + b'{"a": 1},' * 20 + b'{"a": 1}]'

    assert "larger than 100 bytes; save it as JSON Lines" in refusal(data, max_bytes=100)


def test_a_line_over_the_limit_is_refused_with_its_number():
    data = b'{"a": 1}\n{"a": "' + b"x" * 200 + b'"}\n'

    assert refusal(data, max_bytes=100) == "dump.json, line 2: line longer than the 100-byte limit"
