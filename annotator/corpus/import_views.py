"""HTML views for importing threads: upload, preview of a scraped thread, progress, log,
and discarding an upload that waits for review.

All state lives on the ``ImportJob`` row, so an admin can leave any of these pages and come
back to the same place. Small files are imported during the upload request; large ones go
to the background worker and the detail page polls the job with htmx until it finishes.
Scraped plain text is never imported blind: it is read once (in the background when large,
see ``previews.py``) and stops at a preview, a page at a time, where the admin fixes the
article's end and the reply links the importer is unsure of, then confirms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Substr
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from annotator.corpus.deletions import NotAwaitingReview, discard_import
from annotator.corpus.import_forms import ImportUploadForm
from annotator.corpus.importers import compression_of, detect_format
from annotator.corpus.importers.encoding import ENCODINGS
from annotator.corpus.models import ImportJob, PreviewComment, Project
from annotator.corpus.permissions import Action, project_for
from annotator.corpus.previews import (
    ARTICLE,
    MAX_INDENT,
    MOVABLE_COMMENTS,
    OTHER_PARENTS,
    PAGE_SIZE,
    UNSURE,
    candidates_of,
    has_reading,
    head_of,
    keep_valid_choices,
    kept_parents,
    label,
    parse_line,
    refusal,
    save_choices,
    search_comments,
    start_reading,
)
from annotator.corpus.upload_handlers import upload_ran_out_of_space
from annotator.corpus.uploads import (
    NO_SPACE_MESSAGE,
    NoSpaceLeft,
    StoreFailed,
    discard_upload,
    is_disk_full,
    is_store_failure,
    store_upload,
)

HEAD_BYTES = 8 * 1024  # what format detection looks at
LOG_LENGTH = 50  # import log rows shown on the upload page
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
        except StoreFailed as error:
            form.add_error(None, str(error))
            status = error.status  # 507 or 503: the server's fault, and it says so
        else:
            start_upload(job)
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
    """One import: its reading's progress, the preview (scraped text, a page at a time), live
    progress, final counts or the error.

    htmx requests get only the part that changes: the preview when the admin moves the
    article's end or a parent, the progress block while the page polls. A poll that finds
    the reading done reloads the page, which then holds the preview and its form.
    """
    project = project_for(request.user, slug, Action.IMPORT)
    job = get_object_or_404(
        ImportJob.objects.select_related("created_by"), pk=job_id, project=project
    )
    job.fail_if_stale()  # a dead worker's job says so at the next poll
    context = {"project": project, "job": job, "encoding_choices": _encoding_choices(job)}
    if job.status == ImportJob.Status.PREVIEW and not has_reading(job):
        # Uploaded before readings were stored: read it now (or in the worker).
        start_reading(job, (job.options or {}).get("article_end"))
    if job.status == ImportJob.Status.PREVIEW:
        if request.htmx and request.htmx.target == "import-progress":
            return HttpResponseClientRefresh()
        partial = "preview"
        context.update(preview_context(job, request.GET))
    else:
        partial = "progress"
    if request.htmx:
        return render(request, f"corpus/import_detail.html#{partial}", context)
    return render(request, "corpus/import_detail.html", context)


@login_required
@require_POST
def import_preview_save(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    """Keep the admin's choices (article end, parents) on the import waiting for review, as
    each is made, and answer with the page of the preview they give: a reload or a later
    visit shows them, nothing is lost before "Confirm". A new article end reads the file
    again (in the background for a large file: the answer is then the progress block)."""
    project = project_for(request.user, slug, Action.IMPORT)
    job = get_object_or_404(ImportJob, pk=job_id, project=project)
    if job.status != ImportJob.Status.PREVIEW:
        return HttpResponse(
            "This import is no longer awaiting review: nothing was changed.",
            status=409,
            content_type="text/plain",
        )
    saved = save_choices(job, request.POST)
    context = {"project": project, "job": job, "article_end_problem": saved.article_end_problem}
    if saved.article_end is not None:
        _reread(job, saved.article_end)
        if job.status != ImportJob.Status.PREVIEW:
            return render(request, "corpus/import_detail.html#progress", context)
    context.update(preview_context(job, request.POST, problems=saved.problems))
    return render(request, "corpus/import_detail.html#preview", context)


@login_required
@require_GET
def import_preview_search(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    """The comments above one comment that match what the admin types in its "any comment
    above" field (a line number or words), as the options of the page's one datalist."""
    project = project_for(request.user, slug, Action.IMPORT)
    job = get_object_or_404(ImportJob.objects.only("pk", "project"), pk=job_id, project=project)
    before = parse_line(request.GET.get("before"))
    query = request.GET.get(f"other-parent-{before}", request.GET.get("q", ""))
    matches = search_comments(job, before, query) if before else []
    return render(
        request, "corpus/import_detail.html#search-results", {"matches": matches, "job": job}
    )


def _reread(job: ImportJob, article_end: int) -> None:
    """Read the thread again with the article ending at ``article_end``, keeping the
    admin's parents that still apply."""
    start_reading(job, article_end)
    if job.status == ImportJob.Status.PREVIEW:
        keep_valid_choices(job)


