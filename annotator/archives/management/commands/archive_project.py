"""``manage.py archive_project SLUG FILE``: write a project's full archive to FILE."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotator.archives.writing import archive_project
from annotator.corpus.models import Project


class Command(BaseCommand):
    help = (
        "Write everything of one project (articles, comment trees, schemes, guidelines, "
        "annotations and gold labels with their history, reports, models, predictions, "
        "members, settings) to FILE, a gzip-compressed JSON Lines archive."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="The project's slug.")
        parser.add_argument("file", help="Where to write the archive (e.g. project.jsonl.gz).")

    def handle(self, *args, slug: str, file: str, **options) -> None:
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"There is no project with the slug {slug!r}.")
        target = Path(file)
        if target.is_dir():
            raise CommandError(f"{file} is a directory: name the archive file to write.")
        if not target.parent.is_dir():
            raise CommandError(f"The directory {target.parent} does not exist.")
        # Written beside the target and renamed when complete: a failure leaves no half file.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(handle, "wb") as out:
                counts = archive_project(project, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        summary = ", ".join(f"{n:,} {kind}" for kind, n in counts.items())
        self.stdout.write(f"Archived {project.slug} to {file}: {summary}.")
