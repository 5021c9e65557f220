"""What a save needs before it writes, read in one query: project, role, comment, scheme and
the person's annotation.

Every autosave would otherwise ask five times (``project_for``: the project, then the role;
``comment_in``: the comment with its article; ``current_scheme_for``: the scheme; then
``save_annotation`` reads the annotation), each query compiled by the ORM again: on a 2-core
machine that compiling cost more CPU than the database's work. Here one statement, written
once per process from the models' metadata, reads it all, and the rows become model
instances through the same converters the ORM applies. A scheme's parsed form is kept per
process by its definition's text, so a save neither reads nor parses twice what did not
change (an edited version has another text, so it is never served stale). Anything unusual
(no such project, comment or role, a project without a scheme) goes the usual way, which
raises the usual 404 or 403.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection

from annotator.corpus.models import Article, Comment, Membership, Project
from annotator.corpus.permissions import Action, can, comment_in, project_for, remember_role
from annotator.labelling.annotations import UNREAD
from annotator.labelling.models import Annotation, LabelScheme
from annotator.labelling.scheme import Scheme, parse_scheme
from annotator.labelling.schemes import current_scheme_for

# Parsed schemes by definition text; a handful of projects and versions per process.
_PARSED: dict[str, tuple[dict, Scheme]] = {}
_PARSED_MAX = 64


@dataclass
class SaveTarget:
    """The project (the person may label in it), the comment (with its article and that
    project), the current scheme and the person's annotation of the comment: None when
    there is none, ``annotations.UNREAD`` when it was not read here."""

    project: Project
    comment: Comment
    scheme: LabelScheme
    annotation: Any


def save_target(user, slug: str, comment_id: int) -> SaveTarget:
    """What saving ``user``'s answers to comment ``comment_id`` of project ``slug`` needs.

    Raises what ``project_for`` and ``comment_in`` raise. One query when all is in order.
    """
    read = _read()
    with connection.cursor() as cursor:
        cursor.execute(read.sql, [user.pk, user.pk, comment_id, slug])
        row = cursor.fetchone()
    if row is None or row[read.scheme_at] is None:
        return _the_usual_way(user, slug, comment_id)
    comment, article, project = (part.build(row) for part in read.parts[:3])
    article.project = project
    comment.article = article
    remember_role(user, project, row[read.role_at])
    if not (can(user, Action.VIEW, project) and can(user, Action.LABEL, project)):
        return _the_usual_way(user, slug, comment_id)
    at = read.scheme_at
    scheme = _scheme(row[at], row[at + 1], row[at + 2], project)
    annotation = None
    if row[read.parts[3].start] is not None:
        annotation = read.parts[3].build(row)
        if annotation.scheme_id == scheme.pk:
            annotation.scheme = scheme
        else:  # last saved under an older version
            annotation.scheme = _scheme(row[at + 3], row[at + 4], row[at + 5], project)
        annotation.comment = comment
    return SaveTarget(project, comment, scheme, annotation)


def _the_usual_way(user, slug: str, comment_id: int) -> SaveTarget:
    project = project_for(user, slug, Action.LABEL)
    comment = comment_in(project, comment_id)
    return SaveTarget(project, comment, current_scheme_for(project), UNREAD)


def _scheme(pk: int, version: int, text: str, project: Project) -> LabelScheme:
    """A scheme version as read, its definition parsed once per process."""
    parsed = _PARSED.get(text)
    if parsed is None:
        definition = json.loads(text)
        parsed = (definition, parse_scheme(definition))
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[text] = parsed
    scheme = LabelScheme(pk=pk, project=project, version=version, definition=parsed[0])
    scheme.__dict__["scheme"] = parsed[1]  # the cached_property, already known
    return scheme


class _Columns:
    """All the concrete columns of one model in a statement: their SQL, from ``start`` in
    the row, and how a row's values become an instance (the ORM's own converters)."""

    def __init__(self, model, alias: str, start: int) -> None:
        fields = model._meta.concrete_fields
        self.model = model
        self.start = start
        self.end = start + len(fields)
        self.sql = ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in fields)
        self.converters = []
        for number, field in enumerate(fields):
            column = field.get_col(alias)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                self.converters.append((number, found, column))

    def build(self, row: tuple):
        values = list(row[self.start : self.end])
        for number, converters, column in self.converters:
            for convert in converters:
                values[number] = convert(values[number], column, connection)
        return self.model.from_db(connection.alias, None, values)


@dataclass(frozen=True)
class _Read:
    sql: str
    parts: tuple[_Columns, ...]
    role_at: int
    scheme_at: int  # current scheme: id, version, definition; then the annotation's


@cache
def _read() -> _Read:
    """The statement (built once per process: per database vendor, as the connection)."""
    q = connection.ops.quote_name
    parts = []
    start = 0
    for model, alias in (
        (Comment, "c"),
        (Article, "a"),
        (Project, "p"),
        (Annotation, "an"),
    ):
        part = _Columns(model, alias, start)
        parts.append(part)
        start = part.end
    scheme = q(LabelScheme._meta.db_table)
    sql = (
        f"SELECT {', '.join(part.sql for part in parts)}, m.{q('role')}, "
        f"s.{q('id')}, s.{q('version')}, s.{q('definition')}, "
        f"os.{q('id')}, os.{q('version')}, os.{q('definition')} "
        f"FROM {q(Comment._meta.db_table)} c "
        f"JOIN {q(Article._meta.db_table)} a ON a.{q('id')} = c.{q('article_id')} "
        f"JOIN {q(Project._meta.db_table)} p ON p.{q('id')} = a.{q('project_id')} "
        f"LEFT JOIN {q(Membership._meta.db_table)} m "
        f"ON m.{q('project_id')} = p.{q('id')} AND m.{q('user_id')} = %s "
        f"LEFT JOIN {scheme} s ON s.{q('id')} = (SELECT s2.{q('id')} FROM {scheme} s2 "
        f"WHERE s2.{q('project_id')} = p.{q('id')} ORDER BY s2.{q('version')} DESC LIMIT 1) "
        f"LEFT JOIN {q(Annotation._meta.db_table)} an "
        f"ON an.{q('comment_id')} = c.{q('id')} AND an.{q('annotator_id')} = %s "
        f"LEFT JOIN {scheme} os ON os.{q('id')} = an.{q('scheme_id')} "
        f"WHERE c.{q('id')} = %s AND p.{q('slug')} = %s"
    )
    return _Read(sql, tuple(parts), role_at=start, scheme_at=start + 1)
