"""The outbox (ARCHITECTURE.md §7a): a Notification row is written with the change that causes it and
sent by a task after the commit; `notifications_drain` sends what a broker outage left behind.

Each row is sent at most once: its idempotency key is unique, and `notification_send` locks the row
and sends only while it is pending. Logs name notification ids, never a number, an address or a text.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Notification, User
from accounts.notifications_text import check_context, render
from accounts.sms import SMSDeliveryError, send_sms

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
DEFAULT_LANGUAGE = "hi"  # field staff read Hindi first
_KEY_MAX_LENGTH = Notification._meta.get_field("idempotency_key").max_length
_ERROR_MAX_LENGTH = Notification._meta.get_field("last_error").max_length


def _row_key(idempotency_key: str, channel: str, address: str) -> str:
    key = f"{idempotency_key}:{channel}:{address}"
    if len(key) <= _KEY_MAX_LENGTH:
        return key
    # A long e-mail address: a digest of the same text keeps the key deterministic, so still unique per event.
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _enqueue(notification_id: int) -> None:
    """Queue the send task; if the broker is down, leave the row pending for the drain task."""
    from accounts.tasks import send_notification  # tasks import this module

    try:
        send_notification.delay(notification_id)
    except Exception as exc:
        # Never into the caller: its change is committed, and the drain task will send the row.
        log.warning(
            "notification %s: could not be queued (%s); it stays pending for the drain task",
            notification_id,
            type(exc).__name__,
        )


def notify(
    *,
    user: User | None,
    kind: str,
    idempotency_key: str,
    context: Mapping[str, Any] | None = None,
    channels: Iterable[str] = (Notification.Channel.SMS, Notification.Channel.EMAIL),
    to_mobile: str | None = None,
    to_email: str | None = None,
    language: str | None = None,
) -> list[Notification]:
    """Write one pending Notification per channel that has an address, and queue each after the commit.

    Call it inside the transaction of the change that causes the message: if that rolls back, no
    row stays and nothing is queued. Addresses default to `user`'s mobile and e-mail (a channel
    without one is skipped); `language` defaults to the user's preferred language (Hindi without
    a user). The row's key is `"{idempotency_key}:{channel}:{address}"`: a key seen before returns
    the existing row and neither writes nor sends again. Returns the rows, new or existing.
    Raises KeyError for an unknown kind or missing context, ValueError for an unknown channel.
    """
    if not idempotency_key:
        raise ValueError("notify() needs an idempotency_key naming the event that causes the message")
    check_context(kind, context)
    addresses = {
        Notification.Channel.SMS: to_mobile if to_mobile is not None else getattr(user, "mobile", ""),
        Notification.Channel.EMAIL: to_email if to_email is not None else getattr(user, "email", ""),
    }
    language = language or getattr(user, "preferred_language", "") or DEFAULT_LANGUAGE
    if isinstance(channels, str):
        channels = (channels,)
    rows = []
    for channel in channels:
        if channel not in addresses:
            raise ValueError(f"Unknown notification channel {channel!r}")
        address = (addresses[channel] or "").strip()
        if not address:
            continue
        # get_or_create inserts inside a savepoint and re-reads on IntegrityError: the caller's
        # transaction survives a concurrent notify() of the same event.
        row, created = Notification.objects.get_or_create(
            idempotency_key=_row_key(idempotency_key, channel, address),
            defaults={
                "user": user,
                "channel": channel,
                "to": address,
                "kind": kind,
                "language": language,
                "context": dict(context or {}),
            },
        )
        if created:
            transaction.on_commit(lambda pk=row.pk: _enqueue(pk))
        rows.append(row)
    return rows


def _deliver(row: Notification) -> None:
    subject, text = render(row.kind, row.context, row.language)
    if row.channel == Notification.Channel.SMS:
        send_sms(row.to, text)
    else:
        send_mail(subject, text, None, [row.to], fail_silently=False)


def _short_error(exc: Exception) -> str:
    # Our own errors (SMSDeliveryError, KeyError of a kind) name no number and no text; a library's
    # (e.g. smtplib's refused-recipient error) may name the address, so only its type is kept.
    if isinstance(exc, SMSDeliveryError | KeyError | ValueError):
        detail = f"{type(exc).__name__}: {exc}"
    else:
        detail = type(exc).__name__
    return detail[:_ERROR_MAX_LENGTH]


def notification_send(*, notification_id: int) -> bool:
    """Send one pending notification in its language; return True if this call sent it.

    Locks the row (skipping it if another worker holds it) and returns False when it is gone,
    locked, or no longer pending. On success marks it sent and erases its context (it may hold a
    reset link). On failure counts the attempt and keeps a short error, then re-raises so the task
    retries; the 5th failed attempt marks the row failed (context erased too) and returns False.
    """
    error = None
    with transaction.atomic():
        locking = Notification.objects.select_for_update(
            skip_locked=connection.features.has_select_for_update_skip_locked
        )
        row = locking.filter(pk=notification_id).first()
        if row is None or row.state != Notification.State.PENDING:
            return False
        try:
            _deliver(row)
        except Exception as exc:
            error = exc
            row.attempts += 1
            row.last_error = _short_error(exc)
            fields = ["attempts", "last_error"]
            if row.attempts >= MAX_ATTEMPTS:
                row.state, row.context = Notification.State.FAILED, {}
                fields += ["state", "context"]
            row.save(update_fields=fields)
        else:
            row.state, row.sent_at, row.context = Notification.State.SENT, timezone.now(), {}
            row.save(update_fields=["state", "sent_at", "context"])
    if error is None:
        log.info("notification %s (%s, %s) sent", row.pk, row.kind, row.channel)
        return True
    if row.state == Notification.State.FAILED:
        log.error("notification %s (%s, %s) failed after %d attempts", row.pk, row.kind, row.channel, row.attempts)
        return False
    raise error


def notifications_drain(*, older_than_seconds: int = 60, limit: int = 500) -> int:
    """Send up to `limit` pending notifications created more than `older_than_seconds` ago.

    For rows whose task was never queued (broker down) or was lost. A row that fails again keeps
    its attempt count and error and is left for the next run. Returns how many were sent.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        Notification.objects.filter(state=Notification.State.PENDING, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for notification_id in ids:
        try:
            if notification_send(notification_id=notification_id):
                sent += 1
        except Exception as exc:
            log.warning("notification %s: send failed during drain (%s)", notification_id, type(exc).__name__)
    return sent


def notify_many(
    *,
    kind: str,
    items: Iterable[tuple[User, str, Mapping[str, Any]]],
    channels: Iterable[str] = (Notification.Channel.SMS, Notification.Channel.EMAIL),
) -> int:
    """`notify` for a set-based job: one message of `kind` per `(user, idempotency_key, context)` item.

    Two statements whatever the number of items: one INSERT that skips keys seen before, one read of
    the rows still pending, each queued after the commit (a row queued twice is still sent once:
    `notification_send` sends only pending rows). Addresses and language come from each user, as in
    `notify`. Returns how many rows there are (new or existing). Raises like `notify`.
    """
    rows: list[Notification] = []
    for user, idempotency_key, context in items:
        if not idempotency_key:
            raise ValueError("notify_many() needs an idempotency_key per item")
        check_context(kind, context)
        addresses = {Notification.Channel.SMS: user.mobile, Notification.Channel.EMAIL: user.email}
        for channel in channels:
            if channel not in addresses:
                raise ValueError(f"Unknown notification channel {channel!r}")
            address = (addresses[channel] or "").strip()
            if address:
                rows.append(
                    Notification(
                        idempotency_key=_row_key(idempotency_key, channel, address),
                        user=user,
                        channel=channel,
                        to=address,
                        kind=kind,
                        language=user.preferred_language or DEFAULT_LANGUAGE,
                        context=dict(context),
                    )
                )
    if not rows:
        return 0
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    pending = list(
        Notification.objects.filter(
            idempotency_key__in=[r.idempotency_key for r in rows], state=Notification.State.PENDING
        ).values_list("pk", flat=True)
    )
    transaction.on_commit(lambda: [_enqueue(pk) for pk in pending])
    return len(rows)
