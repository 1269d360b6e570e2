"""The access log in the supervisor console: read-only, and only of the accounts the viewer governs."""

from django.contrib import admin

from accounts.admin import ReadOnlyConsole
from accounts.admin_common import CappedPaginator
from accounts.scoping import governable_users
from records.models import AccessEvent


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyConsole, admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "outcome", "beneficiary", "purpose", "ip_address", "device")
    list_filter = ("action", "outcome")
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

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(actor__in=governable_users(request.user))
            .select_related("actor", "beneficiary", "device")
        )
