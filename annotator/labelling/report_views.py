"""HTML views for wrong-parent reports: the annotator's two-key form and the admins' fixes.

The form is loaded into the workspace with htmx (``r``, then a digit picks an answer and
submits) and also works as a page of its own without JavaScript. Admins see every report
of the project on one page and fix the tree from there in one click; the work itself is in
``reports.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from annotator.corpus.models import Comment
from annotator.corpus.moves import impact_of_move
from annotator.corpus.permissions import Action, comment_in, project_for
from annotator.labelling.models import ParentReport
from annotator.labelling.reports import (
    ARTICLE,
    NOTE_LENGTH,
    RECENTLY_RESOLVED,
    ParentReportError,
    Resolution,
    dismiss_report,
    open_reports,
    parent_candidates,
    recently_resolved,
    report_wrong_parent,
    resolve_report,
)

UNKNOWN = "unknown"
LABEL_EXCERPT = 120  # characters of a candidate's text shown in the form
MESSAGE_EXCERPT = 60


def excerpt(text: str, length: int) -> str:
    """The first ``length`` characters of ``text`` on one line, with an ellipsis if cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[:length] + "…"


def describe(comment: Comment | None) -> str:
    """A comment as messages name it: ``#12 ann (“first words”)``, or the article."""
    if comment is None:
        return "the article"
    author = comment.author or "anonymous"
    return f"#{comment.pk} {author} (“{excerpt(comment.text, MESSAGE_EXCERPT)}”)"


@dataclass(frozen=True)
class ReportOption:
    """One radio button of the form; ``key`` is the digit that picks it in the workspace."""

    key: str
    value: str
    label: str


class ParentReportForm(forms.Form):
    """What the annotator says the comment answers: the article, a candidate, or don't know.

    Only what the form offered is accepted, so a forged or stale id of a comment elsewhere
    (another article, the comment's own replies) is refused before anything is written. The
    template writes the radio buttons by hand from ``options`` for their ``data-key``.
    """

    suggestion = forms.ChoiceField(
        error_messages={
            "required": "Choose what the comment answers.",
            "invalid_choice": "Choose one of the answers listed: that one is not offered here.",
        }
    )
    note = forms.CharField(max_length=NOTE_LENGTH, required=False)

    def __init__(self, data=None, *, comment: Comment, candidates: list[Comment]) -> None:
        super().__init__(data)
        self.comment = comment
        self.candidates = {str(c.pk): c for c in candidates}
        self.options = self._options()
        self.fields["suggestion"].choices = [(o.value, o.label) for o in self.options]

    def _options(self) -> list[ReportOption]:
        options = []
        if self.comment.parent_id is not None:  # a top-level comment already answers it
            options.append(ReportOption("0", ARTICLE, "the article itself"))
        for key, candidate in enumerate(self.candidates.values(), start=1):
            author = candidate.author or "anonymous"
            label = f"#{candidate.pk} {author}: {excerpt(candidate.text, LABEL_EXCERPT)}"
            options.append(ReportOption(str(key), str(candidate.pk), label))
        options.append(ReportOption("9", UNKNOWN, "don't know, just not this one"))
        return options

    @property
    def checked(self) -> str:
        """The value checked on render: the answer sent, else the likeliest parent."""
        sent = self.data.get("suggestion") if self.is_bound else None
        if sent in {o.value for o in self.options}:
            return sent
        if self.candidates:
            return next(iter(self.candidates))
        return self.options[0].value

    def clean_suggestion(self) -> Comment | str | None:
        value = self.cleaned_data["suggestion"]
        if value == UNKNOWN:
            return None
        if value == ARTICLE:
            return ARTICLE
        return self.candidates[value]


