"""``manage.py recount_label_counts [SLUG ...]``: count submitted labels again from scratch.

The counts behind the progress bar (``labelling.label_counts``) are kept by every write
that changes an annotation's status; this recounts them from the annotations, for the
projects named (by slug) or all of them, and says what changed. For after a manual fix in
the database, or a deleted account whose labels went with it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from annotator.corpus.models import Project
from annotator.labelling.label_counts import recount_everything
from annotator.labelling.models import ProjectLabelCounts


class Command(BaseCommand):
    help = "Recount each comment's submitted labels and each project's full comments."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slugs", nargs="*", help="projects to recount (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        projects = Project.objects.order_by("pk")
        if options["slugs"]:
            projects = projects.filter(slug__in=options["slugs"])
            missing = set(options["slugs"]) - set(projects.values_list("slug", flat=True))
            if missing:
                raise CommandError(f"No such project: {', '.join(sorted(missing))}")
        for project in projects:
            before = ProjectLabelCounts.objects.filter(project=project).first()
            after = recount_everything(project)
            was = f"{before.full_comments:,}" if before else "not counted"
            self.stdout.write(
                f"{project.slug}: {after.comments:,} comments, {after.full_comments:,} with "
                f"{after.k} submitted labels or more (was {was})"
            )
