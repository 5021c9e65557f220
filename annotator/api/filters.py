"""Query-string filters of the API lists (django-filter); a bad value is a 400 naming it.

Time ranges are inclusive at the start and exclusive at the end (``updated_after`` is
"at or after"), so a script that syncs by passing the time it last saw misses nothing, and
adjacent ranges never count a row twice. Ids are plain numbers, not model lookups, so a
filter costs no extra query. A typed filter given empty (``?depth=``) is a 400 too.
"""

from __future__ import annotations

from datetime import UTC, datetime

import django_filters as filters
from django import forms
from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError

from annotator.corpus.models import Article, Comment
from annotator.labelling.models import Annotation
from annotator.labelling.scheme import KEY_PATTERN
from annotator.review.models import GoldLabel

INT64 = (-(2**63), 2**63 - 1)  # the range of an id in the database


@extend_schema_field({"type": "integer", "minimum": INT64[0], "maximum": INT64[1]})
class IntegerFilter(filters.NumberFilter):
    """A whole number (an id or a depth) within 64 bits; django-filter's own accepts decimals.

    Django keeps an out-of-range number away from the database for integer fields but not
    for foreign keys, where SQLite fails to bind it (a 500): here it is a 400.
    """

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", INT64[0])
        kwargs.setdefault("max_value", INT64[1])
        super().__init__(*args, **kwargs)


class StrictFilterSet(filters.FilterSet):
    """A filter set for which ``?updated_after=`` (a typed filter left empty) is a 400.

    django-filter reads an empty value as "no filter", which suits HTML forms; from a
    script it is usually a variable that was never set, and answering with every row
    would hide the mistake. Empty free-text filters still mean "no filter".
    """

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, declared in self.filters.items():
            if isinstance(declared, TextFilter) or self.data.get(name) != "":
                continue
            if name not in self.form.errors:
                self.form.add_error(name, "Give a value, or leave the parameter out.")
            valid = False
        return valid


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 date and time, converted to UTC before it reaches the database.

    ISO 8601 allows any offset below a day, but PostgreSQL refuses offsets beyond 15:59 (a
    500 before this). A time that falls off either end of the calendar in UTC becomes that
    end: nothing is after the last moment and everything is before it.
    """

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            end = datetime.max if moment.year > 1 else datetime.min
            return end.replace(tzinfo=UTC)


class DateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


@extend_schema_field({"type": "string", "pattern": r"^[^\x00]*$"})
class TextFilter(filters.CharFilter):
    """Free text; empty means "no filter". NUL characters are refused (Django's forms refuse
    them and PostgreSQL cannot store them), and the schema says so."""


@extend_schema_field({"type": "string", "pattern": KEY_PATTERN.pattern})
class QuestionKeyFilter(filters.CharFilter):
    """A question key of the label scheme (which also keeps it safe inside a JSON path)."""

    field_class = forms.RegexField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("regex", KEY_PATTERN)
        kwargs.setdefault(
            "error_messages",
            {"invalid": "A question key is lowercase letters, digits and _, as in the scheme."},
        )
        super().__init__(*args, **kwargs)


class ArticleFilter(StrictFilterSet):
    published_after = DateTimeFilter(
        field_name="published_at", lookup_expr="gte", label="Published at or after (ISO 8601)."
    )
    published_before = DateTimeFilter(
        field_name="published_at", lookup_expr="lt", label="Published before (ISO 8601)."
    )
    source = TextFilter(field_name="source", label="Outlet, exactly as stored.")

    class Meta:
        model = Article
        fields = ["source"]


class CommentFilter(StrictFilterSet):
    article = IntegerFilter(field_name="article_id", label="Article id.")
    parent = IntegerFilter(
        field_name="parent_id", label="Parent comment id (replies to that comment)."
    )
    depth = IntegerFilter(field_name="depth", label="Depth: 0 for replies to the article.")
    posted_after = DateTimeFilter(
        field_name="posted_at", lookup_expr="gte", label="Posted at or after (ISO 8601)."
    )
    posted_before = DateTimeFilter(
        field_name="posted_at", lookup_expr="lt", label="Posted before (ISO 8601)."
    )

    class Meta:
        model = Comment
        fields: list[str] = []


class AnnotationFilter(StrictFilterSet):
    """Filters of the annotation list; ``question`` with ``value`` matches label answers.

    ``question`` alone keeps annotations that answer that question; with ``value`` it keeps
    those whose answer is that value, or includes it for a multiple-choice question.
    """

    article = IntegerFilter(field_name="comment__article_id", label="Article id.")
    comment = IntegerFilter(field_name="comment_id", label="Comment id.")
    annotator = TextFilter(field_name="annotator__username", label="Annotator's username.")
    status = filters.ChoiceFilter(choices=Annotation.Status.choices, label="Annotation status.")
    question = QuestionKeyFilter(method="filter_question", label="Question key of the scheme.")
    value = TextFilter(method="filter_question", label="An answer to `question` (needs it).")
    updated_after = DateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label="Changed at or after (ISO 8601)."
    )
    updated_before = DateTimeFilter(
        field_name="updated_at", lookup_expr="lt", label="Changed before (ISO 8601)."
    )

    class Meta:
        model = Annotation
        fields: list[str] = []

    def filter_question(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Applied once, for ``question``; ``value`` is read from the same form."""
        question = self.form.cleaned_data.get("question")
        answer = self.form.cleaned_data.get("value")
        if name == "value":
            if not question:
                raise ValidationError({"value": ["Give the question it answers in `question`."]})
            return queryset  # done along with ``question``
        if not answer:
            return queryset.filter(answers__has_key=question)
        return queryset.filter(answer_matches(question, answer))


class GoldLabelFilter(StrictFilterSet):
    article = IntegerFilter(field_name="comment__article_id", label="Article id.")
    comment = IntegerFilter(field_name="comment_id", label="Comment id.")
    method = filters.ChoiceFilter(
        choices=GoldLabel.Method.choices, label="How the gold label was set."
    )
    decided_after = DateTimeFilter(
        field_name="decided_at", lookup_expr="gte", label="Decided at or after (ISO 8601)."
    )
    decided_before = DateTimeFilter(
        field_name="decided_at", lookup_expr="lt", label="Decided before (ISO 8601)."
    )

    class Meta:
        model = GoldLabel
        fields: list[str] = []


def answer_matches(question: str, value: str) -> Q:
    """Annotations whose answer to ``question`` is ``value`` or a list holding it.

    PostgreSQL uses JSON containment (``@>``, index-friendly); SQLite has no containment,
    so it looks through ``json_each`` of the answer, which yields a plain value itself and
    a list's items. ``question`` has matched ``KEY_PATTERN`` (``QuestionKeyFilter``), so it
    is safe inside the JSON path.
    """
    if connection.vendor == "postgresql":
        return Q(answers__contains={question: value}) | Q(answers__contains={question: [value]})
    table = Annotation._meta.db_table
    match = RawSQL(  # noqa: S611 - the table name is ours, the values are parameters
        f'EXISTS (SELECT 1 FROM json_each("{table}"."answers", %s) WHERE json_each.value = %s)',
        [f"$.{question}", value],
        output_field=BooleanField(),
    )
    return Q(match)
