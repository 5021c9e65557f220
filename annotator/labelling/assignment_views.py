"""The admins' assignments page: how work is shared out, and each person's progress and pace.

Project admins only (``Action.MANAGE``). The page reads with a constant number of queries;
releasing or reassigning a person's held comments are POSTs that redirect back with a
message. The work itself is in ``assignment.py``, the counts in ``team_progress.py``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from annotator.corpus.models import Project
from annotator.corpus.permissions import Action, project_for
from annotator.labelling.assignment import (
    reassign,
    release,
)
from annotator.labelling.assignment_forms import (
    ReassignForm,
    ReleaseForm,
    WorkSharingForm,
    labellers,
)
from annotator.labelling.team_progress import annotator_progress, project_coverage


def _page(request: HttpRequest, project: Project, form: WorkSharingForm, status: int = 200):
    rows = annotator_progress(project)
    return render(
        request,
        "labelling/assignments.html",
        {
            "project": project,
            "form": form,
            "rows": rows,
            "labellers": list(labellers(project)),
            "coverage": project_coverage(project),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def assignments(request: HttpRequest, slug: str) -> HttpResponse:
    """Progress per person, and (POST) the project's work-sharing settings."""
    project = project_for(request.user, slug, Action.MANAGE)
    if request.method == "POST":
        form = WorkSharingForm(request.POST, instance=project)
        if form.is_valid():
            form.save()
            messages.success(request, "Saved how work is shared out.")
            return redirect("labelling:assignments", slug=project.slug)
        project.refresh_from_db()  # show the stored settings beside the refused form
        return _page(request, project, form, status=422)
    return _page(request, project, WorkSharingForm(instance=project))


@login_required
@require_POST
def assignments_release(request: HttpRequest, slug: str) -> HttpResponse:
    """Give a person's held comments back to the queue."""
    project = project_for(request.user, slug, Action.MANAGE)
    form = ReleaseForm(request.POST, project=project)
    if not form.is_valid():
        return HttpResponse(
            "Nothing was released: choose a person of this project.",
            status=400,
            content_type="text/plain",
        )
    person = form.cleaned_data["person"]
    count = release(person, project)
    messages.success(
        request, f"Released {count} comment{'s' if count != 1 else ''} held by {person}."
    )
    return redirect("labelling:assignments", slug=project.slug)


@login_required
@require_POST
def assignments_reassign(request: HttpRequest, slug: str) -> HttpResponse:
    """Hand a person's held comments to another annotator of the project."""
    project = project_for(request.user, slug, Action.MANAGE)
    form = ReassignForm(request.POST, project=project)
    if not form.is_valid():
        # The page only offers valid choices: this is a stale page or a forged request.
        errors = " ".join(e for errs in form.errors.values() for e in errs)
        return HttpResponse(
            f"Nothing was reassigned. {errors}", status=400, content_type="text/plain"
        )
    person, to = form.cleaned_data["person"], form.cleaned_data["to"]
    count = reassign(person, to, project)
    messages.success(
        request, f"Handed {count} comment{'s' if count != 1 else ''} held by {person} to {to}."
    )
    return redirect("labelling:assignments", slug=project.slug)
