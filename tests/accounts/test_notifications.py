"""The outbox: rows written with the change, queued after the commit, sent once in the user's language."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections, transaction
from django.utils import timezone
from freezegun import freeze_time
from kombu.exceptions import OperationalError

from accounts import sms
from accounts.models import Notification
from accounts.notifications_text import KINDS, SMS_MAX_CHARS, render
from accounts.services import notifications
from accounts.services.notifications import MAX_ATTEMPTS, notification_send, notifications_drain, notify
from accounts.sms import SMSDeliveryError, mask_mobile
from accounts.tasks import drain_notifications, send_notification

HINDI_MOBILE = "+919876543210"
ENGLISH_MOBILE = "+918765432109"
FAILING_NUMBERS: set[str] = set()


class FlakyBackend(sms.BaseSMSBackend):
    """Refuses messages to FAILING_NUMBERS like a gateway answering 503; delivers the rest to the outbox."""

    def send(self, to: str, text: str) -> None:
        if to in FAILING_NUMBERS:
            raise SMSDeliveryError("SMS gateway answered HTTP 503")
        sms.outbox.append((to, text))


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = f"{__name__}.FlakyBackend"
    sms.outbox.clear()
    FAILING_NUMBERS.clear()
    yield sms.outbox
    sms.outbox.clear()
    FAILING_NUMBERS.clear()


@pytest.fixture(autouse=True)
def queued(monkeypatch) -> list[int]:
    """Stand in for the broker: record the ids the send task is queued with (by its name)."""
    ids: list[int] = []

    def queue(name: str, args: list) -> None:
        assert name == send_notification.name  # the name the service sends is the task's own
        ids.extend(args)

    monkeypatch.setattr(notifications, "task_send", queue)
    return ids


@pytest.fixture
def hindi_worker(world):
    worker = world.worker
    worker.mobile, worker.email, worker.preferred_language = HINDI_MOBILE, "asha@example.org", "hi"
    worker.save()
    return worker


@pytest.fixture
def english_worker(world):
    worker = world.colleague
    worker.mobile, worker.email, worker.preferred_language = ENGLISH_MOBILE, "ravi@example.org", "en"
    worker.save()
    return worker


def _suspended_notice(user, key="event-1"):
    return notify(user=user, kind="account_suspended", idempotency_key=key)


# --- writing rows and queueing on commit ----------------------------------------------------------


def test_notify_writes_one_pending_row_per_channel_and_queues_only_after_commit(
    hindi_worker, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        rows = notify(user=hindi_worker, kind="lockout", context={"username": "asha"}, idempotency_key="lock-7")
        assert queued == [], "nothing is queued before the commit"

    assert {(row.channel, row.to) for row in rows} == {("sms", HINDI_MOBILE), ("email", "asha@example.org")}
    for row in rows:
        row.refresh_from_db()
        assert row.state == Notification.State.PENDING
        assert (row.user, row.kind, row.language) == (hindi_worker, "lockout", "hi")
        assert row.context == {"username": "asha"}
        assert row.idempotency_key == f"lock-7:{row.channel}:{row.to}"
    assert len(callbacks) == 2
    assert queued == []

    for callback in callbacks:  # the commit
        callback()
    assert sorted(queued) == sorted(row.pk for row in rows)


def test_a_rolled_back_change_leaves_no_row_and_queues_nothing(
    hindi_worker, queued, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        _suspended_notice(hindi_worker)
        raise RuntimeError("the suspension failed")
    assert callbacks == []
    assert queued == []
    assert not Notification.objects.exists()


def test_notify_skips_a_channel_without_address(world, django_capture_on_commit_callbacks):
    worker = world.worker
    worker.mobile, worker.email = HINDI_MOBILE, ""
    worker.save()
    with django_capture_on_commit_callbacks():
        rows = _suspended_notice(worker)
    assert [row.channel for row in rows] == ["sms"]


def test_notify_to_a_raw_address_without_user(queued, db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        rows = notify(
            user=None,
            kind="mobile_changed",
            context={"masked": mask_mobile(ENGLISH_MOBILE)},
            idempotency_key="mobile-1",
            channels=("sms",),
            to_mobile=ENGLISH_MOBILE,
            language="en",
        )
    assert [(row.user, row.to, row.language) for row in rows] == [(None, ENGLISH_MOBILE, "en")]
    assert queued == [rows[0].pk]


def test_the_broker_being_down_neither_raises_nor_loses_the_row(
    hindi_worker, monkeypatch, caplog, django_capture_on_commit_callbacks, sms_outbox
):
    def broker_down(name, args):
        raise OperationalError("[Errno 111] Connection refused")

    monkeypatch.setattr(notifications, "task_send", broker_down)
    with freeze_time(timezone.now() - timedelta(minutes=5)), django_capture_on_commit_callbacks(execute=True):
        rows = notify(user=hindi_worker, kind="password_changed", idempotency_key="pw-1", channels=("sms",))

    row = Notification.objects.get(pk=rows[0].pk)
    assert row.state == Notification.State.PENDING
    assert any(record.levelno == logging.WARNING and str(row.pk) in record.getMessage() for record in caplog.records), (
        "the failed enqueue is logged as a warning naming the row"
    )

    assert notifications_drain(older_than_seconds=60) == 1, "the drain task sends it later"
    assert [to for to, _ in sms_outbox] == [HINDI_MOBILE]


@pytest.mark.parametrize(
    ("kind", "context", "error"),
    [
        ("no_such_kind", {}, KeyError),
        ("device_pending", {"username": "asha"}, KeyError),  # no device code
        ("otp_device_changed", {"action": "exploded"}, ValueError),
    ],
)
def test_notify_refuses_an_unknown_kind_or_incomplete_context(hindi_worker, kind, context, error):
    with pytest.raises(error, match=kind):
        notify(user=hindi_worker, kind=kind, context=context, idempotency_key="bad")
    assert not Notification.objects.exists()


# --- idempotency ----------------------------------------------------------------------------------


def test_the_same_event_twice_writes_one_row_and_sends_one_sms(
    hindi_worker, queued, sms_outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = notify(user=hindi_worker, kind="account_suspended", idempotency_key="suspend-9", channels=("sms",))
    with django_capture_on_commit_callbacks(execute=True) as second_callbacks:
        again = notify(user=hindi_worker, kind="account_suspended", idempotency_key="suspend-9", channels=("sms",))

    assert [row.pk for row in again] == [row.pk for row in first]
    assert Notification.objects.count() == 1
    assert second_callbacks == [], "an event seen before is not queued again"
    assert queued == [first[0].pk]

    assert notification_send(notification_id=first[0].pk) is True
    assert notification_send(notification_id=first[0].pk) is False, "a task run twice sends once"
    assert len(sms_outbox) == 1


def test_a_long_email_address_still_gets_a_unique_key_that_fits(world):
    worker = world.worker
    worker.email = ("a" * 64) + "@" + ("b" * 63) + "." + ("c" * 63) + ".example.org"
    worker.save()
    (row,) = notify(user=worker, kind="password_changed", idempotency_key="pw-2", channels=("email",))
    assert len(row.idempotency_key) <= Notification._meta.get_field("idempotency_key").max_length
    (again,) = notify(user=worker, kind="password_changed", idempotency_key="pw-2", channels=("email",))
    assert again.pk == row.pk


# --- sending --------------------------------------------------------------------------------------


def test_a_hindi_user_gets_hindi_and_an_english_user_english(hindi_worker, english_worker, sms_outbox):
    rows = [
        *notify(user=hindi_worker, kind="account_suspended", idempotency_key="s-1"),
        *notify(user=english_worker, kind="account_suspended", idempotency_key="s-2"),
    ]
    for row in rows:
        assert notification_send(notification_id=row.pk) is True

    texts = dict(sms_outbox)
    assert texts[HINDI_MOBILE] == "प्रहरी: आपका खाता निलंबित कर दिया गया है। कृपया अपने पर्यवेक्षक से संपर्क करें।"
    assert texts[ENGLISH_MOBILE] == "Prahari: your account has been suspended. Please contact your supervisor."
    emails = {message.to[0]: message for message in mail.outbox}
    assert emails["asha@example.org"].subject == "प्रहरी: खाता निलंबित"
    assert emails["asha@example.org"].body == texts[HINDI_MOBILE]
    assert emails["ravi@example.org"].subject == "Prahari: account suspended"


def test_sending_marks_the_row_sent_and_erases_its_context(hindi_worker, sms_outbox):
    url = "https://prahari.example.gov.in/accounts/reset/MTI/c4k3-0f9e8d7c6b5a49382716/"
    (row,) = notify(
        user=hindi_worker, kind="password_reset_link", context={"url": url}, idempotency_key="r-1", channels=("sms",)
    )

    assert notification_send(notification_id=row.pk) is True

    row.refresh_from_db()
    assert row.state == Notification.State.SENT
    assert row.sent_at is not None
    assert row.context == {}, "the reset link must not stay in the database"
    assert sms_outbox == [(HINDI_MOBILE, f"प्रहरी: 30 मिनट के अंदर नया पासवर्ड बनाएँ (लिंक एक ही बार चलेगा): {url}")]


def test_a_failed_send_counts_attempts_then_marks_the_row_failed_after_five(hindi_worker, sms_outbox):
    FAILING_NUMBERS.add(HINDI_MOBILE)
    url = "https://prahari.example.gov.in/accounts/reset/secret-token/"
    (row,) = notify(
        user=hindi_worker, kind="password_reset_link", context={"url": url}, idempotency_key="r-2", channels=("sms",)
    )

    for attempt in range(1, MAX_ATTEMPTS):
        with pytest.raises(SMSDeliveryError):  # re-raised: the task retries
            notification_send(notification_id=row.pk)
        row.refresh_from_db()
        assert (row.state, row.attempts) == (Notification.State.PENDING, attempt)
        assert "503" in row.last_error
        assert HINDI_MOBILE not in row.last_error
        assert row.context == {"url": url}, "kept for the next attempt"

    assert notification_send(notification_id=row.pk) is False, "the last attempt gives up without a retry"
    row.refresh_from_db()
    assert (row.state, row.attempts) == (Notification.State.FAILED, MAX_ATTEMPTS)
    assert row.context == {}

    FAILING_NUMBERS.clear()
    assert notification_send(notification_id=row.pk) is False, "a failed row is never sent"
    assert sms_outbox == []


def test_a_row_that_fails_once_can_still_be_sent_later(hindi_worker, sms_outbox):
    FAILING_NUMBERS.add(HINDI_MOBILE)
    (row,) = notify(user=hindi_worker, kind="account_suspended", idempotency_key="s-3", channels=("sms",))
    with pytest.raises(SMSDeliveryError):
        notification_send(notification_id=row.pk)
    FAILING_NUMBERS.clear()
    assert notification_send(notification_id=row.pk) is True
    row.refresh_from_db()
    assert (row.state, row.attempts) == (Notification.State.SENT, 1)


def test_the_mobile_changed_notice_shows_only_a_masked_number(english_worker, sms_outbox):
    # Even if a caller passes the whole number, the text masks it.
    notify(
        user=english_worker,
        kind="mobile_changed",
        context={"masked": "+917654321098"},
        idempotency_key="m-1",
        channels=("sms",),
    )
    notifications_drain(older_than_seconds=-60)
    ((_, text),) = sms_outbox
    assert "+91******1098" in text
    assert "7654321098" not in text


def test_a_send_logs_no_number_address_or_text(hindi_worker, caplog, sms_outbox, django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        context = {"username": "asha", "code": "K7P2QX"}
        rows = notify(user=hindi_worker, kind="device_pending", context=context, idempotency_key="d")
    FAILING_NUMBERS.add(HINDI_MOBILE)
    with freeze_time(timezone.now() + timedelta(minutes=5)):
        notifications_drain()  # the SMS fails (logged), the e-mail goes
    FAILING_NUMBERS.clear()
    for row in rows:
        notification_send(notification_id=row.pk)

    assert len(sms_outbox) == 1
    assert len(mail.outbox) == 1
    logged = "\n".join(f"{record.getMessage()} {record.args!r}" for record in caplog.records)
    assert str(rows[0].pk) in logged, "sends are logged, by notification id"
    for secret in (HINDI_MOBILE, "9876543210", "asha@example.org", "K7P2QX", sms_outbox[0][1]):
        assert secret not in logged


# --- draining -------------------------------------------------------------------------------------


def test_drain_sends_old_pending_rows_and_leaves_fresh_ones(hindi_worker, english_worker, sms_outbox):
    with freeze_time(timezone.now() - timedelta(minutes=10)):
        (old,) = notify(user=hindi_worker, kind="password_changed", idempotency_key="p-1", channels=("sms",))
        (failing,) = notify(user=english_worker, kind="password_changed", idempotency_key="p-2", channels=("sms",))
    (fresh,) = notify(user=hindi_worker, kind="account_suspended", idempotency_key="s-1", channels=("sms",))
    FAILING_NUMBERS.add(ENGLISH_MOBILE)

    assert notifications_drain(older_than_seconds=60) == 1

    states = dict(Notification.objects.values_list("pk", "state"))
    assert states == {old.pk: "sent", failing.pk: "pending", fresh.pk: "pending"}
    assert Notification.objects.get(pk=failing.pk).attempts == 1, "a failure does not stop the drain"
    assert [to for to, _ in sms_outbox] == [HINDI_MOBILE]


def test_drain_stops_at_its_limit(hindi_worker, sms_outbox):
    with freeze_time(timezone.now() - timedelta(minutes=10)):
        for n in range(3):
            notify(user=hindi_worker, kind="password_changed", idempotency_key=f"p-{n}", channels=("sms",))
    assert notifications_drain(limit=2) == 2
    assert Notification.objects.filter(state="pending").count() == 1


# --- the texts ------------------------------------------------------------------------------------

SAMPLE_CONTEXT = {
    "username": "asha.kumari.lko.1234",
    "code": "K7P2QX9M",
    "url": "https://prahari.example.gov.in/accounts/reset/MTIzNDU/c4k3zz-0f9e8d7c6b5a4938/",
    "masked": "+91******3210",
    "action": "removed",
    "hours": 72,
    "days": 45,
    "count": 12,
    "names": "asha.kumari.lko.1234, ravi.verma.lko.2, meena.shukla.lko …",  # as the digest cuts it
    "date": "2026-09-30",  # the longest month name in both languages
    "until": "2026-09-30T14:52:00+00:00",  # 30 Sep 2026, 20:22 in Asia/Kolkata
    "locks": 3,
    "name": "Ramesh Chandra Vishwakarma-Srivastava",  # longer than a notice keeps (CONTACT_NAME_MAX_CHARS)
    "mobile": "+919876543210",
}
KIND_CONTEXT = {
    # An enrolment link is longer than a reset link (a 43-character token): it must fit too.
    "invitation": {"url": "https://prahari.example.gov.in/accounts/enrol/" + "x" * 43 + "/"},
    "governance_digest": {"action": "suspended"},
}


@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_text_fits_one_sms_in_both_languages(kind, language):
    context = {**SAMPLE_CONTEXT, **KIND_CONTEXT.get(kind, {})}
    subject, text = render(kind, context, language)
    assert len(text) <= SMS_MAX_CHARS, f"{kind}/{language}: {len(text)} characters"
    assert "%(" not in text
    assert subject
    if language == "hi":
        assert text != render(kind, context, "en")[1], f"{kind} has no Hindi translation"
        assert text.startswith("प्रहरी:")


def test_the_authenticator_action_is_translated():
    assert "हटाया गया" in render("otp_device_changed", {"action": "removed"}, "hi")[1]
    assert "added" in render("otp_device_changed", {"action": "added"}, "en")[1]


def test_a_due_date_is_written_as_each_language_writes_dates():
    assert "due by 30 Sep 2026." in render("review_due", {"date": "2026-09-30"}, "en")[1]
    assert "30 सितंबर 2026" in render("review_due", {"date": "2026-09-30"}, "hi")[1]
    assert "30-09-2026" in render("review_due", {"date": "30-09-2026"}, "en")[1]  # queued before: kept as written


def test_an_unknown_kind_names_the_known_ones():
    with pytest.raises(KeyError, match="lockout"):
        render("lock_out", {}, "en")


# --- tasks ----------------------------------------------------------------------------------------


def test_tasks_keep_their_stable_names_and_retry_policy():
    assert send_notification.name == "accounts.send_notification"
    assert drain_notifications.name == "accounts.drain_notifications"
    assert send_notification.max_retries == 5
    assert send_notification.autoretry_for == (Exception,)
    assert send_notification.retry_backoff == 60


def test_tasks_call_the_services(hindi_worker, sms_outbox):
    with freeze_time(timezone.now() - timedelta(minutes=10)):
        (first, _second) = notify(user=hindi_worker, kind="password_changed", idempotency_key="p")
    assert send_notification.run(first.pk) is True
    assert drain_notifications.run() == 1
    assert Notification.objects.filter(state="sent").count() == 2


# --- concurrency ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_row_locked_by_another_worker_is_skipped_not_sent_twice(hindi_worker, sms_outbox):
    (row,) = notify(user=hindi_worker, kind="password_changed", idempotency_key="p-lock", channels=("sms",))
    holding, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                Notification.objects.select_for_update().get(pk=row.pk)
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert holding.wait(30)
        assert notification_send(notification_id=row.pk) is False, "a locked row is skipped, not waited for"
    finally:
        release.set()
        thread.join(30)
    assert sms_outbox == []
    assert notification_send(notification_id=row.pk) is True


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Try again after 30 Sep 2026, 20:22", "call Ramesh Chandra, +919876543210."]),
        ("hi", ["30 सितंबर 2026, 20:22 के बाद फिर कोशिश करें", "या Ramesh Chandra, +919876543210 को फ़ोन करें"]),
    ],
)
def test_a_lock_notice_tells_its_owner_when_to_try_again_and_whom_to_call(language, words):
    text = render("account_locked", SAMPLE_CONTEXT, language)[1]
    for expected in words:
        assert expected in text


def test_a_lock_notice_without_a_governor_to_name_says_to_call_the_supervisor():
    alone = {"until": "2026-09-30T14:52:00+00:00", "name": "", "mobile": ""}
    assert render("account_locked", alone, "en")[1].endswith("or call your supervisor.")
    assert "अपने पर्यवेक्षक को फ़ोन करें" in render("account_locked", alone, "hi")[1]
    named = render("account_held", {"locks": 3, "hours": 24, "name": "Ramesh Verma", "mobile": ""}, "en")[1]
    assert "Only your supervisor can unlock it now: call Ramesh Verma." in named
