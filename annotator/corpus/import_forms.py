"""The upload form of the import pages (the preview's choices are checked in previews.py).

The upload form refuses what no importer could use (an empty file, one over the configured
size, a PDF, image or other file that is no thread) before anything is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from annotator.corpus.importers import SNIFF_BYTES, refuse_unsupported
from annotator.corpus.importers.encoding import ENCODINGS
from annotator.corpus.importers.records import UnsupportedFileError
from annotator.corpus.models import ImportJob

SNIFF_HEAD_BYTES = 4 * SNIFF_BYTES  # enough for the name of a ZIP's first member


def checked_upload(
    upload: UploadedFile,
    *,
    command: str,
    head_bytes: int,
    refuse: Callable[[bytes, str], None],
    refused: type[Exception],
) -> UploadedFile:
    """``upload``, or a ``ValidationError`` naming it: empty, over
    ``IMPORT_MAX_UPLOAD_BYTES`` (then ``manage.py command`` is the way), or a file that
    ``refuse(head, name)`` turns down by raising ``refused`` from its first bytes."""
    if not upload.size:
        raise forms.ValidationError(f"{upload.name} is empty: there is nothing to import.")
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if upload.size > limit:
        raise forms.ValidationError(
            f"{upload.name} is {filesizeformat(upload.size)}; the largest file accepted "
            f"here is {filesizeformat(limit)}. Import it with manage.py {command}."
        )
    head = upload.read(head_bytes)
    upload.seek(0)
    try:
        refuse(head, upload.name)
    except refused as error:
        raise forms.ValidationError(str(error)) from None
    return upload


class ImportUploadForm(forms.Form):
    """One file and its format (detected from the file unless the admin says otherwise)."""

    file = forms.FileField(
        label="File to import",
        help_text=(
            "Scraped thread text, JSON Lines, CSV, a Disqus XML export, a Reddit, Twitter/X, "
            "Hacker News or YouTube export, a Label Studio or doccano export; also .gz, .zst "
            "or a ZIP archive of several files."
        ),
        allow_empty_file=True,  # refused below with a clearer message than Django's own
    )
    format = forms.ChoiceField(
        label="Format", choices=ImportJob.Format.choices, initial=ImportJob.Format.AUTO
    )
    encoding = forms.ChoiceField(
        label="Encoding",
        choices=[("", "UTF-8 (the usual)"), *ENCODINGS.items()],
        required=False,
        help_text="Only for a file that is not UTF-8: a refusal names the encoding it looks like.",
    )
    article_field = forms.CharField(
        label="Article field",
        required=False,
        max_length=100,
        help_text=(
            "Label Studio and doccano exports only: the data field whose value groups the texts "
            "into articles (one article per file otherwise)."
        ),
    )

    def clean_file(self) -> UploadedFile:
        """Refuse empty files, files over ``IMPORT_MAX_UPLOAD_BYTES`` and non-threads.

        A PDF, an image or other binary file is refused here, saying what it is, before
        anything is stored or a job row is made (``importers.refuse_unsupported``).
        """
        return checked_upload(
            self.cleaned_data["file"],
            command="import_threads",
            head_bytes=SNIFF_HEAD_BYTES,
            refuse=partial(refuse_unsupported, encoding=self.chosen_encoding()),
            refused=UnsupportedFileError,
        )

    def clean_article_field(self) -> str:
        return self.cleaned_data["article_field"].strip()

    def chosen_encoding(self) -> str | None:
        """The encoding chosen for the file, known before ``clean_file`` checks it (the
        field's own cleaning, after the file's, refuses a value not offered)."""
        encoding = self.data.get("encoding") or None
        return encoding if encoding in ENCODINGS else None
