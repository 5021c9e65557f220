"""The API's JSON parser: Django REST framework's, refusing bodies it cannot read with a 400.

DRF's ``JSONParser`` turns a ``ValueError`` into a ``ParseError`` (400), but a body nested
thousands of levels deep makes ``json.loads`` raise ``RecursionError``, which reached the
client as a 500. It is a bad request like any other.
"""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    """``JSONParser`` that answers a too deeply nested body with a 400 and a message."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
