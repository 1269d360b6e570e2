"""The console answers only what each page declares (SECURITY.md §Record access; PITFALLS.md, the admin).

Django's admin takes a query-string filter on any field of a model, not only the declared ones, so a
row count answers a guess (`?id_number__startswith=2345`, `?password__regex=^argon2`). Every console
model admin, ours and the ones the installed apps register (the site wraps those, `portal.admin_site`),
has `DeclaredLookupsOnly` first in its bases:

- a list answers only the query parameters of its declared filters (`list_filter`, `date_hierarchy`)
  and the few links the console itself makes (`console_lookups`); any other parameter is a 400 page,
  whatever its value, so a right and a wrong guess get the same answer;
- values with a NUL or other control character, longer than `VALUE_MAX_CHARS`, dates outside
  `YEARS`, or a value a filter of fixed choices does not offer are a 400 page too, before anything
  reaches the database;
- an action's selection (`_selected_action`) holds row ids only: any other value is a 400 page, not
  the 500 Django's own filter on it would raise (found by tests/fuzz/test_console.py);
- `manage.py check` fails when a page lists, filters, orders or searches by a field in
  `NEVER_IN_CONSOLE` (identity numbers, mobiles, canaries, secrets), so no declaration can open one.
"""

from __future__ import annotations

import re
from datetime import date

from django.contrib.admin import FieldListFilter, SimpleListFilter
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IS_FACETS_VAR, IS_POPUP_VAR
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.views.main import ALL_VAR, ERROR_FLAG, ORDER_VAR, PAGE_VAR, SEARCH_VAR
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

# Fields the console never lists, filters, orders or searches by, on any model.
NEVER_IN_CONSOLE = frozenset(
    {
        "id_number",  # identity document numbers
        "mobile",  # mobile numbers (of beneficiaries and of accounts)
        "number",  # an SMS device's mobile number
        "is_canary",
        "password",
        "token_hash",
        "token",  # OTP codes (django-otp's static and e-mail tokens)
        "key",  # TOTP and e-mail device keys
        "bin_key",
        "secret",
        "session_key",
        "session_data",
    }
)
# The admin's own parameters (page, ordering, search, show all, facets, popups, the error flag).
CHANGELIST_PARAMETERS = frozenset({PAGE_VAR, ORDER_VAR, SEARCH_VAR, ALL_VAR, IS_FACETS_VAR, IS_POPUP_VAR, ERROR_FLAG})
VALUE_MAX_CHARS = 200
YEARS = range(2000, 2101)  # the dates a console list can be narrowed to
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DATE_PARTS = ("year", "month", "day")


def _field_name(path: str) -> str:
    """The last field of a search or ordering path: "user__mobile" → "mobile", "-=reference_id" → "reference_id"."""
    return path.lstrip("-=^@").split("__")[-1]


def filter_parameters(model_admin, request, item) -> list[str]:
    """The query parameters one `list_filter` item reads (what Django's filter itself expects)."""
    if isinstance(item, type) and issubclass(item, SimpleListFilter):
        return [item.parameter_name]
    field_path, filter_class = item if isinstance(item, (list, tuple)) else (item, FieldListFilter.create)
    field = get_fields_from_path(model_admin.model, field_path)[-1]
    spec = filter_class(field, request, {}, model_admin.model, model_admin, field_path=field_path)
    return list(spec.expected_parameters())


