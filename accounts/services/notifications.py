"""The outbox (ARCHITECTURE.md §7a): a Notification row is written with the change that causes it and
sent by a task after the commit; `notifications_drain` sends what a broker outage left behind.

Each row is sent at most once: its idempotency key is unique, and `notification_send` locks the row
and sends only while it is pending. Logs name notification ids, never a number, an address or a text.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from celery import current_app
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Notification, User
from accounts.notifications_text import check_context, render
from accounts.services.setsql import PY_WHITESPACE, isoformat_sql, queryset_sql
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


SEND_TASK = "accounts.send_notification"  # accounts/tasks.py


def task_send(name: str, args: list) -> None:
    """Queue the Celery task named `name` (services name tasks, they never import them)."""
    current_app.send_task(name, args=args)


def _enqueue(notification_id: int) -> None:
    """Queue the send task; if the broker is down, leave the row pending for the drain task."""
    try:
        task_send(SEND_TASK, [notification_id])
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
    rows = []
    for unsaved in _outbox_rows(
        user=user,
        kind=kind,
        idempotency_key=idempotency_key,
        context=context,
        channels=channels,
        to_mobile=to_mobile,
        to_email=to_email,
        language=language,
    ):
        # get_or_create inserts inside a savepoint and re-reads on IntegrityError: the caller's
        # transaction survives a concurrent notify() of the same event.
        row, created = Notification.objects.get_or_create(
            idempotency_key=unsaved.idempotency_key,
            defaults={f: getattr(unsaved, f) for f in ("user", "channel", "to", "kind", "language", "context")},
        )
        if created:
            transaction.on_commit(lambda pk=row.pk: _enqueue(pk))
        rows.append(row)
    return rows


def notify_many(messages: Iterable[Mapping[str, Any]]) -> list[Notification]:
    """`notify` for many events at once (bulk onboarding, governance jobs) in a fixed number of statements.

    Each message holds notify()'s keyword arguments. As with notify(), a key seen before is skipped
    (nothing written, nothing sent again). Returns the new rows; each is queued after the commit.
    """
    unsaved = [row for message in messages for row in _outbox_rows(**message)]
    keys = [row.idempotency_key for row in unsaved]
    seen: set[str] = set()
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        seen |= set(Notification.objects.filter(idempotency_key__in=chunk).values_list("idempotency_key", flat=True))
    fresh = [row for row in unsaved if row.idempotency_key not in seen]
    rows = Notification.objects.bulk_create(fresh, batch_size=1000)
    enqueue_after_commit([row.pk for row in rows])
    return rows


def enqueue_after_commit(ids: list[int]) -> None:
    """Queue these new outbox rows' send tasks once the transaction commits (none if it rolls back)."""
    if ids:
        transaction.on_commit(lambda: [_enqueue(pk) for pk in ids])


def notify_users_matching(
    users: QuerySet[User], *, kind: str, key_prefix: str, key_date: str, context: Mapping[str, Any] | None = None
) -> list[int]:
    """`notify_many` to every account `users` selects, each event keyed `"{key_prefix}:{pk}:{ISO date}"`
    where the date is the account's (or the queryset's annotated) `key_date`.

    One INSERT … SELECT writes the rows without loading the accounts (a key seen before is skipped),
    as notify_many would write them. Returns the ids of the accounts given a new row.
    """
    select, params = queryset_sql(users.values_list("pk", "mobile", "email", "preferred_language", key_date))
    insert, insert_params = outbox_insert_sql(
        "picked",
        kind=kind,
        key_sql=f"%s || src.id || ':' || {isoformat_sql('src.key_date')}",
        key_params=[f"{key_prefix}:"],
        context=context,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH picked (id, mobile, email, preferred_language, key_date) AS ({select}), "  # noqa: S608 (ORM's SQL)
            f"outbox AS ({insert}) SELECT id, user_id FROM outbox",
            [*params, *insert_params],
        )
        rows = cursor.fetchall()
    enqueue_after_commit(sorted(pk for pk, _user in rows))
    return sorted({user_id for _pk, user_id in rows})


def outbox_insert_sql(
    source: str, *, kind: str, key_sql: str, key_params: list, context: Mapping[str, Any] | None = None
) -> tuple[str, list]:
    """An INSERT … SELECT writing what `notify_many` writes for each account of `source` (a relation
    with the columns id, mobile, email and preferred_language), keyed `key_sql` (an SQL expression over
    `source`, aliased src, with `key_params`), on both channels. RETURNING id, user_id of the new rows.

    The row key, address (stripped as str.strip() does), language and created_at are computed as
    `_outbox_rows` and the model do; a key seen before is skipped (ON CONFLICT DO NOTHING), so a
    concurrent run cannot fail on the unique key either.
    """
    check_context(kind, context)
    max_length = _KEY_MAX_LENGTH
    # Only the caller's relation and key expression are put in the text; every value is a parameter.
    sql = f"""
        INSERT INTO accounts_notification
            (user_id, channel, "to", kind, language, context, idempotency_key, state, attempts, last_error, created_at)
        SELECT src.id, address.channel, address.value, %s, COALESCE(NULLIF(src.preferred_language, ''), %s),
               %s::jsonb,
               CASE WHEN char_length(row_key.text) <= {max_length:d} THEN row_key.text
                    ELSE 'sha256:' || encode(sha256(convert_to(row_key.text, 'UTF8')), 'hex') END,
               %s, 0, '', %s
        FROM {source} AS src
        CROSS JOIN LATERAL (VALUES (1, %s, btrim(src.mobile, %s)), (2, %s, btrim(src.email, %s)))
            AS address (position, channel, value)
        CROSS JOIN LATERAL (SELECT ({key_sql}) || ':' || address.channel || ':' || address.value) AS row_key (text)
        WHERE (src.mobile <> '' OR src.email <> '') AND address.value <> ''
        ORDER BY src.id, address.position
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id, user_id"""  # noqa: S608
    params = [
        kind,
        DEFAULT_LANGUAGE,
        json.dumps(dict(context or {})),
        Notification.State.PENDING,
        timezone.now(),  # auto_now_add, as bulk_create stamps it
        Notification.Channel.SMS,
        PY_WHITESPACE,
        Notification.Channel.EMAIL,
        PY_WHITESPACE,
        *key_params,  # in the last LATERAL: placeholders are taken in the order of the text
    ]
    return sql, params


def _outbox_rows(
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
    """The unsaved outbox rows of one event: one per channel that has an address."""
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
        rows.append(
            Notification(
                idempotency_key=_row_key(idempotency_key, channel, address),
                user=user,
                channel=channel,
                to=address,
                kind=kind,
                language=language,
                context=dict(context or {}),
            )
        )
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