@login_required
@require_POST
def import_confirm(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    """Keep the page's last choices, then import the previewed thread with every choice."""
    project = project_for(request.user, slug, Action.IMPORT)
    job = get_object_or_404(ImportJob, pk=job_id, project=project)
    back = redirect("corpus:import_detail", slug=project.slug, job_id=job.pk)
    if job.status != ImportJob.Status.PREVIEW or not has_reading(job):
        messages.error(request, "This import is no longer awaiting review: nothing was changed.")
        return back
    saved = save_choices(job, request.POST)
    if saved.refused:
        for problem in saved.refused:
            messages.error(request, problem)
        return back
    if saved.article_end is not None:
        messages.error(request, "The article's end changed: check the thread again, then confirm.")
        _reread(job, saved.article_end)
        return back
    refused = refusal(job)
    if refused:
        messages.error(request, f"Not imported: {refused}")
        return back
    options = dict(job.options or {}) | {"confirmed": True}
    with transaction.atomic():
        # Only the first of two confirmations (double click, two tabs) starts an import.
        confirmed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PREVIEW).update(
            status=ImportJob.Status.QUEUED, options=options
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
    """Run an import whose worker stopped again, as a new job with the same file and options,
    or a file refused as not UTF-8 in the encoding the admin chose (``encoding``)."""
    from annotator.corpus.tasks import retry_import

    project = project_for(request.user, slug, Action.IMPORT)
    job = get_object_or_404(ImportJob, pk=job_id, project=project)
    encoding = request.POST.get("encoding") or None
    if encoding is not None:
        # A file refused as not UTF-8, imported again in the encoding the admin chose.
        if job.status != ImportJob.Status.FAILED or encoding not in ENCODINGS:
            messages.error(request, "Choose one of the encodings offered for a refused file.")
            return redirect("corpus:import_detail", slug=project.slug, job_id=job.pk)
    elif not job.worker_stopped:
        messages.error(request, "Only an import whose worker stopped can be run again.")
        return redirect("corpus:import_detail", slug=project.slug, job_id=job.pk)
    try:
        file_kept = bool(job.file) and job.file.storage.exists(job.file.name)
    except Exception as error:
        if not is_store_failure(error):
            raise
        messages.error(request, "The file store could not be reached: try again in a moment.")
        return redirect("corpus:import_detail", slug=project.slug, job_id=job.pk)
    if not file_kept:
        messages.error(request, "The uploaded file is gone: upload it again.")
        return redirect("corpus:import_detail", slug=project.slug, job_id=job.pk)
    retry = retry_import(job, request.user, encoding=encoding)
    return redirect("corpus:import_detail", slug=project.slug, job_id=retry.pk)


def _import_options(encoding: str | None, article_field: str | None) -> dict:
    """The options an upload stores on its job: the file's encoding, the article field."""
    options = {}
    if encoding:
        options["encoding"] = encoding
    if article_field:
        options["article_field"] = article_field
    return options


def _encoding_choices(job: ImportJob) -> list[tuple[str, str]]:
    """The encodings offered to read a file refused as not UTF-8 again (none otherwise)."""
    if job.status != ImportJob.Status.FAILED or not (job.options or {}).get("encoding_found"):
        return []
    return list(ENCODINGS.items())


# --- Starting imports -------------------------------------------------------------------------


def _create_job(request: HttpRequest, project: Project, form: ImportUploadForm) -> ImportJob:
    """Store the upload as a job, with its format chosen by the admin or detected.

    Raises ``NoSpaceLeft`` when the disk is full, having kept neither file nor row.
    """
    upload = form.cleaned_data["file"]
    fmt = form.cleaned_data["format"]
    encoding = form.cleaned_data.get("encoding") or None
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    if fmt == ImportJob.Format.AUTO and compression_of(head) is None:
        # What a compressed file or an archive holds is found when the import runs.
        fmt = detect_format(head, upload.name, encoding=encoding)
    is_text = fmt == ImportJob.Format.TEXT
    job = ImportJob(
        project=project,
        created_by=request.user,
        format=fmt,
        original_name=upload.name[:255],
        total_bytes=upload.size,
        status=ImportJob.Status.READING if is_text else ImportJob.Status.QUEUED,
        options=_import_options(encoding, form.cleaned_data.get("article_field")),
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
    from annotator.corpus.importers.jobs import run_import_job
    from annotator.corpus.tasks import enqueue_import

    if job.total_bytes < settings.IMPORT_BACKGROUND_BYTES:
        run_import_job(job)
    else:
        enqueue_import(job)


def start_upload(job: ImportJob) -> None:
    """Start what follows an upload: the reading of scraped text for its preview, or the
    import of any other format (each now when small, else in the worker)."""
    if job.format == ImportJob.Format.TEXT:
        start_reading(job)
    else:
        _start(job)


# --- The preview of a scraped thread ----------------------------------------------------------


@dataclass
class PreviewRow:
    """One comment of a preview page with what the template shows about its link."""

    comment: PreviewComment
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
        """How far the comment is drawn to the right (import.css has indent-0..10)."""
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


def preview_context(
    job: ImportJob, query: Mapping[str, str], problems: Mapping[int, str] | None = None
) -> dict:
    """Everything one page of the preview shows (``page``, and ``show=unsure`` for only the
    links to check), with the choices kept on the job. Its queries do not grow with the
    thread: a page of rows, the comments their menus name, and counts."""
    parents = kept_parents(job)
    show_unsure = query.get("show") == "unsure"
    to_check = job.preview_comments.filter(confidence__in=UNSURE).exclude(line__in=list(parents))
    rows = to_check if show_unsure else job.preview_comments.all()
    paginator = Paginator(rows.order_by("position"), PAGE_SIZE)
    if not show_unsure:
        paginator.count = job.reading.get("comments", 0)  # known: saves a COUNT
    page = paginator.get_page(query.get("page"))
    page_rows = list(page.object_list)
    labels = _labels_for(job, page_rows, parents)
    depths = _depths(job, page_rows, parents)
    problems = problems or {}
    preview_rows = []
    for row in page_rows:
        parent = parents.get(row.line, row.parent_line)
        options: list[tuple[str, str]] = []
        seen: set[str] = set()

        def offer(line: int | None, into: list[tuple[str, str]], seen: set[str] = seen) -> None:
            value = ARTICLE if line is None else str(line)
            if value not in seen and (line is None or line in labels):
                seen.add(value)
                into.append((value, "The article" if line is None else labels[line][1]))

        for candidate in candidates_of(row):
            offer(candidate.parent_line, options)
        offer(parent, options)
        offer(None, options)
        others: list[tuple[str, str]] = []
        for line, (position, _) in sorted(labels.items(), key=lambda item: -item[1][0]):
            if row.position - OTHER_PARENTS <= position < row.position:
                offer(line, others)
        preview_rows.append(
            PreviewRow(
                comment=row,
                parent=parent,
                depth=depths[row.line],
                changed=row.line in parents,
                options=options,
                others=others,
                can_end_article=row.position < MOVABLE_COMMENTS,
                problem=problems.get(row.line, ""),
            )
        )
    head = head_of(job)
    paragraphs = []
    for index, block in enumerate(head.article_paragraphs):
        is_last = index == len(head.article_paragraphs) - 1
        paragraphs.append(
            {
                "text": block.text,
                "line": block.line,
                "end": head.article_end if is_last else block.end_line,
            }
        )
    first_to_check = list(to_check.order_by("position").values_list("line", "position")[:20])
    return {
        "confirm_refusal": refusal(job),
        "head": head,
        "paragraphs": paragraphs,
        "rows": preview_rows,
        "page": page,
        "show_unsure": show_unsure,
        "comment_count": job.reading.get("comments", 0),
        "to_check_count": to_check.count(),
        "first_to_check": [(line, position // PAGE_SIZE + 1) for line, position in first_to_check],
        "article_end": head.article_end,
    }


def _labels_for(
    job: ImportJob, rows: list[PreviewComment], parents: Mapping[int, int | None]
) -> dict[int, tuple[int, str]]:
    """(position, label) of every comment the page's menus name: the comments just above
    each row, its ranked candidates and its chosen parent."""
    if not rows:
        return {}
    near = Q()
    for row in rows:
        near |= Q(position__gte=max(0, row.position - OTHER_PARENTS), position__lt=row.position)
    named = {c[0] for row in rows for c in row.candidates if c[0] is not None}
    named |= {parents[row.line] for row in rows if parents.get(row.line) is not None}
    found = (
        PreviewComment.objects.filter(near | Q(line__in=named), job=job)
        .annotate(start=Substr("text", 1, 400))
        .only("line", "position", "author")
    )
    labels = {}
    for comment in found:
        comment.text = comment.start
        labels[comment.line] = (comment.position, label(comment))
    return labels


def _depths(
    job: ImportJob, rows: list[PreviewComment], parents: Mapping[int, int | None]
) -> dict[int, int]:
    """Each row's depth under the parents chosen now (up to ``MAX_INDENT``, as drawn).

    Without choices the stored depths are right; with some, the rows' ancestors are looked
    up a generation per query, at most ``MAX_INDENT`` of them.
    """
    if not parents:
        return {row.line: row.depth for row in rows}
    stored = {row.line: row.parent_line for row in rows}

    def parent_of(line: int) -> int | None:
        return parents[line] if line in parents else stored[line]

    frontier = {parent_of(line) for line in stored} - set(stored) - {None}
    for _ in range(MAX_INDENT):
        if not frontier:
            break
        stored.update(
            job.preview_comments.filter(line__in=frontier).values_list("line", "parent_line")
        )
        frontier = {parent_of(line) for line in frontier if line in stored} - set(stored) - {None}
    depths = {}
    for row in rows:
        depth, line = 0, parent_of(row.line)
        while line is not None and depth < MAX_INDENT:
            depth += 1
            line = parent_of(line) if line in stored else None
        depths[row.line] = depth
    return depths
