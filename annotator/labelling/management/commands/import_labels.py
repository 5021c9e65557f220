"""``manage.py import_labels PROJECT FILE [--map FIELD=VALUE:QUESTION=ANSWER ...] [--yes]``.

Prints the preview the browser shows (format, annotators, matched and unknown comments, the
mapping with each value's default or UNMAPPED) and, with ``--yes``, imports the labels and
prints the summary. Without ``--yes`` nothing is written, so the mapping can be checked and
changed with ``--map`` first (``--map certainty=underspecified:speculation=uncertain``;
``:-`` leaves a value unmapped). A file that cannot be read is one line on stderr and a
non-zero exit, having written nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.corpus.importers.records import ImportFileError
from annotator.corpus.models import Project
from annotator.labelling.external_label_sources import read_label_file
from annotator.labelling.external_labels import (
    MAX_LABEL_FILE_BYTES,
    LabelPreview,
    Target,
    ValueKey,
    apply_labels,
    parse_target,
    preview_labels,
)


class Command(BaseCommand):
    help = (
        "Import labels from a Label Studio or doccano export, or PHEME, RumourEval or DAST "
        "gold labels, as annotations by external annotators."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", metavar="PROJECT", help="the project's slug")
        parser.add_argument("path", metavar="FILE", type=Path, help="the label file")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=VALUE:QUESTION=ANSWER",
            help="map one source value (repeatable); QUESTION=ANSWER '-' leaves it unmapped",
        )
        parser.add_argument("--encoding", help="the file's encoding when it is not UTF-8")
        parser.add_argument("--yes", action="store_true", help="import (else only preview)")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        if path.stat().st_size > MAX_LABEL_FILE_BYTES:
            raise CommandError(f"{path.name}: larger than {MAX_LABEL_FILE_BYTES:,} bytes")
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"No project with the slug {options['project']!r}.")
        try:
            label_file = read_label_file(path.read_bytes(), path.name, encoding=options["encoding"])
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        preview = preview_labels(project, label_file, path.name)
        mapping = _mapping(options["map"], preview)
        for value in preview.values:
            if value.key in mapping:
                value.default = mapping[value.key]
        for line in preview.lines():
            self.stdout.write(line)
        if not options["yes"]:
            self.stdout.write("Nothing written: run again with --yes to import.")
            return
        result = apply_labels(preview, mapping)
        for line in result.lines():
            self.stdout.write(line)


def _mapping(specs: list[str], preview: LabelPreview) -> dict[ValueKey, Target | None]:
    """``--map`` options as a mapping; a value not in the file or a target not in the scheme
    is an error (a typo must not silently leave a value at its default)."""
    known = {value.key for value in preview.values}
    scheme = preview.scheme.scheme
    mapping: dict[ValueKey, Target | None] = {}
    for spec in specs:
        source, sep, target = spec.rpartition(":")
        source_field, eq, value = source.partition("=")
        if not sep or not eq:
            raise CommandError(f"--map {spec!r}: write FIELD=VALUE:QUESTION=ANSWER")
        if (source_field, value) not in known:
            raise CommandError(f"--map {spec!r}: the file has no {source_field}={value}")
        try:
            mapping[(source_field, value)] = parse_target(target, scheme)
        except ValueError as error:
            raise CommandError(f"--map {spec!r}: {error}") from None
    return mapping
