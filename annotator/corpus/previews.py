"""The preview of a scraped-text import: its reading, made once and kept, shown a page at a
time, and the admin's corrections kept on the job as they are made.

A scraped thread is never imported blind. Its reading (title, article, every comment with
its ranked parents) is made once when the file is uploaded (by the background worker when
the file is large, with progress) and stored: the title and article on
``ImportJob.reading``, each comment as a ``PreviewComment`` row. The preview reads a page of
rows, so it costs the same for 60 comments as for 100,000; it never reads the file again.
Moving the article's end reads the file again (the words of the article change how every
comment ranks its parents), in the background for a large file.

The admin's choices are ``ImportJob.options``: ``article_end`` and ``parents`` (comment
line -> parent line or None, only where they differ from the importer's reading), which is
also the shape ``text.parse_text`` takes, so a retried import without a stored reading
imports the same thread from the file. Confirming imports the stored rows
(``import_reading``), with the same checks and the same source ids as the file would give.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from annotator.corpus.importers.encoding import transcoded
from annotator.corpus.importers.jobs import JobProgress
from annotator.corpus.importers.loader import ImportResult, load_records
from annotator.corpus.importers.records import ImportFileError, Record
from annotator.corpus.importers.text import (
    Block,
    ParentCandidate,
    ReconstructedComment,
    ThreadHead,
    article_record,
    comment_records,
    confirm_refusal,
    read_thread,
)
from annotator.corpus.importers.text_parents import WINDOW
from annotator.corpus.models import ImportJob, PreviewComment
from annotator.corpus.stored_files import open_stored
from annotator.corpus.uploads import is_store_failure

logger = logging.getLogger(__name__)

ARTICLE = "article"  # the value a parent select sends for "answers the article"
PAGE_SIZE = 100  # comments on one page of the preview (the seed thread fits on one)
MOVABLE_COMMENTS = 3  # the first comments offered as "this is still article text"
OTHER_PARENTS = 10  # nearby comments offered as parents beyond the ranked candidates
MAX_INDENT = 10  # deeper replies are drawn at this indent (import.css has indent-0..10)
SEARCH_RESULTS = 20  # comments offered by the "any comment above" search
WRITE_BATCH = 1000  # preview rows written per INSERT
WRITE_BATCH_CHARS = 2_000_000  # and at most this much comment text per INSERT
UNSURE = ("medium", "low")
SPOOL_BYTES = 16 * 1024 * 1024  # stored rows held in memory for the import, beyond on disk


# --- Making the reading -----------------------------------------------------------------------


def build_reading(
    job: ImportJob,
    article_end: int | None = None,
    on_read: Callable[[int], None] | None = None,
) -> None:
    """Read ``job``'s file and store the reading, replacing any earlier one.

    Raises ``ImportFileError`` when the file is no scraped thread (nothing stored then).
    Rows are written in batches as the file is read, so memory stays flat; the reading
    counts only once ``job.reading`` is saved, at the end.
    """
    storage, name = job.file.storage, job.file.name
    encoding = (job.options or {}).get("encoding")

    def open_file() -> BinaryIO:
        stream = open_stored(storage, name)
        return transcoded(stream, encoding) if encoding else stream

    reading = read_thread(
        open_file,
        job.original_name,
        article_end=article_end,
        on_read=on_read,
    )
    PreviewComment.objects.filter(job=job).delete()
    depth_of: dict[int, int] = {}
    recent: list[int] = []
    batch: list[PreviewComment] = []
    chars = count = unsure = 0
    for position, comment in enumerate(reading.comments()):
        depth = 0 if comment.parent_line is None else depth_of.get(comment.parent_line, 0) + 1
        depth_of[comment.line] = depth
        recent.append(comment.line)
        if len(recent) > WINDOW + 1:  # parents are always among the last WINDOW comments
            depth_of.pop(recent.pop(0), None)
        unsure += comment.confidence in UNSURE
        batch.append(_row(job, position, comment, depth))
        count += 1
        chars += len(comment.text)
        if len(batch) >= WRITE_BATCH or chars >= WRITE_BATCH_CHARS:
            PreviewComment.objects.bulk_create(batch)
            batch, chars = [], 0
    PreviewComment.objects.bulk_create(batch)
    job.reading = _head_as_json(reading.head, requested_end=article_end) | {
        "comments": count,
        "unsure": unsure,
    }
    ImportJob.objects.filter(pk=job.pk).update(reading=job.reading)


def _row(job: ImportJob, position: int, comment: ReconstructedComment, depth: int):
    return PreviewComment(
        job=job,
        position=position,
        line=comment.line,
        end_line=comment.end_line,
        author=comment.author[:255],
        text=comment.text,
        parent_line=comment.parent_line,
        depth=depth,
        confidence=comment.confidence,
        reason=comment.reason,
        candidates=[[c.parent_line, c.score, c.reason] for c in comment.candidates],
    )


def _head_as_json(head: ThreadHead, requested_end: int | None) -> dict:
    return {
        "title": head.title,
        "title_line": head.title_line,
        "article_end": head.article_end,
        "requested_end": requested_end,
        "paragraphs": [[b.line, b.end_line, b.text] for b in head.article_paragraphs],
    }


def head_of(job: ImportJob) -> ThreadHead:
    """The title and article of ``job``'s stored reading."""
    reading = job.reading
    return ThreadHead(
        title=reading["title"],
        title_line=reading["title_line"],
        article_paragraphs=[Block(line, end, text) for line, end, text in reading["paragraphs"]],
        article_end=reading["article_end"],
    )


