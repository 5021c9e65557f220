"""Restoring a project: every row back, people matched by name, refusals that write nothing."""

from __future__ import annotations

import gzip
import io
import tracemalloc

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from annotator.accounts.models import Invitation
from annotator.archives.format import FORMAT_VERSION, ArchiveError
from annotator.archives.restoring import SlugTaken, restore_project
from annotator.archives.writing import archive_project
from annotator.corpus.models import Article, Comment, Membership, Project
from annotator.labelling.models import (
    Annotation,
    AnnotationEvent,
    CommentLabelCount,
    LabelScheme,
)
from annotator.review.models import GoldLabel
from tests.archives.builders import AUTHORS_ONLY, MEMBERS, big_project, rich_project
from tests.archives.canonical import canonical

pytestmark = pytest.mark.django_db
User = get_user_model()


def archived(project) -> bytes:
    out = io.BytesIO()
    archive_project(project, out)
    return out.getvalue()


def lines_of(data: bytes) -> list[dict]:
    return [orjson.loads(line) for line in gzip.decompress(data).splitlines()]


def packed(lines: list[dict]) -> bytes:
    return gzip.compress(b"".join(orjson.dumps(line) + b"\n" for line in lines))


def drop(project) -> None:
    """Delete a project (its labels first: their scheme versions are protected)."""
    Annotation.objects.filter(project=project).delete()
    GoldLabel.objects.filter(project=project).delete()
    project.delete()


def row_counts() -> dict[str, int]:
    models = [Project, Article, Comment, Annotation, AnnotationEvent, LabelScheme, Invitation]
    return {m.__name__: m.objects.count() for m in models} | {"users": User.objects.count()}


def test_a_restored_project_holds_every_row_of_the_original():
    project = rich_project()
    before = canonical("rich")
    result = restore_project(io.BytesIO(archived(project)), slug="rich-copy")
    assert result.project.slug == "rich-copy"
    after = canonical("rich-copy")
    assert after.keys() == before.keys()
    for table in before:
        assert after[table] == before[table], table
    # The rich project has a row of every kind, so the comparison above covers them all.
    assert all(before[table] for table in before), [t for t in before if not before[t]]


def test_ids_inside_json_point_at_the_restored_rows():
    project = rich_project()
    result = restore_project(io.BytesIO(archived(project)), slug="copy")
    copy = result.project
    stale = Annotation.objects.get(project=copy, annotator__username="rev_one").stale_answers
    parent = Comment.objects.get(pk=stale["stance_parent"]["parent_id"])
    assert parent.article.project == copy and parent.source_id == "c-0"
    suggestion = Annotation.objects.get(project=copy, annotator__username="rev_one").suggestions
    assert copy.labellers.get(pk=suggestion["stance_article"]["model"]).name == "stance-bert"
    move = AnnotationEvent.objects.get(annotation__project=copy, kind="reparent").after
    moved_from = Comment.objects.get(pk=move["parent_change"]["from"])
    assert moved_from.article.project == copy and moved_from.source_id == "c-0"


def test_label_counts_are_recounted_for_the_restored_project():
    project = rich_project()
    result = restore_project(io.BytesIO(archived(project)), slug="copy")
    counts = dict(
        CommentLabelCount.objects.filter(project=result.project).values_list(
            "comment__source_id", "submitted"
        )
    )
    original = dict(
        CommentLabelCount.objects.filter(project=project, submitted__gt=0).values_list(
            "comment__source_id", "submitted"
        )
    )
    assert counts == original and counts


def test_missing_members_are_invited_and_missing_authors_kept_as_inactive_accounts():
    project = rich_project()
    data = archived(project)
    drop(project)
    User.objects.filter(username__in=["ann_one", "former_annotator", "ext:PHEME"]).delete()
    restorer = User.objects.get(username="ada_admin")
    result = restore_project(io.BytesIO(data), restored_by=restorer)
    restored = result.project
    assert sorted(result.members) == ["ada_admin", "rev_one"]
    assert result.invited == ["ann_one"]
    invitation = Invitation.objects.get(project=restored)
    assert (invitation.invitee, invitation.role, invitation.status) == (
        "ann_one",
        MEMBERS["ann_one"],
        Invitation.Status.PENDING,
    )
    assert invitation.invited_by == restorer
    assert sorted(
        Membership.objects.filter(project=restored).values_list("user__username", "role")
    ) == sorted((n, r) for n, r in MEMBERS.items() if n != "ann_one")
    # ann_one wrote annotations, so an inactive account keeps them, as for the others.
    assert sorted(result.inactive_accounts) == sorted(["ann_one", *AUTHORS_ONLY])
    for name in result.inactive_accounts:
        user = User.objects.get(username=name)
        assert not user.is_active and not user.has_usable_password()
        assert not Membership.objects.filter(user=user).exists()
    assert Annotation.objects.filter(project=restored, annotator__username="ann_one").count() == 2


def test_an_existing_slug_is_refused_unless_another_is_given():
    project = rich_project()
    data = archived(project)
    before = row_counts()
    with pytest.raises(SlugTaken):
        restore_project(io.BytesIO(data))
    assert row_counts() == before
    assert restore_project(io.BytesIO(data), slug="fresh").project.slug == "fresh"


