"""The learner's page actions: an admin asks for a new training run."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from annotator.assist.retraining import queue_training, training_in_progress
from annotator.corpus.permissions import Action, project_for


@login_required
@require_POST
def train_learner(request: HttpRequest, slug: str) -> HttpResponse:
    """Queue training (then predicting every comment) and show the run; a project trains
    once at a time, so a second request is sent to the run under way."""
    project = project_for(request.user, slug, Action.MANAGE)
    with transaction.atomic():
        running = training_in_progress(project)
        if running is not None:
            messages.info(request, f"Training run #{running.pk} is already under way.")
            return redirect("assist:run_detail", slug=project.slug, run_id=running.pk)
        run = queue_training(project, request.user)
    return redirect("assist:run_detail", slug=project.slug, run_id=run.pk)
