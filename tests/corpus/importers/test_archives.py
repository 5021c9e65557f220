"""Compressed files, ZIP archives and folders: unpacked as streams, each file in its format."""

import gzip
import io
import tracemalloc
import zipfile
from functools import partial

import orjson
import pytest
import zstandard

from annotator.corpus.importers.archives import plan_folder, plan_import
from annotator.corpus.importers.loader import import_file, import_parts
from annotator.corpus.importers.records import ImportFileError
from annotator.corpus.models import Article, Comment
from tests.corpus.importers.test_loader import article, comment, counts, write_jsonl

pytestmark = pytest.mark.django_db

ARTICLES = [article("a-1"), article("a-2")]
COMMENTS = [comment("c-1"), comment("c-2", "c-1"), comment("c-3", article_id="a-2")]


def jsonl(records: list[dict]) -> bytes:
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


def zst(data: bytes, window_log: int = 27) -> bytes:
    """zstandard with a long window, as Reddit's dumps are written (streamed: a known
    content size would shrink the window to fit)."""
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=window_log)
    writer = zstandard.ZstdCompressor(compression_params=params).compressobj()
    return writer.compress(data) + writer.flush()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def imported() -> list[tuple[str, str, str | None]]:
    return sorted(
        (c.article.source_id, c.source_id, c.parent.source_id if c.parent else None)
        for c in Comment.objects.select_related("article", "parent")
    )


EXPECTED = [("a-1", "c-1", None), ("a-1", "c-2", "c-1"), ("a-2", "c-3", None)]


def test_a_gzip_file_is_unpacked_and_its_format_detected_from_what_it_holds(project, tmp_path):
    path = tmp_path / "thread.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(ARTICLES + COMMENTS)))

    result = import_file(project, path)

    assert (result.articles_added, result.comments_added) == (2, 3)
    assert imported() == EXPECTED


def test_a_zstandard_file_with_a_window_over_the_default_limit_is_read(project, tmp_path):
    # A 256 MB window (window_log 28) is refused by zstandard's default max_window_size.
    data = zst(jsonl(ARTICLES + COMMENTS), window_log=28)
    with pytest.raises(zstandard.ZstdError):
        zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    path = tmp_path / "RS_2024.zst"
    path.write_bytes(data)

    import_file(project, path)

    assert imported() == EXPECTED


def test_the_inner_name_breaks_ties_for_a_compressed_csv(project, tmp_path):
    path = tmp_path / "comments.csv.gz"
    csv = (
        b"article_id,article_title,comment_id,parent_id,author,text,posted_at\n"
        b"a-1,Title,c-1,,ann,Hello,\n"
    )
    path.write_bytes(gzip.compress(csv))

    assert [part.fmt for part in plan_import(partial(path.open, "rb"), path.name)] == ["csv"]
    import_file(project, path)
    assert Comment.objects.get().text == "Hello"


def test_a_zip_archive_imports_every_file_in_it_in_name_order(project, tmp_path):
    # Articles in one file, comments in another: the names put them in order.
    path = tmp_path / "dump.zip"
    path.write_bytes(
        zip_of(
            {
                "2_comments.jsonl.gz": gzip.compress(jsonl(COMMENTS)),
                "1_articles.jsonl": jsonl(ARTICLES),
                "__MACOSX/._1_articles.jsonl": b"\x00\x05\x16\x07 resource fork",
                ".DS_Store": b"\x00\x00\x00\x01Bud1",
                "empty-folder/": b"",
            }
        )
    )
    progress: list[tuple[int, int]] = []

    result = import_file(project, path, progress=lambda done, total: progress.append((done, total)))

    assert (result.articles_added, result.comments_added) == (2, 3)
    assert imported() == EXPECTED
    assert progress[-1] == (2 * path.stat().st_size, 2 * path.stat().st_size)