def test_a_newer_format_is_refused_naming_both_versions():
    project = rich_project()
    lines = lines_of(archived(project))
    lines[0]["version"] = FORMAT_VERSION + 1
    lines[0]["app_version"] = "9.0"
    drop(project)
    before = row_counts()
    with pytest.raises(ArchiveError) as refused:
        restore_project(io.BytesIO(packed(lines)))
    message = str(refused.value)
    assert f"format version {FORMAT_VERSION + 1}" in message
    assert f"reads format version {FORMAT_VERSION}" in message and "9.0" in message
    assert row_counts() == before


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_a_truncated_file_is_refused_with_nothing_written(keep):
    project = rich_project()
    data = archived(project)
    drop(project)
    before = row_counts()
    with pytest.raises(ArchiveError, match="cut short"):
        restore_project(io.BytesIO(data[: int(len(data) * keep)]))
    assert row_counts() == before


def test_a_file_cut_at_a_line_end_is_refused_by_its_missing_end():
    project = rich_project()
    lines = lines_of(archived(project))
    drop(project)
    before = row_counts()
    with pytest.raises(ArchiveError, match="without its end"):
        restore_project(io.BytesIO(packed(lines[:-5])))
    assert row_counts() == before


def test_altered_counts_are_refused_with_nothing_written():
    project = rich_project()
    lines = lines_of(archived(project))
    del lines[-2]  # a row gone, the end unchanged
    drop(project)
    before = row_counts()
    with pytest.raises(ArchiveError, match="cut short or altered"):
        restore_project(io.BytesIO(packed(lines)))
    assert row_counts() == before


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", r"not a gzip file|empty"),
        (b"not gzip at all", "not a gzip file"),
        # mtime=0: the same bytes in every xdist worker, which must collect the same ids
        (gzip.compress(b'{"some": "json"}\n', mtime=0), "not a project archive"),
        (gzip.compress(b"[1, 2]\n", mtime=0), "JSON object"),
        (gzip.compress(b"\xff\xfe nonsense\n", mtime=0), "not JSON"),
    ],
    ids=["empty", "not gzip", "not an archive", "not an object", "not JSON"],
)
def test_a_file_that_is_no_archive_is_refused(data, reason):
    with pytest.raises(ArchiveError, match=reason):
        restore_project(io.BytesIO(data))
    assert not Project.objects.exists()


def test_a_row_pointing_at_a_row_not_in_the_archive_is_refused_with_nothing_written():
    project = rich_project()
    lines = lines_of(archived(project))
    annotation = next(line for line in lines if line.get("t") == "annotation")
    annotation["comment_id"] = 10**9
    drop(project)
    before = row_counts()
    with pytest.raises(ArchiveError, match="points at comment 1000000000"):
        restore_project(io.BytesIO(packed(lines)))
    assert row_counts() == before


def test_rows_out_of_order_are_refused():
    project = rich_project()
    lines = lines_of(archived(project))
    first_comment = next(i for i, line in enumerate(lines) if line.get("t") == "comment")
    lines.insert(1, lines.pop(first_comment))
    drop(project)
    with pytest.raises(ArchiveError, match=r"out of order|do not start with its project"):
        restore_project(io.BytesIO(packed(lines)))
    assert not Project.objects.exists()


def test_a_row_with_a_wrong_value_is_refused_with_nothing_written():
    project = rich_project()
    lines = lines_of(archived(project))
    comment = next(line for line in lines if line.get("t") == "comment")
    comment["posted_at"] = "yesterday"
    drop(project)
    with pytest.raises(ArchiveError, match="posted_at is not a time"):
        restore_project(io.BytesIO(packed(lines)))
    assert not Project.objects.exists()


def test_the_command_restores_under_another_slug(tmp_path):
    rich_project()
    path = tmp_path / "rich.jsonl.gz"
    call_command("archive_project", "rich", str(path))
    out = io.StringIO()
    call_command("restore_project", str(path), "--as", "rich-2", stdout=out)
    assert "Restored rich-2" in out.getvalue()
    assert canonical("rich-2") == canonical("rich")


def test_the_command_refuses_an_existing_slug_with_a_hint(tmp_path):
    rich_project()
    path = tmp_path / "rich.jsonl.gz"
    call_command("archive_project", "rich", str(path))
    before = row_counts()
    with pytest.raises(CommandError, match="already exists; restore it under another with --as"):
        call_command("restore_project", str(path))
    assert row_counts() == before


@pytest.mark.parametrize("slug", ["has space", "x" * 101])
def test_the_command_refuses_a_bad_slug(tmp_path, slug):
    rich_project()
    path = tmp_path / "rich.jsonl.gz"
    call_command("archive_project", "rich", str(path))
    with pytest.raises(CommandError, match="Nothing was restored"):
        call_command("restore_project", str(path), "--as", slug)


def test_the_command_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("restore_project", str(tmp_path / "none.gz"))


def test_rows_that_break_a_constraint_are_refused_with_nothing_written():
    project = rich_project()
    lines = lines_of(archived(project))
    comments = [line for line in lines if line.get("t") == "comment"]
    comments[1]["path"] = comments[0]["path"]  # two comments in one place of one thread
    comments[1]["parent_id"] = None
    drop(project)
    before = row_counts()
    with pytest.raises(ArchiveError, match=r"cannot be restored|do not fit together"):
        restore_project(io.BytesIO(packed(lines)))
    assert row_counts() == before


def test_memory_stays_flat_as_the_archive_grows():
    files = [archived(big_project(slug, size)) for slug, size in (("small", 1000), ("big", 4000))]

    def peak(data: bytes, slug: str) -> int:
        tracemalloc.start()
        try:
            restore_project(io.BytesIO(data), slug=slug)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak(files[0], "warm")  # compiled queries, imports
    small, big = peak(files[0], "small-again"), peak(files[1], "big-again")
    # 3,000 comments and 6,000 annotations more: the id maps grow by 16 bytes a row, the
    # rest stays the same (an object per row would be 500 bytes a row or more).
    assert big < small * 1.5, (small, big)
    assert (big - small) / 9000 < 150, (small, big)
