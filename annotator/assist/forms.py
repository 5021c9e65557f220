"""Forms of the models page."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from annotator.assist.import_lines import SNIFF_BYTES, refuse_other_files
from annotator.assist.models import MachineLabeller
from annotator.corpus.importers.records import ImportFileError


class ModelSettingsForm(forms.ModelForm):
    """When a model's suggestions are shown, and whether it orders "most uncertain first"."""

    class Meta:
        model = MachineLabeller
        fields = ["suggestions", "orders_work"]
        labels = {"orders_work": "Orders “most uncertain first”"}


class PredictionsUploadForm(forms.Form):
    """A JSON Lines file of predictions; refused here when no line of it could be one."""

    file = forms.FileField(
        label="Predictions file (JSON Lines)",
        help_text="One line per comment: see “Predictions (JSON Lines)” in docs/formats.md.",
        allow_empty_file=True,  # refused below, with the file's name
    )

    def clean_file(self):
        """Refuse empty files, files over ``IMPORT_MAX_UPLOAD_BYTES`` and binary data."""
        upload = self.cleaned_data["file"]
        if not upload.size:
            raise forms.ValidationError(f"{upload.name} is empty: there is nothing to import.")
        limit = settings.IMPORT_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"{upload.name} is {filesizeformat(upload.size)}; the largest file accepted "
                f"here is {filesizeformat(limit)}. Import it with manage.py import_predictions."
            )
        head = upload.read(SNIFF_BYTES)
        upload.seek(0)
        try:
            refuse_other_files(head, upload.name)
        except ImportFileError as error:
            raise forms.ValidationError(str(error)) from None
        return upload
