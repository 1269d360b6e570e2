"""The beneficiary's consent to a worker's look-up: a code to the record's mobile, typed by the worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from freezegun import freeze_time

from accounts.exceptions import DomainError
from records.consent import consent_confirm, consent_holds, consent_request
from records.models import Consent
from tests.records.conftest import sent_code

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbox")]


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_the_right_code_gives_consent_for_the_rest_of_the_local_day(world, records, outbox):
    with freeze_time("2026-12-03 09:00:00+05:30"):
        consent_request(worker=world.worker, beneficiary=records.own)
        to, text = outbox[-1]
        assert to == records.own.mobile and "PHC Chinhat" in text and "स्वास्थ्य" in text
        assert not consent_holds(worker=world.worker, beneficiary=records.own)
        assert consent_confirm(worker=world.worker, beneficiary=records.own, code=sent_code(outbox))
        assert consent_holds(worker=world.worker, beneficiary=records.own)
        assert not consent_holds(worker=world.colleague, beneficiary=records.own)  # one worker's consent only
    with freeze_time("2026-12-03 23:59:00+05:30"):
        assert consent_holds(worker=world.worker, beneficiary=records.own)
    with freeze_time("2026-12-04 00:00:01+05:30"):
        assert not consent_holds(worker=world.worker, beneficiary=records.own)


def test_the_code_is_never_stored_in_clear(world, records, outbox):
    consent = consent_request(worker=world.worker, beneficiary=records.own)
    code = sent_code(outbox)
    with connection.cursor() as cursor:
        for table in (Consent._meta.db_table, Consent.history.model._meta.db_table):
            cursor.execute(f"SELECT * FROM {table}")
            assert code not in repr(cursor.fetchall())
    assert len(consent.code_hash) == 64


def test_a_code_works_once(world, records, outbox):
    consent_request(worker=world.worker, beneficiary=records.own)
    code = sent_code(outbox)
    assert consent_confirm(worker=world.worker, beneficiary=records.own, code=code)
    assert not consent_confirm(worker=world.worker, beneficiary=records.own, code=code)  # replayed


def test_wrong_codes_are_counted_and_the_tries_burn_the_code(world, records, outbox, settings):
    consent_request(worker=world.worker, beneficiary=records.own)
    code = sent_code(outbox)
    for _ in range(settings.PRAHARI_CONSENT_CODE_TRIES):
        assert not consent_confirm(worker=world.worker, beneficiary=records.own, code=wrong(code))
    assert Consent.objects.get().tries == settings.PRAHARI_CONSENT_CODE_TRIES
    assert not consent_confirm(worker=world.worker, beneficiary=records.own, code=code)
    assert not consent_holds(worker=world.worker, beneficiary=records.own)


def test_an_expired_code_is_refused(world, records, outbox, settings):
    consent_request(worker=world.worker, beneficiary=records.own)
    later = timezone.now() + timedelta(minutes=settings.PRAHARI_CONSENT_CODE_MINUTES, seconds=1)
    assert not consent_confirm(worker=world.worker, beneficiary=records.own, code=sent_code(outbox), now=later)


def test_another_workers_code_does_not_open_the_record(world, records, outbox):
    consent_request(worker=world.worker, beneficiary=records.own)
    code = sent_code(outbox)
    assert not consent_confirm(worker=world.colleague, beneficiary=records.own, code=code)
    assert not consent_confirm(worker=world.worker, beneficiary=records.canary, code=code)  # nor another record


def test_only_records_in_scope_with_a_mobile_can_be_asked(world, records, outbox):
    with pytest.raises(DomainError, match="not one you may open"):
        consent_request(worker=world.worker, beneficiary=records.far)
    records.own.mobile = ""
    records.own.save()
    with pytest.raises(DomainError, match="no mobile number"):
        consent_request(worker=world.worker, beneficiary=records.own)
    assert not outbox and not Consent.objects.exists()


def test_sends_are_limited_per_beneficiary_and_per_worker(world, records, outbox, settings):
    settings.PRAHARI_CONSENT_SENDS_PER_BENEFICIARY_HOUR = 2
    settings.PRAHARI_CONSENT_SENDS_PER_WORKER_DAY = 3
    for _ in range(2):
        consent_request(worker=world.worker, beneficiary=records.own)
    with pytest.raises(DomainError, match="too often"):
        consent_request(worker=world.colleague, beneficiary=records.own)  # the record's limit, whoever asks
    consent_request(worker=world.worker, beneficiary=records.canary)
    with pytest.raises(DomainError, match="one day allows"):
        consent_request(worker=world.worker, beneficiary=records.canary)
    assert len(outbox) == 3 == Consent.objects.count()


def test_a_failed_send_keeps_nothing(world, records, settings):
    settings.SMS_BACKEND = "http"
    settings.SMS_HTTP_URL = "http://127.0.0.1:9/"  # nothing listens on the discard port
    settings.SMS_HTTP_TOKEN = "t"
    with pytest.raises(DomainError, match="could not be sent"):
        consent_request(worker=world.worker, beneficiary=records.own)
    assert not Consent.objects.exists()
