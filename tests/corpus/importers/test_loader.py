"""The loader: reply trees built from records in any order, idempotent, all or nothing."""

import tracemalloc
from pathlib import Path

import orjson
import pytest
from django.db import transaction

from annotator.corpus.importers import FORMATS
from annotator.corpus.importers.loader import ImportResult, import_file
from annotator.corpus.importers.records import ImportFileError
from annotator.corpus.models import Article, Comment
from tests.factories import ArticleFactory, ProjectFactory, make_comment

SAMPLE = Path(__file__).resolve().parents[3] / "fixtures" / "samples" / "thread.jsonl"
BROKEN = Path(__file__).resolve().parent / "broken"


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    return path


def article(source_id: str = "a-1", **fields) -> dict:
    return {"type": "article", "id": source_id, "title": f"Article {source_id}", **fields}


def comment(source_id: str, parent_id: str | None = None, article_id: str = "a-1", **fields):
    fields.setdefault("text", f"Text of {source_id}")
    return {
        "type": "comment",
        "id": source_id,
        "article_id": article_id,
        "parent_id": parent_id,
        **fields,
    }


def tree(article_source_id: str = "a-1") -> list[tuple[str, str | None, int, int, str]]:
    """(id, parent id, depth, position, path) of a thread, in tree order."""
    return [
        (c.source_id, c.parent.source_id if c.parent else None, c.depth, c.position, c.path)
        for c in Comment.objects.thread(
            Article.objects.get(source_id=article_source_id)
        ).select_related("parent")
    ]


def counts() -> tuple[int, int]:
    return Article.objects.count(), Comment.objects.count()


def test_it_builds_the_sample_thread_in_tree_order(project):
    result = import_file(project, SAMPLE)

    assert result == ImportResult(
        articles_added=2, articles_unchanged=0, comments_added=8, comments_unchanged=0
    )
    assert tree("sf-aleppo-2016-12-08") == [
        ("c-0001", None, 0, 1, "000001"),
        ("c-0002", "c-0001", 1, 1, "000001000001"),
        ("c-0003", "c-0002", 2, 1, "000001000001000001"),
        ("c-0006", "c-0003", 3, 1, "000001000001000001000001"),
        ("c-0005", "c-0001", 1, 2, "000001000002"),
        ("c-0004", None, 0, 2, "000002"),
    ]
    assert tree("42") == [("1", None, 0, 1, "000001"), ("2", "1", 1, 1, "000001000001")]


def test_it_keeps_every_field_of_the_records(project):
    import_file(project, SAMPLE)

    first = Article.objects.get(source_id="sf-aleppo-2016-12-08")
    assert first.project == project
    assert first.source == "South Front"
    assert first.url == "https://example.org/a/1"
    assert first.meta == {"lang": "en"}
    assert first.published_at.isoformat() == "2016-12-08T10:00:00+00:00"
    reply = Comment.objects.get(source_id="c-0001")
    assert reply.author == "Douglas Houck"
    assert reply.text == "From SANA which is reporting the same."
    assert reply.meta == {"likes": 3}
    assert reply.posted_at.isoformat() == "2016-12-08T11:02:00+00:00"
    offset = Comment.objects.get(source_id="c-0004")
    assert offset.posted_at.isoformat() == "2016-12-08T11:00:00+00:00"
    assert Comment.objects.get(source_id="2").text.endswith('"First!" with unicode: é中.')


def test_the_same_file_twice_adds_nothing(project):
    import_file(project, SAMPLE)
    before = list(Comment.objects.values_list("pk", "path", "parent_id", "text"))

    again = import_file(project, SAMPLE)

    assert again == ImportResult(
        articles_added=0, articles_unchanged=2, comments_added=0, comments_unchanged=8
    )
    assert list(Comment.objects.values_list("pk", "path", "parent_id", "text")) == before


def test_an_updated_thread_adds_only_its_new_comments_under_old_ones(project, tmp_path):
    write_jsonl(tmp_path / "v1.jsonl", [article(), comment("c1"), comment("c2", "c1")])
    import_file(project, tmp_path / "v1.jsonl")
    updated = [
        article(),
        comment("c4", "c3"),  # a reply to a new comment that comes later
        comment("c1", text="edited text is ignored"),
        comment("c3", "c1"),
        comment("c2", "c1"),
        comment("c5"),
        comment("c6", "c2"),
    ]

    result = import_file(project, write_jsonl(tmp_path / "v2.jsonl", updated))

    assert result == ImportResult(
        articles_added=0, articles_unchanged=1, comments_added=4, comments_unchanged=2
    )
    assert tree() == [
        ("c1", None, 0, 1, "000001"),
        ("c2", "c1", 1, 1, "000001000001"),
        ("c6", "c2", 2, 1, "000001000001000001"),
        ("c3", "c1", 1, 2, "000001000002"),
        ("c4", "c3", 2, 1, "000001000002000001"),
        ("c5", None, 0, 2, "000002"),
    ]
    assert Comment.objects.get(source_id="c1").text == "Text of c1"


