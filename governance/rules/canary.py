"""canary: a canary record was opened, revealed or searched for.

Critical, and the account suspended at once: no legitimate task leads to a canary. The read path
(records/services.py) suspends the account and raises this alert in the same transaction as the access, with
the record, facility, address and event id; the job raises one, with the event id and time, only for a canary
access that has no alert yet (`accesses`), normally none.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from governance.rules.base import ACCESS, EVENTS, Rule, Scan, Severity, Words, epoch, rows
from governance.rules.words import local, moment
from records.models import AccessEvent


def accesses(scan: Scan) -> list[tuple[int, int, float, str, int | None]]:
    """Read the new canary accesses: (event id, actor, time, action, beneficiary), by id."""
    span = scan.of(ACCESS)
    sql = f"""
        SELECT id, actor_id, {epoch("created_at")}, action, beneficiary_id FROM {EVENTS}
        WHERE id > %(wm)s AND id <= %(hi)s AND outcome = '{AccessEvent.Outcome.CANARY}' ORDER BY id
    """
    return rows(sql, {"wm": span.wm, "hi": span.hi})


def _lines(evidence: dict, alert) -> list[str]:
    verbs = {"view": _("opened"), "reveal": _("revealed"), "search": _("searched for")}
    action = verbs.get(evidence.get("action"), evidence.get("action") or "?")
    if "record" in evidence:  # raised by the read path, in the same transaction as the access
        line = _(
            "Canary record %(record)s of facility %(facility)s was %(action)s at %(time)s, from IP address %(ip)s."
        ) % {
            "record": evidence["record"],
            "facility": evidence.get("facility") or "?",
            "action": action,
            "time": moment(timezone.localtime(alert.created_at)),
            "ip": evidence.get("ip") or "?",
        }
        return [line]
    return [
        _("A canary record was %(action)s at %(time)s.")
        % {"action": action, "time": moment(local(evidence["window_start"]))}
    ]


RULE = Rule(
    name="canary",
    severity=Severity.CRITICAL,
    log=ACCESS,
    words=Words(
        title=gettext_lazy("Canary record opened"),
        meaning=gettext_lazy(
            "A canary is a made-up record that no real work leads to: opening it means someone was browsing "
            "records. The account was suspended at once."
        ),
        lines=_lines,
        summary=gettext_lazy("A canary record was opened."),
    ),
)
