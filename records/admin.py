"""Records in the supervisor console: the access log of the accounts the viewer governs, and the history
of changes to records in the viewer's scope. Both read-only; neither shows a record's contents."""

from django.contrib import admin
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyConsole
from accounts.admin_common import CappedPaginator
from accounts.admin_dates import CalendarDates
from accounts.admin_history import GovernedHistoryAdmin
from accounts.scoping import governable_users
from records.changes import HISTORY_HIDDEN, HISTORY_MASKS, record_changes_for_viewer
from records.keys import Purpose
from records.models import AccessEvent, Beneficiary


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyConsole, CalendarDates, admin.ModelAdmin):
    # The device by its code and the purpose by its label: the device's full name repeats the actor's, and the
    # stored purpose is a code; the event's page shows both in full.
    list_display = (
        "created_at",
        "actor",
        "action",
        "outcome",
        "beneficiary",
        "purpose_label",
        "ip_address",
        "device_code",
    )
    list_filter = ("action", "outcome")
    console_lookups = ("actor__id__exact",)  # each account's page links to its own log
    search_fields = ("actor__username",)
    date_hierarchy = "created_at"
    show_full_result_count = False  # the log is large; a full count on every page is not worth it
    paginator = CappedPaginator  # nor is a count of all its matching rows
    readonly_fields = (
        "created_at",
        "actor",
        "actor_seq",
        "action",
        "outcome",
        "beneficiary",
        "purpose",
        "detail",
        "ip_address",
        "device",
        "prev_hash",
        "hash",
    )
    fields = readonly_fields

    @admin.display(description=_("purpose"))
    def purpose_label(self, event: AccessEvent) -> str:
        return dict(Purpose.choices).get(event.purpose, event.purpose) or "—"

    @admin.display(description=_("device"))
    def device_code(self, event: AccessEvent) -> str:
        return event.device.code if event.device else "—"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(actor__in=governable_users(request.user))
            .select_related("actor", "beneficiary", "device")
        )


@admin.register(Beneficiary)
class BeneficiaryAdmin(ReadOnlyConsole, GovernedHistoryAdmin):
    """Records changed after registration, each with its history of changes (masked): never a record read.

    There is no page of a record's contents here: reading one goes through /records/ (scoped, counted,
    logged). The list names records by reference id and facility only; search takes an exact reference id.
    """

    list_display = ("reference_id", "facility", "created_at", "changed_at", "history_link")
    list_display_links = None
    search_fields = ("=reference_id",)
    search_help_text = _("An exact 14-digit reference id.")
    show_full_result_count = False
    history_masks = HISTORY_MASKS
    history_hidden_fields = HISTORY_HIDDEN

    def get_queryset(self, request):
        return record_changes_for_viewer(request.user).select_related("facility")

    @admin.display(description=_("last changed"), ordering="changed_at")
    def changed_at(self, obj: Beneficiary):
        return obj.changed_at

    @admin.display(description=_("history of changes"))
    def history_link(self, obj: Beneficiary) -> str:
        url = reverse("admin:records_beneficiary_history", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Who changed what, and why"))

    def changelist_view(self, request, extra_context=None):
        title = _("Records changed after registration")
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """No page of a record's contents: its history of changes instead, if the viewer may see it."""
        if self.get_object(request, object_id) is None:
            raise Http404
        return redirect("admin:records_beneficiary_history", object_id)