def test_comments_can_be_added_to_an_article_already_in_the_project(project, tmp_path):
    old = ArticleFactory(project=project, source_id="a-1")
    top = make_comment(old, source_id="old-1")
    make_comment(old, parent=top, source_id="old-2")

    result = import_file(project, write_jsonl(tmp_path / "more.jsonl", [comment("new-1", "old-1")]))

    assert result.comments_added == 1
    assert tree()[-1] == ("new-1", "old-1", 1, 2, "000001000002")


def test_articles_of_another_project_are_not_matched(project, other_project, tmp_path):
    ArticleFactory(project=other_project, source_id="a-1")
    path = write_jsonl(tmp_path / "a.jsonl", [comment("c1")])

    with pytest.raises(ImportFileError, match='line 1: unknown article "a-1"'):
        import_file(project, path)


def test_deep_threads_get_paths_one_segment_per_level(project, tmp_path):
    records = [article()] + [comment(f"c{i}", f"c{i - 1}" if i else None) for i in range(50)]
    records[1:] = reversed(records[1:])  # every reply before its parent

    import_file(project, write_jsonl(tmp_path / "deep.jsonl", records))

    deepest = Comment.objects.get(source_id="c49")
    assert deepest.depth == 49
    assert deepest.path == "000001" * 50
    assert [c.source_id for c in deepest.ancestors()] == [f"c{i}" for i in range(49)]


def test_a_tree_too_deep_for_the_path_column_is_refused(project, tmp_path):
    records = [article()] + [comment(f"c{i}", f"c{i - 1}" if i else None) for i in range(401)]

    with pytest.raises(ImportFileError, match="line 402: comment nested 401 levels deep"):
        import_file(project, write_jsonl(tmp_path / "deep.jsonl", records))
    assert counts() == (0, 0)


def test_a_20_mb_comment_is_refused_without_writing(project, tmp_path):
    path = write_jsonl(tmp_path / "big.jsonl", [article(), comment("c1", text="x" * 20_000_000)])

    with pytest.raises(ImportFileError) as refused:
        import_file(project, path)

    assert "big.jsonl, line 2: record of 20,000,0" in str(refused.value)
    assert counts() == (0, 0)


def test_a_comment_over_the_text_limit_names_its_size_and_the_limit(project, tmp_path, settings):
    settings.IMPORT_MAX_TEXT_CHARS = 1000
    path = write_jsonl(tmp_path / "long.jsonl", [article(), comment("c1", text="y" * 1001)])

    with pytest.raises(ImportFileError, match=r"line 2: .* 1,001 characters long, over .*1,000"):
        import_file(project, path)
    assert counts() == (0, 0)


def test_several_files_in_one_transaction_are_all_or_nothing(project, tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", [article(), comment("c1")])
    bad = write_jsonl(tmp_path / "bad.jsonl", [comment("c2", "nope")])

    refused = pytest.raises(ImportFileError, match=r'bad\.jsonl, line 1: parent "nope" not found')
    with refused, transaction.atomic():
        import_file(project, good)
        import_file(project, bad)
    assert counts() == (0, 0)


def test_a_later_file_may_answer_comments_of_an_earlier_one(project, tmp_path):
    import_file(project, write_jsonl(tmp_path / "1.jsonl", [article(), comment("c1")]))

    result = import_file(project, write_jsonl(tmp_path / "2.jsonl", [comment("c2", "c1")]))

    assert result.comments_added == 1
    assert tree() == [("c1", None, 0, 1, "000001"), ("c2", "c1", 1, 1, "000001000001")]


def test_progress_rises_to_the_total(project, tmp_path, monkeypatch):
    monkeypatch.setattr("annotator.corpus.importers.loader.PROGRESS_INTERVAL", 0)
    records = [article()] + [comment(f"c{i}", text="z" * 500) for i in range(2000)]
    path = write_jsonl(tmp_path / "many.jsonl", records)
    calls = []

    import_file(project, path, progress=lambda done, total: calls.append((done, total)))

    size = path.stat().st_size
    assert len(calls) > 4
    assert {total for _, total in calls} == {2 * size}
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1] == (2 * size, 2 * size)


