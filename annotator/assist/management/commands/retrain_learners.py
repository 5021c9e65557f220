"""``manage.py retrain_learners``: queue a training run for every project whose built-in
learner has at least ``LEARNER_RETRAIN_AFTER`` new labels; meant for cron, e.g. hourly."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from annotator.assist.retraining import queue_due_projects


class Command(BaseCommand):
    help = "Queue training for every project whose learner has enough new labels."

    def handle(self, *args, **options) -> None:
        runs = queue_due_projects()
        for run in runs:
            self.stdout.write(f"{run.project.slug}: training run #{run.pk} queued")
        if not runs:
            self.stdout.write("No learner has enough new labels.")
