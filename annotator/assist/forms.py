"""Forms of the models page."""

from __future__ import annotations

from django import forms

from annotator.assist.models import MachineLabeller


class ModelSettingsForm(forms.ModelForm):
    """When a model's suggestions are shown, and whether it orders "most uncertain first"."""

    class Meta:
        model = MachineLabeller
        fields = ["suggestions", "orders_work"]
        labels = {"orders_work": "Orders “most uncertain first”"}
