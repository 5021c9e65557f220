"""``manage.py load_demo``: the quick start's data: an admin login, a demo project, the seed.

Safe to run on every start: it creates only what is missing. The admin's password is random
and kept in ``--password-file`` (readable by its owner only) so the next run prints the same.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from annotator.corpus.importers.loader import import_file
from annotator.corpus.models import Membership, Project, Role

SEED = Path(settings.BASE_DIR) / "fixtures" / "seed_thread.txt"
USERNAME = "admin"
PROJECT_SLUG = "demo"
PROJECT_NAME = "Demo: Aleppo ceasefire"
URL = "http://127.0.0.1:8000/"  # runserver's default; dev.py passes the one it serves


class Command(BaseCommand):
    help = "Create the demo admin, the demo project and import the seed thread (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password-file",
            type=Path,
            default=Path(settings.LOCAL_DIR) / "admin-password.txt",
            help="where the admin's password is kept (created with mode 0600)",
        )
        parser.add_argument(
            "--url",
            default=URL,
            help=f"the site's address, printed with the login (default {URL})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password_file: Path = options["password_file"]
        with transaction.atomic():
            password = ensure_admin(password_file)
            project = ensure_project()
            result = import_file(project, SEED, fmt="text")
        if result.comments_added:
            self.stdout.write(
                f"Imported the seed thread: {result.comments_added} comments "
                f"in {result.articles_added} article(s)."
            )
        self.stdout.write(f"Open {options['url']}")
        self.stdout.write(f"Username: {USERNAME}")
        if password is None:
            self.stdout.write(
                f"Password: unknown (the admin existed before; see {password_file} "
                "or run manage.py changepassword admin)"
            )
        else:
            self.stdout.write(f"Password: {password}")


def ensure_admin(password_file: Path) -> str | None:
    """The admin superuser, created if missing; returns its password when we know it."""
    user_model = get_user_model()
    known = password_file.read_text().strip() if password_file.exists() else None
    if user_model.objects.filter(username=USERNAME).exists():
        return known
    password = known or secrets.token_urlsafe(12)
    user_model.objects.create_superuser(USERNAME, email="", password=password)
    if known is None:
        write_secret(password_file, password)
    return password


def write_secret(path: Path, secret: str) -> None:
    """Write ``secret`` to a new file only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    os.chmod(path, 0o600)


def ensure_project() -> Project:
    """The demo project, with the admin as its project admin."""
    project, _ = Project.objects.get_or_create(slug=PROJECT_SLUG, defaults={"name": PROJECT_NAME})
    admin = get_user_model().objects.get(username=USERNAME)
    Membership.objects.get_or_create(project=project, user=admin, defaults={"role": Role.ADMIN})
    return project