class DeclaredLookupsOnly:
    """First base of every console model admin: filters, search and ordering only as declared."""

    console_lookups: tuple[str, ...] = ()  # parameters the console's own links use beyond the filters

    def declared_lookups(self, request) -> frozenset[str]:
        cache = request.__dict__.setdefault("_console_declared_lookups", {})
        if self not in cache:
            names = set(self.console_lookups)
            if self.date_hierarchy:
                names.update(f"{self.date_hierarchy}__{part}" for part in _DATE_PARTS)
            for item in self.get_list_filter(request):
                names.update(filter_parameters(self, request, item))
            cache[self] = frozenset(names)
        return cache[self]

    def lookup_allowed(self, lookup, value, request):
        """Only the declared parameters, never a lookup Django would let through on any field."""
        return lookup in self.declared_lookups(request)

    def query_problem(self, request) -> str | None:
        """Why this list cannot answer the query string (None when it can)."""
        declared = self.declared_lookups(request) if set(request.GET) - CHANGELIST_PARAMETERS else frozenset()
        for key, values in request.GET.lists():
            if key not in CHANGELIST_PARAMETERS and key not in declared:
                return _("This list cannot be filtered by “%(name)s”.") % {"name": _CONTROL.sub("?", key)[:60]}
            for value in values:
                if _CONTROL.search(value) or len(value) > VALUE_MAX_CHARS:
                    return _("A value in the address is not valid.")
        return self._choice_problem(request) or self._date_problem(request)

    def _choice_problem(self, request) -> str | None:
        """A declared filter of fixed choices answers only those: `?lock=yes` is a 400, not the whole list."""
        for item in self.get_list_filter(request) if request.GET else ():
            if isinstance(item, type) and issubclass(item, SimpleListFilter) and item.parameter_name in request.GET:
                choices = {str(value) for value, _label in item(request, {}, self.model, self).lookup_choices}
                if not set(request.GET.getlist(item.parameter_name)) <= choices:
                    return _("That filter value is not valid.")
        return None

    def _date_problem(self, request) -> str | None:
        if not self.date_hierarchy:
            return None
        parts = [request.GET.get(f"{self.date_hierarchy}__{part}") for part in _DATE_PARTS]
        if parts[0] is None:
            return None if parts[1] is None and parts[2] is None else _("That date is not valid.")
        try:
            year, month, day = (int(value) if value is not None else 1 for value in parts)
            if year not in YEARS:
                raise ValueError(year)
            date(year, month, day)
        except ValueError:
            return _("That date is not valid.")
        return None

    def bad_query_response(self, request, message: str):
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": _("This list cannot answer that address"),
            "message": message,
            "opts": opts,
            "list_url": request.path,
        }
        return TemplateResponse(request, "admin/console_bad_query.html", context, status=400)

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied  # before anything about the query: a page one may not see says only that
        if (problem := self.query_problem(request)) is not None:
            return self.bad_query_response(request, problem)
        return super().changelist_view(request, extra_context)

    def response_action(self, request, queryset):
        """An action runs on a selection of row ids; anything else in it is a 400 before the selection is read."""
        primary_key = self.model._meta.pk
        for value in request.POST.getlist(ACTION_CHECKBOX_NAME):
            try:
                if not value.isascii() or _CONTROL.search(value) or len(value) > VALUE_MAX_CHARS:
                    raise ValueError(value)  # int() would read other scripts' digits; a browser sends ASCII ids
                primary_key.get_prep_value(primary_key.to_python(value))
            except (TypeError, ValueError, ValidationError):
                return self.bad_query_response(request, _("A selected row is not valid."))
        return super().response_action(request, queryset)

    def get_search_results(self, request, queryset, search_term):
        """Searching takes the declared fields and a plain term (the autocomplete view comes here too)."""
        if _CONTROL.search(search_term) or len(search_term) > VALUE_MAX_CHARS:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    def to_field_allowed(self, request, to_field):
        """No popups pick rows by another field (`_to_field`): the console declares none."""
        return to_field in (None, "", self.model._meta.pk.attname, self.model._meta.pk.name)

    def check(self, **kwargs):
        return [*super().check(**kwargs), *self._never_in_console_errors()]

    def _never_in_console_errors(self) -> list[checks.Error]:
        declared = {
            "list_display": [name for name in self.list_display if isinstance(name, str)],
            "list_filter": [item if isinstance(item, str) else item[0] for item in self.list_filter if _is_path(item)],
            "search_fields": list(self.search_fields),
            "ordering": list(self.ordering or ()),
            "date_hierarchy": [self.date_hierarchy] if self.date_hierarchy else [],
        }
        declared["list_display"] += [self._ordering_of(name) for name in declared["list_display"]]
        return [
            checks.Error(
                f"{type(self).__name__}.{option} names {path!r}: the console never lists, filters, orders "
                "or searches by identity numbers, mobiles, canaries or secrets.",
                obj=type(self),
                id="prahari.E001",
            )
            for option, paths in declared.items()
            for path in paths
            if path and _field_name(path) in NEVER_IN_CONSOLE
        ]

    def _ordering_of(self, name: str) -> str:
        """The field a list column sorts by (a method's `admin_order_field`), or "" when there is none."""
        attribute = getattr(self, name, None)
        order = getattr(attribute, "admin_order_field", None)
        if isinstance(order, str):
            return order
        try:
            self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return ""
        return name


def _is_path(item) -> bool:
    return isinstance(item, str) or (isinstance(item, (list, tuple)) and isinstance(item[0], str))


def console_admin_class(admin_class: type) -> type:
    """`admin_class` with `DeclaredLookupsOnly` first among its bases (itself when it already has it)."""
    if issubclass(admin_class, DeclaredLookupsOnly):
        return admin_class
    return type(admin_class.__name__, (DeclaredLookupsOnly, admin_class), {"__module__": admin_class.__module__})
