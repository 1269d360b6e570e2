"""Signal receivers: django-axes' lock signal feeds the lockout service."""

from axes.signals import user_locked_out
from django.dispatch import receiver

from accounts.services.lockouts import lockout_record


@receiver(user_locked_out, dispatch_uid="prahari-lockout-record")
def _on_user_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    lockout_record(username=username, ip=ip_address)
