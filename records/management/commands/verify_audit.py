"""`manage.py verify_audit`: check the access log's hash chains and their signed checkpoints (CONTRACT.md)."""

from django.core.management.base import BaseCommand, CommandError

from records.verification import verify


class Command(BaseCommand):
    help = (
        "Check the access log's hash chains, and that they still hold every event the signed checkpoint files "
        "recorded: exit 0 with a count when intact, exit 1 naming the first bad event or the truncated chains."
    )

    def handle(self, *args, **options):
        verdict = verify()
        found = verdict.checkpoints
        if found is None:
            raise CommandError(f"Access log broken after {verdict.checked} good events: {verdict.problem}")
        for name in found.unfinished:
            self.stdout.write(f"Skipped checkpoint file {name}: unfinished (its run failed while writing it).")
        if verdict.problem:
            raise CommandError(
                f"Access log fails its checkpoints ({verdict.checked} events verified as chains): {verdict.problem}"
            )
        self.stdout.write(f"Access log intact: {verdict.checked} events verified.")
        if found.cut_chains:
            self.stdout.write(
                f"{found.cut_chains} chains start at their signed cut: their older months were dropped by retention "
                f"({found.before_cut} checkpoint entries name dropped events)."
            )
        if found.files:
            self.stdout.write(
                f"Checkpoints intact: {found.entries} entries in {found.files} signed files of {found.directory}, "
                "every one still in its chain."
            )
        else:
            self.stdout.write(
                f"No checkpoint files in {found.directory}: only the chains were checked against themselves "
                "(a chain cut back at its end would pass)."
            )
