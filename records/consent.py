"""The beneficiary's consent to one worker's look-up of their record.

A worker who reads a record because the beneficiary asked in person proves it: a one-time code goes by
SMS to the mobile number on the record, and the worker types it. Given, the consent holds for that worker
and that beneficiary until the end of the local day. The code is kept only as a keyed hash, lives
PRAHARI_CONSENT_CODE_MINUTES, allows PRAHARI_CONSENT_CODE_TRIES wrong tries, and sends are limited per
beneficiary (per hour) and per worker (per local day) so that the SMS is neither a nuisance nor a probe.
"""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.exceptions import DomainError
from accounts.models import User
from accounts.scoping import record_jurisdiction
from accounts.sms import SMSDeliveryError, send_sms, text_in_hindi_and_english
from records.models import Beneficiary, Consent


class ConsentLimited(DomainError):
    """No code was sent: the record's or the worker's send limit is reached."""


def _code_hash(consent: Consent, code: str) -> str:
    """The stored form of a code: an HMAC under the site's secret, bound to the beneficiary and the worker."""
    normalised = "".join((code or "").split())
    message = f"{consent.beneficiary_id}:{consent.worker_id}:{normalised}"
    return salted_hmac("prahari.records.consent", message, algorithm="sha256").hexdigest()


def consent_day_end(now: datetime) -> datetime:
    """The end of the local day of `now` (TIME_ZONE): midnight that follows it."""
    tomorrow = timezone.localtime(now).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time.min, tzinfo=timezone.get_current_timezone())


def _consent_text(code: str, facility_name: str) -> str:
    """The SMS, in Hindi and then English: the beneficiary's language is not on the record."""
    message = gettext_lazy(
        "Prahari: %(code)s is the code that lets a health worker of %(facility)s open your "
        "vaccination record today. Give it only if you asked them in person."
    )
    return text_in_hindi_and_english(message, {"code": code, "facility": facility_name})


def consent_request(*, worker: User, beneficiary: Beneficiary, now: datetime | None = None) -> Consent:
    """Text a one-time code to the mobile on `beneficiary`'s record so that `worker` may ask for consent.

    Raises DomainError when the record is not in the worker's scope or has no mobile number, ConsentLimited
    when a send limit is reached, and DomainError when the SMS could not be sent (nothing is then kept).
    """
    now = now or timezone.now()
    jurisdiction = record_jurisdiction(worker)
    if jurisdiction is None or not jurisdiction.holds(beneficiary.facility):
        raise DomainError(_("This record is not one you may open."))
    if not beneficiary.mobile:
        raise DomainError(_("This record has no mobile number: the beneficiary cannot be asked for a code."))
    with transaction.atomic():
        Beneficiary.objects.select_for_update().filter(pk=beneficiary.pk).first()  # one send at a time per record
        recent = Consent.objects.filter(beneficiary=beneficiary, sent_at__gt=now - timedelta(hours=1)).count()
        if recent >= settings.PRAHARI_CONSENT_SENDS_PER_BENEFICIARY_HOUR:
            raise ConsentLimited(_("This beneficiary was sent codes too often in the last hour: try again later."))
        day_start = consent_day_end(now) - timedelta(days=1)
        today = Consent.objects.filter(worker=worker, sent_at__gte=day_start).count()
        if today >= settings.PRAHARI_CONSENT_SENDS_PER_WORKER_DAY:
            raise ConsentLimited(_("You have asked for as many consent codes as one day allows."))
        code = f"{secrets.randbelow(10**6):06d}"
        consent = Consent(
            beneficiary=beneficiary,
            worker=worker,
            mobile=beneficiary.mobile,
            sent_at=now,
            code_expires_at=now + timedelta(minutes=settings.PRAHARI_CONSENT_CODE_MINUTES),
        )
        consent.code_hash = _code_hash(consent, code)
        consent._history_user, consent._change_reason = worker, "consent code sent"
        consent.save()
        try:
            send_sms(beneficiary.mobile, _consent_text(code, beneficiary.facility.name))
        except (SMSDeliveryError, ValueError):
            raise DomainError(_("The code could not be sent to the beneficiary's mobile.")) from None
    return consent


def consent_confirm(*, worker: User, beneficiary: Beneficiary, code: str, now: datetime | None = None) -> bool:
    """True when `code` is the latest code sent for `worker` and `beneficiary`, within its time and tries:
    the consent is then given until the end of the local day and the code is spent. A wrong code is
    counted (and committed); past the tries, or expired, no code is right."""
    now = now or timezone.now()
    with transaction.atomic():
        pending = _latest_code(worker, beneficiary).select_for_update().first()
        if pending is None or not consent_code_usable(pending, now=now):
            return False
        if not constant_time_compare(_code_hash(pending, code), pending.code_hash):
            pending.tries += 1
            pending._history_user, pending._change_reason = worker, "wrong consent code"
            pending.save(update_fields=["tries"])
            return False
        pending.given_at, pending.valid_until, pending.code_hash = now, consent_day_end(now), ""
        pending._history_user, pending._change_reason = worker, "consent given with the code"
        pending.save(update_fields=["given_at", "valid_until", "code_hash"])
        return True


def _latest_code(worker: User, beneficiary: Beneficiary):
    """The codes sent for `worker` and `beneficiary` and not used, latest first: only the first counts."""
    return (
        Consent.objects.filter(worker=worker, beneficiary=beneficiary, given_at__isnull=True)
        .exclude(code_hash="")
        .order_by("-sent_at", "-pk")
    )


def consent_pending(*, worker: User, beneficiary: Beneficiary) -> Consent | None:
    """The latest code sent for `worker` and `beneficiary` and not used (expired or burnt ones included)."""
    return _latest_code(worker, beneficiary).first()


def consent_code_usable(consent: Consent, *, now: datetime | None = None) -> bool:
    """Whether `consent`'s code can still be typed: not expired, tries left."""
    return consent.code_expires_at > (now or timezone.now()) and consent.tries < settings.PRAHARI_CONSENT_CODE_TRIES


def consent_holds(*, worker: User, beneficiary: Beneficiary, now: datetime | None = None) -> bool:
    """Whether `beneficiary` consented, today, to `worker`'s look-up."""
    now = now or timezone.now()
    return Consent.objects.filter(
        worker=worker, beneficiary=beneficiary, given_at__isnull=False, valid_until__gt=now
    ).exists()
