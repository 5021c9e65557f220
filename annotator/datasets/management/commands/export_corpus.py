"""``manage.py export_corpus --project SLUG --format FORMAT --output PATH``: export a corpus.

The contract is in docs/formats: the same zip the export page offers (data and dataset
card), written synchronously to PATH (``-``: standard output), with a progress bar on a
terminal. It exits non-zero with one line on an unknown project, format or option, and
when the export stops; a half-written zip is never left at PATH. Each run is recorded as an
``ExportJob`` too, so the project's export log is complete: the row says where the file went
and keeps no copy of it. Ctrl-C and SIGTERM stop it cleanly: its temporary file is removed,
the row says it was interrupted, and it exits with 130 or 143 and one line.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django.core.checks import Tags
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.corpus.models import Project
from annotator.datasets.jobs import ExportFailed, InvalidExportOptions, export_to_path
from annotator.datasets.options import ExportFormat, ExportOptions, LabelSet

FORMATS = tuple(str(fmt) for fmt in ExportFormat)
DEFAULTS = ExportOptions()
# The system checks run before the export starts: all but those of URLs, templates, the
# admin and compatibility. Checking the URLs imports every view of the site (the API's
# schema tools, the dashboard's charts and numpy), the admin's checks load every template
# tag library and DRF's compatibility check its pagination classes: most of a second of an
# export's start-up, for a command that resolves no URL, renders no template and serves no
# API request. `manage.py check` (and every other command) still runs them all.
CHECKS = [
    Tags.caches,
    Tags.commands,
    Tags.files,
    Tags.models,
    Tags.security,
    Tags.signals,
    Tags.staticfiles,
    Tags.translation,
]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the export is, so it cleans up as it does for Ctrl-C."""


@contextmanager
def terminated_as_interrupt() -> Iterator[None]:
    """While the export runs, SIGTERM raises ``Terminated`` instead of ending the process
    on the spot (which would leave the temporary file behind)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def terminate(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Command(BaseCommand):
    help = "Export a project's comments and labels as a zip with a dataset card."
    requires_system_checks = CHECKS

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, metavar="SLUG")
        parser.add_argument("--format", required=True, metavar="FORMAT", help=" | ".join(FORMATS))
        parser.add_argument(
            "--output", required=True, metavar="PATH", help="the zip to write; - for stdout"
        )
        parser.add_argument(
            "--questions", metavar="KEY,KEY", help="only these questions (default: all)"
        )
        labels = parser.add_mutually_exclusive_group()
        labels.add_argument(
            "--final",
            action="store_true",
            help="one final label per question (gold where set, else the majority)",
        )
        labels.add_argument(
            "--gold", action="store_true", help="only the gold labels reviewers settled"
        )
        parser.add_argument(
            "--labelled-only", action="store_true", help="leave out comments nobody labelled"
        )
        parser.add_argument(
            "--pseudonymise", action="store_true", help="stable codes instead of names"
        )
        parser.add_argument(
            "--spreadsheet-safe",
            action="store_true",
            help="CSV: prefix cells starting with = + - @ with ' so spreadsheets show them",
        )
        parser.add_argument("--split", action="store_true", help="train/dev/test split by thread")
        parser.add_argument("--seed", metavar="N", help="the split's random seed (default 13)")
        parser.add_argument(
            "--ratios", metavar="TRAIN,DEV,TEST", help="the split's shares (default 0.8,0.1,0.1)"
        )
        parser.add_argument(
            "--predictions",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="the newest version of each model's predictions, in fields of their own "
            "(default: included when the project has models)",
        )
        parser.add_argument(
            "--changed-since",
            metavar="ISO",
            help="only comments whose labels changed since then, e.g. 2026-01-31T12:00Z",
        )
        parser.add_argument(
            "--progress",
            action="store_true",
            help="show a progress bar on stderr even when it is not a terminal",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            project = Project.objects.get(slug=options["project"])
        except Project.DoesNotExist:
            raise CommandError(f"no project with the slug {options['project']!r}") from None
        export_options = options_from(options)
        output = options["output"]
        show_bar = options["progress"] or sys.stderr.isatty()
        bar = None
        if show_bar:
            # Imported here: the import command's module brings every importer with it
            # (about 50 ms of start-up), which an export without a bar never uses.
            from annotator.corpus.management.commands.import_threads import ProgressBar

            bar = ProgressBar(self.stderr, "export")
        try:
            with terminated_as_interrupt():
                job = export_to_path(
                    project,
                    export_options,
                    output,
                    progress=bar,
                    stdout=sys.stdout.buffer if output == "-" else None,
                )
        except (InvalidExportOptions, ExportFailed) as error:
            raise CommandError(str(error)) from None
        except KeyboardInterrupt as stop:
            terminated = isinstance(stop, Terminated)
            raise CommandError(
                f"{'terminated' if terminated else 'interrupted'}: "
                + (
                    "the zip on standard output is incomplete"
                    if output == "-"
                    else f"nothing was written to {output}"
                ),
                returncode=143 if terminated else 130,
            ) from None
        finally:
            if bar is not None:
                bar.close()
        # With the zip on stdout, the report goes to stderr so the data stays clean.
        report = self.stderr if output == "-" else self.stdout
        report.write(
            f"{job.output_path}: {counted(job.articles, 'article')}, "
            f"{counted(job.comments_done, 'comment')} ({job.labelled_comments} labelled, "
            f"{counted(job.annotations, 'annotation')}), {job.size_bytes} bytes "
            f"(export #{job.pk})"
        )


def counted(number: int, noun: str) -> str:
    """``1 article``, ``2 articles``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def options_from(options: dict[str, Any]) -> ExportOptions:
    """``ExportOptions`` from the command's flags, or CommandError naming the bad one."""
    fmt = options["format"]
    if fmt not in FORMATS:
        raise CommandError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    questions = tuple(key.strip() for key in (options["questions"] or "").split(",") if key.strip())
    if options["questions"] is not None and not questions:
        raise CommandError("--questions needs at least one question key")
    split = options["split"]
    if not split and (options["seed"] is not None or options["ratios"] is not None):
        raise CommandError("--seed and --ratios only apply with --split")
    seed = DEFAULTS.split_seed
    if options["seed"] is not None:
        try:
            seed = int(options["seed"])
        except ValueError:
            raise CommandError(f"--seed {options['seed']!r}: not a whole number") from None
    ratios = DEFAULTS.split_ratios
    if options["ratios"] is not None:
        try:
            ratios = tuple(float(part) for part in options["ratios"].split(","))
        except ValueError:
            raise CommandError(
                f"--ratios {options['ratios']!r}: three numbers like 0.8,0.1,0.1"
            ) from None
    return ExportOptions(
        format=ExportFormat(fmt),
        questions=questions,
        labels=(
            LabelSet.GOLD
            if options["gold"]
            else LabelSet.FINAL
            if options["final"]
            else LabelSet.ALL
        ),
        include_unlabelled=not options["labelled_only"],
        pseudonymise=options["pseudonymise"],
        split=split,
        split_seed=seed,
        split_ratios=ratios,
        changed_since=parse_since(options["changed_since"]),
        spreadsheet_safe=options["spreadsheet_safe"],
        predictions=options.get("predictions"),
    )


def parse_since(value: str | None) -> datetime | None:
    """An ISO 8601 time (a time without a zone is taken as UTC), or CommandError."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--changed-since {value!r}: not an ISO 8601 time like 2026-01-31T12:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
