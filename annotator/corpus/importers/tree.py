"""The skeleton of a file's reply trees: every comment as a few numbers, and the trees
built from them. ``loader.py`` runs its three steps; ``row_writers.py`` sends the rows.

1. **Scan** (``_Skeleton.scan``, no database): every record is checked for what the file
   alone shows (duplicate ids, empty or oversized texts, overlong fields) and kept in
   compact arrays indexed in file order (line, article, parent; never the texts).
2. **Resolve** (``_Skeleton.resolve``, inside the write transaction): match articles and
   comments already in the project, resolve parent ids against the file and the database,
   refuse unknown articles, missing parents, cycles and trees too deep for the path column,
   and work out each new comment's position (after its existing siblings), depth and
   primary key (reserved up front, ``row_writers._reserve``, so that a reply can name a
   parent that comes later in the file). It reads no bytes, so it calls ``beat()`` as it
   goes: a job's heartbeat goes on (heartbeats.py), and the reaper never takes a long
   resolve for a dead worker.
3. **Write** (``_Skeleton.write``): the file's records again, in the same order; the hot
   loop builds each new comment's row (its path from the parent and position arrays) and
   hands it to a ``_RowWriter``. Comments already in the database (position 0) are skipped:
   existing rows are never modified.

Parent codes: a comment's parent is the file index of its parent, ``ROOT`` (it answers the
article), ``UNRESOLVED`` (while the scan waits for a parent id further down the file) or
``EXTERNAL - i`` for the i-th comment already in the database that new replies answer.

Memory: each comment's id (about 100 bytes) until its article is placed, then about
40 bytes per comment.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable

import orjson
from django.conf import settings

from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Notice,
    Record,
)
from annotator.corpus.importers.row_writers import _no_beat, _reserve, _RowWriter
from annotator.corpus.models import (
    MAX_SIBLINGS,
    PATH_SEGMENT_WIDTH,
    Article,
    Comment,
    Project,
    path_segment,
)

LOOKUP_BATCH = 500  # ids per IN (...) query, well under SQLite's parameter limit

ROOT = -1  # parent code of a comment that answers the article
UNRESOLVED = -2  # parent code while a parent id is waiting to be found
# Parent codes <= EXTERNAL point into the list of comments already in the database:
# code = EXTERNAL - index.
EXTERNAL = -3
UNKNOWN_DEPTH = 0xFFFF
VISITING = 0xFFFE
_SEGMENTS = [path_segment(position) for position in range(1, 1001)]

MISSING_PARENT_NOTICE = (
    "{count} comments answer a comment that is neither in the file nor in the project: they "
    "were attached to their article, with the missing parent's id in meta.missing_parent_id"
)
PLACEHOLDER_NOTICE = (
    "{count} articles are only named by their comments: each got a placeholder article "
    "(meta.placeholder), filled in when a later import brings the article itself"
)
PLACEHOLDER_FILLED_NOTICE = "{count} placeholder articles from earlier imports were filled in"


def placeholder_article(source_id: str) -> ArticleRecord:
    """The article made for comments whose article is not in the file (lenient trees)."""
    return ArticleRecord(
        source_id=source_id,
        title=f"[article {source_id}: not in the imported file]",
        meta={"placeholder": True},
    )


def fill_placeholder(pk: int, record: ArticleRecord) -> None:
    """Give a placeholder article (``placeholder_article``) the article's own fields."""
    Article.objects.filter(pk=pk).update(
        title=record.title,
        body=record.body,
        url=record.url,
        source=record.source,
        published_at=record.published_at,
        meta=record.meta,
    )


class _ArticleEntry:
    """What the loader keeps of one article while it reads the file (never the texts)."""

    __slots__ = (
        "comment_lines",
        "fills_placeholder",
        "first_comment_line",
        "ids",
        "indexes",
        "is_new",
        "is_placeholder",
        "pending",
        "pk",
        "record_line",
        "slot",
        "source_id",
        "written",
    )

    def __init__(self, source_id: str, slot: int):
        self.source_id = source_id
        self.slot = slot
        self.record_line: int | None = None
        self.first_comment_line: int | None = None
        self.ids: dict[str, int] = {}  # comment source id -> index within the article
        self.indexes = array("q")  # index within the article -> index in the file
        self.pending: list[tuple[int, str]] = []  # (index in the file, parent id)
        self.pk: int | None = None
        self.is_new = False
        self.is_placeholder = False  # lenient trees: an article the file only refers to
        self.fills_placeholder = False  # the file has the article an earlier import lacked
        self.written = False


