"""``manage.py import_threads PATH [PATH ...] --project SLUG``: import thread files.

The contract is in docs/formats: exit 0 after a complete import and say what was added;
on any refused file, exit non-zero with one line naming the file, the line and the reason,
having written nothing (every file is imported in one transaction); a full disk is one
line too. After a large import the planner's statistics are refreshed (``ANALYZE``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from annotator.corpus.importers import FORMATS
from annotator.corpus.importers.archives import folder_members, plan_folder
from annotator.corpus.importers.encoding import known_encoding
from annotator.corpus.importers.loader import ImportResult, import_file, import_parts
from annotator.corpus.importers.records import ImportFileError
from annotator.corpus.models import Project
from annotator.corpus.uploads import NO_SPACE_MESSAGE, is_disk_full

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Import comment threads into a project: scraped text, JSON Lines, CSV, Disqus XML, "
        "Reddit, Twitter/X, Hacker News, YouTube, Label Studio and doccano exports (see "
        "docs/formats.md), also .gz, .zst, ZIP archives and folders of such files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "paths", nargs="+", metavar="PATH", help="files or folders (PHEME threads) to import"
        )
        parser.add_argument(
            "--project", required=True, metavar="SLUG", help="created when it does not exist"
        )
        parser.add_argument("--format", default="auto", choices=("auto", *FORMATS))
        parser.add_argument(
            "--encoding",
            metavar="NAME",
            help="the files' encoding when it is not UTF-8 (e.g. cp1252; a refusal names it)",
        )
        parser.add_argument(
            "--article-field",
            metavar="FIELD",
            help="Label Studio and doccano exports: one article per value of this data field "
            "(default: one article per file)",
        )
        parser.add_argument(
            "--progress",
            action="store_true",
            help="show a progress bar on stderr even when it is not a terminal",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        paths = [Path(path) for path in options["paths"]]
        for path in paths:
            if not path.is_file() and not path.is_dir():
                raise CommandError(f"{path}: no such file or folder")
        encoding = options["encoding"]
        if encoding is not None and not known_encoding(encoding):
            raise CommandError(f"--encoding {encoding}: no such encoding (try cp1252, latin-1)")
        import_options = {"encoding": encoding} if encoding else {}
        if options["article_field"]:
            import_options["article_field"] = options["article_field"]
        show_bar = options["progress"] or sys.stderr.isatty()
        results: list[tuple[Path, ImportResult]] = []
        try:
            with transaction.atomic():
                project, created = Project.objects.get_or_create(
                    slug=options["project"], defaults={"name": options["project"]}
                )
                for path in paths:
                    bar = ProgressBar(self.stderr, path.name) if show_bar else None
                    try:
                        result = import_path(project, path, options["format"], import_options, bar)
                    finally:
                        if bar is not None:
                            bar.close()
                    results.append((path, result))
        except ImportFileError as error:
            raise CommandError(f"{error} (nothing was imported)") from None
        except Exception as error:
            if is_disk_full(error):
                raise CommandError(NO_SPACE_MESSAGE) from None
            raise
        if created:
            self.stdout.write(f"Created project {project.slug}.")
        for path, result in results:
            self.stdout.write(f"{path}: {describe(result)}")
            for line in result.notice_lines():
                self.stdout.write(f"  {line}")


def import_path(
    project: Project, path: Path, fmt: str, options: dict | None, progress: Any
) -> ImportResult:
    """Import one file, or every file of a folder (a PHEME thread is a folder of files)."""
    if path.is_file():
        return import_file(project, path, fmt=fmt, options=options, progress=progress)
    encoding = (options or {}).get("encoding")
    parts = plan_folder(path, fmt, encoding=encoding)
    size = sum(file.stat().st_size for file in path.rglob("*") if file.is_file())
    return import_parts(
        project,
        None,
        parts,
        size=size,
        filename=path.name,
        options=options,
        progress=progress,
        members_of=lambda: folder_members(path),
    )


def describe(result: ImportResult) -> str:
    """One line saying what an import added and what it found already there."""
    return (
        f"{result.articles_added} articles added ({result.articles_unchanged} already there), "
        f"{result.comments_added} comments added ({result.comments_unchanged} already there)"
    )


class ProgressBar:
    """A one-line text progress bar redrawn in place on a terminal."""

    def __init__(self, stream: Any, label: str):
        self.stream = stream
        self.label = label
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        """Redraw the bar at ``done`` of ``total``."""
        share = done / total if total else 1.0
        filled = int(BAR_WIDTH * share)
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{' ' * (BAR_WIDTH - filled)}] {share:4.0%}", ending=""
        )
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """End the bar's line so what follows starts on a new one."""
        if self.drawn:
            self.stream.write("")
