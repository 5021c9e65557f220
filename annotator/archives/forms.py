"""The restore page's form: the archive file and, optionally, another slug."""

from __future__ import annotations

from django import forms

from annotator.corpus.models import Project


class RestoreForm(forms.Form):
    archive = forms.FileField(
        label="Archive",
        help_text="A .jsonl.gz file made by “Download archive” or manage.py archive_project.",
    )
    slug = forms.SlugField(
        label="Restore as (slug)",
        max_length=100,
        required=False,
        help_text="Leave empty to use the archived project's slug; it must be free here.",
    )

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if slug and Project.objects.filter(slug=slug).exists():
            raise forms.ValidationError("A project with this slug exists already: choose another.")
        return slug
