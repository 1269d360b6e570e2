"""The console's history pages: per change, when, who, why and each changed field as "old → new".

One base class for every console model with django-simple-history (accounts, devices, invitations,
alerts, jurisdictions, beneficiaries):

- the page opens only an object the viewer's own scoped queryset holds (another district's object is
  a 404, never simple_history's fallback to the last historical copy of an object out of scope);
- simple_history's per-version page is disabled for everyone, superusers included: on POST it saves
  the form it shows, which would revert an object around the services (no reason, no event);
- values are shown as people read them: verbose names and choice labels in the viewer's language,
  dates in local time, yes/no, "—" for empty; secret fields are never shown, and an admin may mask
  or hide more (beneficiaries: identity numbers and mobiles to their last 4 digits);
- a page of N versions costs the same queries whatever N: one count, one read of the page's versions
  plus the version just before its oldest (so every row on the page has its diff), with the acting
  user and tracked foreign keys joined.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.contrib.admin.utils import unquote
from django.core.paginator import Paginator
from django.db import models
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import DeletedObject

# Never shown on a history page, whatever a model tracks (most are excluded from history already).
SECRET_FIELDS = frozenset({"password", "token_hash", "key", "bin_key", "secret", "otp_secret", "last_login"})
EMPTY = "—"
MAX_VALUE_CHARS = 120


@dataclass
class FieldChange:
    label: str
    old: str
    new: str


@dataclass
class HistoryEntry:
    when: str
    who: str
    reason: str
    kind: str
    changes: list[FieldChange] = field(default_factory=list)


def display_value(model_field: models.Field, value: Any) -> str:
    """A stored value as people read it, in the active language."""
    if value is None or value == "" or (isinstance(value, DeletedObject) and value.pk is None):
        return EMPTY  # an empty foreign key comes out of simple_history's diff as a "deleted" object
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, datetime):
        return date_format(timezone.localtime(value), "DATETIME_FORMAT")
    if isinstance(value, date):
        return date_format(value, "DATE_FORMAT")
    return Truncator(str(value)).chars(MAX_VALUE_CHARS)


def _kind(record) -> str:
    return {"+": _("Created"), "~": _("Changed"), "-": _("Deleted")}.get(record.history_type, record.history_type)


def history_entries(
    model: type[models.Model],
    records: list,
    *,
    limit: int,
    hidden: frozenset[str] = frozenset(),
    masks: dict[str, Callable[[Any], str]] | None = None,
) -> list[HistoryEntry]:
    """Entries for the first `limit` of `records` (newest first); records[limit], if there, is only the
    version before the last entry, for its diff."""
    masks = masks or {}
    order = {f.name: index for index, f in enumerate(model._meta.fields)}  # the model's order, not A-Z
    entries = []
    for index, record in enumerate(records[:limit]):
        previous = records[index + 1] if index + 1 < len(records) else None
        changes = []
        if previous is not None and record.history_type != "+":
            delta = record.diff_against(previous, foreign_keys_are_objs=True)
            for change in sorted(delta.changes, key=lambda c: order.get(c.field, len(order))):
                if change.field in SECRET_FIELDS or change.field in hidden:
                    continue
                model_field = model._meta.get_field(change.field)
                show = masks.get(change.field) or (lambda value, f=model_field: display_value(f, value))
                changes.append(FieldChange(str(capfirst(model_field.verbose_name)), show(change.old), show(change.new)))
        user = record.history_user
        entries.append(
            HistoryEntry(
                when=date_format(timezone.localtime(record.history_date), "DATETIME_FORMAT"),
                who=str(user) if user is not None else EMPTY,
                reason=record.history_change_reason or "",
                kind=_kind(record),
                changes=changes,
            )
        )
    return entries


class GovernedHistoryAdmin(SimpleHistoryAdmin):
    """simple_history's admin, read-only and scoped, with readable field-by-field diffs."""

    object_history_template = "admin/prahari_object_history.html"
    history_list_per_page = 50
    history_hidden_fields: frozenset[str] = frozenset()
    history_masks: dict[str, Callable[[Any], str]] = {}

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """Disabled: simple_history's version page saves the form it shows on POST (a revert that skips
        the services, their reason and their events). History is read on the history page only."""
        raise Http404

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not self.has_view_permission(request, obj):
            raise Http404
        history = getattr(self.model, self.model._meta.simple_history_manager_attribute)
        versions = (
            history.filter(**{self.model._meta.pk.attname: obj.pk})
            .select_related("history_user")
            ._select_related_history_tracked_objs()
            .order_by("-history_date", "-history_id")
        )
        per_page = self.history_list_per_page
        page = Paginator(versions, per_page).get_page(request.GET.get("p"))
        start = (page.number - 1) * per_page
        rows = list(versions[start : start + per_page + 1])
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": _("History of changes: %s") % obj,
            "subtitle": None,
            "object": obj,
            "opts": opts,
            "app_label": opts.app_label,
            "module_name": str(capfirst(opts.verbose_name_plural)),
            "entries": history_entries(
                self.model, rows, limit=per_page, hidden=self.history_hidden_fields, masks=self.history_masks
            ),
            "page_obj": page,
            "page_range": page.paginator.get_elided_page_range(page.number),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.object_history_template, context)
