"""HTML views of the models page: the project's models, their suggestion settings, and the
runs (imports, training, LLM runs) with their progress.

Reviewers and researchers see the page (which models exist and how good they are); only
project admins change a model's settings or start runs (``Action.MANAGE``). Annotators
never come here: nothing on these pages may show them a model's answer.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, models, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotator.assist.forms import ModelSettingsForm
from annotator.assist.models import MachineLabeller, PredictionRun
from annotator.assist.retraining import queue_if_due
from annotator.corpus.permissions import Action, can, project_for

RUN_LOG_LENGTH = 20


@login_required
@require_GET
def model_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The project's models (the newest version of each name) and the log of runs."""
    project = project_for(request.user, slug, Action.RESULTS)
    labellers = list(
        MachineLabeller.objects.filter(project=project)
        .newest()
        .annotate(
            prediction_count=models.Count("predictions"),
            failure_count=models.Count("failures", distinct=True),
        )
        .select_related("created_by")
    )
    PredictionRun.objects.fail_stale(project=project)
    queue_if_due(project)  # the learner trains again once enough new labels arrived
    runs = project.prediction_runs.select_related("labeller", "created_by")[:RUN_LOG_LENGTH]
    can_manage = can(request.user, Action.MANAGE, project)
    for labeller in labellers:
        labeller.settings_form = ModelSettingsForm(instance=labeller, prefix=f"m{labeller.pk}")
    return render(
        request,
        "assist/model_list.html",
        {
            "project": project,
            "labellers": labellers,
            "runs": runs,
            "can_manage": can_manage,
        },
    )


@login_required
@require_POST
def model_settings(request: HttpRequest, slug: str, model_id: int) -> HttpResponse:
    """Change when a model's suggestions are shown, and whether it orders the work."""
    project = project_for(request.user, slug, Action.MANAGE)
    labeller = get_object_or_404(MachineLabeller, pk=model_id, project=project)
    form = ModelSettingsForm(request.POST, instance=labeller, prefix=f"m{labeller.pk}")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, f"{labeller.label}: {error}")
        return redirect("assist:model_list", slug=project.slug)
    with transaction.atomic():
        if form.cleaned_data["orders_work"]:
            # One model orders the work: the others stop, in the same transaction.
            MachineLabeller.objects.filter(project=project, orders_work=True).exclude(
                pk=labeller.pk
            ).update(orders_work=False)
        try:
            form.save()
        except IntegrityError:  # a concurrent change made another model the ordering one
            messages.error(request, "Another model was set to order the work meanwhile.")
            return redirect("assist:model_list", slug=project.slug)
        if "orders_work" in form.changed_data:
            from annotator.assist.uncertainty import refresh_thread_confidence

            refresh_thread_confidence(project)
    messages.success(
        request,
        f"{labeller.label}: suggestions “{labeller.get_suggestions_display()}”"
        + (", orders the work" if labeller.orders_work else "")
        + ".",
    )
    return redirect("assist:model_list", slug=project.slug)


@login_required
@require_GET
def run_detail(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    """One run: live progress while it runs, then its figures, or the error. htmx polls
    get only the progress block, which stops polling once the run is finished."""
    project = project_for(request.user, slug, Action.RESULTS)
    run = get_object_or_404(
        PredictionRun.objects.select_related("labeller", "created_by"), pk=run_id, project=project
    )
    run.fail_if_stale()
    context = {
        "project": project,
        "run": run,
        "failures": run.failures.select_related("comment")[:20],
        "can_manage": can(request.user, Action.MANAGE, project),
    }
    if request.htmx:
        return render(request, "assist/run_detail.html#progress", context)
    return render(request, "assist/run_detail.html", context)
