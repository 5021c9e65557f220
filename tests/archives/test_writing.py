"""Archiving a project: the file's layout, constant queries, flat memory, the command."""

from __future__ import annotations

import gzip
import io
import tracemalloc

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.archives.format import FORMAT_NAME, FORMAT_VERSION
from annotator.archives.restoring import ORDER
from annotator.archives.writing import archive_project
from tests.archives.builders import big_project, rich_project
from tests.factories import ArticleFactory, ProjectFactory, make_thread

pytestmark = pytest.mark.django_db


def archive_lines(project) -> list[dict]:
    out = io.BytesIO()
    archive_project(project, out)
    return [orjson.loads(line) for line in gzip.decompress(out.getvalue()).splitlines()]


def test_it_starts_with_the_header_and_ends_with_the_counts():
    project = rich_project()
    lines = archive_lines(project)
    head, end = lines[0], lines[-1]
    assert head["format"] == FORMAT_NAME
    assert head["version"] == FORMAT_VERSION
    assert head["project"] == "rich"
    assert head["app_version"]
    assert end["t"] == "end"
    kinds = [line["t"] for line in lines[1:-1]]
    assert end["counts"] == {kind: kinds.count(kind) for kind in dict.fromkeys(kinds)}
    assert end["counts"]["comment"] == 28
    assert end["counts"]["project"] == 1


def test_rows_come_in_the_order_that_puts_parents_first():
    lines = archive_lines(rich_project())[1:-1]
    positions = [ORDER.index(line["t"]) for line in lines]
    assert positions == sorted(positions)
    seen = set()
    for line in lines:
        if line["t"] == "comment":
            assert line["parent_id"] is None or line["parent_id"] in seen
            seen.add(line["id"])


def test_people_are_archived_by_username_without_passwords():
    lines = archive_lines(rich_project())
    users = [line for line in lines if line.get("t") == "user"]
    assert sorted(u["username"] for u in users) == sorted(
        ["ada_admin", "ann_one", "rev_one", "former_annotator", "ext:PHEME"]
    )
    assert all(set(u) == {"t", "id", "username"} for u in users)
    assert b"pbkdf2" not in b"".join(orjson.dumps(line) for line in lines)


def test_another_projects_rows_are_not_in_it():
    project = rich_project()
    other = ProjectFactory(slug="other")
    make_thread(ArticleFactory(project=other, source_id="other-article"), 5)
    lines = archive_lines(project)
    assert not any(line.get("source_id") == "other-article" for line in lines)
    assert sum(line.get("t") == "comment" for line in lines) == 28


def test_the_number_of_queries_does_not_grow_with_the_project():
    small, large = big_project("small", 20), big_project("large", 3000)
    with CaptureQueriesContext(connection) as few:
        archive_project(small, io.BytesIO())
    with CaptureQueriesContext(connection) as many:
        archive_project(large, io.BytesIO())
    assert len(many) == len(few)
    assert len(few) < 40


class Discard(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return len(data)


def test_memory_stays_flat_as_the_project_grows():
    small, large = big_project("small", 1000), big_project("large", 4000)

    def peak(project) -> int:
        tracemalloc.start()
        try:
            archive_project(project, Discard())
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak(small)  # warm caches (compiled queries, imports)
    small_peak, large_peak = peak(small), peak(large)
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)


def test_the_command_writes_the_file_whole(tmp_path):
    rich_project()
    target = tmp_path / "rich.jsonl.gz"
    out = io.StringIO()
    call_command("archive_project", "rich", str(target), stdout=out)
    assert "Archived rich" in out.getvalue()
    lines = gzip.decompress(target.read_bytes()).splitlines()
    assert orjson.loads(lines[-1])["t"] == "end"
    assert [p.name for p in tmp_path.iterdir()] == ["rich.jsonl.gz"]


def test_the_command_refuses_an_unknown_project(tmp_path):
    with pytest.raises(CommandError, match="no project with the slug 'nope'"):
        call_command("archive_project", "nope", str(tmp_path / "x.gz"))
    assert list(tmp_path.iterdir()) == []


def test_the_command_refuses_a_missing_directory(tmp_path):
    rich_project()
    with pytest.raises(CommandError, match="does not exist"):
        call_command("archive_project", "rich", str(tmp_path / "no" / "x.gz"))
