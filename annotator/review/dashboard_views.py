"""The project dashboard: progress, label distribution, agreement, pace and a confusion matrix,
as one page of server-drawn charts, each also downloadable as CSV.

Only people who may see results (admins, reviewers, researchers) open it: annotators label
blind and never see how others answered. The page reads the submitted labels once for all
its charts, and the agreement figures come from a cache until a label changes. The confusion
matrix has a small form that works as a plain GET and, with htmx, swaps only the matrix
(reading only the two annotators' labels, without the agreement table). The numbers come
from ``dashboard.py``; this module only picks, checks input and renders. Reading never
writes: a project without a scheme is shown with the default one, not given it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from annotator.corpus.models import Project
from annotator.corpus.permissions import Action, project_for
from annotator.labelling.scheme import Scheme
from annotator.review import charts, model_dashboard
from annotator.review.agreement import Estimate
from annotator.review.charts import number, shown
from annotator.review.dashboard import (
    AgreementRow,
    Pace,
    PairChoice,
    agreement_overview,
    agreement_questions,
    annotator_pace,
    annotator_totals,
    busiest_pair,
    confusion,
    label_distribution,
    progress_over_time,
    read_dashboard,
    scheme_of,
)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ConfusionForm(forms.Form):
    """Which question and which two annotators the confusion matrix compares.

    Choices are the project's own questions and the people who submitted annotations, so
    an id from elsewhere is refused before anything is computed.
    """

    question = forms.ChoiceField(
        error_messages={"invalid_choice": "Choose one of the questions listed."}
    )
    a = forms.TypedChoiceField(
        label="Annotator A",
        coerce=int,
        error_messages={"invalid_choice": "Choose one of the annotators listed."},
    )
    b = forms.TypedChoiceField(
        label="Annotator B",
        coerce=int,
        error_messages={"invalid_choice": "Choose one of the annotators listed."},
    )

    def __init__(self, data, *, questions, people: list[Pace], initial=None) -> None:
        super().__init__(data, initial=initial)
        self.fields["question"].choices = [(q.key, q.title) for q in questions]
        people_choices = [(p.annotator_id, p.username) for p in people]
        self.fields["a"].choices = people_choices
        self.fields["b"].choices = people_choices

    def clean(self) -> dict:
        data = super().clean()
        if data.get("a") is not None and data.get("a") == data.get("b"):
            raise forms.ValidationError("Choose two different annotators.")
        return data


def _confusion_choice(
    request: HttpRequest, people: list[Pace], scheme: Scheme
) -> tuple[ConfusionForm, PairChoice | None]:
    """The bound (or defaulted) form and the matrix it asks for, or None if it is invalid
    (or there is nothing to compare). ``people`` comes from ``annotator_totals``."""
    questions = agreement_questions(scheme)
    sent = any(name in request.GET for name in ("question", "a", "b"))
    pair = busiest_pair(people)
    initial = {
        "question": questions[0].key if questions else "",
        "a": pair[0] if pair else None,
        "b": pair[1] if pair else None,
    }
    form = ConfusionForm(
        request.GET if sent else None,
        questions=questions,
        people=[p for p in people if p.submitted > 0],
        initial=initial,
    )
    if form.is_bound:
        if not form.is_valid():
            return form, None
        chosen = form.cleaned_data
    elif pair is None or not questions:
        return form, None
    else:
        chosen = initial
    return form, PairChoice(chosen["question"], chosen["a"], chosen["b"])


@login_required
@require_GET
def dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    """The whole dashboard, or (for htmx) only the confusion matrix the form asks for.

    The page reads the submitted labels once for every chart (``read_dashboard``); the htmx
    swap reads only the two chosen annotators' labels and never touches agreement.
    """
    project = project_for(request.user, slug, Action.RESULTS)
    people = annotator_totals(project)
    scheme = scheme_of(project)
    form, pair = _confusion_choice(request, people, scheme)
    if request.htmx and not request.htmx.history_restore_request:
        names = {p.annotator_id: p.username for p in people}
        matrix = (
            confusion(project, pair.question, pair.a, pair.b, names=names, scheme=scheme)
            if pair is not None
            else None
        )
        # 200 even for a refused choice: htmx does not swap 4xx, and the form must show why.
        context = {"project": project, "form": form, "matrix": matrix}
        return render(request, "review/dashboard.html#confusion", context)
    models = model_dashboard.models_reader(project, scheme)
    data = read_dashboard(project, scheme=scheme, people=people, pair=pair, extra=models.readers)
    progress, agreement, paces = data.progress, data.agreement, data.paces
    names = {p.annotator_id: p.username for p in people}
    context: dict[str, Any] = {
        "project": project,
        "form": form,
        "matrix": data.matrix,
        "progress": progress,
        "progress_chart": charts.progress_chart(progress),
        "coverage_chart": charts.coverage_chart(progress),
        "distributions": [(d, charts.distribution_chart(d)) for d in data.distributions],
        "agreement": agreement,
        "agreement_rows": _by_question(agreement.rows),
        "stance_rows": [_with_intervals(row) for row in agreement.stance],
        "paces": paces,
        "most_submitted": max((p.submitted for p in paces), default=0),
        "models": model_dashboard.arrange_models(scheme, models.figures(), names),
    }
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, "review/dashboard.html", context, status=status)


SUBSET_NAMES = {"all": "all", "top-level": "top", "replies": "replies"}


def _by_question(rows: list[AgreementRow]) -> list[dict]:
    """The agreement table one question per line, its subsets side by side (as ``all``,
    ``top`` and ``replies``), in the order the measures gave them."""
    questions: dict[str, dict] = {}
    for row in rows:
        entry = questions.setdefault(row.question, {"question": row.question, "title": row.title})
        entry[SUBSET_NAMES.get(row.subset, row.subset)] = _with_intervals(row)
    empty = {"alpha": shown(Estimate(None, None, None, 0))}
    for entry in questions.values():
        entry.setdefault("all", {**empty, "alpha_bar": charts.interval_bar(None, None, None)})
        entry["subsets"] = [entry.get("top", empty), entry.get("replies", empty)]
    return list(questions.values())


def _with_intervals(row: AgreementRow) -> dict:
    """An agreement row as displayed: each measure as text, and interval bars beside alpha
    and each pair's kappa."""
    result = row.result
    return {
        "row": row,
        "alpha": shown(result.alpha),
        "fleiss": shown(result.fleiss),
        "percent": shown(result.percent, percent=True),
        "alpha_bar": charts.interval_bar(result.alpha.value, result.alpha.low, result.alpha.high),
        "pairs": [
            {
                "a": a,
                "b": b,
                "kappa": shown(pair.kappa),
                "percent": shown(pair.percent, percent=True),
                "bar": charts.interval_bar(pair.kappa.value, pair.kappa.low, pair.kappa.high),
            }
            for a, b, pair in row.pairs
        ],
    }


