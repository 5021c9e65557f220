"""Pages for a project's label scheme and guidelines: read by every member, edited by admins.

Thin views over ``schemes.save_scheme`` and the ``Guidelines`` model. The editors work
without JavaScript (each button is a plain submit) and htmx makes "Check" and "Preview"
swap only their result; the server picks the partial, and every POST, partial or not,
goes through ``project_for``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from annotator.corpus.models import Project
from annotator.corpus.permissions import Action, can, project_for
from annotator.labelling.default_scheme import guidelines_from_scheme
from annotator.labelling.guidelines import render_markdown
from annotator.labelling.models import Annotation, Guidelines, LabelScheme
from annotator.labelling.scheme import SchemeError, parse_scheme, scheme_to_data
from annotator.labelling.scheme_editor import (
    KIND_LABELS,
    TARGET_LABELS,
    Draft,
    definition_from_draft,
    draft_from_definition,
    field_errors,
    prepare_for_display,
)
from annotator.labelling.scheme_forms import (
    GuidelinesForm,
    SchemeDefinitionForm,
    definition_as_text,
)
from annotator.labelling.schemes import current_scheme_for, default_definition, save_scheme
from annotator.labelling.views import QuestionView, number_shown

# -- guidelines ------------------------------------------------------------------------------


def _guidelines_of(project: Project) -> Guidelines | None:
    return Guidelines.objects.select_related("updated_by").filter(project=project).first()


@login_required
def guidelines(request: HttpRequest, slug: str) -> HttpResponse:
    """The project's guidelines, rendered, for every member."""
    project = project_for(request.user, slug, Action.VIEW)
    current = _guidelines_of(project)
    return render(
        request,
        "labelling/guidelines.html",
        {
            "project": project,
            "guidelines": current,
            "html": render_markdown(current.text if current else "", heading_offset=1),
            "can_manage": can(request.user, Action.MANAGE, project),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def guidelines_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """Admins edit the guidelines' Markdown, preview it, or rewrite it from the scheme.

    ``?from=scheme`` fills the editor with guidelines written from the current scheme; nothing
    is saved until Save. POST ``action=preview`` renders the text (the preview partial for
    htmx), ``action=save`` stores it.
    """
    project = project_for(request.user, slug, Action.MANAGE)
    current = _guidelines_of(project)
    preview = None
    if request.method == "POST":
        form = GuidelinesForm(request.POST)
        action = request.POST.get("action")
        if action == "save" and form.is_valid():
            with transaction.atomic():
                Guidelines.objects.update_or_create(
                    project=project,
                    defaults={
                        "text": form.cleaned_data["text"],
                        "updated_by": request.user,
                        "updated_at": timezone.now(),
                    },
                )
            messages.success(request, "Saved the guidelines.")
            return redirect("labelling:guidelines", slug=project.slug)
        if action == "preview" and form.is_valid():
            preview = render_markdown(form.cleaned_data["text"], heading_offset=1)
        if request.htmx:
            return render(
                request,
                "labelling/guidelines_edit.html#preview",
                {"form": form, "preview": preview},
            )
        # Without htmx: the page again, with the text as sent and its preview or errors.
    scheme = current_scheme_for(project)
    if request.method == "GET" and request.GET.get("from") == "scheme":
        form = GuidelinesForm(initial={"text": guidelines_from_scheme(scheme.scheme)})
        messages.info(
            request,
            f"The editor holds guidelines written from scheme version {scheme.version}. "
            "Nothing is saved until you press Save.",
        )
    elif request.method == "GET":
        form = GuidelinesForm(initial={"text": current.text if current else ""})
    return render(
        request,
        "labelling/guidelines_edit.html",
        {
            "project": project,
            "guidelines": current,
            "scheme": scheme,
            # The scheme changed after the guidelines were last saved: they may be out of date.
            "scheme_is_newer": current is not None and scheme.created_at > current.updated_at,
            "form": form,
            "preview": preview,
        },
    )


# -- scheme ----------------------------------------------------------------------------------


def _versions_of(project: Project) -> list[LabelScheme]:
    """Every version, newest first, with its author and annotation count (one query)."""
    versions = list(
        LabelScheme.objects.filter(project=project)
        .select_related("created_by")
        .annotate(annotation_count=Count("annotations"))
        .order_by("-version")
    )
    if not versions:  # a project from before schemes existed
        current_scheme_for(project)
        return _versions_of(project)
    return versions


def revision_of(scheme: LabelScheme) -> str:
    """What the editors send back to show which version they started from: a save in place
    keeps the version number but not its time, so both are in it."""
    return f"{scheme.version}:{scheme.created_at.isoformat()}"


def preview_of(draft: Draft) -> dict:
    """The preview's context: the draft's questions as the workspace shows them (as for a
    reply, so that questions about the parent comment show too), or why it cannot be shown."""
    problems = field_errors(draft)
    if not draft.questions:
        return {"preview_error": "Add a question to see the form."}
    try:
        scheme = parse_scheme(definition_from_draft(draft))
    except SchemeError as error:
        return {"preview_error": str(error), "preview_problems": len(problems)}
    questions = [QuestionView(q, {}, {}, True) for q in scheme.questions]
    number_shown(questions)
    return {
        "questions": questions,
        "preview_problems": len(problems),
        # Stand-ins for what a question is judged against: the preview has no comment.
        "article": {"title": "the article's title"},
        "parent": {"author": "another reader", "text": "the comment this one replies to"},
    }


def render_scheme_page(
    request: HttpRequest,
    project: Project,
    *,
    form: SchemeDefinitionForm | None = None,
    draft: Draft | None = None,
    errors: dict | None = None,
    status: int = 200,
    **extra,
) -> HttpResponse:
    """The scheme page: the current version, its history, the form editor (``draft``, or
    the current version), its preview, and the JSON import and export."""
    versions = _versions_of(project)
    current = versions[0]
    try:
        current_scheme, current_error = current.scheme, ""
    except SchemeError as error:  # edited by hand in the Django admin
        current_scheme, current_error = None, str(error)
    if form is None:
        data = scheme_to_data(current_scheme) if current_scheme else current.definition
        form = SchemeDefinitionForm(initial={"definition": definition_as_text(data)})
    if draft is None:
        draft = draft_from_definition(current_scheme) if current_scheme else Draft()
    prepare_for_display(draft, errors or {})
    context = {
        "project": project,
        "current": current,
        "current_scheme": current_scheme,
        "current_error": current_error,
        "versions": versions,
        "form": form,
        "draft": draft,
        "errors": errors or {},
        "base": extra.pop("base", None) or revision_of(current),
        "kinds": KIND_LABELS,
        "targets": TARGET_LABELS,
        "form_url": reverse("labelling:scheme_form", args=[project.slug]),
        "preview_url": reverse("labelling:scheme_preview", args=[project.slug]),
        **preview_of(draft),
        **extra,
    }
    return render(request, "labelling/scheme_edit.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def scheme_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """Admins read the current scheme and its history, edit it in the form editor (see
    ``scheme_editor_views``), or check, save and export it as JSON.

    ``?start=default`` fills both editors with the default scheme, ``?start=empty`` empties
    the form editor. POST ``action=check`` parses the JSON (typed, or an uploaded file) and
    shows the result (the check partial for htmx); ``action=edit`` opens it in the form
    editor; ``action=save`` stores it through ``save_scheme``: in place while nobody has
    answered under the current version, as the next version otherwise. A definition that
    does not parse changes nothing, and neither does one sent from a page older than the
    current version (``base``): the page says who saved in between.
    """
    project = project_for(request.user, slug, Action.MANAGE)
    if request.method == "GET":
        start = request.GET.get("start")
        if start == "default":
            messages.info(
                request,
                "Both editors hold the default scheme. Nothing is saved until you press Save.",
            )
            definition = default_definition()
            return render_scheme_page(
                request,
                project,
                form=SchemeDefinitionForm(initial={"definition": definition_as_text(definition)}),
                draft=draft_from_definition(definition),
            )
        if start == "empty":
            messages.info(request, "The form editor is empty. Nothing is saved until you Save.")
            return render_scheme_page(request, project, draft=Draft())
        return render_scheme_page(request, project)
    form = SchemeDefinitionForm(request.POST, request.FILES)
    action = request.POST.get("action")
    if action == "save" and form.is_valid():
        conflict = conflict_with(project, request.POST.get("base"))
        if conflict:
            return render_scheme_page(request, project, form=form, status=409, conflict=conflict)
        return save_and_report(request, project, form.cleaned_data["definition"])
    if action == "edit" and form.is_valid():
        messages.info(
            request, "The form editor holds the JSON you sent. Nothing is saved until you Save."
        )
        return render_scheme_page(
            request, project, form=form, draft=draft_from_definition(form.scheme)
        )
    form.is_valid()  # a check, or a save that failed: show why
    context = _check_context(project, form)
    if request.htmx:
        return render(request, "labelling/scheme_edit.html#check-result", context)
    del context["project"], context["form"]
    return render_scheme_page(request, project, form=form, **context)


def conflict_with(project: Project, base: str | None) -> LabelScheme | None:
    """The current version if it is not the one the page started from (``base``).

    A request without ``base`` (an older page, a script) is not checked.
    """
    if not base:
        return None
    current = current_scheme_for(project)
    return None if revision_of(current) == base else current


def _check_context(project: Project, form: SchemeDefinitionForm) -> dict:
    """What "Check" shows: the error, or the parsed scheme and what Save would do with it."""
    context = {"project": project, "form": form, "checked": True, "checked_scheme": form.scheme}
    if form.is_valid():
        current = current_scheme_for(project)
        context["current"] = current
        context["unchanged"] = current.definition == scheme_to_data(form.scheme)
        context["current_in_use"] = Annotation.objects.filter(scheme=current).exists()
    return context


def save_and_report(request: HttpRequest, project: Project, definition: dict) -> HttpResponse:
    """Save a checked definition through ``save_scheme`` and say which version it became."""
    before = current_scheme_for(project)
    saved = save_scheme(project, definition, request.user)
    if saved.pk == before.pk and saved.definition == before.definition:
        messages.info(request, f"Nothing to save: this is version {saved.version} as it is.")
    elif saved.pk == before.pk:
        messages.success(
            request,
            f"Saved version {saved.version} in place: no answers had been saved under it yet.",
        )
    else:
        messages.success(
            request,
            f"Saved as version {saved.version}, because answers exist under version "
            f"{before.version}. Existing answers keep the version they were given under.",
        )
    return redirect("labelling:scheme_edit", slug=project.slug)
