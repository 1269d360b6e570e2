"""The one read path for health records: search, view and reveal, each scoped, counted and logged.

Every function here takes a `Viewer` (who, from which IP and device) and writes exactly one
AccessEvent per call, whatever the outcome, in the same transaction as the decision. The event is
written before anything is returned: if it cannot be written, the caller gets AccessLogUnavailable
and nothing is shown (fail closed).

Rules (SECURITY.md §Record access):
- scope: a worker reads records of their own facility (PRAHARI_RECORD_SCOPE=district: their
  facility's district); a supervisor those of their district; a state administrator those of their
  state; nobody else any. An out-of-scope record is answered exactly like a missing one
  (RecordUnavailable) and logged as out_of_scope; an id that is not 14 digits is answered and logged
  like an id nobody has (not_found), what is logged of it escaped and cut short (records/keys.py: `logged_id`);
- a purpose from `Purpose` is required; search only by an exact key (a 14-digit reference id, or
  a mobile number with the full name), at most PRAHARI_SEARCH_MAX_RESULTS results;
- identity fields are masked to their last 4 digits; a reveal needs a reason and a fresh step-up and
  counts against PRAHARI_DAILY_REVEAL_LIMIT;
- every search and record view, whatever its outcome (but a view the consent step keeps shut), counts
  against PRAHARI_DAILY_VIEW_BUDGET (guessing ids spends it too); past it, BudgetExhausted and, once a
  day, an alert;
- opening or revealing a canary (in scope or not) suspends the account in the same transaction,
  ends its sessions and raises a critical alert; the caller shows a neutral page.

The daily counts live on the actor's chain head (records/audit.py): the lock that orders the chain
also makes the budget exact under concurrent requests.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Alert, SuspensionCause, User
from accounts.scoping import record_jurisdiction
from accounts.services.alerts import alert_raise
from accounts.services.lifecycle import user_suspend
from accounts.services.reasons import clean_reason
from accounts.services.system import system_user
from records.audit import chain_append, chain_head_lock
from records.consent_gate import GIVEN, NO_MOBILE, consent_gate
from records.explain import CONSENT
from records.finding import record_explained
from records.keys import REFERENCE_ID, LookupRefused, SearchKey, logged_id, purpose_clean
from records.metrics import lookup_unlogged
from records.models import AccessChainHead, AccessEvent, Beneficiary
from records.refusals import (
    AccessInterrupted,
    AccessLogUnavailable,
    BudgetExhausted,
    RecordUnavailable,
    RevealRefused,
    StepUpRequired,
)
from records.shown import RecordView, SearchResult, Viewer, record_summary, record_view

Action, Outcome = AccessEvent.Action, AccessEvent.Outcome

REVEALABLE = ("id_number", "mobile")
# --- Rules ----------------------------------------------------------------------------------------------


def in_scope(user: User, record: Beneficiary) -> bool:
    """True when `user` may read `record` (its facility and district loaded): accounts.scoping decides."""
    jurisdiction = record_jurisdiction(user)
    return jurisdiction is not None and jurisdiction.holds(record.facility)


def _today() -> date:
    return timezone.localdate()


def _ledger(viewer: Viewer) -> AccessChainHead:
    """Lock the viewer's chain head and bring its daily counts to today."""
    head = chain_head_lock(viewer.user.pk)
    today = _today()
    if head.day != today:
        head.day, head.lookups, head.reveals = today, 0, 0
    return head


def _log(head: AccessChainHead, viewer: Viewer, **fields) -> int:
    """Append the look-up's event to the viewer's chain; its id."""
    return chain_append(head, ip_address=viewer.ip, device_id=viewer.device_id, **fields)


def _take_lookup(head: AccessChainHead, viewer: Viewer, *, action: str, purpose: str, detail: dict) -> bool:
    """Count one look-up; when the budget is spent, log the refusal (alerting once a day) and return False."""
    budget = settings.PRAHARI_DAILY_VIEW_BUDGET
    head.lookups += 1
    if head.lookups <= budget:
        return True
    _log(head, viewer, action=action, outcome=Outcome.OVER_BUDGET, purpose=purpose, detail=detail)
    if head.lookups == budget + 1:
        alert_raise(
            rule="daily_budget",
            severity=Alert.Severity.HIGH,
            subject=viewer.user,
            evidence={"day": head.day.isoformat(), "budget": budget, "lookups_before_refusal": budget},
            raised_by=system_user(),
        )
    return False


