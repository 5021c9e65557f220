"""The upload of a predictions file on the models page (project admins only).

The file is stored on a ``PredictionRun`` and imported by ``importing.run_import``: a small
file during the request, a large one by the background worker (``runs.start_run``). Either
way the admin lands on the run's page, which shows the progress, the counts, or the refused
lines. A file that cannot be predictions at all (empty, too large, binary) is refused by
the form before anything is stored.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from annotator.assist.forms import PredictionsUploadForm
from annotator.assist.models import PredictionRun
from annotator.corpus.models import Project
from annotator.corpus.permissions import Action, project_for
from annotator.corpus.upload_handlers import upload_ran_out_of_space
from annotator.corpus.uploads import NO_SPACE_MESSAGE, StoreFailed, discard_upload, store_upload


@login_required
@require_POST
def import_upload(request: HttpRequest, slug: str) -> HttpResponse:
    """Store the uploaded file as an import run and start it; back to the models page with
    the form's error when the file is refused."""
    project = project_for(request.user, slug, Action.MANAGE)
    if upload_ran_out_of_space(request):
        messages.error(request, NO_SPACE_MESSAGE)
        return redirect("assist:model_list", slug=project.slug)
    form = PredictionsUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, f"Predictions not imported: {error}")
        return redirect("assist:model_list", slug=project.slug)
    try:
        run = create_import_run(project, request.user, form.cleaned_data["file"])
    except StoreFailed as error:
        messages.error(request, str(error))
        return redirect("assist:model_list", slug=project.slug)
    start_import_run(run)
    return redirect("assist:run_detail", slug=project.slug, run_id=run.pk)


def create_import_run(project: Project, user, upload) -> PredictionRun:
    """A queued import run holding ``upload`` (the file first, then the row; a row that
    cannot be written takes its file with it). Raises ``NoSpaceLeft`` on a full disk."""
    run = PredictionRun(
        project=project,
        kind=PredictionRun.Kind.IMPORT,
        created_by=user,
        options={"filename": upload.name[:255], "bytes": upload.size},
    )
    store_upload(run, "file", upload)
    try:
        run.save()
    except Exception:
        discard_upload(run, "file")
        raise
    return run


def start_import_run(run: PredictionRun) -> None:
    """Import a small file now, in this request; queue a large one for the worker."""
    from annotator.assist.runs import run_prediction_run, start_run

    if run.options.get("bytes", 0) < settings.IMPORT_BACKGROUND_BYTES:
        run_prediction_run(run.pk)
        run.refresh_from_db()
    else:
        start_run(run)
