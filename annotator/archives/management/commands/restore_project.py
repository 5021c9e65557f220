"""``manage.py restore_project FILE [--as NEW_SLUG]``: a project again from its archive."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotator.archives.format import ArchiveError
from annotator.archives.restoring import SlugTaken, restore_project


class Command(BaseCommand):
    help = (
        "Restore a project from an archive made by archive_project, as a new project (under "
        "its archived slug, or NEW_SLUG). All or nothing: a damaged file restores nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The archive (as written by archive_project).")
        parser.add_argument(
            "--as", dest="new_slug", metavar="NEW_SLUG", help="Restore under this slug."
        )

    def handle(self, *args, file: str, new_slug: str | None, **options) -> None:
        try:
            source = open(file, "rb")  # noqa: SIM115 - closed below, errors reported first
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        try:
            with source:
                result = restore_project(source, slug=new_slug)
        except SlugTaken as taken:
            raise CommandError(
                f"{file}: a project with the slug {taken.slug!r} already exists; restore it "
                "under another with --as NEW_SLUG. Nothing was restored."
            ) from None
        except ArchiveError as error:
            raise CommandError(f"{file}: {error}. Nothing was restored.") from None
        summary = ", ".join(f"{n:,} {kind}" for kind, n in result.counts.items())
        self.stdout.write(f"Restored {result.project.slug} from {file}: {summary}.")
        if result.invited:
            self.stdout.write(
                "Not here, invited with their role (pending invitations): "
                + ", ".join(result.invited)
            )
        if result.inactive_accounts:
            self.stdout.write(
                "Not here, kept as inactive accounts that cannot log in (authors of archived "
                "rows): " + ", ".join(result.inactive_accounts)
            )
