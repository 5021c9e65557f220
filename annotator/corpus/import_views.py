"""HTML views for importing threads: upload, preview of a scraped thread, progress, log,
and discarding an upload that waits for review.

All state lives on the ``ImportJob`` row, so an admin can leave any of these pages and come
back to the same place. Small files are imported during the upload request; large ones go
to the background worker and the detail page polls the job with htmx until it finishes.
Scraped plain text is never imported blind: it stops at a preview where the admin fixes the
article's end and the reply links the importer is unsure of, then confirms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotator.corpus.deletions import NotAwaitingReview, discard_import
from annotator.corpus.import_forms import (
    ARTICLE,
    ImportUploadForm,
    corrections_from,
    parse_line,
)
from annotator.corpus.importers import SNIFF_BYTES, detect_format, refuse_unsupported
from annotator.corpus.importers.records import ImportFileError
from annotator.corpus.importers.text import confirm_refusal
from annotator.corpus.models import ImportJob, Project
from annotator.corpus.permissions import Action, project_for
from annotator.corpus.upload_handlers import upload_ran_out_of_space
from annotator.corpus.uploads import (
    NO_SPACE_MESSAGE,
    NoSpaceLeft,
    discard_upload,
    is_disk_full,
    store_upload,
)

if TYPE_CHECKING:
    from annotator.corpus.importers.text import ReconstructedComment, ThreadReconstruction

HEAD_BYTES = 8 * 1024  # what format detection looks at
LOG_LENGTH = 50  # import log rows shown on the upload page
MOVABLE_COMMENTS = 3  # the first comments offered as "this is still article text"
OTHER_PARENTS = 10  # nearby comments offered as parents beyond the ranked candidates
MAX_INDENT = 10  # deeper replies are drawn at this indent (app.css has indent-0..10)
UNSURE = frozenset({"medium", "low"})
CONFIDENCE_LABELS = {
    "explicit": "named reply",
    "high": "high confidence",
    "medium": "medium confidence",
    "low": "low confidence",
}


@login_required
@require_http_methods(["GET", "POST"])
def import_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The upload form and the project's import log; a valid upload starts an import."""
    project = project_for(request.user, slug, Action.IMPORT)
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    status = 200
    if upload_ran_out_of_space(request):  # while Django spooled it (upload_handlers.py)
        form = ImportUploadForm()
        messages.error(request, NO_SPACE_MESSAGE)
        status = 507
    elif request.method == "POST" and form.is_valid():
        try:
            job = _create_job(request, project, form)
        except NoSpaceLeft as error:
            form.add_error(None, str(error))
            status = 507  # Insufficient Storage: the server's fault, and it says so
        else:
            if job.format == ImportJob.Format.TEXT:
                _check_readable(job)
            else:
                _start(job)
            return redirect("corpus:import_detail", slug=project.slug, job_id=job.pk)
    ImportJob.objects.fail_stale(project=project)
    jobs = project.import_jobs.select_related("created_by").defer("options", "error")
    return render(
        request,
        "corpus/import_list.html",
        {
            "project": project,
            "form": form,
            "jobs": jobs[:LOG_LENGTH],
            "log_length": LOG_LENGTH,
            "discarded": project.discarded_imports.select_related("uploaded_by")[:LOG_LENGTH],
            "deleted": project.deleted_articles.all()[:LOG_LENGTH],
        },
        status=status,
    )


