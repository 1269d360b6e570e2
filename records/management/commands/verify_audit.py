"""`manage.py verify_audit`: check the access log's hash chains (CONTRACT.md)."""

from django.core.management.base import BaseCommand, CommandError

from records.audit import verify


class Command(BaseCommand):
    help = "Check the access log's hash chains: exit 0 with a count when intact, exit 1 naming the first bad event."

    def handle(self, *args, **options):
        verdict = verify()
        if verdict.problem:
            raise CommandError(f"Access log broken after {verdict.checked} good events: {verdict.problem}")
        self.stdout.write(f"Access log intact: {verdict.checked} events verified.")
