"""Signal receivers: django-axes' lock signal feeds the lockout service; a saved undertaking is forgotten;
a login stamps `last_login` unless the login's own statement did."""

from axes.signals import user_locked_out
from django.contrib.auth.models import update_last_login
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Undertaking
from accounts.services.devices import LAST_LOGIN_STAMPED
from accounts.services.lockouts import lockout_record
from accounts.services.undertakings import undertaking_version_forget


@receiver(user_locked_out, dispatch_uid="prahari-lockout-record")
def _on_user_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    lockout_record(username=username, ip=ip_address)


@receiver(post_save, sender=Undertaking, dispatch_uid="prahari.undertaking_version_forget")
def _undertaking_published(sender, **kwargs) -> None:
    undertaking_version_forget()


def last_login_receiver_replace() -> None:
    """In place of Django's `update_last_login` receiver (connected by django.contrib.auth, before us):
    the same stamp, skipped when the login's device statement already made it (`LAST_LOGIN_STAMPED`)."""
    user_logged_in.disconnect(dispatch_uid="update_last_login")
    user_logged_in.connect(_last_login, dispatch_uid="prahari-last-login")


def _last_login(sender, user, **kwargs) -> None:
    if not getattr(user, LAST_LOGIN_STAMPED, False):
        update_last_login(sender, user, **kwargs)
