"""Failures at the door, as django-axes counts them: the part of the lockouts that needs the request
(axes reads the client's address from it and leaves its verdict on it). Events, holds, notices and
unlocks are accounts/services/lockouts.py's."""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.conf import settings as axes_settings
from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth.signals import user_login_failed

from accounts.login.lockouts import failures_read
from accounts.models import User
from accounts.request_info import client_ip
from accounts.services.lockouts import Door, login_door, login_failure_record, login_is_held


def door_read(request, *, username: str | None = None, pk: int | str | None = None, ip: str | None = None) -> Door:
    """The account at a login step (`login_door`), with django-axes' count of its name, which the lock
    check that follows in this request takes instead of counting again: one query for both."""
    AxesProxyHandler.update_request(request)  # axes' time of this attempt, from which its cool-off counts
    since = get_cool_off_threshold(request) if axes_settings.AXES_COOLOFF_TIME is not None else None
    door = login_door(username=username, pk=pk, failures_since=since, ip=ip)
    if since is not None and door.username is not None:
        failures_read(request, username=door.username, since=since, failures=door.failures)
    return door


def login_is_locked(request, username: str) -> bool:
    """Whether django-axes bars this username (from this client) right now."""
    return AxesProxyHandler.is_locked(request, credentials={"username": username})


def login_is_barred(request, user: User) -> bool:
    """Whether a django-axes lock or an open LoginHold bars `user` now: no code of theirs is to be verified."""
    return login_is_locked(request, user.username) or login_is_held(user)


def failure_counted(request, *, user: User, category: str) -> bool:
    """Count a failure of `user` that django-axes does not see by itself (a wrong code at login, step-up,
    re-confirmation or reset; a wrong current password) and record its event; True when they are now locked.

    The failure that locks ends every session of `user` (`lockout_record`, through axes' signal).
    """
    user_login_failed.send(sender=__name__, credentials={"username": user.username}, request=request)
    login_failure_record(user=user, category=category, ip=client_ip(request))
    return getattr(request, "axes_locked_out", False) or login_is_locked(request, user.username)
