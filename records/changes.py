"""The console's history of changes to records (records/admin.py): never a record read.

The console never reads a record: no name, identity number, mobile or dose is shown there, so no access
event is written and no budget spent. It lists the records in the viewer's scope that were changed after
registration, and each one's history of changes with identity fields masked as on the record page
(`mask_id_number` is the record page's own), the name reduced to initials, year of birth and gender
withheld, and the canary flag never shown (a supervisor who knew the canaries could avoid them).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.scoping import record_jurisdiction
from accounts.sms import mask_mobile
from records.models import Beneficiary


def mask_id_number(number: str) -> str:
    """All but the last 4 characters hidden: "123412341234" → "XXXX XXXX 1234"."""
    number = (number or "").replace(" ", "")
    hidden = max(len(number) - 4, 0)
    masked = "X" * hidden + number[hidden:]
    return " ".join(masked[i : i + 4] for i in range(0, len(masked), 4))


def records_in_scope(user: User) -> models.QuerySet[Beneficiary]:
    """The records `user` may read: the rule of `in_scope` as a queryset (none for anyone else)."""
    jurisdiction = record_jurisdiction(user)
    records = Beneficiary.objects.all()
    return records.filter(jurisdiction.q("facility")) if jurisdiction else records.none()


def record_changes_for_viewer(user: User) -> models.QuerySet[Beneficiary]:
    """Records in `user`'s scope changed after registration, most recently changed first (`changed_at`)."""
    changes = Beneficiary.history.model.objects.filter(history_type="~")  # a partial index (records/0008)
    last_change = changes.filter(id=models.OuterRef("pk")).order_by("-history_date").values("history_date")[:1]
    return (
        records_in_scope(user)
        .filter(pk__in=changes.values("id"))
        .annotate(changed_at=models.Subquery(last_change))
        .order_by("-changed_at", "-pk")
    )


def mask_name(name: str) -> str:
    """Initials only: "Asha Devi" → "A. D."."""
    return " ".join(f"{part[0]}." for part in (name or "").split())


def _withheld(value) -> str:
    return _("(not shown)")


HISTORY_MASKS = {
    "name": mask_name,
    "id_number": mask_id_number,
    "mobile": mask_mobile,
    "year_of_birth": _withheld,
    "gender": _withheld,
}
HISTORY_HIDDEN = frozenset({"is_canary"})
