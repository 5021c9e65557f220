"""Forms of the models page."""

from __future__ import annotations

from django import forms

from annotator.assist.import_lines import SNIFF_BYTES, refuse_other_files
from annotator.assist.models import MachineLabeller
from annotator.corpus.import_forms import checked_upload
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
        return checked_upload(
            self.cleaned_data["file"],
            command="import_predictions",
            head_bytes=SNIFF_BYTES,
            refuse=refuse_other_files,
            refused=ImportFileError,
        )
