"""``manage.py import_predictions PROJECT FILE``: import a model's predictions (JSON Lines).

The same checks as the browser's upload (assist/importing.py), recorded as a run on the
models page. Exit 0 after a complete import and print what was written; on a refused file
print each refused line as ``file:line: reason`` (the first 20) and exit non-zero with one
line saying how many were refused, having written nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from annotator.assist.importing import import_into_run
from annotator.assist.models import PredictionRun
from annotator.corpus.models import Project
from annotator.corpus.uploads import NO_SPACE_MESSAGE, is_disk_full


class Command(BaseCommand):
    help = "Import predictions of one or more models from a JSON Lines file into a project."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", metavar="PROJECT", help="the project's slug")
        parser.add_argument("path", metavar="FILE", type=Path, help="a JSON Lines file")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"No project with the slug {options['project']!r}.")
        now = timezone.now()
        run = PredictionRun.objects.create(
            project=project,
            kind=PredictionRun.Kind.IMPORT,
            status=PredictionRun.Status.RUNNING,
            options={"filename": path.name, "from": "command line"},
            started_at=now,
            heartbeat_at=now,
        )
        try:
            summary = import_into_run(run, lambda: path.open("rb"), path.name)
        except Exception as error:
            from annotator.assist.runs import fail

            fail(run, "The import stopped on an unexpected error.")
            if is_disk_full(error):
                raise CommandError(NO_SPACE_MESSAGE) from None
            raise
        if summary is None:
            run.refresh_from_db()
            for error in run.report.get("errors", []):
                where = f"{error['file']}:{error['line']}" if error["line"] else error["file"]
                self.stderr.write(f"{where}: {error['reason']}")
            count = run.report.get("error_count", 0)
            raise CommandError(
                f"{path.name} refused ({count:,} error{'s' if count != 1 else ''}); "
                "nothing was imported."
            )
        for model in summary.models.values():
            self.stdout.write(
                f"{model['label']}: {model['predictions']:,} predictions "
                f"for {model['comments']:,} comments"
            )
        self.stdout.write(
            f"{path.name}: {summary.predictions:,} predictions imported (run #{run.pk})."
        )
