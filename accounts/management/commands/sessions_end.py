"""`manage.py sessions_end --user USERNAME --reason TEXT` (or `--all --reason TEXT`): end sessions as the system actor.

Through the sessions service, which records SESSIONS_ENDED with the reason and the count (CONTRACT.md).
"""

from django.core.management.base import BaseCommand, CommandError

from accounts.exceptions import DomainError
from accounts.models import User
from accounts.services.sessions import sessions_end_everyone, user_sessions_end
from accounts.services.system import system_user


class Command(BaseCommand):
    help = "End every session of one account (--user) or of all accounts (--all), as the system actor, with a reason."

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", help="the username whose sessions end")
        who.add_argument("--all", dest="everyone", action="store_true", help="end the sessions of every account")
        parser.add_argument("--reason", required=True, help="why (kept in the account's history)")

    def handle(self, *args, user=None, everyone=False, reason, **options):
        try:
            if everyone:
                ended = sessions_end_everyone(acting_user=system_user(), reason=reason)
                self.stdout.write(f"Ended {ended} session(s) of all accounts.")
                return
            account = User.objects.filter(username__iexact=user.strip(), is_system=False).first()
            if account is None:
                raise CommandError(f"No user is named {user!r}.")
            ended = user_sessions_end(user=account, acting_user=system_user(), reason=reason)
        except DomainError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Ended {ended} session(s) of {account.username}.")
