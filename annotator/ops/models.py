"""Which background workers are alive: each ``db_worker`` process keeps its row fresh."""

from django.db import models
from django.utils import timezone


class WorkerPresence(models.Model):
    """One running ``manage.py db_worker`` process, refreshed every few seconds by its
    presence thread (presence.py) and removed when it exits cleanly.

    Not the jobs' heartbeat (corpus/heartbeats.py), which says whether one import or export
    is still being worked on; this says whether anyone is there to pick up new work.
    """

    # host:pid, unique while the process lives.
    worker_id = models.CharField(max_length=255, unique=True)
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"worker {self.worker_id} seen at {self.seen_at:%Y-%m-%d %H:%M:%S}"
