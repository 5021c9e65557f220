"""Restoring a project from its archive, read as a stream and written in batches.

The whole restore is one transaction: a file that turns out to be cut short, altered or
inconsistent halfway through leaves nothing behind. Rows are written with ``bulk_create``
a batch at a time; the ids they get are kept in compact maps (``idmaps.py``) so that later
rows' references can be pointed at them.

People are matched by username. A member whose username exists here gets their role; one
who is missing gets a pending invitation for their username with that role (never an
account). A person who is missing but whose name is on archived rows (an annotation's
author, an event's actor, a gold label's reviewer ...) becomes an inactive account with an
unusable password under the archived username, so the history keeps its authors; nobody
can log in as it until a site admin activates it and sets a password.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import DatabaseError, connection, models, transaction

from annotator.accounts.models import Invitation
from annotator.archives.copying import CopyWriter
from annotator.archives.format import END, ArchiveError, read_header, read_records
from annotator.archives.idmaps import DuplicateId, IdMap, MissingId
from annotator.archives.tables import PROJECT_COLUMNS, TABLES, TABLES_BY_NAME, Table
from annotator.corpus.models import Comment, Membership, Project
from annotator.labelling.label_counts import recount_project
from annotator.labelling.models import Annotation, CommentLabelCount, Guidelines, LabelScheme

BATCH_ROWS = 2000
ORDER = ["project", "user", *(table.name for table in TABLES)]
POSITION = {name: index for index, name in enumerate(ORDER)}

# Called with (record type, rows restored so far) after each batch: jobs report progress.
Progress = Callable[[str, int], None]


class SlugTaken(ArchiveError):
    """The slug the project would be restored under is already a project's here."""

    def __init__(self, slug: str) -> None:
        super().__init__(f"a project with the slug {slug!r} already exists here")
        self.slug = slug


@dataclass
class RestoreResult:
    """What a restore made: the project, rows per type, and what it did about people."""

    project: Project
    counts: dict[str, int]
    members: list[str] = field(default_factory=list)
    invited: list[str] = field(default_factory=list)
    inactive_accounts: list[str] = field(default_factory=list)


def restore_project(
    fileobj: IO[bytes],
    *,
    slug: str | None = None,
    restored_by: AbstractBaseUser | None = None,
    progress: Progress | None = None,
) -> RestoreResult:
    """Restore the archive in the binary file ``fileobj`` as a new project (under ``slug``
    when given, else the archived one); ``ArchiveError`` and nothing written if it fails."""
    lines = read_records(fileobj)
    head = read_header(lines)
    slug = slug or head["project"]
    try:
        validate_slug(slug)
    except ValidationError:
        raise ArchiveError(
            f"{slug!r} is not a slug (letters, digits, hyphens and underscores)"
        ) from None
    if len(slug) > Project._meta.get_field("slug").max_length:
        raise ArchiveError(f"the slug {slug!r} is too long")
    if Project.objects.filter(slug=slug).exists():
        raise SlugTaken(slug)
    try:
        with transaction.atomic():
            restorer = _Restorer(slug, restored_by, progress)
            for number, record in lines:
                restorer.add(number, record)
            return restorer.finish()
    except DatabaseError as error:  # a constraint checked at commit (PostgreSQL defers them)
        raise ArchiveError(f"the archive's rows do not fit together ({error})") from None


