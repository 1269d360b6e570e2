"""Beneficiary transparency: a citizen sees who opened their record, proving the mobile on it (issue 16, item 5).

The person types the record's reference id and mobile number. Whether or not they match a record, the answer
and the steps are the same (no oracle for who is registered, or with which number): a challenge is written
either way, and only for a match is a code texted, to the mobile on the record. The code, kept only as a keyed
hash, lives PRAHARI_TRANSPARENCY_CODE_MINUTES, allows PRAHARI_TRANSPARENCY_CODE_TRIES wrong tries and works
once; it opens the record's look-ups (allowed views and reveals, newest first) of the last
PRAHARI_TRANSPARENCY_DAYS, naming each reader's role and place, never the person. Asks are limited per hour
per IP address, per reference id typed and per mobile typed (counted on keyed hashes of what was typed, so a
match and a non-match count alike). Every step is a row of records.TransparencyEvent, append-only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.exceptions import DomainError
from accounts.sms import SMSDeliveryError, send_sms, text_in_hindi_and_english
from records.keys import Purpose
from records.models import AccessEvent, AnomalyWatermark, Beneficiary, TransparencyEvent

Outcome = TransparencyEvent.Outcome
ASKED = (Outcome.SENT, Outcome.NO_MATCH)  # what the hourly limits count: one row per ask (its challenge)
PAGE_SIZE = 50
ACTIONS = {  # what a look-up did, in the words of the person whose record it is
    AccessEvent.Action.VIEW: gettext_lazy("Opened the record"),
    AccessEvent.Action.REVEAL: gettext_lazy("Saw a hidden number in full (identity document or mobile)"),
}


class TransparencyLimited(DomainError):
    """Too many codes asked for in the last hour from this address, for this reference id or this mobile."""


@dataclass(frozen=True)
class Look:
    """One look-up of the record as its owner reads it: when, who (role and place only), why, and whether the
    data explains it ("explained", "unexplained" or "unchecked")."""

    at: datetime
    action: str
    role: str
    place: str
    purpose: str
    judgement: str
    explained_by: str = ""


def _keyed(kind: str, text: str) -> str:
    """An HMAC of `text` under the site's secret, one salt per kind: comparable, never reversible."""
    return salted_hmac(f"prahari.records.transparency.{kind}", text, algorithm="sha256").hexdigest()


def _code_hash(reference_key: str, mobile_key: str, code: str) -> str:
    normalised = "".join((code or "").split())
    return _keyed("code", f"{reference_key}:{mobile_key}:{normalised}")


CODE_TEXT = gettext_lazy(
    "Prahari: %(code)s is your code to see who opened your vaccination record. "
    "No health worker needs it: do not give it to anyone."
)


def _limits_reached(*, ip: str | None, reference_key: str, mobile_key: str, now: datetime) -> bool:
    """Whether this address, reference id or mobile has asked as often as the last hour allows (one query)."""
    by_ip = Q(ip_address=ip) if ip else Q(ip_address__isnull=True)
    counts = TransparencyEvent.objects.filter(
        by_ip | Q(reference_key=reference_key) | Q(mobile_key=mobile_key),
        outcome__in=ASKED,
        created_at__gt=now - timedelta(hours=1),
    ).aggregate(
        ip=Count("pk", filter=by_ip),
        reference=Count("pk", filter=Q(reference_key=reference_key)),
        mobile=Count("pk", filter=Q(mobile_key=mobile_key)),
    )
    return (
        counts["ip"] >= settings.PRAHARI_TRANSPARENCY_PER_IP_HOUR
        or counts["reference"] >= settings.PRAHARI_TRANSPARENCY_PER_REFERENCE_HOUR
        or counts["mobile"] >= settings.PRAHARI_TRANSPARENCY_PER_MOBILE_HOUR
    )


