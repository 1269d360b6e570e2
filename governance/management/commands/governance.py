"""`manage.py governance JOB [--dry-run]`: run one governance job now and print its one-line JSON summary."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from governance.jobs import JOB_ORDER, job_run


class Command(BaseCommand):
    help = "Run a governance job now (the Celery beat tasks run the same functions) and print a JSON summary."

    def add_arguments(self, parser):
        parser.add_argument("job", choices=[*JOB_ORDER, "all"], help="the job to run; all runs them in order")
        parser.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")

    def handle(self, *args, job: str, dry_run: bool, **options):
        summary = job_run(job, dry_run=dry_run)
        self.stdout.write(json.dumps(summary, sort_keys=True, default=str))
