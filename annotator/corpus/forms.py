"""Forms of the corpus pages: creating a project, managing its members, fixing a reply tree.

Forms validate what a person typed; the views decide who may submit them (permissions.py)
and wrap the writes in transactions.
"""

from __future__ import annotations

from django import forms
from django.utils.text import slugify

from annotator.corpus.models import Project, Role


class ProjectForm(forms.ModelForm):
    """Name, slug and description of a new project; the slug defaults to the slugified name."""

    class Meta:
        model = Project
        fields = ["name", "slug", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "slug": "Used in the project's web address. Leave empty to derive it from the name.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        # app.js fills the slug from the name while the person types (until they edit it).
        self.fields["slug"].widget.attrs["data-slug-from"] = self["name"].auto_id

    def clean_slug(self) -> str:
        """An explicit slug, or one derived from the name; either way unused so far."""
        slug = self.cleaned_data.get("slug") or slugify(self.cleaned_data.get("name", ""))
        if not slug:
            raise forms.ValidationError("Enter a slug of letters, digits and hyphens.")
        slug = slug[: Project._meta.get_field("slug").max_length]
        taken = Project.objects.filter(slug=slug)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(f"A project with the slug “{slug}” already exists.")
        return slug


class MemberRoleForm(forms.Form):
    """A new role for an existing member."""

    role = forms.ChoiceField(choices=Role.choices)


class CommentMoveForm(forms.Form):
    """Where a comment goes: the number of its new parent on the thread page, 0 for the article.

    Numbers, not database ids, because they are what the person sees next to each comment.
    The thread page writes the small form by hand (one per opened comment, unique ids).
    """

    parent_number = forms.IntegerField(
        label="Answers comment #",
        min_value=0,
        # No thread is longer; a larger number would only overflow the query's OFFSET.
        max_value=2**31 - 1,
        help_text="0 attaches it to the article.",
    )
    # Sent by the confirmation that says how many labels the move sets aside (views.py).
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)


class ArticleDeleteForm(forms.Form):
    """The counts the admin read on the confirmation page, sent back with the click.

    The deletion goes ahead only if they still hold (``deletions.delete_article``), so an
    admin never deletes labels they were not told about.
    """

    comments = forms.IntegerField(min_value=0, max_value=2**31 - 1, widget=forms.HiddenInput)
    annotations = forms.IntegerField(min_value=0, max_value=2**31 - 1, widget=forms.HiddenInput)
    annotators = forms.IntegerField(min_value=0, max_value=2**31 - 1, widget=forms.HiddenInput)
    gold_labels = forms.IntegerField(min_value=0, max_value=2**31 - 1, widget=forms.HiddenInput)
