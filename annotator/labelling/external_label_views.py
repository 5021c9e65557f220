"""Pages for importing labels from outside the tool: upload, preview with the mapping, and
the summary (project admins; ``external_labels.py`` does the work).

The uploaded file is read once on upload (a file no reader takes is refused there with a
400 and nothing stored), kept on a ``LabelImport`` row while the preview waits, read again
for the preview and for the import (so both see the same bytes), and deleted once imported.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from annotator.corpus.importers.encoding import ENCODINGS
from annotator.corpus.importers.records import ImportFileError
from annotator.corpus.permissions import Action, project_for
from annotator.corpus.stored_files import open_stored
from annotator.corpus.uploads import StoreFailed, discard_upload, is_store_failure, store_upload
from annotator.labelling.external_label_sources import read_label_file
from annotator.labelling.external_labels import (
    EXTERNAL_PREFIX,
    MAX_LABEL_FILE_BYTES,
    LabelPreview,
    apply_labels,
    parse_target,
    preview_labels,
    scheme_targets,
)
from annotator.labelling.models import LabelImport

LOG_LENGTH = 20
ENCODING_CHOICES = [("", "UTF-8"), *ENCODINGS.items()]


class LabelUploadForm(forms.Form):
    """A label file and, when it is not UTF-8, its encoding."""

    file = forms.FileField(
        label="Label file",
        help_text="A Label Studio JSON export, a doccano JSON Lines export, PHEME "
        "annotations, a RumourEval key or a DAST submission.",
    )
    encoding = forms.ChoiceField(
        label="Encoding", choices=ENCODING_CHOICES, required=False, initial=""
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_LABEL_FILE_BYTES:
            raise forms.ValidationError(
                f"{upload.name} is larger than {MAX_LABEL_FILE_BYTES // 2**20} MB; import it "
                "with manage.py import_labels."
            )
        return upload


def _read(label_import: LabelImport):
    with open_stored(label_import.file.storage, label_import.file.name) as stream:
        data = stream.read()
    return read_label_file(data, label_import.original_name, encoding=label_import.encoding or None)


@login_required
@require_http_methods(["GET", "POST"])
def labels_import(request: HttpRequest, slug: str) -> HttpResponse:
    """The upload form and the project's label imports; a readable file goes to its preview."""
    project = project_for(request.user, slug, Action.IMPORT)
    form = LabelUploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            encoding = form.cleaned_data["encoding"]
            try:
                label_file = read_label_file(upload.read(), upload.name, encoding=encoding or None)
            except ImportFileError as error:
                form.add_error("file", str(error))
            else:
                upload.seek(0)
                label_import = LabelImport(
                    project=project,
                    created_by=request.user,
                    original_name=upload.name[:255],
                    encoding=encoding,
                    format=label_file.format,
                )
                try:
                    store_upload(label_import, "file", upload)
                except StoreFailed as error:
                    form.add_error(None, str(error))
                    status = error.status
                else:
                    try:
                        label_import.save()
                    except BaseException:
                        discard_upload(label_import, "file")
                        raise
                    return redirect(
                        "labelling:labels_import_detail",
                        slug=project.slug,
                        import_id=label_import.pk,
                    )
    return render(
        request,
        "labelling/labels_import.html",
        {
            "project": project,
            "form": form,
            "imports": project.label_imports.select_related("created_by")[:LOG_LENGTH],
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def labels_import_detail(request: HttpRequest, slug: str, import_id: int) -> HttpResponse:
    """The preview and its mapping form (Confirm imports), or the summary once imported."""
    project = project_for(request.user, slug, Action.IMPORT)
    label_import = get_object_or_404(LabelImport, project=project, pk=import_id)
    if label_import.status == LabelImport.Status.IMPORTED:
        if request.method == "POST":
            return redirect(request.path)
        return render(
            request,
            "labelling/labels_import_summary.html",
            {"project": project, "label_import": label_import, "summary": label_import.summary},
        )
    try:
        data = _read(label_import)
    except Exception as error:
        if not is_store_failure(error):
            raise
        messages.error(request, "The file store could not be reached: try again in a moment.")
        return redirect("labelling:labels_import", slug=project.slug)
    preview = preview_labels(project, data, label_import.original_name)
    rows = _mapping_rows(preview, request.POST if request.method == "POST" else None)
    errors = [row["error"] for row in rows if row["error"]]
    if request.method == "POST" and not errors:
        mapping = {row["key"]: row["chosen"] for row in rows}
        with transaction.atomic():
            # A second tab confirming at the same moment waits here, then finds it imported.
            locked = LabelImport.objects.select_for_update().get(pk=label_import.pk)
            if locked.status == LabelImport.Status.IMPORTED:
                return redirect(request.path)
            result = apply_labels(preview, mapping, actor=request.user)
            label_import.summary = result.as_data()
            label_import.status = LabelImport.Status.IMPORTED
            label_import.imported_at = timezone.now()
            label_import.save(update_fields=["summary", "status", "imported_at"])
        discard_upload(label_import, "file")
        label_import.file = ""
        label_import.save(update_fields=["file"])
        return redirect(request.path)
    return render(
        request,
        "labelling/labels_import_preview.html",
        {
            "project": project,
            "label_import": label_import,
            "preview": preview,
            "rows": rows,
            "targets": [
                (f"{key}={value}", label)
                for key, value, label in scheme_targets(preview.scheme.scheme)
            ],
            "annotators": [
                (EXTERNAL_PREFIX + name, count) for name, count in preview.annotators.items()
            ],
            "unmapped": sum(1 for row in rows if row["chosen"] is None),
            "errors": errors,
        },
        status=400 if errors else 200,
    )


def _mapping_rows(preview: LabelPreview, posted) -> list[dict]:
    """One row per distinct (field, value): its select's name, default and choice."""
    scheme = preview.scheme.scheme
    rows = []
    for index, value in enumerate(preview.values):
        chosen, error = value.default, ""
        if posted is not None:
            text = posted.get(f"map-{index}", "")
            try:
                chosen = parse_target(text, scheme)
            except ValueError:
                error = f"{value.field}={value.value}: not a choice of this project's scheme"
        rows.append(
            {
                "name": f"map-{index}",
                "key": value.key,
                "field": value.field,
                "value": value.value,
                "count": value.count,
                "default": value.default,
                "chosen": chosen,
                "selected": "=".join(chosen) if chosen else "",
                "error": error,
            }
        )
    return rows
