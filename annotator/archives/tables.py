"""What a project archive holds: one ``Table`` per archived model, in the file's order.

Every concrete field of an archived model is in the archive (so a field added later is
archived without anyone remembering to); ``refs`` says which columns hold ids of other
archived rows, and which table's ids they are, so that restoring can map them to the new
installation's ids. Ids hidden inside JSON (a stale answer's former parent, the model a
suggestion came from, a move's comments in an event) are mapped by ``json_refs``.

The order puts every row after the rows it points at: users, the project's scheme versions
and guidelines, articles, comments in tree order (a parent before its replies), models,
annotations and their history, gold labels and theirs, parent reports, predictions, and
the project's logs of deleted articles and discarded uploads. Jobs, claims, counts (they
are recounted), invitations, API tokens, sessions and login-failure rows are never archived
(see docs/archives.md for the table).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.db.models.functions import Cast

from annotator.assist.models import MachineLabeller, Prediction, PredictionFailure
from annotator.corpus.models import (
    Article,
    Comment,
    DeletedArticle,
    DiscardedImport,
    Membership,
    Project,
)
from annotator.labelling.models import (
    Annotation,
    AnnotationEvent,
    Guidelines,
    LabelScheme,
    ParentReport,
)
from annotator.review.models import GoldEvent, GoldLabel

# ``map_json(value, lookup)``: the JSON value with the ids it holds passed through
# ``lookup(table, source_id)``; the same function maps them back for comparisons.
JsonMapper = Callable[[Any, Callable[[str, Any], Any]], Any]


@dataclass(frozen=True)
class Table:
    """One archived model: its record type, how its rows are found for a project, their
    order, and the columns that point at other archived rows."""

    name: str
    model: type[models.Model]
    scope: str  # the lookup from a row to its project's id
    order: tuple[str, ...]
    refs: dict[str, str] = field(default_factory=dict)  # column -> table name
    json_refs: dict[str, JsonMapper] = field(default_factory=dict)
    # Columns whose row is not archived (a job): restored as null.
    dropped: tuple[str, ...] = ()
    # Whether rows of other tables point at this one (its ids are kept for the restore).
    referenced: bool = False

    @property
    def columns(self) -> list[str]:
        """The archived columns: every concrete field but the project's own id."""
        return [
            f.attname
            for f in self.model._meta.concrete_fields
            if f.attname != "project_id" and f.attname not in self.dropped
        ]

    @property
    def json_columns(self) -> frozenset[str]:
        return frozenset(
            f.attname for f in self.model._meta.concrete_fields if isinstance(f, models.JSONField)
        )

    def rows_of(self, project_id: int, *, json_text: bool = False) -> models.QuerySet:
        """The project's rows of this table as ``values_list`` tuples, in archive order;
        with ``json_text`` the JSON columns as the database's text, unparsed (the archive
        writes them as they are: parsing them took half of its time)."""
        json = self.json_columns if json_text else frozenset()
        return (
            self.model._base_manager.filter(**{self.scope: project_id})
            .order_by(*self.order)
            .values_list(*(Cast(c, models.TextField()) if c in json else c for c in self.columns))
        )


def _entries_naming(field: str, table: str) -> Callable[[Any, Callable[[str, Any], Any]], Any]:
    """A remapper of a JSON object of entries (question key -> entry) whose entries name a
    row of ``table`` in ``field``."""

    def remap(value: Any, lookup: Callable[[str, Any], Any]) -> Any:
        if not isinstance(value, dict):
            return value
        out = {}
        for key, entry in value.items():
            if isinstance(entry, dict) and entry.get(field) is not None:
                entry = {**entry, field: lookup(table, entry[field])}
            out[key] = entry
        return out

    return remap


# Stale answers name the comment they were given toward; suggestions the model version
# that made them.
_stale_answers = _entries_naming("parent_id", "comment")
_suggestions = _entries_naming("model", "labeller")


def _event_state(value: Any, lookup: Callable[[str, Any], Any]) -> Any:
    """An event's state may record a move (``parent_change``: from and to, comment ids)
    and the stale answers it set aside."""
    if not isinstance(value, dict):
        return value
    out = dict(value)
    change = out.get("parent_change")
    if isinstance(change, dict):
        change = dict(change)
        for end in ("from", "to"):
            if change.get(end) is not None:
                change[end] = lookup("comment", change[end])
        out["parent_change"] = change
    if "stale_answers" in out:
        out["stale_answers"] = _stale_answers(out["stale_answers"], lookup)
    return out


