"""The consent step of the read path: "The beneficiary asked in person" opens a record only with their code.

A look-up with the purpose `Purpose.BENEFICIARY_REQUEST` of a record the viewer may open (records/services.py
has found it, in scope and not a canary) passes this gate:
- the beneficiary's consent to this viewer stands today (records/consent.py): the record opens;
- the record has no mobile number: nobody can be asked, so the record opens and the look-up stays
  unexplained (the page says so);
- a code was typed: right, the consent is given and the record opens; wrong, expired or past its tries,
  a refusal saying which;
- else, when one sent earlier can still be typed, the page asks for that one; a code is sent to the mobile on
  the record only when the worker asks for it (`send`: a POST's button, never a link's GET, so another site
  cannot make Prahari text a beneficiary), within the send limits.
Every other purpose passes without a query. The gate decides and sends; the read path logs its answer
(`Gate.outcome`, `Gate.detail`) as the look-up's one access event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _

from accounts.exceptions import DomainError
from accounts.models import User
from accounts.sms import mask_mobile
from records.consent import (
    ConsentLimited,
    consent_code_usable,
    consent_confirm,
    consent_holds,
    consent_pending,
    consent_request,
)
from records.keys import Purpose
from records.models import AccessEvent, Beneficiary
from records.refusals import ConsentRequired

Outcome = AccessEvent.Outcome


@dataclass(frozen=True)
class Gate:
    """The gate's answer: `refusal` None opens the record; `outcome` and `detail` go into the access event."""

    refusal: ConsentRequired | None = None
    outcome: str = Outcome.ALLOWED
    detail: dict = field(default_factory=dict)


OPEN = Gate()
# What the access event's detail says of the consent ({"consent": …}).
GIVEN, STANDING, NO_MOBILE = "given", "standing", "no_mobile"


def consent_gate(
    *, worker: User, record: Beneficiary, purpose: str, code: str = "", send: bool = False, ask: bool = True
) -> Gate:
    """Decide whether `worker`'s look-up of `record` with `purpose` may open it; send a code when it needs one.

    `code`: the code the worker typed; `send`: send a (new) code; `ask`: False where no code may be sent (a
    reveal), so a missing consent is refused. Commits a wrong try (records/consent.py); sends an SMS.
    """
    if purpose != Purpose.BENEFICIARY_REQUEST:
        return OPEN
    if consent_holds(worker=worker, beneficiary=record):
        return Gate(detail={"consent": STANDING})
    if not record.mobile:
        return Gate(detail={"consent": NO_MOBILE})
    mobile = mask_mobile(record.mobile)
    if code:
        if consent_confirm(worker=worker, beneficiary=record, code=code):
            return Gate(detail={"consent": GIVEN})
        return _refused(_code_refusal(worker, record), mobile, "wrong_code", status=400)
    if not ask:
        message = _("With this purpose the record opens only with the beneficiary's code: open the record first.")
        return _refused(message, mobile, "missing", status=403)
    return _ask(worker, record, mobile, send=send)


def _refused(message: str, mobile: str, why: str, *, status: int) -> Gate:
    return Gate(ConsentRequired(message, mobile=mobile, status=status), Outcome.REFUSED, {"consent": why})


def _code_refusal(worker: User, record: Beneficiary) -> str:
    """Why the typed code did not open the record (consent_confirm has counted a wrong try)."""
    pending = consent_pending(worker=worker, beneficiary=record)
    if pending is None:
        return _("No code is waiting for this record. Send a code to the beneficiary's mobile.")
    tries_left = settings.PRAHARI_CONSENT_CODE_TRIES - pending.tries
    if tries_left <= 0:
        return _("Too many wrong codes: this code no longer works. Send a new code.")
    if not consent_code_usable(pending):
        return _("The code has expired. Send a new code and ask the beneficiary again.")
    return _("That is not the code the beneficiary received. Tries left: %(tries)s.") % {"tries": tries_left}


def _ask(worker: User, record: Beneficiary, mobile: str, *, send: bool) -> Gate:
    """Send a code to the record's mobile when `send`; else ask for the one sent before, or offer to send one."""
    if not send:
        pending = consent_pending(worker=worker, beneficiary=record)
        if pending is not None and consent_code_usable(pending):
            message = _("A code sent to the beneficiary's mobile is still waiting. Ask them for it and type it below.")
            return Gate(ConsentRequired(message, mobile=mobile), Outcome.CONSENT_ASKED, {"consent": "waiting"})
        message = _("With the beneficiary beside you, send a code to the mobile on their record.")
        return Gate(ConsentRequired(message, mobile=mobile, waiting=False), Outcome.REFUSED, {"consent": "to_send"})
    try:
        consent_request(worker=worker, beneficiary=record)
    except ConsentLimited as error:
        return _refused(str(error), mobile, "limit", status=429)
    except DomainError as error:  # the gateway refused: nothing was kept
        return _refused(str(error), mobile, "not_sent", status=503)
    message = _("We sent a code to the beneficiary's mobile. Ask them for it and type it below.")
    return Gate(ConsentRequired(message, mobile=mobile), Outcome.CONSENT_ASKED, {"consent": "sent"})
