"""Forms of the assignments page: how work is shared out, and moving a person's held work.

The project has no separate settings page for labelling: the admin sets how many people
label each comment on the same page where they watch everyone's progress (the admin's
journey step "sets how many annotators label each comment, and sees progress per person").
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from annotator.corpus.models import Project, Role
from annotator.labelling.models import Claim

User = get_user_model()


class WorkSharingForm(forms.ModelForm):
    """Annotators per comment (k), the order of work and how long a comment is held."""

    class Meta:
        model = Project
        fields = ["annotators_per_comment", "work_order", "claim_minutes"]
        widgets = {"work_order": forms.RadioSelect}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The browser's own limits match the model's validators (which the form also runs).
        for name in ("annotators_per_comment", "claim_minutes"):
            field = self.fields[name]
            for validator in Project._meta.get_field(name).validators:
                attr = {"min_value": "min", "max_value": "max"}.get(validator.code)
                if attr:
                    field.widget.attrs[attr] = validator.limit_value


def labellers(project: Project) -> QuerySet:
    """Members who may be given work: annotators and admins of ``project``."""
    return User.objects.filter(
        memberships__project=project,
        memberships__role__in=[Role.ADMIN, Role.ANNOTATOR],
        is_active=True,
    ).order_by("username")


def holders(project: Project) -> QuerySet:
    """Labellers, plus anyone who still holds work in ``project`` (someone who just left)."""
    holding = Claim.objects.filter(project=project).values("annotator")
    return (
        User.objects.filter(
            Q(pk__in=labellers(project).values("pk")) | Q(pk__in=holding),
        )
        .distinct()
        .order_by("username")
    )


class ReleaseForm(forms.Form):
    """Whose held comments go back to the queue."""

    person = forms.ModelChoiceField(queryset=User.objects.none())

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = holders(project)


class ReassignForm(forms.Form):
    """Move one person's held comments to another labeller of the project."""

    person = forms.ModelChoiceField(queryset=User.objects.none())
    to = forms.ModelChoiceField(queryset=User.objects.none(), label="Hand to")

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = holders(project)
        self.fields["to"].queryset = labellers(project)

    def clean(self) -> dict:
        cleaned = super().clean()
        person, to = cleaned.get("person"), cleaned.get("to")
        if person and to and person.pk == to.pk:
            raise forms.ValidationError("Choose someone else to hand the work to.")
        return cleaned
