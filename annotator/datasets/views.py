"""HTML views for exports: the export page (options and log), one export's progress, downloads.

All state lives on the ``ExportJob`` row, so a researcher can leave the progress page and
come back. Small projects are exported during the request; large ones go to the worker and
the detail page polls the job with htmx until it is ready. Every view checks
``Action.EXPORT`` on the project in the URL, and a job is only found through its project.
"""

from __future__ import annotations

import contextlib
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotator.corpus.models import Article
from annotator.corpus.permissions import Action, project_for
from annotator.corpus.stored_files import open_stored
from annotator.corpus.uploads import is_store_failure
from annotator.datasets.forms import ExportForm
from annotator.datasets.jobs import InvalidExportOptions, start_export
from annotator.datasets.models import ExportJob
from annotator.datasets.options import ExportOptions, ExportOptionsError
from annotator.datasets.predictions import project_has_models
from annotator.datasets.rows import split_shortfall
from annotator.labelling.schemes import current_scheme_for

logger = logging.getLogger(__name__)

LOG_LENGTH = 50  # exports listed under the form


@login_required
@require_http_methods(["GET", "POST"])
def export_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The export form and the project's export log; a valid form starts an export."""
    project = project_for(request.user, slug, Action.EXPORT)
    questions = [(q.key, q.title) for q in current_scheme_for(project).scheme.questions]
    form = ExportForm(
        request.POST or None, questions=questions, has_models=project_has_models(project)
    )
    if request.method == "POST" and form.is_valid():
        try:
            job = start_export(project, request.user, form.to_options())
        except InvalidExportOptions as refused:
            for problem in refused.problems:
                form.add_error(None, problem[0].upper() + problem[1:] + ".")
        else:
            return redirect("datasets:export_detail", slug=project.slug, job_id=job.pk)
    ExportJob.objects.fail_stale(project=project)
    jobs = project.export_jobs.select_related("created_by").defer("error")[:LOG_LENGTH]
    return render(
        request,
        "datasets/export_list.html",
        {"project": project, "form": form, "jobs": jobs, "log_length": LOG_LENGTH},
    )


@login_required
@require_GET
def export_detail(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    """One export: live progress while it runs, then its counts and download, or the error.

    htmx polls get only the progress block, which stops polling once the job is finished.
    """
    project = project_for(request.user, slug, Action.EXPORT)
    job = get_object_or_404(
        ExportJob.objects.select_related("created_by"), pk=job_id, project=project
    )
    job.fail_if_stale()  # a dead worker's job says so at the next poll
    context = {"project": project, "job": job}
    if request.htmx:
        return render(request, "datasets/export_detail.html#progress", context)
    options = job.options or {}
    if options.get("split"):
        with contextlib.suppress(ExportOptionsError):
            context["split_shortfall"] = split_shortfall(
                Article.objects.filter(project=project).count(),
                options.get("split_ratios") or ExportOptions().split_ratios,
            )
    return render(request, "datasets/export_detail.html", context)


@login_required
@require_POST
def export_retry(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    """Run an export whose worker stopped again, as a new job with the same options."""
    project = project_for(request.user, slug, Action.EXPORT)
    job = get_object_or_404(ExportJob, pk=job_id, project=project)
    if not job.worker_stopped:
        messages.error(request, "Only an export whose worker stopped can be run again.")
        return redirect("datasets:export_detail", slug=project.slug, job_id=job.pk)
    try:
        retry = start_export(project, request.user, ExportOptions.from_json(job.options))
    except (InvalidExportOptions, ExportOptionsError) as refused:
        messages.error(request, f"This export cannot run again: {refused}.")
        return redirect("datasets:export_detail", slug=project.slug, job_id=job.pk)
    return redirect("datasets:export_detail", slug=project.slug, job_id=retry.pk)


@login_required
@require_GET
def export_download(request: HttpRequest, slug: str, job_id: int) -> FileResponse:
    """The export's zip, streamed from storage as an attachment named after the export."""
    project = project_for(request.user, slug, Action.EXPORT)
    job = get_object_or_404(ExportJob, pk=job_id, project=project)
    if not job.is_downloadable:
        raise Http404("This export has no file to download.")
    try:
        stream = open_stored(job.file.storage, job.file.name)
    except FileNotFoundError:
        raise Http404("The file of this export is gone; export again.") from None
    except Exception as error:
        if not is_store_failure(error):
            raise
        logger.warning("export %s could not be read from the store: %s", job.pk, error)
        messages.error(request, "The file store could not be reached: try the download again.")
        return redirect("datasets:export_detail", slug=project.slug, job_id=job.pk)
    return FileResponse(
        stream,
        as_attachment=True,
        filename=job.filename or job.file.name.rsplit("/", 1)[-1],
        content_type="application/zip",
    )
