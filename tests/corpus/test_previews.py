"""The stored reading of a scraped-text import: made once (in the worker when large), shown a
page at a time in a number of queries that does not grow with the thread, searched, kept
choices, and imported as the preview showed it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotator.corpus.importers.loader import import_stream
from annotator.corpus.importers.text import reconstruct_thread
from annotator.corpus.models import Article, Comment, ImportJob, PreviewComment
from annotator.corpus.previews import PAGE_SIZE, build_reading, search_comments

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("uploads_in_tmp")]

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "fixtures" / "seed_thread.txt"


def long_thread(comments: int) -> bytes:
    """A scraped thread of ``comments`` comments: unnamed ones, with a named reply and a
    question answered now and then, so that every kind of link and confidence appears."""
    parts = ["Talks resume in Geneva", "Talks resume in Geneva", "Delegations met on Monday."]
    for number in range(comments):
        if number % 7 == 3:
            parts.append(f"\nReader {number}\n\nYes, agreed with that point {number}.")
        elif number % 5 == 0:
            parts.append(f"\nWhy would talk number {number} about tariff{number} matter?")
        else:
            parts.append(f"\nNo, tariff{number - 1 if number % 5 == 1 else number} is beside it.")
    return ("\n\n".join(parts) + "\n").encode()


def upload(client, project, name: str, content: bytes):
    return client.post(
        reverse("corpus:import_list", args=[project.slug]),
        {"file": SimpleUploadedFile(name, content), "format": "auto"},
    )


def detail_url(job) -> str:
    return reverse("corpus:import_detail", args=[job.project.slug, job.pk])


def save_url(job) -> str:
    return reverse("corpus:import_preview_save", args=[job.project.slug, job.pk])


def confirm_url(job) -> str:
    return reverse("corpus:import_confirm", args=[job.project.slug, job.pk])


def text_job(project, user, content: bytes, name: str = "thread.txt") -> ImportJob:
    return ImportJob.objects.create(
        project=project,
        created_by=user,
        status=ImportJob.Status.READING,
        format="text",
        file=SimpleUploadedFile(name, content),
        original_name=name,
        total_bytes=len(content),
    )


# --- The reading, stored once -----------------------------------------------------------------


def test_the_stored_reading_is_the_importers_reading(project, project_admin):
    job = text_job(project, project_admin, SEED.read_bytes(), SEED.name)
    expected = reconstruct_thread(SEED.read_text("utf-8"), SEED.name)

    build_reading(job)

    rows = list(job.preview_comments.order_by("position"))
    assert [(r.line, r.author, r.text, r.parent_line, r.confidence) for r in rows] == [
        (c.line, c.author, c.text, c.parent_line, c.confidence) for c in expected.comments
    ]
    assert [r.candidates[0][0] for r in rows] == [
        c.candidates[0].parent_line for c in expected.comments
    ]
    job.refresh_from_db()
    assert job.reading["title"] == expected.title
    assert job.reading["article_end"] == expected.article_end
    assert job.reading["comments"] == len(expected.comments)
    by_line = {r.line: r for r in rows}
    for row in rows:  # depths follow the importer's parents
        parent = by_line.get(row.parent_line)
        assert row.depth == (0 if parent is None else parent.depth + 1)


def test_the_preview_never_reads_the_file_again(importer_client, project):
    upload(importer_client, project, SEED.name, SEED.read_bytes())
    job = ImportJob.objects.get()
    Path(job.file.path).write_bytes(b"changed on disk\n")  # a re-read would show this

    html = importer_client.get(detail_url(job)).content.decode()

    assert "Why Does Syrian Army Stop Active Military Operation In Aleppo?" in html
    assert "changed on disk" not in html


def test_a_large_text_file_is_read_by_the_worker_with_progress(
    importer_client, project, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_BACKGROUND_BYTES = 1000
    content = long_thread(300)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        upload(importer_client, project, "long.txt", content)
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.READING  # the request did not read it
    assert not job.preview_comments.exists()
    page = importer_client.get(detail_url(job)).content.decode()
    assert "Reading the thread…" in page
    assert 'hx-trigger="every 1s"' in page

    for callback in queued:  # the worker picks the task up
        callback()

    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEW
    assert job.reading["comments"] == job.preview_comments.count() == 300
    # The page's poll sees it done and reloads itself into the preview.
    poll = importer_client.get(
        detail_url(job), headers={"HX-Request": "true", "HX-Target": "import-progress"}
    )
    assert poll.headers["HX-Refresh"] == "true"


def test_the_reading_beats_and_a_dead_readers_job_is_failed_and_can_run_again(
    importer_client, project, project_admin, settings
):
    job = text_job(project, project_admin, SEED.read_bytes())
    job.heartbeat_at = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER + 5)
    job.started_at = job.heartbeat_at
    job.save()

    page = importer_client.get(detail_url(job)).content.decode()

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and job.worker_stopped
    assert "Run it again" in page
    importer_client.post(reverse("corpus:import_retry", args=[project.slug, job.pk]))
    retry = ImportJob.objects.exclude(pk=job.pk).get()
    assert retry.status == ImportJob.Status.PREVIEW  # read again, waiting for review
    assert retry.reading["comments"] == retry.preview_comments.count() > 0


def test_a_refused_file_keeps_no_rows_and_says_why(importer_client, project):
    upload(importer_client, project, "thread.txt", b"[1, 2, 3]\n")

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert "looks like JSON Lines" in job.error
    assert not PreviewComment.objects.exists()


# --- Pages ------------------------------------------------------------------------------------


def test_the_preview_shows_one_page_of_comments_and_a_pager(importer_client, project):
    upload(importer_client, project, "long.txt", long_thread(250))
    job = ImportJob.objects.get()
    lines = list(job.preview_comments.order_by("position").values_list("line", flat=True))

    first = importer_client.get(detail_url(job))
    third = importer_client.get(detail_url(job), {"page": 3})

    assert [row.line for row in first.context["rows"]] == lines[:PAGE_SIZE]
    assert [row.line for row in third.context["rows"]] == lines[2 * PAGE_SIZE :]
    html = third.content.decode()
    assert f"Comments {2 * PAGE_SIZE + 1}\u2013250 of 250" in html
    assert 'rel="prev"' in html and 'rel="next"' not in html
    assert 'name="article_end"' not in html  # the article's end is chosen on the first page
    assert 'name="article_end"' in first.content.decode()
    # A page past the end shows the last one, nonsense the first.
    assert importer_client.get(detail_url(job), {"page": 99}).context["page"].number == 3
    assert importer_client.get(detail_url(job), {"page": "x"}).context["page"].number == 1


def test_a_page_costs_the_same_queries_for_250_as_for_2500_comments(importer_client, project):
    upload(importer_client, project, "short.txt", long_thread(250))
    upload(importer_client, project, "long.txt", long_thread(2500))
    short, long = ImportJob.objects.order_by("pk")
    assert long.reading["comments"] == 2500
    for job in (short, long):  # with a correction, depths are walked up the tree
        importer_client.post(save_url(job), {"parent-" + str(last_line(job)): "article"})

    counts = []
    for job in (short, long):
        with CaptureQueriesContext(connection) as queries:
            response = importer_client.get(detail_url(job), {"page": 2})
        assert response.status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1]


def last_line(job) -> int:
    return job.preview_comments.order_by("-position").values_list("line", flat=True).first()


def test_only_the_links_to_check_can_be_shown(importer_client, project):
    upload(importer_client, project, "long.txt", long_thread(250))
    job = ImportJob.objects.get()
    unsure = list(
        job.preview_comments.filter(confidence__in=["medium", "low"])
        .order_by("position")
        .values_list("line", flat=True)
    )
    assert unsure

    response = importer_client.get(detail_url(job), {"show": "unsure"})

    assert [row.line for row in response.context["rows"]] == unsure[:PAGE_SIZE]
    assert response.context["to_check_count"] == len(unsure)
    # Fixing one takes it off the list.
    importer_client.post(save_url(job), {f"parent-{unsure[0]}": "article", "show": "unsure"})
    response = importer_client.get(detail_url(job), {"show": "unsure"})
    assert unsure[0] not in [row.line for row in response.context["rows"]]
    assert response.context["to_check_count"] == len(unsure) - 1


def test_choices_made_on_different_pages_are_all_kept(importer_client, project):
    upload(importer_client, project, "long.txt", long_thread(250))
    job = ImportJob.objects.get()
    rows = list(job.preview_comments.order_by("position"))
    early, late = rows[5], rows[200]

    importer_client.post(save_url(job), {"page": 1, f"parent-{early.line}": "article"})
    importer_client.post(save_url(job), {"page": 3, f"parent-{late.line}": str(rows[150].line)})

    job.refresh_from_db()
    assert job.options["parents"] == {str(early.line): None, str(late.line): rows[150].line} or (
        early.parent_line is None and job.options["parents"] == {str(late.line): rows[150].line}
    )
    row = next(
        r
        for r in importer_client.get(detail_url(job), {"page": 3}).context["rows"]
        if r.line == late.line
    )
    assert row.parent == rows[150].line and row.changed
    assert row.depth == rows[150].depth + 1


# --- Searching for a parent -------------------------------------------------------------------


def test_the_search_finds_comments_above_by_line_or_words_nearest_first(project, project_admin):
    job = text_job(project, project_admin, long_thread(250))
    build_reading(job)
    rows = list(job.preview_comments.order_by("position"))
    target = rows[240]

    by_line = search_comments(job, target.line, str(rows[3].line))
    by_words = search_comments(job, target.line, "tariff10 matter")
    below = search_comments(job, rows[3].line, str(target.line))

    assert [line for line, _ in by_line] == [rows[3].line]
    assert by_words and all(line < target.line for line, _ in by_words)
    assert by_words[0][1].startswith(f"line {by_words[0][0]} · ")
    assert below == []
    assert search_comments(job, target.line, "   ") == []
    assert search_comments(job, 999_999, "tariff") == []


def test_the_search_endpoint_checks_the_role_and_escapes_texts(
    client, importer_client, project, annotator
):
    hostile = b"T\n\nT\n\nBody.\n\n\nFirst <script>alert(1)</script>\n\n\nSecond one.\n"
    upload(importer_client, project, "hostile.txt", hostile)
    job = ImportJob.objects.get()
    second = job.preview_comments.order_by("position").last()
    url = reverse("corpus:import_preview_search", args=[project.slug, job.pk])
    query = {"before": second.line, f"other-parent-{second.line}": "script"}

    html = importer_client.get(url, query).content.decode()
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert importer_client.get(url, {"before": "x" * 5000}).status_code == 200
    client.force_login(annotator)  # the same client: now an annotator of the project
    assert client.get(url, query).status_code == 403


# --- Importing what the preview showed --------------------------------------------------------


def test_confirming_imports_the_stored_rows_as_the_command_line_would(
    importer_client, project, other_project
):
    content = long_thread(250)
    upload(importer_client, project, "long.txt", content)
    job = ImportJob.objects.get()

    importer_client.post(confirm_url(job), {})

    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.comments_added == 250
    assert not job.preview_comments.exists()  # kept only while waiting for review
    path = Path(job.file.path)
    import_stream(other_project, lambda: path.open("rb"), size=len(content), filename="long.txt")

    def tree(project):
        comments = Comment.objects.filter(article__project=project).select_related("parent")
        return sorted((c.source_id, c.parent.source_id if c.parent else None) for c in comments)

    assert tree(project) == tree(other_project)
    assert (
        Article.objects.get(project=project).source_id
        == Article.objects.get(project=other_project).source_id
    )


def test_a_large_confirmed_import_runs_in_the_worker_from_the_stored_rows(
    importer_client, project, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_BACKGROUND_BYTES = 1000
    with django_capture_on_commit_callbacks(execute=True):
        upload(importer_client, project, "long.txt", long_thread(300))
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.PREVIEW
    job.file.delete(save=False)  # the import must not need the file any more

    with django_capture_on_commit_callbacks(execute=True):
        importer_client.post(confirm_url(job), {})

    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert Comment.objects.filter(article__project=project).count() == 300


def test_a_save_older_than_one_kept_changes_nothing(importer_client, project):
    upload(importer_client, project, SEED.name, SEED.read_bytes())
    job = ImportJob.objects.get()
    last = job.preview_comments.order_by("-position").first()
    first = job.preview_comments.order_by("position").first()

    # The newer change reaches the server first; the older one, given up on by the
    # browser (htmx replaced it), arrives late.
    importer_client.post(save_url(job), {f"parent-{last.line}": str(first.line), "seq": "2000"})
    importer_client.post(save_url(job), {f"parent-{last.line}": "article", "seq": "1000"})

    job.refresh_from_db()
    assert job.options["parents"] == {str(last.line): first.line}
    assert job.options["seq"] == 2000
