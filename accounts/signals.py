"""Signal receivers: django-axes' lock signal feeds the lockout service; a saved undertaking is forgotten."""

from axes.signals import user_locked_out
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Undertaking
from accounts.services.lockouts import lockout_record
from accounts.services.undertakings import undertaking_version_forget


@receiver(user_locked_out, dispatch_uid="prahari-lockout-record")
def _on_user_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    lockout_record(username=username, ip=ip_address)


@receiver(post_save, sender=Undertaking, dispatch_uid="prahari.undertaking_version_forget")
def _undertaking_published(sender, **kwargs) -> None:
    undertaking_version_forget()
