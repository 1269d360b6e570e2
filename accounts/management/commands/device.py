"""`manage.py device approve --user USERNAME --code CODE --reason TEXT`: approve a pending device as the system actor.

For bootstrapping the first administrator and for operations (CONTRACT.md).
"""

from django.core.management.base import BaseCommand, CommandError

from accounts.exceptions import DomainError
from accounts.models import RegisteredDevice
from accounts.services.devices import device_approve
from accounts.services.system import system_user


class Command(BaseCommand):
    help = "Approve a user's pending device by its device code, as the system actor (with history and an event)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        approve = sub.add_parser("approve", help="approve a pending device")
        approve.add_argument("--user", required=True, help="the device owner's username")
        approve.add_argument("--code", required=True, help="the device code shown on the pending-device page")
        approve.add_argument("--reason", required=True, help="why (kept in the history)")

    def handle(self, *args, action, user, code, reason, **options):
        device = (
            RegisteredDevice.objects.filter(
                user__username__iexact=user, code=code.strip().upper(), status=RegisteredDevice.Status.PENDING
            )
            .select_related("user")
            .first()
        )
        if device is None:
            raise CommandError(f"No pending device of user {user!r} has the code {code!r}.")
        try:
            device_approve(device=device, acting_user=system_user(), reason=reason)
        except DomainError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Approved device {device.code} ({device.label}) of {device.user.username}.")
