"""Cursor pagination for every API list, strict about what the client sends.

Cursors (not page numbers) because lists are read by scripts while annotators keep working:
a cursor continues after the last row seen, so rows added meanwhile are neither skipped nor
repeated, and a page costs one indexed query however deep the client has read. DRF's own
class falls back silently on a bad ``page_size`` (here a 400 naming the range) and lets a
forged cursor position reach the database (a 500; here the 404 "Invalid cursor" DRF gives
any cursor it cannot read: the page it names does not exist).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

INVALID_CURSOR = "Invalid cursor: pass the 'next' or 'previous' link of a page unchanged."


class ApiCursorPagination(CursorPagination):
    """Pages in primary-key order: stable, unique, and the order rows were created in."""

    ordering = "pk"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    page_size_query_description = "Rows per page (1 to 1000, default 100)."

    def paginate_queryset(self, queryset: QuerySet, request: Request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Request) -> int:
        """The requested page size, or a 400 when it is not a number in range."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            message = f"Give a whole number from 1 to {self.max_page_size}."
            raise ValidationError({self.page_size_query_param: [message]})
        return size

    def get_schema_operation_parameters(self, view) -> list[dict]:
        """DRF's parameters, with the page size's range in the schema."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                }
        return parameters

    def decode_cursor(self, request: Request) -> Cursor | None:
        """The cursor, with its position checked against the ordering field (404 if forged)."""
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise NotFound(INVALID_CURSOR) from None
        if cursor is None or cursor.position is None:
            return cursor
        field = self._ordering_field(self._model)
        try:
            if "\x00" in cursor.position:
                raise DjangoValidationError("NUL character")
            field.to_python(cursor.position)
        except DjangoValidationError:
            raise NotFound(INVALID_CURSOR) from None
        return cursor

    def _ordering_field(self, model: type[Model]):
        """The model field the cursor's position is a value of (``ordering`` is a tuple here)."""
        name = self.ordering[0].lstrip("-")
        return model._meta.pk if name == "pk" else model._meta.get_field(name)


class ThreadPagination(ApiCursorPagination):
    """A thread in tree order: the cursor is the materialised path of the last comment read."""

    ordering = "path"
    page_size = 500
    max_page_size = 5000
    page_size_query_description = "Comments per page (1 to 5000, default 500)."
