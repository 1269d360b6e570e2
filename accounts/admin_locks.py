"""Locks in the account list: the status column says "Active · locked until 20:37" or "Active · held until
unlocked", and the "Locked now" filter (`?lock=now`, where the dashboard links) lists exactly the locked accounts.

Both read `accounts.services.lockouts`: the filter its `locked_now_q`, the column its `lock_columns`,
annotated on the list's one statement (UserAdmin.get_queryset), so the list costs the same number
of queries at any size.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.services.lockouts import locked_now_q


class LockedNowFilter(admin.SimpleListFilter):
    title = _("lock")
    parameter_name = "lock"

    def lookups(self, request, model_admin):
        return [("now", _("Locked now"))]

    def queryset(self, request, queryset):
        return queryset.filter(locked_now_q()) if self.value() == "now" else queryset


def lock_words(obj: User) -> str:
    """Words for the lock of an annotated row: "locked until 20:37" (django-axes' lock ends by itself),
    "held until unlocked" (an open hold: only a governor lifts it), "" when not locked."""
    if not getattr(obj, "locked_now", False):
        return ""
    if obj.held_since is not None:
        return gettext("held until unlocked")
    if obj.locked_until is not None:
        until = date_format(timezone.localtime(obj.locked_until), "TIME_FORMAT")
        return gettext("locked until %(time)s") % {"time": until}
    return gettext("locked")


class LockStatusColumn:
    """For the account list: each row's lock beside its status (its queryset annotated with `lock_columns`)."""

    @admin.display(description=_("status"), ordering="status")
    def status_and_lock(self, obj: User):
        lock = lock_words(obj)
        if not lock:
            return obj.get_status_display()
        # The lock's words wrap as one piece, after the status: "Active ·" / "locked until 20:37".
        return format_html(
            '{}\u00a0· <strong class="lock-state">{}</strong>', obj.get_status_display(), lock.replace(" ", "\u00a0")
        )
