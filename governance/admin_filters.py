"""A filter by district for the console's lists of accounts and alerts (the dashboard's per-district links).

Only the viewer's own districts narrow a list; any other value answers an empty list (never another
district's accounts, never the whole list).
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import District
from accounts.scoping import governable_facilities
from governance.dashboard_districts import place_name


class DistrictFilter(admin.SimpleListFilter):
    """Accounts by their district: their facility's (workers), else their own (supervisors)."""

    title = _("district")
    parameter_name = "district"
    path = ""  # the account's path from the listed model

    def lookups(self, request, model_admin):
        cache = request.__dict__.setdefault("_console_districts", {})
        if "rows" not in cache:
            mine = governable_facilities(request.user).values("district_id")
            cache["rows"] = [(str(d.pk), place_name(d)) for d in District.objects.filter(pk__in=mine).order_by("name")]
        return cache["rows"]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if self.value() not in {pk for pk, _name in self.lookup_choices}:
            return queryset.none()
        pk, prefix = int(self.value()), f"{self.path}__" if self.path else ""
        return queryset.filter(Q(**{f"{prefix}facility__district_id": pk}) | Q(**{f"{prefix}district_id": pk}))


class SubjectDistrictFilter(DistrictFilter):
    """Alerts by their subject's district."""

    path = "subject"