@login_required
@require_GET
def import_detail(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    """One import: preview (scraped text), live progress, final counts or the error.

    htmx requests get only the part that changes: the preview when the admin moves the
    article's end or a parent, the progress block while the page polls.
    """
    project = project_for(request.user, slug, Action.IMPORT)
    job = get_object_or_404(
        ImportJob.objects.select_related("created_by"), pk=job_id, project=project
    )
    job.fail_if_stale()  # a dead worker's job says so at the next poll
    context = {"project": project, "job": job}
    if job.status == ImportJob.Status.PREVIEW:
        partial = "preview"
        try:
            context.update(preview_context(job, request.GET))
        except ImportFileError as error:
            context["preview_error"] = str(error)
    else:
        partial = "progress"
    if request.htmx:
        return render(request, f"corpus/import_detail.html#{partial}", context)
    return render(request, "corpus/import_detail.html", context)


@login_required
@require_POST
def import_preview_save(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    """Keep the admin's choices (article end, parents) on the import waiting for review, as
    each is made, and answer with the preview they give: a reload or a later visit shows
    them, nothing is lost before "Confirm". The choices kept are the ones that differ from
    the importer's reading, so other comments still follow a later change of the article
    end."""
    project = project_for(request.user, slug, Action.IMPORT)
    job = get_object_or_404(ImportJob, pk=job_id, project=project)
    if job.status != ImportJob.Status.PREVIEW:
        return HttpResponse(
            "This import is no longer awaiting review: nothing was changed.",
            status=409,
            content_type="text/plain",
        )
    context = {"project": project, "job": job}
    try:
        context.update(preview_context(job, request.POST))
    except ImportFileError as error:
        context["preview_error"] = str(error)
    else:
        choices = preview_choices(context)
        # Conditional: a confirmation in another tab wins, and its options stay.
        ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PREVIEW).update(options=choices)
    return render(request, "corpus/import_detail.html#preview", context)


def preview_choices(context: dict) -> dict:
    """What of the preview in ``context`` the admin changed, as ``ImportJob.options``."""
    reconstruction = context["reconstruction"]
    guessed = {c.line: c.parent_line for c in reconstruction.comments}
    return {
        "article_end": context["article_end"],
        "parents": {
            str(row.line): row.parent for row in context["rows"] if row.parent != guessed[row.line]
        },
    }


@login_required
@require_POST
def import_confirm(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    """Apply the admin's corrections to a previewed thread and start the import."""
    project = project_for(request.user, slug, Action.IMPORT)
    job = get_object_or_404(ImportJob, pk=job_id, project=project)
    back = redirect("corpus:import_detail", slug=project.slug, job_id=job.pk)
    if job.status != ImportJob.Status.PREVIEW:
        messages.error(request, "This import is no longer awaiting review: nothing was changed.")
        return back
    try:
        text = read_text(job)
        article_end = _article_end(request.POST.get("article_end"), text, job)
        reconstruction = reconstruct(text, job, article_end)
    except ImportFileError as error:
        messages.error(request, str(error))
        return back
    refusal = confirm_refusal(reconstruction)
    if refusal:
        messages.error(request, f"Not imported: {refusal}")
        return back
    corrections = corrections_from(request.POST, reconstruction)
    if corrections.errors:
        for problem in corrections.errors:
            messages.error(request, problem)
        return back
    with transaction.atomic():
        # Only the first of two confirmations (double click, two tabs) starts an import.
        confirmed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PREVIEW).update(
            status=ImportJob.Status.QUEUED, options=corrections.as_options()
        )
    if not confirmed:
        messages.error(request, "This import was confirmed already.")
        return back
    job.refresh_from_db()
    _start(job)
    return back


@login_required
@require_http_methods(["GET", "POST"])
def import_discard(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    """Discard an upload waiting for review: GET asks, POST removes it and its file.

    A ``DiscardedImport`` row keeps who discarded which file and when; the import log lists
    it. Only a job in review can be discarded: anything else was imported or refused already.
    """
    project = project_for(request.user, slug, Action.IMPORT)
    job = get_object_or_404(
        ImportJob.objects.select_related("created_by").defer("options", "error"),
        pk=job_id,
        project=project,
    )
    if job.status != ImportJob.Status.PREVIEW:
        messages.error(request, "This import is no longer awaiting review: nothing was discarded.")
        return redirect("corpus:import_detail", slug=project.slug, job_id=job.pk)
    if request.method == "GET":
        return render(request, "corpus/import_discard.html", {"project": project, "job": job})
    try:
        discard_import(job, request.user)
    except NotAwaitingReview:
        messages.error(request, "This import was confirmed or discarded meanwhile.")
        return redirect("corpus:import_list", slug=project.slug)
    messages.success(request, f"Discarded {job.original_name}: nothing was imported.")
    return redirect("corpus:import_list", slug=project.slug)


@login_required
@require_POST
def import_retry(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    """Run an import whose worker stopped again, as a new job with the same file and options."""
    from annotator.corpus.tasks import retry_import

    project = project_for(request.user, slug, Action.IMPORT)
    job = get_object_or_404(ImportJob, pk=job_id, project=project)
    if not job.worker_stopped:
        messages.error(request, "Only an import whose worker stopped can be run again.")
        return redirect("corpus:import_detail", slug=project.slug, job_id=job.pk)
    if not job.file or not job.file.storage.exists(job.file.name):
        messages.error(request, "The uploaded file is gone: upload it again.")
        return redirect("corpus:import_detail", slug=project.slug, job_id=job.pk)
    retry = retry_import(job, request.user)
    return redirect("corpus:import_detail", slug=project.slug, job_id=retry.pk)


# --- Starting imports -------------------------------------------------------------------------


def _create_job(request: HttpRequest, project: Project, form: ImportUploadForm) -> ImportJob:
    """Store the upload as a job, with its format chosen by the admin or detected.

    Raises ``NoSpaceLeft`` when the disk is full, having kept neither file nor row.
    """
    upload = form.cleaned_data["file"]
    fmt = form.cleaned_data["format"]
    if fmt == ImportJob.Format.AUTO:
        head = upload.read(HEAD_BYTES)
        upload.seek(0)
        fmt = detect_format(head, upload.name)
    is_text = fmt == ImportJob.Format.TEXT
    job = ImportJob(
        project=project,
        created_by=request.user,
        format=fmt,
        original_name=upload.name[:255],
        total_bytes=upload.size,
        status=ImportJob.Status.PREVIEW if is_text else ImportJob.Status.QUEUED,
    )
    # The file first, whole or not at all (NoSpaceLeft), then the row; a row that cannot be
    # written (the database's disk is full too) takes its file with it.
    store_upload(job, "file", upload)
    try:
        job.save()
    except Exception as error:
        discard_upload(job, "file")
        if is_disk_full(error):
            raise NoSpaceLeft() from error
        raise
    return job


def _start(job: ImportJob) -> None:
    """Import a small file now, in this request; queue a large one for the worker."""
    from annotator.corpus.importers.loader import run_import_job
    from annotator.corpus.tasks import enqueue_import

    if job.total_bytes < settings.IMPORT_BACKGROUND_BYTES:
        run_import_job(job)
    else:
        enqueue_import(job)


def _check_readable(job: ImportJob) -> None:
    """Refuse a scraped-text upload at once if it cannot even be previewed."""
    try:
        reconstruct(read_text(job), job)
    except ImportFileError as error:
        job.status = ImportJob.Status.FAILED
        job.error = str(error)
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])


# --- The preview of a scraped thread ----------------------------------------------------------


def read_text(job: ImportJob) -> str:
    """The uploaded file as text, or ``ImportFileError`` naming the first undecodable line."""
    with job.file.open("rb") as stream:
        data = stream.read()
    refuse_unsupported(data[: 4 * SNIFF_BYTES], job.original_name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportFileError(job.original_name, line, "not valid UTF-8 text") from None


def reconstruct(text: str, job: ImportJob, article_end: int | None = None) -> ThreadReconstruction:
    """The importer's reading of the thread, with the article ending at ``article_end``."""
    from annotator.corpus.importers.text import reconstruct_thread

    return reconstruct_thread(text, job.original_name, article_end=article_end)


def _article_end(raw: str | None, text: str, job: ImportJob) -> int | None:
    """The article end the admin chose: None for the importer's guess, or a line of the file."""
    if raw is None or raw == "":
        return None
    line = parse_line(raw)
    if line is None or line > text.count("\n") + 1:
        raise ImportFileError(
            job.original_name, None, f"the article cannot end at line {raw!r}: no such line"
        )
    return line


@dataclass
class PreviewComment:
    """One comment of the preview with what the template shows about its link."""

    comment: ReconstructedComment
    parent: int | None  # the parent chosen now (the importer's guess or the admin's choice)
    depth: int
    changed: bool
    options: list[tuple[str, str]]  # ranked candidates: (value, label)
    others: list[tuple[str, str]]  # nearby comments above that were not ranked
    can_end_article: bool
    problem: str = ""  # a parent typed in "any comment above" that is not one

    @property
    def line(self) -> int:
        """The comment's first line: its identifier in the preview and in the options."""
        return self.comment.line

    @property
    def indent(self) -> int:
        """How far the comment is drawn to the right (app.css has indent-0..10)."""
        return min(self.depth, MAX_INDENT)

    @property
    def unsure(self) -> bool:
        """An importer's guess the admin should look at (and has not changed yet)."""
        return self.comment.confidence in UNSURE and not self.changed

    @property
    def confidence_label(self) -> str:
        """The confidence in words, for a badge that does not rely on colour."""
        return CONFIDENCE_LABELS.get(self.comment.confidence, self.comment.confidence)

    @property
    def selected(self) -> str:
        """The option value of the chosen parent."""
        return ARTICLE if self.parent is None else str(self.parent)


def _end_of(block) -> int:
    """The last line of an article paragraph (blocks carry their first line and text)."""
    end = getattr(block, "end_line", None)
    if end is not None:
        return end
    return block.line + block.text.strip("\n").count("\n")


def preview_context(job: ImportJob, query: Mapping[str, str]) -> dict:
    """Everything the preview shows, for the article end and parents chosen in ``query``.

    ``query`` holds ``article_end`` and ``parent-<line>`` values when the admin has changed
    them (the preview re-renders through htmx with the whole form); without them, the
    choices kept on the job (``import_preview_save``) are shown. Invalid ones fall back to
    the importer's guess.
    """
    query = _with_kept_choices(job, query)
    text = read_text(job)
    try:
        article_end = _article_end(query.get("article_end"), text, job)
    except ImportFileError:
        article_end = None
    reconstruction = reconstruct(text, job, article_end)
    corrections = corrections_from(query, reconstruction)
    chosen = corrections.parents

    paragraphs = []
    blocks = list(reconstruction.article_paragraphs)
    for index, block in enumerate(blocks):
        is_last = index == len(blocks) - 1
        end = reconstruction.article_end if is_last else _end_of(block)
        paragraphs.append({"text": block.text, "line": block.line, "end": end})

    labels: dict[int, str] = {}
    depth: dict[int, int] = {}
    rows: list[PreviewComment] = []
    for index, comment in enumerate(reconstruction.comments):
        parent = chosen.get(str(comment.line), comment.parent_line)
        depth[comment.line] = 0 if parent is None else depth.get(parent, -1) + 1
        options: list[tuple[str, str]] = []
        seen: set[str] = set()

        def offer(line: int | None, into: list[tuple[str, str]], seen: set[str] = seen) -> None:
            value = ARTICLE if line is None else str(line)
            if value not in seen and (line is None or line in labels):
                seen.add(value)
                into.append((value, "The article" if line is None else labels[line]))

        for candidate in comment.candidates:
            offer(candidate.parent_line, options)
        offer(parent, options)
        offer(None, options)
        others: list[tuple[str, str]] = []
        earlier = [c.line for c in reconstruction.comments[:index]]
        for line in reversed(earlier[-OTHER_PARENTS:]):
            offer(line, others)
        rows.append(
            PreviewComment(
                comment=comment,
                parent=parent,
                depth=depth[comment.line],
                changed=parent != comment.parent_line,
                options=options,
                others=others,
                can_end_article=index < MOVABLE_COMMENTS,
                problem=corrections.problems.get(comment.line, ""),
            )
        )
        labels[comment.line] = _label(comment)

    unsure = [row for row in rows if row.unsure]
    return {
        "confirm_refusal": confirm_refusal(reconstruction),
        "reconstruction": reconstruction,
        "paragraphs": paragraphs,
        "rows": rows,
        "unsure": unsure,
        "article_end": reconstruction.article_end,
        # Every comment, for "answers any comment above" (one list for the page).
        "comment_labels": list(labels.items()),
    }


def _with_kept_choices(job: ImportJob, query: Mapping[str, str]) -> Mapping[str, str]:
    """``query``, or when it chooses nothing, the choices kept on the job, in its shape."""
    if "article_end" in query or any(key.startswith("parent-") for key in query):
        return query
    kept = job.options or {}
    choices: dict[str, str] = {}
    if kept.get("article_end") is not None:
        choices["article_end"] = str(kept["article_end"])
    for line, parent in (kept.get("parents") or {}).items():
        choices[f"parent-{line}"] = ARTICLE if parent is None else str(parent)
    return {**choices, **(query.dict() if hasattr(query, "dict") else query)}


def _label(comment: ReconstructedComment) -> str:
    """How a comment is named in a parent select: line, author and first words."""
    words = comment.text.split()
    start = " ".join(words[:8]) + ("…" if len(words) > 8 else "")
    return f"line {comment.line} · {comment.author or 'anonymous'} · “{start}”"
