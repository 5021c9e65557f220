"""Views of the models page's LLM section: configure an endpoint as a model, start a run.

Only project admins come here (``Action.MANAGE``). A refused form changes nothing and
says why on the models page, like the model settings form (views.py).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from annotator.assist.llm_forms import LLMModelForm, LLMRunForm
from annotator.assist.llm_models import LLMModelError, save_llm_model
from annotator.assist.models import PredictionRun
from annotator.assist.runs import start_run
from annotator.corpus.permissions import Action, project_for


def _back(project) -> HttpResponse:
    return redirect(reverse("assist:model_list", args=[project.slug]) + "#llm")


def _refuse(request: HttpRequest, form, what: str) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label or field if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{what}: {label + ': ' if label else ''}{error}")


@login_required
@require_POST
def llm_model_save(request: HttpRequest, slug: str) -> HttpResponse:
    """Save an endpoint's settings as a model: a new version when they changed."""
    project = project_for(request.user, slug, Action.MANAGE)
    form = LLMModelForm(request.POST, prefix="llm")
    if not form.is_valid():
        _refuse(request, form, "LLM model not saved")
        return _back(project)
    try:
        labeller, created = save_llm_model(
            project, form.cleaned_data["name"], form.config(), request.user
        )
    except LLMModelError as error:
        messages.error(request, f"LLM model not saved: {error}")
        return _back(project)
    if created:
        messages.success(request, f"{labeller.label} saved.")
    else:
        messages.info(request, f"{labeller.label} already has these settings; nothing changed.")
    return _back(project)


@login_required
@require_POST
def llm_run_start(request: HttpRequest, slug: str) -> HttpResponse:
    """Start an LLM run over the chosen comments and go to its page."""
    project = project_for(request.user, slug, Action.MANAGE)
    form = LLMRunForm(request.POST, prefix="llmrun", project=project)
    if not form.is_valid():
        _refuse(request, form, "LLM run not started")
        return _back(project)
    with transaction.atomic():
        run = PredictionRun.objects.create(
            project=project,
            labeller=form.cleaned_data["model"],
            kind=PredictionRun.Kind.LLM,
            options=form.options(),
            created_by=request.user,
        )
        start_run(run)
    return redirect("assist:run_detail", slug=project.slug, run_id=run.pk)
