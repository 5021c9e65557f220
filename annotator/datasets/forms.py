"""The export page's form: what a researcher picks, turned into ``ExportOptions``.

The questions offered are those of the project's current scheme; the split's rule comes
from ``jobs.split_problems`` and ``start_export`` checks every option again, so the page
refuses exactly what the API and the command line refuse.
"""

from __future__ import annotations

from django import forms

from annotator.datasets.jobs import split_problems
from annotator.datasets.models import FORMAT_LABELS
from annotator.datasets.options import ExportFormat, ExportOptions, LabelSet

DEFAULTS = ExportOptions()


class DateTimeLocalInput(forms.DateTimeInput):
    """The browser's own date and time picker (``<input type="datetime-local">``)."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


class ExportForm(forms.Form):
    """Format, questions, labels and filters of one export of ``project``."""

    format = forms.ChoiceField(
        label="Format",
        choices=[(str(fmt), FORMAT_LABELS[fmt]) for fmt in ExportFormat],
        initial=str(DEFAULTS.format),
        widget=forms.RadioSelect,
    )
    questions = forms.MultipleChoiceField(
        label="Questions",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one question."},
    )
    labels = forms.ChoiceField(
        label="Labels",
        choices=[
            (str(LabelSet.ALL), "All annotators: everyone's answers, plus the majority"),
            (str(LabelSet.FINAL), "Final labels only: gold where set, else the majority"),
            (str(LabelSet.GOLD), "Gold labels only: the answers reviewers settled"),
        ],
        initial=str(DEFAULTS.labels),
        widget=forms.RadioSelect,
    )
    include_unlabelled = forms.BooleanField(
        label="Include comments nobody has labelled yet", required=False, initial=True
    )
    pseudonymise = forms.BooleanField(
        label="Pseudonymise annotators and comment authors",
        help_text="Each name becomes a stable code within this export.",
        required=False,
    )
    split = forms.BooleanField(
        label="Split into train, dev and test by thread",
        help_text="Whole threads go to one part, so replies never leak across parts.",
        required=False,
    )
    split_seed = forms.IntegerField(
        label="Seed", min_value=0, initial=DEFAULTS.split_seed, required=False
    )
    split_train = forms.FloatField(label="Train", initial=DEFAULTS.split_ratios[0], required=False)
    split_dev = forms.FloatField(label="Dev", initial=DEFAULTS.split_ratios[1], required=False)
    split_test = forms.FloatField(label="Test", initial=DEFAULTS.split_ratios[2], required=False)
    spreadsheet_safe = forms.BooleanField(
        label="Safe for spreadsheets (CSV)",
        help_text="Texts that start with = + - @ get a leading ' so Excel or LibreOffice "
        "shows them instead of running them as formulas. Leave off for pandas and scripts.",
        required=False,
    )
    predictions = forms.BooleanField(
        label="Model predictions",
        help_text="The newest version of each model's answers, in fields of their own "
        "(never mixed with the annotators' labels).",
        required=False,
        initial=True,
    )
    changed_since = forms.DateTimeField(
        label="Only comments whose labels changed since",
        help_text="Leave empty to export everything. Times are UTC.",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=DateTimeLocalInput(),
    )

    def __init__(self, *args, questions: list[tuple[str, str]], has_models: bool = False, **kwargs):
        """``questions``: (key, title) of each question of the project's current scheme;
        ``has_models``: whether the project has models (else nothing to offer)."""
        super().__init__(*args, **kwargs)
        if not has_models:
            del self.fields["predictions"]
        self.question_keys = [key for key, _ in questions]
        self.fields["questions"].choices = questions
        self.fields["questions"].initial = self.question_keys
        for name in ("split_train", "split_dev", "split_test"):
            # Hints for the browser; the ratios are only checked when the form asks to split.
            self.fields[name].widget.attrs.update(min="0", max="1", step="0.05")

    def clean(self) -> dict:
        """Check the split's ratios (only when splitting) and default the blank numbers."""
        data = super().clean()
        if data.get("split"):
            if data.get("split_seed") is None:
                data["split_seed"] = DEFAULTS.split_seed
            ratios = tuple(
                DEFAULTS.split_ratios[index] if data.get(name) is None else data[name]
                for index, name in enumerate(("split_train", "split_dev", "split_test"))
            )
            data["split_ratios"] = ratios
            for problem in split_problems(ratios):
                self.add_error("split", problem[0].upper() + problem[1:] + ".")
        return data

    def to_options(self) -> ExportOptions:
        """The options asked for (call after ``is_valid()``).

        All questions checked is recorded as "every question", the exporters' default.
        """
        data = self.cleaned_data
        chosen = [key for key in self.question_keys if key in data["questions"]]
        split = data["split"]
        return ExportOptions(
            format=ExportFormat(data["format"]),
            questions=() if chosen == self.question_keys else tuple(chosen),
            labels=LabelSet(data["labels"]),
            include_unlabelled=data["include_unlabelled"],
            pseudonymise=data["pseudonymise"],
            split=split,
            split_seed=data["split_seed"] if split else DEFAULTS.split_seed,
            split_ratios=data["split_ratios"] if split else DEFAULTS.split_ratios,
            changed_since=data["changed_since"],
            spreadsheet_safe=data["spreadsheet_safe"],
            predictions=data.get("predictions", False),
        )
