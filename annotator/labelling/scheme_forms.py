"""Forms of the scheme editor and the guidelines editor.

The scheme form reads the JSON the admin typed and parses it with ``parse_scheme``, so the
page shows either the exact place of a JSON syntax error or the scheme's own message naming
the question and field; the view saves only a definition that passed both.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms

from annotator.labelling.scheme import Scheme, SchemeError, parse_scheme

DEFINITION_MAX_LENGTH = 200_000
GUIDELINES_MAX_LENGTH = 100_000


def definition_as_text(data: Any) -> str:
    """A definition as the editor shows it: indented JSON, non-ASCII kept readable."""
    return json.dumps(data, indent=2, ensure_ascii=False)


def _refuse_duplicate_names(pairs: list[tuple[str, Any]]) -> dict:
    """``json.loads`` keeps the last of two equal names silently; a definition must not."""
    names = [name for name, _ in pairs]
    for name in names:
        if names.count(name) > 1:
            raise SchemeError(f'The JSON gives "{name}" twice in the same object.')
    return dict(pairs)


def read_definition(text: str) -> tuple[dict, Scheme]:
    """Parse the editor's text into (definition data, scheme); raise ``SchemeError``."""
    try:
        data = json.loads(text, object_pairs_hook=_refuse_duplicate_names)
    except json.JSONDecodeError as error:
        raise SchemeError(
            f"This is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    except RecursionError:
        raise SchemeError("This JSON is nested too deeply to be a scheme.") from None
    except ValueError as error:  # a number of thousands of digits (Python's int limit)
        raise SchemeError(f"This JSON holds a number too long to read ({error}).") from None
    return data, parse_scheme(data)


class SchemeDefinitionForm(forms.Form):
    """The scheme as JSON, typed or uploaded; ``cleaned_data["definition"]`` is the parsed
    data. A file, when one is sent, wins over the text; its errors show on the text."""

    definition = forms.CharField(
        label="Definition (JSON)",
        required=False,
        max_length=DEFINITION_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 20, "spellcheck": "false", "class": "code"}),
    )
    definition_file = forms.FileField(
        label="Or upload a JSON file",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )

    scheme: Scheme | None = None

    def clean_definition(self) -> dict | None:
        upload = self.files.get("definition_file") if self.files else None
        text = self.cleaned_data["definition"]
        if upload is not None:
            text = self._read_upload(upload)
        elif not text.strip():
            raise forms.ValidationError("The definition is empty.", code="required")
        try:
            data, self.scheme = read_definition(text)
        except SchemeError as error:
            raise forms.ValidationError(str(error), code="invalid_scheme") from None
        return data

    @staticmethod
    def _read_upload(upload) -> str:
        if upload.size > DEFINITION_MAX_LENGTH:
            raise forms.ValidationError(
                f"The file is larger than {DEFINITION_MAX_LENGTH // 1000} kB; a scheme is smaller.",
                code="too_large",
            )
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(
                "The file is not UTF-8 text; save it as UTF-8 JSON.", code="not_text"
            ) from None


class GuidelinesForm(forms.Form):
    """The guidelines as Markdown."""

    text = forms.CharField(
        label="Guidelines (Markdown)",
        required=False,
        max_length=GUIDELINES_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 30}),
    )