def test_an_error_inside_an_archive_names_the_file_in_it_and_the_line(project, tmp_path):
    path = tmp_path / "dump.zip"
    broken = jsonl(ARTICLES) + b'{"type": "comment", "id": "c-1"\n'
    path.write_bytes(zip_of({"threads/part-1.jsonl": broken}))

    with pytest.raises(ImportFileError) as refused:
        import_file(project, path)

    assert str(refused.value).startswith("dump.zip/threads/part-1.jsonl, line 3: ")
    assert counts() == (0, 0)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        (
            "cut.jsonl.gz",
            gzip.compress(jsonl(ARTICLES + COMMENTS), mtime=0)[:-30],
            "gzip data is damaged",
        ),
        ("cut.zst", zst(jsonl(ARTICLES + COMMENTS) * 50)[:-40], "zstandard data is damaged"),
        ("empty.zip", zip_of({"__MACOSX/x": b"x"}), "no files to import"),
        ("nested.zip", zip_of({"inner.zip": zip_of({"a.jsonl": b"{}"})}), "ZIP archive inside"),
        (
            "double.gz",
            gzip.compress(gzip.compress(b"{}", mtime=0), mtime=0),
            "holding another compressed file",
        ),
        ("pdf.zip", zip_of({"article.pdf": b"%PDF-1.4 ..."}), "This is a PDF document"),
    ],
    ids=lambda value: value if isinstance(value, str) and "." in value else "",
)
def test_a_damaged_or_unusable_archive_is_refused_and_nothing_written(
    project, tmp_path, name, data, reason
):
    path = tmp_path / name
    path.write_bytes(data)

    with pytest.raises(ImportFileError, match=reason):
        import_file(project, path)

    assert counts() == (0, 0)


def test_a_tar_archive_is_refused_saying_what_it_is(project, tmp_path):
    import tarfile

    path = tmp_path / "dump.tar"
    with tarfile.open(path, "w") as archive:
        archive.add(write_jsonl(tmp_path / "a.jsonl", ARTICLES), arcname="a.jsonl")

    with pytest.raises(ImportFileError, match="This is a tar archive"):
        import_file(project, path)


def test_a_folder_is_imported_like_an_archive(project, tmp_path):
    folder = tmp_path / "threads"
    (folder / "b").mkdir(parents=True)
    write_jsonl(folder / "a.jsonl", ARTICLES)
    (folder / "b" / "c.jsonl.zst").write_bytes(zst(jsonl(COMMENTS)))
    (folder / ".hidden.jsonl").write_bytes(b"not json")
    parts = plan_folder(folder)
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())

    from annotator.corpus.importers.archives import folder_members

    import_parts(
        project,
        None,
        parts,
        size=size,
        filename="threads",
        members_of=lambda: folder_members(folder),
    )

    assert [part.name for part in parts] == ["threads/a.jsonl", "threads/b/c.jsonl.zst"]
    assert imported() == EXPECTED
    assert Article.objects.count() == 2


def test_a_large_gzip_file_streams_with_flat_memory(project, tmp_path):
    records = [article("a-1")]
    records += [comment(f"c-{number}", text=f"{number} " + "x" * 2000) for number in range(10_000)]
    path = tmp_path / "big.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(jsonl(records))
    raw = len(jsonl(records))

    tracemalloc.start()
    import_file(project, path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert Comment.objects.count() == 10_000
    assert peak < raw / 4, f"peak {peak:,} bytes for {raw:,} bytes of JSON Lines"


def test_the_head_of_a_compressed_file_is_checked_for_what_it_holds(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"%PDF-1.4 not a thread"))

    with pytest.raises(ImportFileError, match="This is a PDF document"):
        plan_import(partial(path.open, "rb"), "x.gz")


def test_members_named_outside_the_archive_are_passed_over(tmp_path):
    # Nothing is unpacked to disk, and a name climbing out with "../" is not taken.
    path = tmp_path / "evil.zip"
    path.write_bytes(
        zip_of({"../../etc/passwd.jsonl": jsonl(ARTICLES), "ok/a.jsonl": jsonl(ARTICLES)})
    )

    parts = plan_import(partial(path.open, "rb"), path.name)

    assert [part.member for part in parts] == ["ok/a.jsonl"]