# -- CSV downloads -------------------------------------------------------------------------------


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula: text starting with ``= + - @`` (or a
    tab or carriage return) gets a leading quote. Numbers are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _progress_rows(request: HttpRequest, project: Project) -> Iterable[list]:
    progress = progress_over_time(project)
    yield [
        "day",
        "submitted",
        "cumulative",
        "comments_labelled",
        f"comments_with_{progress.target}_labels",
        "comments",
    ]
    for day in progress.days:
        yield [
            day.day.isoformat(),
            day.submitted,
            day.cumulative,
            day.labelled,
            day.complete,
            progress.comments,
        ]


def _distribution_rows(request: HttpRequest, project: Project) -> Iterable[list]:
    yield ["question", "question_title", "value", "label", "count", "share", "answered"]
    for dist in label_distribution(project):
        for count in dist.counts:
            yield [
                dist.key,
                dist.title,
                count.value,
                count.label,
                count.count,
                number(count.share),
                dist.answered,
            ]


def _estimate_row(table, row, measure, estimate, a="", b="") -> list:
    return [
        table,
        row.question,
        row.title,
        row.subset,
        measure,
        a,
        b,
        number(estimate.value),
        number(estimate.low),
        number(estimate.high),
        estimate.units,
    ]


def _agreement_rows(request: HttpRequest, project: Project) -> Iterable[list]:
    yield [
        "table",
        "question",
        "question_title",
        "subset",
        "measure",
        "annotator_a",
        "annotator_b",
        "value",
        "low_95",
        "high_95",
        "comments",
    ]
    agreement = agreement_overview(project)
    for row in agreement.rows:
        result = row.result
        yield _estimate_row("agreement", row, "alpha", result.alpha)
        yield _estimate_row("agreement", row, "fleiss_kappa", result.fleiss)
        yield _estimate_row("agreement", row, "percent", result.percent)
        for a, b, pair in row.pairs:
            yield _estimate_row("agreement", row, "cohen_kappa", pair.kappa, a, b)
            yield _estimate_row("agreement", row, "pair_percent", pair.percent, a, b)
    for row in agreement.stance:
        result = row.result
        yield _estimate_row("stance_comparison", row, "alpha", result.alpha)
        yield _estimate_row("stance_comparison", row, "fleiss_kappa", result.fleiss)
        yield _estimate_row("stance_comparison", row, "percent", result.percent)