def _lock(*keys: str) -> None:
    """Serialise asks that share an address, a reference id or a mobile, so that none slips past a limit."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(%s::text[]) k ORDER BY k",
            [sorted(set(keys))],
        )


def transparency_code_request(
    *, reference_id: str, mobile: str, ip: str | None, now: datetime | None = None
) -> TransparencyEvent:
    """Write the challenge for a well-formed reference id and mobile (+91 and 10 digits) and, when they match a
    record (not a canary), text its code to the record's mobile. The challenge looks the same either way.

    Raises TransparencyLimited (after logging the refusal) when an hourly limit is reached.
    """
    now = now or timezone.now()
    reference_key, mobile_key = _keyed("reference", reference_id), _keyed("mobile", mobile)
    record = Beneficiary.objects.filter(reference_id=reference_id, mobile=mobile, is_canary=False).first()
    code = f"{secrets.randbelow(10**6):06d}"  # for a non-match too: the same work, and a code nobody receives
    with transaction.atomic():
        _lock(f"ip:{ip}", f"reference:{reference_key}", f"mobile:{mobile_key}")
        keys = {"ip_address": ip, "reference_key": reference_key, "mobile_key": mobile_key, "created_at": now}
        if _limits_reached(ip=ip, reference_key=reference_key, mobile_key=mobile_key, now=now):
            TransparencyEvent.objects.create(outcome=Outcome.LIMITED, beneficiary=record, **keys)
            limited = True
        else:
            limited = False
            challenge = TransparencyEvent.objects.create(
                outcome=Outcome.SENT if record else Outcome.NO_MATCH,
                beneficiary=record,
                code_hash=_code_hash(reference_key, mobile_key, code),
                **keys,
            )
    if limited:
        raise TransparencyLimited(_("Too many codes were asked for in the last hour. Please try again later."))
    if record is not None:
        try:
            send_sms(record.mobile, text_in_hindi_and_english(CODE_TEXT, {"code": code}))
        except (SMSDeliveryError, ValueError):
            # The page still answers as for any ask; the log says the code never left.
            TransparencyEvent.objects.create(
                outcome=Outcome.NOT_SENT, beneficiary=record, challenge=challenge, ip_address=ip, created_at=now
            )
    return challenge


def transparency_code_confirm(*, challenge_id: int, code: str, ip: str | None, now: datetime | None = None):
    """The record the challenge's code opens, or None: a wrong code (counted), an expired or spent challenge,
    one past its tries, or one that matched no record. Every try is logged; a right code spends the challenge."""
    now = now or timezone.now()
    with transaction.atomic():
        challenge = (
            TransparencyEvent.objects.select_for_update()
            .filter(pk=challenge_id, outcome__in=(Outcome.SENT, Outcome.NO_MATCH))
            .first()
        )
        if challenge is None:
            return None
        tries = TransparencyEvent.objects.filter(challenge=challenge).aggregate(
            wrong=Count("pk", filter=Q(outcome=Outcome.WRONG)), opened=Count("pk", filter=Q(outcome=Outcome.OPENED))
        )
        expired = challenge.created_at + timedelta(minutes=settings.PRAHARI_TRANSPARENCY_CODE_MINUTES) <= now
        spent = tries["opened"] > 0 or tries["wrong"] >= settings.PRAHARI_TRANSPARENCY_CODE_TRIES
        right = constant_time_compare(
            _code_hash(challenge.reference_key, challenge.mobile_key, code), challenge.code_hash
        )
        if expired or spent:
            outcome = Outcome.REFUSED
        else:
            outcome = Outcome.OPENED if right and challenge.beneficiary_id else Outcome.WRONG
        TransparencyEvent.objects.create(
            outcome=outcome, beneficiary_id=challenge.beneficiary_id, challenge=challenge, ip_address=ip, created_at=now
        )
    return challenge.beneficiary if outcome == Outcome.OPENED else None


def _place(user) -> str:
    place = user.facility or user.district or user.state
    return place.name if place is not None else ""


def _look(event: AccessEvent, judged: int) -> Look:
    explanation = getattr(event, "explanation", None)
    judged_now = "unexplained" if event.pk <= judged else "unchecked"
    judgement = "explained" if explanation is not None else judged_now
    return Look(
        at=event.created_at,
        action=str(ACTIONS[event.action]),
        role=event.actor.get_role_display(),
        place=_place(event.actor),
        purpose=str(Purpose(event.purpose).label) if event.purpose in Purpose.values else "—",
        judgement=judgement,
        explained_by=explanation.get_kind_display() if explanation is not None else "",
    )


def transparency_history(
    *, beneficiary: Beneficiary, ip: str | None, page_number=1, now: datetime | None = None
) -> Page:
    """One page (PAGE_SIZE, newest first) of the allowed views and reveals of `beneficiary`'s record in the last
    PRAHARI_TRANSPARENCY_DAYS, as Looks; logs the showing. A fixed number of queries whatever the page holds.

    Raises django.core.paginator.InvalidPage for a page number that is not one of the list's.
    """
    now = now or timezone.now()
    TransparencyEvent.objects.create(outcome=Outcome.SHOWN, beneficiary=beneficiary, ip_address=ip, created_at=now)
    events = (
        AccessEvent.objects.filter(
            beneficiary=beneficiary,
            action__in=(AccessEvent.Action.VIEW, AccessEvent.Action.REVEAL),
            outcome=AccessEvent.Outcome.ALLOWED,
            created_at__gt=now - timedelta(days=settings.PRAHARI_TRANSPARENCY_DAYS),
            created_at__lte=now,
        )
        .select_related("actor__facility", "actor__district", "actor__state", "explanation")
        .only(
            "pk", "created_at", "action", "purpose", "actor__role", "actor__facility__name",
            "actor__district__name", "actor__state__name", "explanation__kind",
        )
        .order_by("-created_at", "-pk")
    )  # fmt: skip
    page = Paginator(events, PAGE_SIZE).page(page_number)
    stream = AnomalyWatermark.Stream.EXPLANATIONS  # how far the `explain` job has judged (governance/explain.py)
    judged = AnomalyWatermark.objects.filter(stream=stream).values_list("last_id", flat=True).first() or 0
    page.object_list = [_look(event, judged) for event in page.object_list]
    return page