def has_reading(job: ImportJob) -> bool:
    """Whether ``job`` holds a complete stored reading."""
    return bool(job.reading) and "comments" in job.reading


def read_in_background(job: ImportJob) -> bool:
    """Whether ``job``'s file is large enough to be read by the background worker."""
    return job.total_bytes >= settings.IMPORT_BACKGROUND_BYTES


def run_reading(job: ImportJob, article_end: int | None = None) -> None:
    """Make ``job``'s reading (now or in the worker), ending PREVIEW, or FAILED with why.

    Like an import, the job beats while it reads (progress is both passes over the file);
    its outcome is recorded only on a row still READING, so a job the reaper failed stays
    failed.
    """
    now = timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.READING, started_at=now, heartbeat_at=now, processed_bytes=0
    )
    job.status = ImportJob.Status.READING
    reading = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.READING)
    reporter = JobProgress(job)
    done = 0
    total = 2 * max(1, job.total_bytes)

    def on_read(count: int) -> None:
        nonlocal done
        done += count
        reporter(done, total)

    error = ""
    try:
        build_reading(job, article_end, on_read=on_read)
    except ImportFileError as refused:
        error = str(refused)
    except FileNotFoundError:
        error = f"{job.original_name}: the uploaded file is gone; upload it again."
    except Exception as unexpected:
        if is_store_failure(unexpected):
            logger.warning("reading import job %s: the file store failed: %s", job.pk, unexpected)
            error = (
                f"{job.original_name}: the file store could not be reached; nothing was "
                "imported. Run it again once the store answers."
            )
        else:
            logger.exception("reading import job %s stopped on an unexpected error", job.pk)
            error = (
                f"{job.original_name}: reading the thread stopped on an unexpected error "
                f"({type(unexpected).__name__}); nothing was imported."
            )
    finally:
        reporter.close()
    if error:
        PreviewComment.objects.filter(job=job).delete()
        reading.update(status=ImportJob.Status.FAILED, error=error, finished_at=timezone.now())
    else:
        reading.update(status=ImportJob.Status.PREVIEW, processed_bytes=0, heartbeat_at=None)
    job.refresh_from_db()


def start_reading(job: ImportJob, article_end: int | None = None) -> None:
    """Read ``job``'s file now when it is small, else queue it for the background worker."""
    from annotator.corpus.tasks import enqueue_reading

    if read_in_background(job):
        enqueue_reading(job, article_end)
    else:
        run_reading(job, article_end)


# --- The admin's choices ----------------------------------------------------------------------


def kept_parents(job: ImportJob) -> dict[int, int | None]:
    """The parents the admin chose, by comment line (where they differ from the reading)."""
    kept = (job.options or {}).get("parents") or {}
    return {int(line): parent for line, parent in kept.items()}


@dataclass
class SavedChoices:
    """What ``save_choices`` kept and refused."""

    problems: dict[int, str] = field(default_factory=dict)
    article_end: int | None = None  # a new article end, when the admin moved it
    article_end_problem: str = ""  # an end that is not one of those offered
    stale: bool = False  # older than a save already kept: ignored

    @property
    def refused(self) -> list[str]:
        """Every problem, for a page that shows them together."""
        return [
            *([self.article_end_problem] if self.article_end_problem else []),
            *self.problems.values(),
        ]