def _pace_rows(request: HttpRequest, project: Project) -> Iterable[list]:
    yield [
        "annotator",
        "submitted",
        "skipped",
        "drafts",
        "median_seconds_per_comment",
        "active_days",
        "comments_per_hour",
        "last_activity",
    ]
    for pace in annotator_pace(project):
        yield [
            pace.username,
            pace.submitted,
            pace.skipped,
            pace.drafts,
            number(pace.median_seconds, 1),
            pace.active_days,
            number(pace.per_hour, 2),
            pace.last_activity.isoformat() if pace.last_activity else "",
        ]


class BadRequest(Exception):
    """Parameters a CSV download cannot use; the message says which."""


def _confusion_rows(request: HttpRequest, project: Project) -> Iterable[list]:
    people, scheme = annotator_totals(project), scheme_of(project)
    form, pair = _confusion_choice(request, people, scheme)
    if form.is_bound and not form.is_valid():
        problems = [str(e) for errors in form.errors.values() for e in errors]
        raise BadRequest(" ".join(problems))
    header = ["question", "annotator_a", "annotator_b", "label_a", "label_b", "count"]
    if pair is None:
        return [header]
    names = {p.annotator_id: p.username for p in people}
    matrix = confusion(project, pair.question, pair.a, pair.b, names=names, scheme=scheme)
    rows = [header]
    for row in matrix.rows:
        for column, cell in zip(matrix.columns, row.cells, strict=True):
            rows.append(
                [matrix.question, matrix.a_name, matrix.b_name, row.label, column, cell.count]
            )
    return rows


def _model_rows(request: HttpRequest, project: Project) -> Iterable[list]:
    """The Models section's figures (only the header for a project without models)."""
    return model_dashboard.model_csv_rows(project, scheme_of(project))


CSV_CHARTS: dict[str, Callable[[HttpRequest, Project], Iterable[list]]] = {
    "progress": _progress_rows,
    "distribution": _distribution_rows,
    "agreement": _agreement_rows,
    "pace": _pace_rows,
    "confusion": _confusion_rows,
    "models": _model_rows,
}


def csv_filename(project: Project, chart: str, request: HttpRequest) -> str:
    """``<project>-<chart>.csv``; the confusion matrix adds its question and the two ids."""
    parts = [project.slug, chart]
    if chart == "confusion":
        for name in ("question", "a", "b"):
            value = re.sub(r"[^A-Za-z0-9_-]+", "-", request.GET.get(name, "")).strip("-")
            if value:
                parts.append(value[:60])
    return "-".join(parts) + ".csv"


@login_required
@require_GET
def dashboard_csv(request: HttpRequest, slug: str, chart: str) -> HttpResponse:
    """One chart's numbers as CSV (the confusion matrix takes the form's GET parameters)."""
    project = project_for(request.user, slug, Action.RESULTS)
    rows_for = CSV_CHARTS.get(chart)
    if rows_for is None:
        raise Http404("No such chart.")
    try:
        rows = list(rows_for(request, project))
    except BadRequest as error:
        return HttpResponse(
            f"Cannot draw that confusion matrix: {error}\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=csv_filename(project, chart, request)
    )
    writer = csv.writer(response)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return response
