"""``manage.py fail_stale_jobs``: fail the imports, exports and model runs whose worker died.

Pages notice such jobs when they are polled and workers when they start a task; this is
for cron or a deploy script (run it after restarting the workers), and says what it did.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand

from annotator.corpus.models import ImportJob


class Command(BaseCommand):
    help = (
        "Fail running imports, exports, model runs and archive jobs without a heartbeat for "
        "JOB_STALE_AFTER seconds "
        "(their worker died), so they can be run again."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        imports = ImportJob.objects.fail_stale(orphans=True)
        exports: list[int] = []
        if apps.is_installed("annotator.datasets"):
            # The datasets app builds on corpus, not the other way round: found by name.
            exports = apps.get_model("datasets", "ExportJob").objects.fail_stale(orphans=True)
        runs: list[int] = []
        if apps.is_installed("annotator.assist"):
            runs = apps.get_model("assist", "PredictionRun").objects.fail_stale()
        archives: list[int] = []
        if apps.is_installed("annotator.archives"):
            archives = apps.get_model("archives", "ArchiveJob").objects.fail_stale(orphans=True)
        found = (
            [f"imports {imports}", f"exports {exports}"]
            + ([f"runs {runs}"] if runs else [])
            + ([f"archives {archives}"] if archives else [])
        )
        self.stdout.write(
            f"Failed {len(imports)} import(s), {len(exports)} export(s) and {len(runs)} model "
            f"run(s) without a heartbeat for {settings.JOB_STALE_AFTER} s"
            + (f" and {len(archives)} archive job(s)" if archives else "")
            + (": " + ", ".join(found) if imports or exports or runs or archives else ".")
        )