TABLES: tuple[Table, ...] = (
    Table("membership", Membership, "project_id", ("id",), {"user_id": "user"}),
    Table(
        "scheme",
        LabelScheme,
        "project_id",
        ("version",),
        {"created_by_id": "user"},
        referenced=True,
    ),
    Table("guidelines", Guidelines, "project_id", ("id",), {"updated_by_id": "user"}),
    Table("article", Article, "project_id", ("id",), referenced=True),
    Table(
        "comment",
        Comment,
        "article__project_id",
        ("article_id", "path"),
        {"article_id": "article", "parent_id": "comment"},
        referenced=True,
    ),
    Table(
        "labeller",
        MachineLabeller,
        "project_id",
        ("id",),
        {"created_by_id": "user"},
        referenced=True,
    ),
    Table(
        "annotation",
        Annotation,
        "project_id",
        ("id",),
        {"comment_id": "comment", "annotator_id": "user", "scheme_id": "scheme"},
        {"stale_answers": _stale_answers, "suggestions": _suggestions},
        referenced=True,
    ),
    Table(
        "annotation_event",
        AnnotationEvent,
        "annotation__project_id",
        ("annotation_id", "id"),
        {"annotation_id": "annotation", "actor_id": "user"},
        {"before": _event_state, "after": _event_state},
    ),
    Table(
        "gold",
        GoldLabel,
        "project_id",
        ("id",),
        {"comment_id": "comment", "scheme_id": "scheme", "decided_by_id": "user"},
        {"stale_answers": _stale_answers},
        referenced=True,
    ),
    Table(
        "gold_event",
        GoldEvent,
        "gold__project_id",
        ("gold_id", "id"),
        {"gold_id": "gold", "actor_id": "user"},
        {"before": _event_state, "after": _event_state},
    ),
    Table(
        "parent_report",
        ParentReport,
        "project_id",
        ("id",),
        {
            "comment_id": "comment",
            "suggested_parent_id": "comment",
            "reported_by_id": "user",
            "resolved_by_id": "user",
        },
    ),
    Table(
        "prediction",
        Prediction,
        "labeller__project_id",
        ("labeller_id", "id"),
        {"labeller_id": "labeller", "comment_id": "comment"},
    ),
    Table(
        "prediction_failure",
        PredictionFailure,
        "labeller__project_id",
        ("labeller_id", "id"),
        {"labeller_id": "labeller", "comment_id": "comment"},
        dropped=("run_id",),
    ),
    Table(
        "deleted_article",
        DeletedArticle,
        "project_id",
        ("id",),
        {"deleted_by_id": "user"},
    ),
    Table(
        "discarded_import",
        DiscardedImport,
        "project_id",
        ("id",),
        {"uploaded_by_id": "user", "discarded_by_id": "user"},
    ),
)

TABLES_BY_NAME = {table.name: table for table in TABLES}

# The project's own row: every field but its id (a restore may rename its slug).
PROJECT_COLUMNS = [f.attname for f in Project._meta.concrete_fields if f.attname != "id"]

# Rows of a project that an archive leaves out, and why (docs/archives.md has the table).
NOT_ARCHIVED: dict[str, str] = {
    "corpus.ImportJob": "a job: the import log's rows point at uploads that are not kept",
    "corpus.PreviewComment": "the preview of an import waiting for review (a job's)",
    "labelling.Claim": "a comment held for someone for minutes: expires anyway",
    "labelling.CommentLabelCount": "a count: recounted from the annotations on restore",
    "labelling.ProjectLabelCounts": "a count: recounted from the annotations on restore",
    "labelling.LabelImport": "the log of label uploads (their labels are archived)",
    "datasets.ExportJob": "a job: the exports' files are not kept",
    "assist.PredictionRun": "a job: its model and predictions are archived",
    "accounts.Invitation": "a one-time link signed with this installation's SECRET_KEY",
    "archives.ArchiveJob": "a job of this app",
}