def _trip_canary(head, viewer: Viewer, record: Beneficiary, *, action: str, purpose: str, detail: dict) -> None:
    """Log the canary access, suspend the account (sessions end) and raise a critical alert."""
    event_id = _log(
        head, viewer, action=action, outcome=Outcome.CANARY, beneficiary=record, purpose=purpose, detail=detail
    )
    system = system_user()
    user_suspend(
        user=viewer.user,
        acting_user=system,
        reason=f"canary record {record.reference_id} opened (access event {event_id})",
        cause=SuspensionCause.CANARY,
        ip=viewer.ip,
    )
    alert_raise(
        rule="canary",
        severity=Alert.Severity.CRITICAL,
        subject=viewer.user,
        evidence={
            "record": record.reference_id,
            "facility": record.facility.code,
            "action": action,
            "access_event": event_id,
            "ip": viewer.ip,
            "device": viewer.device_id,
        },
        raised_by=system,
    )


def _governed(work, *, action: str):
    """Run `work()` in one transaction; a failure to write the log becomes AccessLogUnavailable (counted for
    /metrics as a look-up of `action` whose log was unavailable).

    `work` returns (refusal or None, value): a refusal is raised only after the transaction
    committed, so the events and suspensions behind it are kept.
    """
    try:
        with transaction.atomic():
            refusal, value = work()
    except DatabaseError as error:
        lookup_unlogged(action=action)
        raise AccessLogUnavailable(
            _("Records cannot be shown right now: the access log could not be written. Nothing was shown.")
        ) from error
    if refusal is not None:
        raise refusal
    return value


def _unavailable() -> RecordUnavailable:
    return RecordUnavailable(_("No record matches. Check the reference id, or search again."))


def _over_budget() -> BudgetExhausted:
    return BudgetExhausted(
        _(
            "You have used today's %(budget)s record look-ups. Access starts again tomorrow; "
            "your supervisor has been told."
        )
        % {"budget": settings.PRAHARI_DAILY_VIEW_BUDGET}
    )


def _interrupted() -> AccessInterrupted:
    return AccessInterrupted(_("This page is not available. You have been signed out; contact your supervisor."))


def _find(reference_id: str, viewer: Viewer, purpose: str) -> Beneficiary | None:
    """The record, with what would explain this look-up of it (`explained_by`) and its doses (records/finding.py)."""
    if not REFERENCE_ID.fullmatch(reference_id or ""):
        return None  # malformed: answered and logged like an id nobody has, without a query
    return record_explained(reference_id, worker=viewer.user, purpose=purpose)


def _open(head, viewer: Viewer, reference_id: str, *, action: str, purpose: str, detail: dict):
    """Find one record for `viewer`: (None, record) when it may be read, else (refusal, None) with the
    refusal logged (missing and out-of-scope alike to the viewer; a canary trips)."""
    record = _find(reference_id, viewer, purpose)
    if record is not None and record.is_canary:
        _trip_canary(head, viewer, record, action=action, purpose=purpose, detail=detail)
        return _interrupted(), None
    if record is None or not in_scope(viewer.user, record):
        outcome = Outcome.NOT_FOUND if record is None else Outcome.OUT_OF_SCOPE
        detail = {**detail, "reference_id": logged_id(reference_id)} if record is None else detail
        _log(head, viewer, action=action, outcome=outcome, beneficiary=record, purpose=purpose, detail=detail)
        return _unavailable(), None
    return None, record


# --- The read path --------------------------------------------------------------------------------------


def record_search(*, viewer: Viewer, purpose: str, key: SearchKey) -> SearchResult:
    """Search by an exact key within the viewer's scope. One look-up; one `search` event.

    Raises LookupRefused, BudgetExhausted or AccessLogUnavailable. No match and out-of-scope
    matches both give an empty result.
    """
    purpose = purpose_clean(purpose)
    cap = settings.PRAHARI_SEARCH_MAX_RESULTS

    def work():
        head = _ledger(viewer)
        detail = {"key": key.kind}
        if not _take_lookup(head, viewer, action=Action.SEARCH, purpose=purpose, detail=detail):
            return _over_budget(), None
        matches = Beneficiary.objects.select_related("facility__district")
        if key.reference_id:
            matches = matches.filter(reference_id=key.reference_id)
        else:
            matches = matches.filter(mobile=key.mobile, name__iexact=key.name)
        found = list(matches.order_by("reference_id")[: cap * 5])
        visible = [r for r in found if in_scope(viewer.user, r)]
        outside = len(found) - len(visible)
        outcome = Outcome.ALLOWED if visible else (Outcome.OUT_OF_SCOPE if outside else Outcome.NOT_FOUND)
        detail.update(results=len(visible[:cap]), out_of_scope=outside, records=[r.pk for r in visible[:cap]])
        _log(
            head,
            viewer,
            action=Action.SEARCH,
            outcome=outcome,
            beneficiary=visible[0] if len(visible) == 1 else None,
            purpose=purpose,
            detail=detail,
        )
        return None, SearchResult([record_summary(r) for r in visible[:cap]], more=len(visible) > cap)

    return _governed(work, action=Action.SEARCH)


