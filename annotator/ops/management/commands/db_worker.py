"""django-tasks-db's ``db_worker``, which also records that the worker is alive.

Found before django-tasks-db's own command because ``annotator.ops`` comes first in
INSTALLED_APPS. Every option is django-tasks-db's; the only addition is the presence thread
(annotator/ops/presence.py), started before the first task is looked for and stopped (its
row removed) however the worker ends: a batch run finishing, ``--max-tasks``, SIGTERM or
Ctrl-C. A SIGKILLed worker leaves its row, which goes stale and is pruned.
"""

import os

from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands import db_worker

from annotator.ops.presence import PresenceThread


class Command(db_worker.Command):
    help = db_worker.Command.help + " (and record its presence for /readyz)"

    def handle(self, *args, **options) -> None:
        reloading_parent = (
            options.get("reload")
            and not options.get("batch")
            and os.environ.get(DJANGO_AUTORELOAD_ENV) != "true"
        )
        if reloading_parent:
            # With --reload this process only watches files; its child runs the tasks
            # (and this command again, with the presence thread).
            return super().handle(*args, **options)
        presence = PresenceThread()
        presence.start()
        try:
            return super().handle(*args, **options)
        finally:
            presence.stop()
