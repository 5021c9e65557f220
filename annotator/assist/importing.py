"""Importing a model's predictions from a JSON Lines file: all of it, or nothing.

The file is read twice, so that memory stays flat whatever its size:

1. **Check** (no writes, no transaction): every line is read (import_lines.py), its comment
   looked up in the project (in batches of ``LOOKUP_BATCH`` lines, one or two queries a
   batch, never one per line), its answers checked against the scheme
   (``answers.check_answers``), and a second line for the same comment and model refused.
   Every bad line is counted; the first ``ERRORS_KEPT`` are kept with file, line and
   reason. Any bad line refuses the whole file (``PredictionsRefused``) and nothing is
   written.
2. **Write** (one transaction): the models named in the file are created (kind imported)
   if they do not exist, and the lines are read, looked up and checked again, and written
   with ``predictions.write_predictions``. A comment deleted between the passes refuses
   the file then, and the transaction rolls back.

What is kept between lines is bounded by the file's models, not its lines: per model a
bitmap of the comments seen (one bit per comment id), so duplicates are found without a set
of a million ids.

Re-importing a model version replaces its answers to the questions the new file answers
(``write_predictions``); a new ``version`` makes a new model version beside the old one.

``run_import`` runs a ``PredictionRun`` (the browser's and the API's uploads) through the
same path and records its outcome; the command line calls ``import_predictions`` on a run
of its own (management/commands/import_predictions.py).
"""

from __future__ import annotations

import io
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import BinaryIO

from django.db import connection, transaction

from annotator.assist.answers import CheckedAnswer, PredictionError, check_answers
from annotator.assist.import_lines import PredictionLine, read_lines
from annotator.assist.models import MachineLabeller, PredictionRun
from annotator.assist.predictions import PredictionItem, write_predictions
from annotator.assist.uncertainty import refresh_after_predictions
from annotator.corpus.heartbeats import BeatApart
from annotator.corpus.importers.records import ImportFileError
from annotator.corpus.models import Comment, Project
from annotator.corpus.stored_files import open_stored
from annotator.labelling.models import LabelScheme
from annotator.labelling.scheme import Scheme
from annotator.labelling.schemes import current_scheme_for

logger = logging.getLogger(__name__)

LOOKUP_BATCH = 2000  # lines whose comments are looked up in one query
ERRORS_KEPT = 20  # refused lines kept with their reason; the rest are only counted
MAX_MODELS = 20  # model versions one file may name
READ_BUFFER = 256 * 1024

Opener = Callable[[], BinaryIO]
Progress = Callable[[int, int], None]  # lines done and total, over both passes


class PredictionsRefused(Exception):
    """A file refused whole: the first ``ERRORS_KEPT`` errors, and how many in all."""

    def __init__(self, filename: str, errors: list[ImportFileError], count: int):
        self.filename = filename
        self.errors = errors
        self.count = count
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.count == 1:
            return f"{self.errors[0]}. Nothing was imported."
        return (
            f"{self.filename}: {self.count:,} lines refused, the first: {self.errors[0]}. "
            "Nothing was imported."
        )

    def report(self) -> dict:
        """What a run keeps of the refusal (``run.report``; the run's page lists them)."""
        return {
            "file": self.filename,
            "error_count": self.count,
            "errors": [
                {"file": error.filename, "line": error.line, "reason": error.reason}
                for error in self.errors
            ],
        }


class ImportStopped(Exception):
    """The run was failed meanwhile (its worker was taken for dead): roll back."""


@dataclass
class ImportSummary:
    """What an import wrote: predictions and comments, per model version."""

    predictions: int = 0
    comments: int = 0
    lines: int = 0
    models: dict[tuple[str, str], dict] = field(default_factory=dict)
    labellers: list[MachineLabeller] = field(default_factory=list)

    def report(self, filename: str) -> dict:
        return {
            "file": filename,
            "predictions": self.predictions,
            "comments": self.comments,
            "models": list(self.models.values()),
        }


@dataclass(slots=True)
class _Checked:
    """One line that passed every check."""

    model_key: tuple[str, str]
    comment_id: int
    answers: list[CheckedAnswer]
    scheme_version: int


