"""The scheme page's form editor: its buttons, its live preview, its Save, and the JSON export.

Every button of the editor is a plain submit that posts the whole form to ``scheme_form``,
which applies the edit to the draft and renders the page again; with htmx the same request
swaps only the editor and says which field to focus next and that the preview is out of
date (``HX-Trigger-After-Settle``: ``scheme-editor-focus``, ``scheme-changed``). Save is
never htmx: it redirects to the page with a message, or renders the page with the refusal
(422 for a scheme that cannot be used, 409 when someone saved since the page was opened).
Every endpoint checks ``Action.MANAGE`` through ``project_for``.
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotator.corpus.models import Project
from annotator.corpus.permissions import Action, project_for
from annotator.labelling.scheme import SchemeError, parse_scheme
from annotator.labelling.scheme_editor import (
    KIND_LABELS,
    TARGET_LABELS,
    Draft,
    DraftError,
    apply_edit,
    definition_from_draft,
    draft_from_post,
    field_errors,
    fit_choices_to_kind,
    prepare_for_display,
)
from annotator.labelling.scheme_forms import definition_as_text
from annotator.labelling.scheme_views import (
    conflict_with,
    preview_of,
    render_scheme_page,
    save_and_report,
)
from annotator.labelling.schemes import current_scheme_for

EDITOR_TEMPLATE = "labelling/_scheme_form.html"


def _only_typed_problems(errors: dict[str, str], draft: Draft) -> dict[str, str]:
    """While editing, a field left empty is not yet a mistake; what was typed wrong is."""
    empty = {f"{q.id}-{name}" for q in draft.questions for name in ("key", "title")}
    empty |= {f"{c.id}-value" for q in draft.questions for c in q.choices}
    empty |= {f"{q.id}-choices" for q in draft.questions}
    return {name: message for name, message in errors.items() if name not in empty}


def _editor_response(
    request: HttpRequest, project: Project, draft: Draft, *, focus: str = "", status: int = 200
) -> HttpResponse:
    errors = _only_typed_problems(field_errors(draft), draft)
    if not request.htmx:
        return render_scheme_page(
            request, project, draft=draft, errors=errors, base=request.POST.get("base")
        )
    prepare_for_display(draft, errors)
    context = {
        "project": project,
        "draft": draft,
        "errors": errors,
        "form_url": reverse("labelling:scheme_form", args=[project.slug]),
        "kinds": KIND_LABELS,
        "targets": TARGET_LABELS,
    }
    response = render(request, f"{EDITOR_TEMPLATE}#editor", context, status=status)
    # The preview (outside the editor) refreshes itself on "scheme-changed".
    events = {"scheme-changed": True, **({"scheme-editor-focus": focus} if focus else {})}
    response["HX-Trigger-After-Settle"] = json.dumps(events)
    return response


def _refused(request: HttpRequest, project: Project, message: str) -> HttpResponse:
    """A form that cannot be a draft (forged, or too large for the form editor)."""
    if request.htmx:
        response = render(
            request, f"{EDITOR_TEMPLATE}#editor-refusal", {"message": message}, status=422
        )
        response["HX-Retarget"] = "#editor-messages"
        response["HX-Reswap"] = "innerHTML"
        return response
    return render_scheme_page(request, project, status=422, editor_refusal=message)


@login_required
@require_POST
def scheme_form(request: HttpRequest, slug: str) -> HttpResponse:
    """Apply one button of the form editor (``op``), or save the draft (``action=save``)."""
    project = project_for(request.user, slug, Action.MANAGE)
    try:
        draft = draft_from_post(request.POST)
        fit_choices_to_kind(draft)
        op = request.POST.get("op", "")
        focus = apply_edit(draft, op) if op else ""
    except DraftError as error:
        return _refused(request, project, str(error))
    if request.POST.get("action") != "save":
        return _editor_response(request, project, draft, focus=focus)
    base = request.POST.get("base", "")
    errors = field_errors(draft)
    problem = ""
    if not draft.questions:
        problem = "A scheme needs at least one question."
    elif errors:
        count = len(errors)
        problem = f"{count} field{'s' if count > 1 else ''} to fix, marked below."
    else:
        try:
            definition = definition_from_draft(draft)
            parse_scheme(definition)
        except SchemeError as error:
            problem = str(error)
    if problem:
        return render_scheme_page(
            request, project, draft=draft, errors=errors, base=base, status=422,
            editor_refusal=f"Not saved: {problem}",
        )  # fmt: skip
    conflict = conflict_with(project, base or "missing")
    if conflict:
        # The next Save replaces their version: the admin has been told and chose to.
        return render_scheme_page(request, project, draft=draft, status=409, conflict=conflict)
    return save_and_report(request, project, definition)


@login_required
@require_POST
def scheme_preview(request: HttpRequest, slug: str) -> HttpResponse:
    """The live preview of the draft: the workspace's form, as annotators will see it."""
    project = project_for(request.user, slug, Action.MANAGE)
    try:
        draft = draft_from_post(request.POST)
    except DraftError as error:
        return render(
            request,
            f"{EDITOR_TEMPLATE}#preview-body",
            {"project": project, "preview_error": str(error)},
            status=422,
        )
    fit_choices_to_kind(draft)
    context = {"project": project, **preview_of(draft)}
    return render(request, f"{EDITOR_TEMPLATE}#preview-body", context)


@login_required
@require_GET
def scheme_export(request: HttpRequest, slug: str) -> HttpResponse:
    """The current version's definition as a JSON file (what the JSON import reads back)."""
    project = project_for(request.user, slug, Action.MANAGE)
    current = current_scheme_for(project)
    response = HttpResponse(
        definition_as_text(current.definition) + "\n",
        content_type="application/json; charset=utf-8",
    )
    filename = f"scheme-{project.slug}-v{current.version}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
