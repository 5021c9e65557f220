"""Pages of the archives app, for site admins only: a project's archives (start one,
download it) and restoring a project from an uploaded archive.

A site admin is an active staff account or a superuser (``accounts.people.is_site_admin``).
Anyone else gets a 403 for a project they can see and a 404 otherwise, as elsewhere.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from annotator.accounts.people import is_site_admin
from annotator.archives.forms import RestoreForm
from annotator.archives.jobs import start_archive, start_restore
from annotator.archives.models import ArchiveJob
from annotator.corpus.models import Project
from annotator.corpus.permissions import Action, can

LOG_LENGTH = 20


def _site_admin_only(request: HttpRequest, project: Project | None = None) -> None:
    if is_site_admin(request.user):
        return
    if project is None or can(request.user, Action.VIEW, project):
        raise PermissionDenied("Only site admins archive and restore projects.")
    raise Http404("No such project.")


def _project(request: HttpRequest, slug: str) -> Project:
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        raise Http404("No such project.")
    _site_admin_only(request, project)
    return project


@login_required
@require_http_methods(["GET", "POST"])
def archive_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The project's archives; a POST starts a new one."""
    project = _project(request, slug)
    if request.method == "POST":
        job = start_archive(project, request.user)
        return redirect("archives:job_detail", job_id=job.pk)
    jobs = ArchiveJob.objects.filter(project=project).select_related("created_by")[:LOG_LENGTH]
    return render(request, "archives/archive_list.html", {"project": project, "jobs": jobs})


@login_required
@require_http_methods(["GET", "POST"])
def restore(request: HttpRequest) -> HttpResponse:
    """The upload form; a valid upload queues its restore."""
    _site_admin_only(request)
    form = RestoreForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = start_restore(form.cleaned_data["archive"], form.cleaned_data["slug"], request.user)
        return redirect("archives:job_detail", job_id=job.pk)
    jobs = ArchiveJob.objects.filter(kind=ArchiveJob.Kind.RESTORE).select_related(
        "created_by", "project"
    )[:LOG_LENGTH]
    return render(request, "archives/archive_restore.html", {"form": form, "jobs": jobs})


@login_required
@require_GET
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    """One archive or restore: progress while it runs (htmx polls the partial), then the
    download or the restored project, or the error."""
    _site_admin_only(request)
    job = get_object_or_404(ArchiveJob.objects.select_related("project", "created_by"), pk=job_id)
    job.fail_if_stale()  # a dead worker's job says so at the next poll
    template = "archives/archive_job.html"
    return render(request, f"{template}#progress" if request.htmx else template, {"job": job})


@login_required
@require_GET
def job_download(request: HttpRequest, job_id: int) -> FileResponse:
    """The archive file, streamed from storage."""
    _site_admin_only(request)
    job = get_object_or_404(ArchiveJob, pk=job_id)
    if not job.is_downloadable:
        raise Http404("This job has no archive to download.")
    try:
        stream = job.file.open("rb")
    except FileNotFoundError:
        raise Http404("The archive's file is gone; archive the project again.") from None
    return FileResponse(
        stream, as_attachment=True, filename=job.filename, content_type="application/gzip"
    )