class _Checker:
    """Looks the lines' comments up in batches and checks their answers; collects errors.

    Holds what is bounded by the project, not by the file: the scheme versions used, the
    model versions named (with whether each exists and may be imported into), and a
    bitmap per model of the comment ids seen.
    """

    def __init__(self, project: Project, filename: str):
        self.project = project
        self.filename = filename
        current = current_scheme_for(project)
        self.current_version = current.version
        self.schemes: dict[int, Scheme | None] = {current.version: current.scheme}
        self.models: dict[tuple[str, str], MachineLabeller | None] = {}
        self.seen: dict[tuple[str, str], bytearray] = defaultdict(bytearray)
        self.errors: list[ImportFileError] = []
        self.error_count = 0
        self.lines = 0

    def refuse(self, line: int | None, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append(ImportFileError(self.filename, line, reason))

    def check(self, lines: Iterable[PredictionLine | ImportFileError]) -> Iterator[_Checked]:
        """The lines that pass, in file order; the others are counted in ``errors``."""
        it = iter(lines)
        while batch := list(islice(it, LOOKUP_BATCH)):
            good = []
            for line in batch:
                if isinstance(line, ImportFileError):
                    self.error_count += 1
                    if len(self.errors) < ERRORS_KEPT:
                        self.errors.append(line)
                else:
                    good.append(line)
            self.lines += len(batch)
            comments = self._comments_of(good)
            for line in good:
                checked = self._check_line(line, comments)
                if checked is not None:
                    yield checked

    def _comments_of(self, lines: list[PredictionLine]) -> dict:
        """The batch's comments: ``{pk: is_reply}`` and ``{source_id: [(pk, article, is_reply)]}``
        in one query each."""
        ids = {line.comment_id for line in lines if line.comment_id is not None}
        source_ids = {line.source_id for line in lines if line.source_id is not None}
        in_project = Comment.objects.filter(article__project=self.project).order_by()
        by_id = dict(in_project.filter(pk__in=ids).values_list("pk", "depth")) if ids else {}
        by_source: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
        if source_ids:
            rows = in_project.filter(source_id__in=source_ids).values_list(
                "source_id", "pk", "article__source_id", "depth"
            )
            for source_id, pk, article, depth in rows:
                by_source[source_id].append((pk, article, depth))
        return {"id": by_id, "source": by_source}

    def _comment_of(self, line: PredictionLine, comments: dict) -> tuple[int, bool] | None:
        if line.comment_id is not None:
            depth = comments["id"].get(line.comment_id)
            if depth is None:
                self.refuse(line.number, f"no comment {line.comment_id} in this project")
                return None
            return line.comment_id, depth > 0
        matches = comments["source"].get(line.source_id, [])
        if line.article is not None:
            matches = [match for match in matches if match[1] == line.article]
        if not matches:
            where = f' in article "{line.article}"' if line.article is not None else ""
            self.refuse(line.number, f'no comment with source id "{line.source_id}"{where}')
            return None
        if len(matches) > 1:
            self.refuse(
                line.number,
                f'source id "{line.source_id}" is in {len(matches)} articles of this project: '
                'add "article" (the article\'s source id) to say which',
            )
            return None
        pk, _, depth = matches[0]
        return pk, depth > 0

    def _check_line(self, line: PredictionLine, comments: dict) -> _Checked | None:
        if not self._model_ok(line):
            return None
        version = line.scheme_version or self.current_version
        scheme = self._scheme(version)
        if scheme is None:
            self.refuse(line.number, f"the project has no scheme version {version}")
            return None
        found = self._comment_of(line, comments)
        if found is None:
            return None
        comment_id, is_reply = found
        try:
            checked = check_answers(scheme, line.answers, line.confidences, is_reply=is_reply)
        except PredictionError as error:
            self.refuse(line.number, str(error).rstrip("."))
            return None
        if self._seen_before(line.model_key, comment_id):
            self.refuse(
                line.number,
                f"a second line for comment {comment_id} from {line.model}@{line.version}",
            )
            return None
        return _Checked(line.model_key, comment_id, checked, version)

    def _model_ok(self, line: PredictionLine) -> bool:
        key = line.model_key
        if key not in self.models:
            if len(self.models) >= MAX_MODELS:
                self.refuse(line.number, f"more than {MAX_MODELS} model versions in one file")
                return False
            self.models[key] = MachineLabeller.objects.filter(
                project=self.project, name=key[0], version=key[1]
            ).first()
        existing = self.models[key]
        if existing is not None and existing.kind != MachineLabeller.Kind.IMPORTED:
            self.refuse(
                line.number,
                f"{existing.label} is the project's {existing.get_kind_display().lower()}, "
                "not imported predictions: give another name or version",
            )
            return False
        return True

    def _scheme(self, version: int) -> Scheme | None:
        if version not in self.schemes:
            row = LabelScheme.objects.filter(project=self.project, version=version).first()
            self.schemes[version] = row.scheme if row else None
        return self.schemes[version]

    def _seen_before(self, key: tuple[str, str], comment_id: int) -> bool:
        """Mark ``comment_id`` seen for model ``key``; whether it was already."""
        bits = self.seen[key]
        byte, bit = divmod(comment_id, 8)
        if byte >= len(bits):
            bits.extend(bytes(byte - len(bits) + 1 + len(bits) // 2))
        if bits[byte] & (1 << bit):
            return True
        bits[byte] |= 1 << bit
        return False

    def refusal(self) -> PredictionsRefused | None:
        if self.error_count:
            return PredictionsRefused(self.filename, self.errors, self.error_count)
        if not self.lines:
            return PredictionsRefused(
                self.filename,
                [ImportFileError(self.filename, None, "no predictions in the file")],
                1,
            )
        return None


def import_predictions(
    project: Project,
    opener: Opener,
    *,
    filename: str,
    user=None,
    progress: Progress | None = None,
    before_commit: Callable[[ImportSummary], None] | None = None,
) -> ImportSummary:
    """Check the file that ``opener`` opens (afresh for each pass), then write it.

    Raises ``PredictionsRefused`` (nothing written) when any line is bad. ``progress(lines)``
    is called after each batch with the lines done over both passes (each line counts
    twice). ``before_commit(summary)`` runs last inside the write transaction; raising there
    rolls the import back.
    """
    done = 0

    def lines_of(stream: BinaryIO, total: int) -> Iterator[PredictionLine | ImportFileError]:
        nonlocal done
        for line in read_lines(stream, filename):
            yield line
            done += 1
            if progress is not None and done % LOOKUP_BATCH == 0:
                progress(done, total)

    checker = _Checker(project, filename)
    with _reader(opener) as stream:
        try:
            for _ in checker.check(lines_of(stream, 0)):
                pass
        except ImportFileError as error:  # a file that is not JSON Lines at all
            raise PredictionsRefused(filename, [error], 1) from None
    if refusal := checker.refusal():
        raise refusal

    writer = _Checker(project, filename)
    summary = ImportSummary(lines=checker.lines)
    total = 2 * checker.lines
    with transaction.atomic(), _reader(opener) as stream:
        labellers = _labellers(project, checker.models, filename, user)
        counts = {key: {"predictions": 0, "comments": 0} for key in labellers}
        for batch in _batches(writer.check(lines_of(stream, total)), LOOKUP_BATCH):
            by_model: dict[tuple[str, str], list[PredictionItem]] = defaultdict(list)
            for checked in batch:
                by_model[checked.model_key].append(
                    PredictionItem(
                        checked.comment_id, checked.answers, scheme_version=checked.scheme_version
                    )
                )
            for key, items in by_model.items():
                written = write_predictions(
                    labellers[key], items, scheme_version=writer.current_version
                )
                counts[key]["predictions"] += written
                counts[key]["comments"] += len(items)
                summary.predictions += written
                summary.comments += len(items)
        if refusal := writer.refusal():  # the project changed between the passes
            raise refusal
        summary.labellers = list(labellers.values())
        summary.models = {
            key: {"id": labeller.pk, "label": labeller.label, **counts[key]}
            for key, labeller in labellers.items()
        }
        for labeller in summary.labellers:
            refresh_after_predictions(labeller)
        if before_commit is not None:
            before_commit(summary)
    return summary


def _labellers(
    project: Project, models: dict[tuple[str, str], MachineLabeller | None], filename: str, user
) -> dict[tuple[str, str], MachineLabeller]:
    """The file's model versions, created (kind imported) where they do not exist yet."""
    labellers = {}
    for name, version in models:
        labeller, _ = MachineLabeller.objects.get_or_create(
            project=project,
            name=name,
            version=version,
            defaults={
                "kind": MachineLabeller.Kind.IMPORTED,
                "config": {"imported_from": filename},
                "created_by": user,
            },
        )
        labellers[(name, version)] = labeller
    return labellers


def _batches(items: Iterator, size: int) -> Iterator[list]:
    while batch := list(islice(items, size)):
        yield batch


class _reader:
    """``opener()``'s stream, buffered (``read_lines`` peeks at its head)."""

    def __init__(self, opener: Opener):
        self.opener = opener

    def __enter__(self) -> io.BufferedReader:
        self.raw = self.opener()
        if isinstance(self.raw, io.BufferedReader):
            return self.raw
        return io.BufferedReader(_Raw(self.raw), READ_BUFFER)

    def __exit__(self, *exc) -> None:
        self.raw.close()


class _Raw(io.RawIOBase):
    """Any binary file object (a Django ``File``) as a raw stream for ``BufferedReader``."""

    def __init__(self, stream):
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# --- Runs --------------------------------------------------------------------------------------


def run_import(run: PredictionRun) -> None:
    """Import the run's uploaded file; the run's row records the outcome (runs.py)."""
    if not run.file:
        from annotator.assist.runs import RunFailed

        raise RunFailed("The run has no file to import.")
    filename = (run.options or {}).get("filename") or os.path.basename(run.file.name)
    import_into_run(run, lambda: open_stored(run.file.storage, run.file.name), filename)


def import_into_run(run: PredictionRun, opener: Opener, filename: str) -> ImportSummary | None:
    """Import the file into ``run``'s project, beating on the run; finish or fail it.

    The success is recorded inside the write transaction, so a run the reaper failed
    meanwhile rolls back instead of committing predictions under "failed".
    """
    from annotator.assist.runs import fail, finish

    beat = RunProgress(run)

    def record_success(summary: ImportSummary) -> None:
        only = summary.labellers[0] if len(summary.labellers) == 1 else None
        if not finish(
            run,
            labeller=only,
            total=summary.comments,
            done=summary.comments,
            report=summary.report(filename),
        ):
            raise ImportStopped()

    try:
        return import_predictions(
            run.project,
            opener,
            filename=filename,
            user=run.created_by,
            progress=beat,
            before_commit=record_success,
        )
    except PredictionsRefused as refusal:
        fail(run, str(refusal), report=refusal.report(), failed=refusal.count)
    except ImportStopped:
        logger.info("prediction run %s was failed while it imported; rolled back", run.pk)
    finally:
        beat.close()
    return None


class RunProgress:
    """Writes a run's progress and heartbeat while it imports.

    During the write transaction an UPDATE on the default connection would be invisible
    until commit and would hold the run's row, so the run's page (which may fail a stale
    run) would wait for the whole import. On PostgreSQL the beat goes through a connection
    of its own that commits at once (as corpus/importers/jobs.py ``JobProgress``); on
    SQLite the import holds the only write lock anyway, and the beat is skipped there.
    """

    def __init__(self, run: PredictionRun):
        self.run = run
        self._apart = BeatApart(PredictionRun, run.pk, status=PredictionRun.Status.RUNNING)

    def __call__(self, done: int, total: int) -> None:
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            self._apart.write(done=done, total=total)
        elif not connection.in_atomic_block:
            from annotator.assist.runs import beat

            beat(self.run, done=done, total=total)

    def close(self) -> None:
        self._apart.close()