def queue_imports_of(project: Project) -> None:
    """Lock ``project``'s row until the transaction ends, so that imports into it run one at a
    time (two at once would compute the same positions).

    ``FOR NO KEY UPDATE``, not ``FOR UPDATE``: a row that points at the project (a claim, an
    annotation, an article) takes ``FOR KEY SHARE`` on it as it is written, which ``FOR
    UPDATE`` blocks, so labelling in the project stalled for as long as an import wrote (the
    multi-instance bench: saves' p95 15 s during a 200,000-comment import, 1.6 s after).
    Two imports still queue: ``NO KEY UPDATE`` conflicts with itself. SQLite ignores both.
    """
    list(Project.objects.select_for_update(no_key=True).filter(pk=project.pk).values_list("pk"))


class _Skeleton:
    """Every comment of a file as a few numbers per comment, indexed in file order."""

    def __init__(
        self, filename: str, beat: Callable[[], None] | None = None, *, lenient: bool = False
    ):
        self.filename = filename
        # Dumps known to miss parents and articles (FormatSpec.lenient_tree): keep what they
        # have, say what was missing (see ``notices``).
        self.lenient = lenient
        self.notices: dict[str, Notice] = {}
        self.orphans: set[int] = set()  # file indexes of comments whose parent was missing
        self.fills: list[tuple[int, ArticleRecord]] = []  # placeholders the file fills in
        # Called between the statements and batches of the resolve phase (a job's heartbeat).
        self.beat: Callable[[], None] = beat or _no_beat
        self.max_chars = settings.IMPORT_MAX_TEXT_CHARS
        path_field = Comment._meta.get_field("path")
        self.max_depth = path_field.max_length // PATH_SEGMENT_WIDTH - 1
        self.articles: dict[str, _ArticleEntry] = {}
        self.slots: list[_ArticleEntry] = []
        self.line = array("q")
        self.article = array("q")  # slot of the comment's article
        self.parent = array("q")  # file index of the parent, or ROOT/UNRESOLVED/EXTERNAL-i
        self.position = array("q")  # 0 once matched to a comment already in the database
        self.depth = array("H")
        self.pk = array("q")
        self.external: list[tuple[int, str, int]] = []  # (pk, path, depth) of old parents
        self.articles_added = 0
        self.articles_unchanged = 0
        self.comments_unchanged = 0

    def fail(self, line: int | None, reason: str) -> ImportFileError:
        return ImportFileError(self.filename, line, reason)

    # Pass 1 ------------------------------------------------------------------------------

    def scan(self, records: Iterable[Record]) -> None:
        """Read every record once, keeping the skeleton and refusing what the file shows."""
        articles = self.articles
        lines, parents = self.line, self.parent
        max_chars = self.max_chars
        for record in records:
            if type(record) is not CommentRecord:
                if type(record) is ArticleRecord:
                    self._scan_article(record)
                else:
                    self.notice(record.key, record.count, record.text)
                continue
            entry = articles.get(record.article_id)
            if entry is None:
                entry = self._entry(record.article_id)
            if entry.first_comment_line is None:
                entry.first_comment_line = record.line
            text = record.text
            if len(text) > max_chars:
                raise self.fail(
                    record.line,
                    f'comment "{record.source_id}" is {len(text):,} characters long, '
                    f"over the limit of {max_chars:,}",
                )
            if not text or text.isspace():
                raise self.fail(record.line, f'comment "{record.source_id}" has no text')
            if "\x00" in text:
                raise self.fail(
                    record.line, f'comment "{record.source_id}" contains a NUL character'
                )
            self._check_length(record.line, "comment id", record.source_id, 255)
            self._check_length(record.line, "author", record.author, 255)
            ids = entry.ids
            local = len(ids)
            earlier = ids.setdefault(record.source_id, local)
            if earlier != local:
                raise self.fail(
                    record.line,
                    f'duplicate comment id "{record.source_id}" in article '
                    f'"{entry.source_id}" (also on line {lines[entry.indexes[earlier]]})',
                )
            index = len(lines)
            lines.append(record.line)
            entry.indexes.append(index)
            self.article.append(entry.slot)
            parent_id = record.parent_id
            if parent_id is None:
                parents.append(ROOT)
            else:
                parent_local = ids.get(parent_id)
                if parent_local is None or parent_local == local:
                    parents.append(UNRESOLVED)
                    entry.pending.append((index, parent_id))
                else:
                    parents.append(entry.indexes[parent_local])
        count = len(lines)
        if not count and not self.slots:
            raise self.fail(None, "no articles or comments found")
        self.position = array("q", [1]) * count  # a real position comes in resolve()
        self.depth = array("H", [UNKNOWN_DEPTH]) * count
        self.pk = array("q", bytes(8 * count))

    def notice(self, key: str, count: int, text: str) -> None:
        """Add ``count`` to the notice ``key`` (a parser's, or the lenient tree's own)."""
        if not count:
            return
        earlier = self.notices.get(key)
        self.notices[key] = Notice(key, count + (earlier.count if earlier else 0), text)

    def _entry(self, source_id: str) -> _ArticleEntry:
        entry = _ArticleEntry(source_id, len(self.slots))
        self.articles[source_id] = entry
        self.slots.append(entry)
        return entry

    def _scan_article(self, record: ArticleRecord) -> None:
        entry = self.articles.get(record.source_id)
        if entry is None:
            entry = self._entry(record.source_id)
        elif entry.record_line is not None:
            raise self.fail(
                record.line,
                f'duplicate article id "{record.source_id}" (also on line {entry.record_line})',
            )
        entry.record_line = record.line
        self._check_length(record.line, "article id", record.source_id, 255)
        self._check_length(record.line, "source", record.source, 255)
        self._check_length(record.line, "url", record.url, 2000)

    def _check_length(self, line: int, what: str, value: str, limit: int) -> None:
        if len(value) > limit:
            raise self.fail(line, f"{what} is {len(value):,} characters long, over {limit:,}")

    # The tree ---------------------------------------------------------------------------

    def resolve(self, project: Project) -> None:
        """Match the skeleton to the database and compute every new comment's place."""
        queue_imports_of(project)
        beat = self.beat
        beat()
        existing: dict[str, int] = {}
        placeholders: set[str] = set()
        source_ids = list(self.articles)
        for start in range(0, len(source_ids), LOOKUP_BATCH):
            beat()
            rows = Article.objects.filter(
                project=project, source_id__in=source_ids[start : start + LOOKUP_BATCH]
            ).values_list("source_id", "pk", "meta__placeholder")
            for source_id, pk, placeholder in rows:
                existing[source_id] = pk
                if placeholder is True:
                    placeholders.add(source_id)
        old_with_comments: list[_ArticleEntry] = []
        for entry in self.slots:
            beat()
            entry.pk = existing.get(entry.source_id)
            if entry.pk is None:
                first_comment = entry.first_comment_line
                if entry.record_line is None and self.lenient:
                    entry.is_placeholder = True
                    self.notice("placeholder_articles", 1, PLACEHOLDER_NOTICE)
                elif entry.record_line is None or (
                    first_comment is not None
                    and first_comment < entry.record_line
                    and not self.lenient
                ):
                    raise self.fail(
                        first_comment,
                        f'unknown article "{entry.source_id}": it is neither earlier in the '
                        "file nor already in the project",
                    )
                self.articles_added += 1
                entry.is_new = True
                self._place(entry, {}, {})
            else:
                if entry.record_line is not None:
                    if entry.source_id in placeholders:
                        entry.fills_placeholder = True
                        self.notice("placeholders_filled", 1, PLACEHOLDER_FILLED_NOTICE)
                    else:
                        self.articles_unchanged += 1
                if entry.ids:
                    old_with_comments.append(entry)
                else:
                    self._place(entry, {}, {})
        for start in range(0, len(old_with_comments), LOOKUP_BATCH // 5):
            beat()
            batch = old_with_comments[start : start + LOOKUP_BATCH // 5]
            old: dict[int, dict[str, tuple[int, str, int]]] = {entry.pk: {} for entry in batch}
            last_position: dict[int, dict[int | None, int]] = {entry.pk: {} for entry in batch}
            rows = Comment.objects.filter(article_id__in=list(old)).values_list(
                "article_id", "source_id", "pk", "parent_id", "position", "path", "depth"
            )
            for article_id, source_id, pk, parent_id, position, path, depth in rows.iterator(
                chunk_size=2000
            ):
                beat()
                old[article_id][source_id] = (pk, path, depth)
                positions = last_position[article_id]
                if position > positions.get(parent_id, 0):
                    positions[parent_id] = position
            for entry in batch:
                beat()
                self._place(entry, old[entry.pk], last_position[entry.pk])
        self._reserve_keys()
        beat()

    def _place(
        self,
        entry: _ArticleEntry,
        old: dict[str, tuple[int, str, int]],
        last_position: dict[int | None, int],
    ) -> None:
        """Parents, depth, position of one article's new comments; old ones left alone."""
        indexes, parent, position = entry.indexes, self.parent, self.position
        depth, max_depth = self.depth, self.max_depth
        external: dict[str, int] = {}

        def external_code(source_id: str) -> int:
            code = external.get(source_id)
            if code is None:
                code = EXTERNAL - len(self.external)
                self.external.append(old[source_id])
                external[source_id] = code
            return code

        if old:
            for source_id, local in entry.ids.items():
                if source_id in old:
                    position[indexes[local]] = 0  # already imported: left untouched
                    self.comments_unchanged += 1
        missing: list[tuple[int, str]] = []
        for index, parent_id in entry.pending:
            parent_local = entry.ids.get(parent_id)
            if parent_local is not None:
                parent[index] = indexes[parent_local]
            elif parent_id in old:
                parent[index] = external_code(parent_id)
            elif position[index] != 0:
                missing.append((index, parent_id))
        if missing and self.lenient:
            for index, _parent_id in missing:
                parent[index] = ROOT
                self.orphans.add(index)
            self.notice("missing_parents", len(missing), MISSING_PARENT_NOTICE)
            missing = []
        if missing:
            index, parent_id = min(missing)
            raise self.fail(
                self.line[index],
                f'parent "{parent_id}" not found in article "{entry.source_id}" '
                "(neither in the file nor already imported)",
            )
        if old:
            # A new reply to a comment that was already imported hangs under the old row.
            ids_by_index = None
            for index in indexes:
                code = parent[index]
                if code >= 0 and position[code] == 0 and position[index] != 0:
                    if ids_by_index is None:
                        ids_by_index = {indexes[local]: sid for sid, local in entry.ids.items()}
                    parent[index] = external_code(ids_by_index[code])
        next_position: dict[int, int] = {}
        for index in indexes:
            if position[index] == 0:
                continue
            code = parent[index]
            if code == ROOT:
                depth[index] = 0
            elif code >= 0 and depth[code] < max_depth:  # parent already placed: the usual case
                depth[index] = depth[code] + 1
            else:
                self._depth_of(index, entry)
            number = next_position.get(code)
            if number is None:
                if code == ROOT:
                    number = last_position.get(None, 0) + 1
                elif code <= EXTERNAL:
                    number = last_position.get(self.external[EXTERNAL - code][0], 0) + 1
                else:
                    number = 1
            if number > MAX_SIBLINGS:
                raise self.fail(
                    self.line[index], f"more than {MAX_SIBLINGS:,} replies to one comment"
                )
            position[index] = number
            next_position[code] = number + 1
        entry.ids = {}
        entry.indexes = array("q")
        entry.pending = []

    def _depth_of(self, index: int, entry: _ArticleEntry) -> None:
        """Set the depth of ``index`` and its new ancestors; refuse cycles and deep trees."""
        parent, depth = self.parent, self.depth
        chain = []
        node = index
        while True:
            if node == ROOT:
                base = -1
                break
            if node <= EXTERNAL:
                base = self.external[EXTERNAL - node][2]
                break
            known = depth[node]
            if known == VISITING:
                raise self._cycle(chain[chain.index(node) :], entry)
            if known != UNKNOWN_DEPTH:
                base = known
                break
            depth[node] = VISITING
            chain.append(node)
            node = parent[node]
        for node in reversed(chain):
            base += 1
            if base > self.max_depth:
                raise self.fail(
                    self.line[node],
                    f"comment nested {base + 1} levels deep; at most {self.max_depth + 1} "
                    "levels fit",
                )
            depth[node] = base

    def _cycle(self, cycle: list[int], entry: _ArticleEntry) -> ImportFileError:
        ids_by_index = {entry.indexes[local]: sid for sid, local in entry.ids.items()}
        names = " -> ".join(f'"{ids_by_index[node]}"' for node in cycle)
        first = min(cycle, key=lambda node: self.line[node])
        return self.fail(
            self.line[first],
            f'cycle of parents: {names} -> "{ids_by_index[cycle[0]]}" '
            f'in article "{entry.source_id}"',
        )

    def _reserve_keys(self) -> None:
        """Primary keys for the new rows, known before writing so replies can name parents."""
        new_articles = [entry for entry in self.slots if entry.pk is None]
        article_keys = _reserve(Article, len(new_articles), self.beat)
        for entry, key in zip(new_articles, article_keys, strict=True):
            entry.pk = key
        position, pk = self.position, self.pk
        new_count = len(position) - position.count(0)
        # Key by key into the array: lists of a million ints would cost 70 MB.
        keys = iter(_reserve(Comment, new_count, self.beat))
        for index in range(len(position)):
            if position[index]:
                pk[index] = next(keys)

    # Pass 2 -----------------------------------------------------------------------------

    def write(self, project: Project, records: Iterable[Record]) -> int:
        """Read the file again and write the new articles and comments in batches; how many
        comments it wrote (the other counts are the skeleton's own)."""
        with _RowWriter(project, self.beat) as writer:
            added = self._write_rows(writer, records)
            for entry in self.slots:
                if entry.is_placeholder:
                    writer.add_article(entry.pk, placeholder_article(entry.source_id))
            writer.close()
        # After the COPY: nothing else may use the connection while it runs.
        for pk, record in self.fills:
            fill_placeholder(pk, record)
        return added

    def _write_rows(self, writer: _RowWriter, records: Iterable[Record]) -> int:
        """The hot loop: one row per new comment, path built from the skeleton."""
        slots, articles = self.slots, self.articles
        position, depth, parent, pk, article = (
            self.position,
            self.depth,
            self.parent,
            self.pk,
            self.article,
        )
        external = self.external
        segments, segment_count = _SEGMENTS, len(_SEGMENTS)
        adapt_time, now, empty_meta = writer.adapt_time, writer.now, writer.empty_meta
        add_row = writer.add_row
        index = 0
        count = len(position)
        added = 0
        orphans = self.orphans
        for record in records:
            if type(record) is not CommentRecord:
                if type(record) is ArticleRecord:
                    entry = articles[record.source_id]
                    if entry.written:
                        continue
                    if entry.is_new:
                        entry.written = True
                        writer.add_article(entry.pk, record)
                    elif entry.fills_placeholder:
                        entry.written = True
                        self.fills.append((entry.pk, record))
                continue
            if index >= count:
                raise self.fail(record.line, "the file changed while it was being imported")
            this = index
            index += 1
            place = position[this]
            if not place:
                continue
            code = parent[this]
            node = this
            parts = []
            while node >= 0:
                number = position[node]
                parts.append(
                    segments[number - 1] if number <= segment_count else path_segment(number)
                )
                node = parent[node]
            if node == ROOT:
                path = "".join(reversed(parts))
                parent_pk = pk[code] if code >= 0 else None
            else:
                old_parent = external[EXTERNAL - node]
                path = old_parent[1] + "".join(reversed(parts))
                parent_pk = pk[code] if code >= 0 else old_parent[0]
            meta = record.meta
            if orphans and this in orphans:
                meta = {**meta, "missing_parent_id": record.parent_id}
            add_row(
                (
                    pk[this],
                    slots[article[this]].pk,
                    parent_pk,
                    record.source_id,
                    record.author,
                    record.text,
                    adapt_time(record.posted_at),
                    place,
                    depth[this],
                    path,
                    orjson.dumps(meta).decode() if meta else empty_meta,
                    now,
                )
            )
            added += 1
        if index != count:
            raise self.fail(None, "the file changed while it was being imported")
        return added