@login_required
@require_http_methods(["GET", "POST"])
def report_form(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    """Report that a comment hangs under the wrong parent, from the workspace.

    GET: the form as a partial for htmx, or as a page of its own without it. POST: records
    the report (a repeat replaces the person's open report) and answers htmx with a one-line
    confirmation, a plain browser with a redirect back to the workspace.
    """
    project = project_for(request.user, slug, Action.LABEL)
    comment = comment_in(project, comment_id, "parent")
    form = ParentReportForm(
        request.POST if request.method == "POST" else None,
        comment=comment,
        candidates=parent_candidates(comment),
    )
    workspace_url = reverse("labelling:workspace", args=[project.slug, comment.pk])
    if form.is_bound and form.is_valid():
        try:
            report_wrong_parent(
                comment, request.user, form.cleaned_data["suggestion"], form.cleaned_data["note"]
            )
        except ParentReportError as error:  # the tree changed under the form
            form.add_error("suggestion", str(error))
        else:
            if request.htmx:
                response = render(
                    request,
                    "labelling/_report_form.html#report-done",
                    {"comment": comment},
                )
                return trigger_client_event(response, "parent-reported", {"comment": comment.pk})
            messages.success(
                request,
                f"Reported #{comment.pk} as attached to the wrong parent; "
                "admins will fix the tree.",
            )
            return redirect(workspace_url)
    context = {
        "project": project,
        "comment": comment,
        "form": form,
        "report_url": reverse("labelling:report_form", args=[project.slug, comment.pk]),
        "workspace_url": workspace_url,
    }
    if request.htmx:
        # 200 even for a refused answer: htmx does not swap 4xx responses, and the person
        # must see the form again with its error in place.
        return render(request, "labelling/_report_form.html", context)
    return render(
        request,
        "labelling/report_page.html",
        {**context, "standalone": True},
        status=400 if form.is_bound else 200,
    )


@login_required
@require_GET
def report_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The project's open reports, grouped by comment, then the recently closed ones."""
    project = project_for(request.user, slug, Action.IMPORT)
    return render(
        request,
        "labelling/report_list.html",
        {
            "project": project,
            "open_reports": list(open_reports(project)),
            "resolved": list(recently_resolved(project)),
            "recent_limit": RECENTLY_RESOLVED,
        },
    )


def _parent_by_id(value: str | None, comment: Comment) -> Comment | None:
    """The comment with id ``value`` in ``comment``'s article; 0 means the article."""
    try:
        number = int(value or "")
    except ValueError:
        number = -1
    if number < 0:
        raise ParentReportError("Enter the id of the comment it answers (0 for the article).")
    if number == 0:
        return None
    parent = Comment.objects.filter(pk=number, article_id=comment.article_id).first()
    if parent is None:
        raise ParentReportError(f"There is no comment #{number} in this article.")
    return parent


def _suggested_parent(report: ParentReport) -> Comment | None:
    """Where the reporter said the comment belongs, or ParentReportError if they did not say."""
    if report.suggests_article:
        return None
    if report.suggested_parent is None:
        raise ParentReportError("This report suggests no parent: give a comment id.")
    return report.suggested_parent


def _resolved_message(resolution: Resolution, new_parent: Comment | None) -> str:
    closed = f"closed {resolution.closed} report{'s' if resolution.closed != 1 else ''}"
    if not resolution.moved:
        return f"#{resolution.comment.pk} already answers {describe(new_parent)}; {closed}."
    return f"Moved {describe(resolution.comment)} under {describe(new_parent)}; {closed}."


def _confirmation(
    request: HttpRequest,
    project,
    report: ParentReport,
    action: str,
    new_parent: Comment | None,
) -> HttpResponse | None:
    """The page asking to confirm a move that sets labels aside, or None when it sets none
    aside (or moves nothing). Nothing is written."""
    comment = report.comment
    if (new_parent.pk if new_parent else None) == comment.parent_id:
        return None
    impact = impact_of_move(comment, new_parent)
    if impact.is_empty:
        return None
    target = f"#{new_parent.pk}" if new_parent else "the article"
    context = {
        "project": project,
        "report": report,
        "comment": comment,
        "action": action,
        "parent": request.POST.get("parent", ""),
        "impact": impact,
        "message": impact.describe(f"#{comment.pk}", target),
        "back_url": reverse("labelling:report_list", args=[project.slug]),
    }
    if request.htmx:
        return render(request, "labelling/report_confirm.html#confirm-form", context)
    return render(request, "labelling/report_confirm.html", context)


@login_required
@require_POST
def report_resolve(request: HttpRequest, slug: str, report_id: int) -> HttpResponse:
    """Fix or dismiss one report: ``action`` is ``suggestion``, ``move`` (with ``parent``,
    a comment id, 0 for the article) or ``dismiss``. Back to the list with a message.

    A move that would set labels aside (answers about the old parent, ``corpus.moves``)
    first answers with a confirmation saying how many, and happens only when it is posted
    again with ``confirm``.
    """
    project = project_for(request.user, slug, Action.IMPORT)
    report = get_object_or_404(
        ParentReport.objects.select_related("comment", "suggested_parent", "reported_by"),
        pk=report_id,
        project=project,
    )
    back = redirect("labelling:report_list", slug=project.slug)
    action = request.POST.get("action")
    try:
        if action == "dismiss":
            dismiss_report(report, request.user)
            who = report.reported_by.get_username() if report.reported_by else "a former member"
            messages.success(
                request, f"Dismissed the report by {who} on #{report.comment_id}; nothing moved."
            )
            return back
        if action == "suggestion":
            new_parent = _suggested_parent(report)
        elif action == "move":
            new_parent = _parent_by_id(request.POST.get("parent"), report.comment)
        else:
            messages.error(request, "Nothing was changed: unknown action.")
            return back
        if not request.POST.get("confirm"):
            confirmation = _confirmation(request, project, report, action, new_parent)
            if confirmation is not None:
                return confirmation
        resolution = resolve_report(report, request.user, new_parent)
    except ParentReportError as error:
        messages.error(request, f"Nothing was changed: {error}")
        return back
    messages.success(request, _resolved_message(resolution, new_parent))
    return back