def _count_labels(project: Project) -> None:
    """The restored project's label counts, as every write of the app keeps them: one
    ``INSERT ... SELECT`` (``label_counts.recount_everything`` builds a Python object per
    comment, 700 MB for a million), then the project's row."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(CommentLabelCount._meta.db_table)} "
            "(comment_id, project_id, submitted) "
            f"SELECT comment_id, project_id, COUNT(*) FROM {quote(Annotation._meta.db_table)} "
            "WHERE project_id = %s AND status = %s GROUP BY comment_id, project_id",
            [project.pk, Annotation.Status.SUBMITTED],
        )
    recount_project(project, force=True)


def _datetime_columns(model: type[models.Model]) -> set[str]:
    return {f.attname for f in model._meta.concrete_fields if isinstance(f, models.DateTimeField)}


def _parse_datetimes(row: dict[str, Any], columns: set[str], kind: str, line: int) -> None:
    for column in columns:
        value = row.get(column)
        if isinstance(value, str):
            try:
                row[column] = datetime.fromisoformat(value)
            except ValueError:
                raise ArchiveError(
                    f"a {kind} row's {column} is not a time: {value!r}", line
                ) from None


class _Restorer:
    """The state of one restore: the maps, the pending batch, the counts."""

    def __init__(self, slug: str, restored_by: AbstractBaseUser | None, progress: Progress | None):
        self.slug = slug
        self.restored_by = restored_by
        self.progress = progress
        self.project: Project | None = None
        self.maps = {table.name: IdMap(table.name) for table in TABLES if table.referenced}
        self.counts: dict[str, int] = defaultdict(int)
        self.kind = "project"
        self.batch: list[tuple[int, dict]] = []
        self.end: dict | None = None
        self.last_line = 1
        # People: archive id -> (username, id here or None when missing).
        self.people: dict[int, tuple[str, int | None]] = {}
        self.existing: set[int] = set()  # archive ids of people who were here before
        self.members: list[str] = []
        self.invited: list[str] = []
        self.inactive: list[str] = []
        # Comments of the articles being restored: article's archive id -> {archive id: id}.
        self.parents: dict[int, dict[int, int]] = {}
        self.datetimes = {t.name: _datetime_columns(t.model) for t in TABLES}
        self.copier = CopyWriter() if connection.vendor == "postgresql" else None

    # Reading ---------------------------------------------------------------------------

    def add(self, line: int, record: dict) -> None:
        self.last_line = line
        if self.end is not None:
            raise ArchiveError("a row after the archive's end", line)
        kind = record.get("t")
        if kind == END:
            self.flush()
            self.end = record
            return
        if kind not in POSITION:
            raise ArchiveError(f"unknown row type {kind!r}", line)
        if POSITION[kind] < POSITION[self.kind] or (kind == "project" and self.counts["project"]):
            raise ArchiveError(f"a {kind} row after the {self.kind} rows: out of order", line)
        if kind != "project" and not self.counts["project"]:
            raise ArchiveError("the archive's rows do not start with its project", line)
        if kind != self.kind or len(self.batch) >= BATCH_ROWS:
            self.flush()
            self.kind = kind
        self.batch.append((line, record))
        self.counts[kind] += 1

    def finish(self) -> RestoreResult:
        if self.end is None:
            raise ArchiveError(
                f"the archive stops after line {self.last_line} without its end: it was cut short"
            )
        expected = self.end.get("counts")
        if expected != dict(self.counts):
            raise ArchiveError(
                f"the archive's end counts {expected} rows, but it holds {dict(self.counts)}: "
                "it was cut short or altered",
                self.last_line,
            )
        if self.project is None:
            raise ArchiveError("the archive holds no project")
        _count_labels(self.project)
        return RestoreResult(
            self.project, dict(self.counts), self.members, self.invited, self.inactive
        )

    # Writing ---------------------------------------------------------------------------

    def flush(self) -> None:
        if not self.batch:
            return
        batch, self.batch = self.batch, []
        kind = self.kind
        first_line = batch[0][0]
        try:
            if kind == "project":
                self._project(batch)
            elif kind == "user":
                self._users(batch)
            elif kind == "membership":
                self._memberships(batch)
            else:
                self._rows(TABLES_BY_NAME[kind], batch)
        except MissingId as missing:
            raise ArchiveError(
                f"a {kind} row points at {missing.table} {missing.source_id!r}, "
                "which is not in the archive before it",
                first_line,
            ) from None
        except DuplicateId as error:
            raise ArchiveError(str(error), first_line) from None
        except KeyError as error:
            raise ArchiveError(f"a {kind} row has no {error}", first_line) from None
        except (DatabaseError, ValidationError, TypeError, ValueError) as error:
            raise ArchiveError(
                f"a {kind} row of lines {first_line}-{batch[-1][0]} cannot be restored ({error})",
                first_line,
            ) from None
        if self.progress is not None:
            self.progress(kind, self.counts[kind])

    def _project(self, batch: list[tuple[int, dict]]) -> None:
        line, record = batch[0]
        row = {column: record[column] for column in PROJECT_COLUMNS}
        row["slug"] = self.slug
        _parse_datetimes(row, _datetime_columns(Project), "project", line)
        project = Project(**row)
        project.full_clean(validate_unique=False)
        self.project = Project.objects.create(**row)
        # A new project is given the default scheme and guidelines (labelling/schemes.py);
        # a restored one gets the archived ones instead.
        LabelScheme.objects.filter(project=self.project).delete()
        Guidelines.objects.filter(project=self.project).delete()

    def _users(self, batch: list[tuple[int, dict]]) -> None:
        User = get_user_model()
        field = User.USERNAME_FIELD
        names = {r["id"]: r["username"] for _, r in batch}
        if any(type(k) is not int or not isinstance(v, str) for k, v in names.items()):
            raise ArchiveError("a user row needs an id and a username", batch[0][0])
        here = dict(
            User._base_manager.filter(**{f"{field}__in": list(names.values())}).values_list(
                field, "pk"
            )
        )
        for source_id, name in names.items():
            self.people[source_id] = (name, here.get(name))
            if name in here:
                self.existing.add(source_id)

    def _user_id(self, source_id: int | None) -> int | None:
        """The id here of the archive's person ``source_id``, making an inactive account
        for a missing one the first time a row names them."""
        if source_id is None:
            return None
        if source_id not in self.people:
            raise MissingId("user", source_id)
        name, pk = self.people[source_id]
        if pk is None:
            User = get_user_model()
            user = User(**{User.USERNAME_FIELD: name}, is_active=False)
            user.set_unusable_password()
            user.save()
            pk = user.pk
            self.people[source_id] = (name, pk)
            self.inactive.append(name)
        return pk

    def _memberships(self, batch: list[tuple[int, dict]]) -> None:
        memberships, invitations = [], []
        for line, record in batch:
            row = {"role": record["role"], "created_at": record["created_at"]}
            _parse_datetimes(row, {"created_at"}, "membership", line)
            source_id = record["user_id"]
            if source_id not in self.people:
                raise MissingId("user", source_id)
            name = self.people[source_id][0]
            if source_id in self.existing:
                user_id = self.people[source_id][1]
                memberships.append(Membership(project=self.project, user_id=user_id, **row))
                self.members.append(name)
            else:
                invitations.append(
                    Invitation(
                        project=self.project,
                        invitee=name,
                        role=row["role"],
                        invited_by=self.restored_by,
                    )
                )
                self.invited.append(name)
        for item in memberships + invitations:
            item.full_clean(exclude=["project", "user", "invited_by", "accepted_by"])
        Membership.objects.bulk_create(memberships)
        Invitation.objects.bulk_create(invitations)

    def _rows(self, table: Table, batch: list[tuple[int, dict]]) -> None:
        columns = table.columns
        has_project = any(f.attname == "project_id" for f in table.model._meta.concrete_fields)
        rows = []
        for line, record in batch:
            row = {column: record[column] for column in columns}
            _parse_datetimes(row, self.datetimes[table.name], table.name, line)
            rows.append(row)
        for column, target in table.refs.items():
            if target == "user":
                for row in rows:
                    row[column] = self._user_id(row[column])
            elif not (table.name == "comment" and column == "parent_id"):
                mapped = self.maps[target].lookup([row[column] for row in rows])
                for row, new in zip(rows, mapped, strict=True):
                    row[column] = new
        for column, mapper in table.json_refs.items():
            for row in rows:
                row[column] = mapper(row[column], self._lookup)
        sources = [row.pop("id") for row in rows]
        if has_project:
            for row in rows:
                row["project_id"] = self.project.pk
        if table.name == "comment":
            self._comments(rows, sources, [r["article_id"] for _, r in batch])
            return
        news = self._insert(table.model, rows)
        if table.referenced:
            self.maps[table.name].add(sources, news)

    def _insert(
        self, model: type[models.Model], rows: list[dict], ids: list[int] | None = None
    ) -> list[int]:
        """Write ``rows``; their ids. ``COPY`` on PostgreSQL, ``bulk_create`` elsewhere."""
        if self.copier is not None:
            return self.copier.write(model, rows, ids)
        objects = model._base_manager.bulk_create(
            [model(**row) for row in rows], batch_size=BATCH_ROWS
        )
        news = [obj.pk for obj in objects]
        if any(pk is None for pk in news):  # a backend that returns no ids from bulk inserts
            raise ArchiveError("this database does not return the ids of bulk inserts")
        return news

    def _lookup(self, target: str, source_id: Any) -> Any:
        if target == "user":
            return self._user_id(source_id)
        return self.maps[target].get(source_id)

    def _comments(self, rows: list[dict], sources: list[int], articles: list[int]) -> None:
        """Comments in tree order, each reply pointed at its parent's id here (without
        ``COPY``: each batch written a level at a time, a reply's parent before it)."""
        first_article = articles[0]
        for article in [a for a in self.parents if a != first_article]:
            del self.parents[article]  # comments only answer comments of their own article
        pending = [
            (row, source, article, row.pop("parent_id"))
            for row, source, article in zip(rows, sources, articles, strict=True)
        ]
        if self.copier is not None:
            # Ids known before writing: each reply is given its parent's at once (parents
            # come first in tree order), and the batch is one COPY.
            ids = self.copier.reserve(Comment, len(rows))
            for (row, source, article, parent), pk in zip(pending, ids, strict=True):
                thread = self.parents.setdefault(article, {})
                if parent is not None and parent not in thread:
                    raise MissingId("comment", parent)
                row["parent_id"] = None if parent is None else thread[parent]
                thread[source] = pk
            self.copier.write(Comment, rows, ids)
            self.maps["comment"].add(sources, ids)
            return
        while pending:
            ready, waiting = [], []
            for item in pending:
                _, _, article, parent = item
                thread = self.parents.setdefault(article, {})
                (ready if parent is None or parent in thread else waiting).append(item)
            if not ready:
                raise MissingId("comment", waiting[0][3])
            for row, _, article, parent in ready:
                row["parent_id"] = None if parent is None else self.parents[article][parent]
            news = self._insert(Comment, [row for row, _, _, _ in ready])
            for pk, (_, source, article, _) in zip(news, ready, strict=True):
                self.parents[article][source] = pk
            self.maps["comment"].add([item[1] for item in ready], news)
            pending = waiting