def test_memory_does_not_grow_with_the_texts(project, tmp_path):
    texts = [article()] + [comment(f"c{i}", text=f"{i} " + "t" * 50_000) for i in range(400)]
    path = write_jsonl(tmp_path / "long-texts.jsonl", texts)

    tracemalloc.start()
    try:
        import_file(project, path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert Comment.objects.count() == 400
    assert peak < path.stat().st_size / 3


def test_keys_are_never_reused_after_deletions(project, tmp_path):
    import_file(project, write_jsonl(tmp_path / "1.jsonl", [article(), comment("c1")]))
    first = Comment.objects.get().pk
    Article.objects.all().delete()

    import_file(project, write_jsonl(tmp_path / "2.jsonl", [article(), comment("c1")]))

    assert Comment.objects.get().pk > first


def test_the_format_can_be_forced(project, tmp_path):
    path = write_jsonl(tmp_path / "thread.txt", [article(), comment("c1")])

    assert import_file(project, path, fmt="jsonl").comments_added == 1


def test_it_names_the_upload_not_the_temporary_path(project, tmp_path):
    path = write_jsonl(tmp_path / "tmp123", [comment("c1")])

    with pytest.raises(ImportFileError, match=r"^upload\.jsonl, line 1"):
        import_file(project, path, fmt="jsonl", filename="upload.jsonl")


# --- Broken files: every file under broken/ is refused, naming itself, writing nothing --------


def broken_files() -> list[Path]:
    return sorted(
        path
        for path in BROKEN.rglob("*")
        if path.is_file() and path.suffix != ".expected" and not path.name.startswith(".")
    )


@pytest.mark.parametrize("path", broken_files(), ids=lambda p: str(p.relative_to(BROKEN)))
def test_a_broken_file_is_refused_and_nothing_is_written(path, db):
    project = ProjectFactory(slug="broken")
    existing = ArticleFactory(project=project, source_id="existing-article")
    make_comment(existing, source_id="existing-comment")
    before = counts()
    expected = path.with_name(path.name + ".expected")

    # A file under broken/<format>/ claims that format; elsewhere the format is detected.
    fmt = path.parent.name if path.parent.name in FORMATS else "auto"

    with pytest.raises(ImportFileError) as refused:
        import_file(project, path, fmt=fmt)

    message = str(refused.value)
    assert message.startswith(path.name)
    if expected.exists():
        assert expected.read_text(encoding="utf-8").strip() in message
    assert counts() == before


def test_an_updated_dump_never_changes_an_existing_comments_parent_or_its_labels(
    project, tmp_path, annotator
):
    """A re-parent only ever happens through Comment.move_under: a dump in which "c2" now
    answers "c3" leaves it under "c1", so its answers about "c1" stay valid."""
    from annotator.labelling.models import Annotation
    from tests.factories import COMPLETE_REPLY, make_label

    write_jsonl(tmp_path / "v1.jsonl", [article(), comment("c1"), comment("c2", "c1")])
    import_file(project, tmp_path / "v1.jsonl")
    make_label(Comment.objects.get(source_id="c2"), annotator, COMPLETE_REPLY)
    updated = [article(), comment("c1"), comment("c3"), comment("c2", "c3")]

    import_file(project, write_jsonl(tmp_path / "v2.jsonl", updated))

    assert Comment.objects.get(source_id="c2").parent.source_id == "c1"
    labels = Annotation.objects.get()
    assert (labels.answers, labels.stale_answers, labels.revision) == (COMPLETE_REPLY, {}, 1)


# --- Planner statistics after a large import --------------------------------------------------


def many_comments(path: Path, comments: int) -> Path:
    """A JSON Lines file with 10 articles and ``comments`` top-level comments among them."""
    lines = [{"type": "article", "id": f"a{n}", "title": f"Article {n}"} for n in range(10)]
    lines += [
        {"type": "comment", "id": f"c{i}", "article_id": f"a{i % 10}", "text": f"comment {i}"}
        for i in range(comments)
    ]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def analyzes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].upper().startswith("ANALYZE")]


def last_analyze(table: str):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = %s", [table])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_large_import_on_postgresql_analyzes_the_tables_it_wrote(tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("ANALYZE is for PostgreSQL's planner")
    before = (last_analyze("corpus_comment"), last_analyze("corpus_article"))
    project = ProjectFactory(slug="large")

    with CaptureQueriesContext(connection) as queries:
        result = import_file(project, many_comments(tmp_path / "big.jsonl", 10_000))

    assert result.comments_added == 10_000
    assert analyzes(queries) == ['ANALYZE "corpus_comment"', 'ANALYZE "corpus_article"']
    after = (last_analyze("corpus_comment"), last_analyze("corpus_article"))
    assert all(a is not None and (b is None or a > b) for a, b in zip(after, before, strict=True))


@pytest.mark.django_db(transaction=True)
def test_analyze_waits_for_the_import_to_commit(tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("ANALYZE is for PostgreSQL's planner")
    project = ProjectFactory(slug="large")

    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        import_file(project, many_comments(tmp_path / "big.jsonl", 10_000))
        assert analyzes(queries) == []  # not inside the caller's transaction

    assert analyzes(queries) == ['ANALYZE "corpus_comment"', 'ANALYZE "corpus_article"']


@pytest.mark.django_db(transaction=True)
def test_a_small_import_leaves_the_statistics_alone(tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        import_file(ProjectFactory(slug="small"), many_comments(tmp_path / "s.jsonl", 9_000))

    assert analyzes(queries) == []


def test_the_job_names_are_still_importable_from_the_loader():
    # They live in jobs.py, which imports the loader; callers outside the project may still
    # import them from here.
    from annotator.corpus.importers import jobs, loader
    from annotator.corpus.importers.loader import JobAbandoned, JobProgress, run_import_job

    assert (run_import_job, JobProgress, JobAbandoned) == (
        jobs.run_import_job,
        jobs.JobProgress,
        jobs.JobAbandoned,
    )
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        loader.nothing_here  # noqa: B018