def record_get_for_viewer(
    *, viewer: Viewer, reference_id: str, purpose: str, consent_code: str = "", consent_send: bool = False
) -> RecordView:
    """Open one record, masked. One look-up (none when the consent step keeps it shut); one `view` event.

    A look-up because the beneficiary asked in person passes the consent step (records/consent_gate.py):
    `consent_code` is the code the worker typed, `consent_send` asks for a (new) one. Raises LookupRefused,
    RecordUnavailable (missing or out of scope), BudgetExhausted, AccessInterrupted (canary: the account is
    now suspended), ConsentRequired (a code was sent, or the typed one is wrong) or AccessLogUnavailable.
    """
    purpose = purpose_clean(purpose)

    def work():
        head = _ledger(viewer)
        if not _take_lookup(head, viewer, action=Action.VIEW, purpose=purpose, detail={}):
            return _over_budget(), None
        refusal, record = _open(head, viewer, reference_id, action=Action.VIEW, purpose=purpose, detail={})
        if refusal is not None:
            return refusal, None
        gate = consent_gate(worker=viewer.user, record=record, purpose=purpose, code=consent_code, send=consent_send)
        if gate.refusal is not None:
            head.lookups -= 1  # nothing was opened: asking for consent spends no look-up
        outcome, detail = gate.outcome, gate.detail
        _log(head, viewer, action=Action.VIEW, outcome=outcome, beneficiary=record, purpose=purpose, detail=detail)
        if gate.refusal is not None:
            return gate.refusal, None
        consent = gate.detail.get("consent")
        return None, record_view(
            record,
            no_mobile=consent == NO_MOBILE,
            explained_by=record.explained_by or (CONSENT if consent == GIVEN else None),
        )

    return _governed(work, action=Action.VIEW)


def record_reveal(
    *, viewer: Viewer, reference_id: str, field_name: str, purpose: str, reason: str, stepped_up: bool
) -> str:
    """Return one identity field of a record in clear; one `reveal` event (the reason in its detail).

    Needs a purpose, a reason and `stepped_up` (an OTP proven within PRAHARI_STEP_UP_MINUTES); counts
    against PRAHARI_DAILY_REVEAL_LIMIT. Raises LookupRefused, StepUpRequired, RevealRefused, RecordUnavailable,
    AccessInterrupted (canary), ConsentRequired (the beneficiary asked, but no consent today) or AccessLogUnavailable.
    """
    purpose = purpose_clean(purpose)
    if field_name not in REVEALABLE:
        raise LookupRefused(_("That field cannot be revealed."))
    reason = clean_reason(reason)
    if not stepped_up:
        raise StepUpRequired(_("Confirm with a fresh one-time code before revealing a field."))
    limit = settings.PRAHARI_DAILY_REVEAL_LIMIT

    def work():
        head = _ledger(viewer)
        detail = {"field": field_name, "reason": reason}
        refusal, record = _open(head, viewer, reference_id, action=Action.REVEAL, purpose=purpose, detail=detail)
        if refusal is not None:
            return refusal, None
        gate = consent_gate(worker=viewer.user, record=record, purpose=purpose, ask=False)
        detail.update(gate.detail)
        refusal = gate.refusal
        if refusal is None and head.reveals >= limit:
            refusal = RevealRefused(
                _("You have used today's %(limit)s reveals. Identity fields stay masked until tomorrow.")
                % {"limit": limit}
            )
        if refusal is not None:
            _log(
                head,
                viewer,
                action=Action.REVEAL,
                outcome=Outcome.REFUSED,
                beneficiary=record,
                purpose=purpose,
                detail=detail,
            )
            return refusal, None
        head.reveals += 1
        _log(
            head,
            viewer,
            action=Action.REVEAL,
            outcome=Outcome.ALLOWED,
            beneficiary=record,
            purpose=purpose,
            detail=detail,
        )
        return None, getattr(record, field_name)

    return _governed(work, action=Action.REVEAL)