def save_choices(job: ImportJob, data: Mapping[str, str]) -> SavedChoices:
    """Keep the choices of one page of the preview (``parent-<line>``, ``other-parent-<line>``,
    ``article_end``) on ``job``; the other pages' choices stay as they were.

    A parent that is not the article or a comment above is refused for that comment, with
    a problem to show beside it (the form offers only those, so it means a stale or forged
    page, or words typed without picking a comment). Only a job in review is changed.
    """
    saved = SavedChoices()
    seq = parse_line(data.get("seq")) if data.get("seq") else None
    if seq is not None and seq <= (job.options or {}).get("seq", 0):
        saved.stale = True  # an older save that arrived after a newer one: it changes nothing
        return saved
    lines = {}
    for key in data:
        for prefix in ("parent-", "other-parent-"):
            if key.startswith(prefix):
                line = parse_line(key.removeprefix(prefix))
                if line is not None:
                    lines[line] = None
    rows = {
        row.line: row
        for row in PreviewComment.objects.filter(
            job=job, line__in=list(lines)[: PAGE_SIZE * 4]
        ).only("line", "position", "parent_line")
    }
    wanted: dict[int, tuple[int | None, str, bool]] = {}
    for line in rows:
        typed = (data.get(f"other-parent-{line}") or "").strip()
        raw = typed or data.get(f"parent-{line}")
        if raw is None:
            continue
        if raw == ARTICLE:
            wanted[line] = (None, raw, bool(typed))
        else:
            wanted[line] = (parse_line(raw), raw, bool(typed))
    parent_lines = {parent for parent, _, _ in wanted.values() if parent is not None}
    positions = dict(
        PreviewComment.objects.filter(job=job, line__in=parent_lines).values_list(
            "line", "position"
        )
    )
    parents = kept_parents(job)
    for line, (parent, raw, typed) in wanted.items():
        row = rows[line]
        is_above = parent is not None and positions.get(parent, row.position) < row.position
        if raw != ARTICLE and not is_above:
            saved.problems[line] = (
                f"For the comment at line {line}, type the line number of the comment it "
                f"answers, or pick one from the list ({raw[:40]!r} is not one)."
                if typed
                else f"The comment at line {line} can only answer the article or a comment "
                f"above it, not {raw[:40]!r}."
            )
            continue
        if parent == row.parent_line:
            parents.pop(line, None)
        else:
            parents[line] = parent
    options = dict(job.options or {})
    options["parents"] = {str(line): parent for line, parent in sorted(parents.items())}
    if seq is not None:
        options["seq"] = seq
    raw_end = data.get("article_end")
    if raw_end and str(raw_end).strip() != str(job.reading.get("article_end")):
        end = parse_line(raw_end)
        if end is None or end not in article_ends(job):
            saved.article_end_problem = (
                f"The article cannot end at line {str(raw_end)[:20]!r}: choose the end of one of "
                "its paragraphs, or of one of the first comments."
            )
        else:
            options["article_end"] = end
            saved.article_end = end
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PREVIEW).update(options=options)
    job.options = options
    return saved


def article_ends(job: ImportJob) -> set[int]:
    """Where the article may end: after one of its paragraphs, or after one of the first
    comments (paragraphs moved out become the first comments, so every move is reversible)."""
    ends = {end for _, end, _ in job.reading.get("paragraphs", [])}
    ends.add(job.reading.get("article_end"))
    first = PreviewComment.objects.filter(job=job, position__lt=MOVABLE_COMMENTS)
    ends.update(first.values_list("end_line", flat=True))
    return {end for end in ends if end is not None}


def keep_valid_choices(job: ImportJob) -> None:
    """After a new reading, drop kept parents whose comments no longer exist or come after."""
    parents = kept_parents(job)
    if not parents:
        return
    wanted = set(parents) | {p for p in parents.values() if p is not None}
    positions = dict(
        PreviewComment.objects.filter(job=job, line__in=wanted).values_list("line", "position")
    )
    kept = {
        str(line): parent
        for line, parent in parents.items()
        if line in positions
        and (parent is None or positions.get(parent, 1 << 62) < positions[line])
    }
    options = dict(job.options or {}) | {"parents": kept}
    ImportJob.objects.filter(pk=job.pk).update(options=options)
    job.options = options


