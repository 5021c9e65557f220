"""Forms of the import pages: the upload, and the corrections made in a thread's preview.

The upload form refuses what no importer could use (an empty file, one over the configured
size, a PDF, image or other file that is no thread) before anything is stored. The
corrections are checked against the reconstructed thread itself: a comment may only answer
the article or a comment above it, and the article may only end on a line of the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from annotator.corpus.importers import SNIFF_BYTES, refuse_unsupported
from annotator.corpus.importers.records import UnsupportedFileError
from annotator.corpus.models import ImportJob

if TYPE_CHECKING:
    from annotator.corpus.importers.text import ThreadReconstruction

ARTICLE = "article"  # the value a parent select sends for "answers the article"
SNIFF_HEAD_BYTES = 4 * SNIFF_BYTES  # enough for the name of a ZIP's first member


class ImportUploadForm(forms.Form):
    """One file and its format (detected from the file unless the admin says otherwise)."""

    file = forms.FileField(
        label="File to import",
        help_text="Scraped thread text, JSON Lines, CSV or a Disqus XML export.",
        allow_empty_file=True,  # refused below with a clearer message than Django's own
    )
    format = forms.ChoiceField(
        label="Format", choices=ImportJob.Format.choices, initial=ImportJob.Format.AUTO
    )

    def clean_file(self) -> UploadedFile:
        """Refuse empty files, files over ``IMPORT_MAX_UPLOAD_BYTES`` and non-threads.

        A PDF, an image or other binary file is refused here, saying what it is, before
        anything is stored or a job row is made (``importers.refuse_unsupported``).
        """
        upload = self.cleaned_data["file"]
        if not upload.size:
            raise forms.ValidationError(f"{upload.name} is empty: there is nothing to import.")
        limit = settings.IMPORT_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"{upload.name} is {filesizeformat(upload.size)}; the largest file accepted "
                f"here is {filesizeformat(limit)}. Import it with manage.py import_threads."
            )
        head = upload.read(SNIFF_HEAD_BYTES)
        upload.seek(0)
        try:
            refuse_unsupported(head, upload.name)
        except UnsupportedFileError as error:
            raise forms.ValidationError(str(error)) from None
        return upload


def parse_line(value: object) -> int | None:
    """A positive line number from a query or form value, or None if it is not one."""
    try:
        line = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return line if line >= 1 else None


@dataclass
class Corrections:
    """The article's end and every comment's parent, as chosen in the preview.

    ``parents`` maps a comment's first line (as a string, the key stored in
    ``ImportJob.options``) to its parent's first line, or None for the article.
    """

    article_end: int
    parents: dict[str, int | None] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # The same problems by comment line, for the preview to show beside the comment.
    problems: dict[int, str] = field(default_factory=dict)

    def as_options(self) -> dict:
        """The shape ``ImportJob.options`` stores and ``parse_text`` reads."""
        return {"article_end": self.article_end, "parents": self.parents}


def corrections_from(data: Mapping[str, str], reconstruction: ThreadReconstruction) -> Corrections:
    """Read and check the parent choices in ``data`` against ``reconstruction``.

    ``reconstruction`` must already use the article end the admin chose. A missing choice
    keeps the importer's guess; a choice of anything other than the article or a comment
    above is an error (the form only offers those, so it means a stale or forged page).
    """
    corrections = Corrections(article_end=reconstruction.article_end)
    earlier: set[int] = set()
    for comment in reconstruction.comments:
        # "Any comment above": a line number typed or picked from the list, over the menu.
        typed = (data.get(f"other-parent-{comment.line}") or "").strip()
        raw = typed or data.get(f"parent-{comment.line}")
        if raw is None:
            parent = comment.parent_line
        elif raw == ARTICLE:
            parent = None
        else:
            parent = parse_line(raw)
            if parent not in earlier:
                problem = (
                    f"The comment at line {comment.line} can only answer the article or a "
                    f"comment above it, not {raw[:40]!r}."
                    if parent is not None or not typed
                    else f"For the comment at line {comment.line}, type the line number of "
                    f"the comment it answers, or pick one from the list ({raw[:40]!r} is not "
                    "one)."
                )
                corrections.errors.append(problem)
                corrections.problems[comment.line] = problem
                parent = comment.parent_line
        corrections.parents[str(comment.line)] = parent
        earlier.add(comment.line)
    return corrections