def parse_line(value: object) -> int | None:
    """A positive line number from a query or form value, or None if it is not one."""
    text = str(value).strip()
    if not text.isdigit() or len(text) > 18:
        return None
    line = int(text)
    return line if line >= 1 else None


# --- Importing the stored reading -------------------------------------------------------------


def import_reading(
    job: ImportJob,
    *,
    progress: Callable[[int, int], None] | None = None,
    before_commit: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Import ``job``'s stored reading with the admin's choices: what the preview showed.

    The loader reads the records twice (check, then write), and on PostgreSQL writes them
    with COPY, during which its connection can run no query: so the rows are first copied,
    a batch at a time by position, to a spooled file (in memory while small), which both
    passes read. Memory stays flat however long the thread.
    """
    head = head_of(job)
    overrides = kept_parents(job)
    count = job.reading["comments"]
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        _spool_rows(job, spool)

        def read_records(read_pass: int) -> Iterator[Record]:
            spool.seek(0)
            yield article_record(head)
            comments = _spooled_comments(spool, read_pass, count, progress)
            yield from comment_records(comments, head, overrides, job.original_name)

        return load_records(
            job.project, read_records, job.original_name, before_commit=before_commit
        )


def _spool_rows(job: ImportJob, spool) -> None:
    """Write the job's preview rows to ``spool`` in file order, one JSON array a line."""
    position = -1
    fields = ("position", "line", "end_line", "author", "text", "parent_line")
    while True:
        batch = list(
            PreviewComment.objects.filter(job=job, position__gt=position)
            .order_by("position")
            .values_list(*fields)[:WRITE_BATCH]
        )
        if not batch:
            return
        for row in batch:
            spool.write(json.dumps(row[1:], ensure_ascii=False).encode("utf-8") + b"\n")
        position = batch[-1][0]


def _spooled_comments(
    spool, read_pass: int, count: int, progress: Callable[[int, int], None] | None
) -> Iterator[ReconstructedComment]:
    for done, raw in enumerate(spool, start=1):
        line, end_line, author, text, parent_line = json.loads(raw)
        yield ReconstructedComment(
            line=line,
            end_line=end_line,
            author=author,
            text=text,
            parent_line=parent_line,
            confidence="",
            reason="",
        )
        if progress is not None and done % WRITE_BATCH == 0:
            progress((read_pass - 1) * count + done, 2 * count)


def refusal(job: ImportJob) -> str | None:
    """Why the stored reading must not be confirmed (see ``text.confirm_refusal``)."""
    return confirm_refusal(
        comments=job.reading.get("comments", 0), paragraphs=len(job.reading.get("paragraphs", []))
    )


# --- Searching for a parent -------------------------------------------------------------------


def search_comments(job: ImportJob, before: int, query: str) -> list[tuple[int, str]]:
    """Comments above the one at line ``before`` that match ``query`` (a line number, or
    words of the text or the author's name), nearest first, as (line, label)."""
    query = query.strip()[:200]
    if not query:
        return []
    position = (
        PreviewComment.objects.filter(job=job, line=before)
        .values_list("position", flat=True)
        .first()
    )
    if position is None:
        return []
    above = PreviewComment.objects.filter(job=job, position__lt=position)
    line = parse_line(query)
    if line is not None:
        matches = above.filter(line=line)
    else:
        condition = Q()
        for word in query.split()[:8]:
            condition &= Q(text__icontains=word) | Q(author__icontains=word)
        matches = above.filter(condition)
    rows = matches.order_by("-position").only("line", "author", "text")[:SEARCH_RESULTS]
    return [(row.line, label(row)) for row in rows]


def label(row: PreviewComment | ReconstructedComment) -> str:
    """How a comment is named in a parent menu: line, author and first words."""
    words = row.text[:400].split()
    start = " ".join(words[:8]) + ("…" if len(words) > 8 else "")
    return f"line {row.line} · {row.author or 'anonymous'} · “{start}”"


def candidates_of(row: PreviewComment) -> list[ParentCandidate]:
    """The stored ranked parents of ``row``."""
    return [ParentCandidate(line, score, reason) for line, score, reason in row.candidates]
