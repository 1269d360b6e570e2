"""Beneficiary transparency (/my-record/): a code to the record's mobile shows who opened the record, by role and
place, never by name; no oracle for who is registered; limits per address, reference id and mobile; all logged."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from accounts import sms
from records.audit import access_event_append
from records.keys import Purpose
from records.models import AccessExplanation, AnomalyWatermark, TransparencyEvent
from records.transparency import transparency_code_confirm
from records.views_transparency import CHALLENGE_KEY, RECORD_KEY, UNTIL_KEY
from tests.conftest import sign_in
from tests.portal.test_accessibility import problems
from tests.portal.test_date_formats import other_formats, ours, read
from tests.records.conftest import sent_code
from tests.records.test_consent import wrong

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbox")]
T0 = datetime(2026, 12, 3, 6, 30, tzinfo=UTC)  # 12:00 in Asia/Kolkata
ASK, CODE, HISTORY = "/my-record/", "/my-record/code/", "/my-record/history/"
Outcome = TransparencyEvent.Outcome


@pytest.fixture
def record(records):
    return records.own  # reference 10000000000001, mobile +919876500001, at PHC Chinhat


def look(actor, record, *, at=T0, action="view", purpose=Purpose.DUE_DOSE, outcome="allowed"):
    with freeze_time(at):
        return access_event_append(actor=actor, action=action, outcome=outcome, purpose=purpose, beneficiary=record)


def ask(client, reference_id="10000000000001", mobile="98765 00001", **extra):
    return client.post(ASK, {"reference_id": reference_id, "mobile": mobile}, **extra)


def unlock(client, at=T0 + timedelta(hours=1)):
    with freeze_time(at):
        assert ask(client).url == CODE
        response = client.post(CODE, {"code": sent_code(sms.outbox)})
        assert response.status_code == 302 and response.url == HISTORY
    return response


def history(client, at=T0 + timedelta(hours=1), **query):
    with freeze_time(at):
        return client.get(HISTORY, query)


def test_the_code_opens_who_looked_by_role_and_place_never_by_name(client, world, records, record):
    look(world.worker, record, purpose=Purpose.DUE_DOSE)
    look(world.supervisor, record, at=T0 + timedelta(minutes=5), action="reveal", purpose=Purpose.CERTIFICATE)
    look(world.worker, records.same_district, at=T0 + timedelta(minutes=6))  # another record: never shown
    look(world.worker, record, at=T0 + timedelta(minutes=7), action="search", outcome="allowed")  # not a view
    look(world.far_worker, record, at=T0 + timedelta(minutes=8), outcome="out_of_scope")  # refused: nothing seen
    with freeze_time(T0 + timedelta(hours=1)):
        response = ask(client)
        assert response.status_code == 302 and response.url == CODE
        assert [to for to, _text in sms.outbox] == [record.mobile]
        page = client.get(CODE)
        assert "If these match a record, a code was sent to its mobile." in page.content.decode()
    unlock(client)
    response = history(client)
    html = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert html.count("<tr>") == 1 + 2  # the header and the two looks at this record
    assert "Health worker" in html and "PHC Chinhat" in html and "Due or missed dose follow-up" in html
    assert "Supervisor" in html and "Lucknow" in html and "Certificate or record correction" in html
    assert html.index("Supervisor") < html.index("Health worker")  # newest first
    for person in (world.worker, world.supervisor, world.far_worker):
        assert person.username not in html and person.get_full_name() not in html and person.last_name not in html
    assert records.same_district.reference_id not in html and record.name not in html
    assert ours("en").search(read(html)) and other_formats(read(html)) == {}


def test_the_page_speaks_hindi(client, world, record):
    look(world.worker, record)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "hi"
    unlock(client)
    html = history(client).content.decode()
    assert "किसने" in html and "स्वास्थ्यकर्मी" in html and "PHC Chinhat" in html
    assert ours("hi").search(read(html)) and other_formats(read(html)) == {}
    other = Client()
    other.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "hi"
    assert "कोड" in other.get(ASK).content.decode()


def test_explained_not_explained_and_not_yet_checked(client, world, record):
    explained = look(world.worker, record, at=T0)
    unexplained = look(world.worker, record, at=T0 + timedelta(minutes=1))
    look(world.worker, record, at=T0 + timedelta(minutes=2))  # after the watermark: not yet judged
    AccessExplanation.objects.create(
        event=explained, actor=world.worker, event_at=explained.created_at, kind=AccessExplanation.Kind.APPOINTMENT
    )
    AnomalyWatermark.objects.update_or_create(
        stream=AnomalyWatermark.Stream.EXPLANATIONS, defaults={"last_id": unexplained.pk}
    )
    unlock(client)
    rows = re.findall(r"<tr>.*?</tr>", history(client).content.decode(), re.S)[1:]
    assert len(rows) == 3
    assert "Not yet checked" in rows[0]
    assert "Not explained" in rows[1]
    assert "Explained (appointment)" in rows[2]


def test_a_wrong_code_is_refused_and_three_burn_the_challenge(client, world, record, settings):
    with freeze_time(T0):
        ask(client)
        code = sent_code(sms.outbox)
        for _ in range(settings.PRAHARI_TRANSPARENCY_CODE_TRIES):
            response = client.post(CODE, {"code": wrong(code)})
            assert response.status_code == 400 and "This code is not right" in response.content.decode()
        assert client.post(CODE, {"code": code}).status_code == 400  # the right one, too late
        assert client.get(HISTORY).url == ASK
    outcomes = list(TransparencyEvent.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == [Outcome.SENT, Outcome.WRONG, Outcome.WRONG, Outcome.WRONG, Outcome.REFUSED]


def test_an_expired_code_is_refused(client, record, settings):
    with freeze_time(T0):
        ask(client)
    with freeze_time(T0 + timedelta(minutes=settings.PRAHARI_TRANSPARENCY_CODE_MINUTES)):
        assert client.post(CODE, {"code": sent_code(sms.outbox)}).status_code == 400


def test_a_code_works_once(client, record):
    unlock(client)
    challenge = TransparencyEvent.objects.get(outcome=Outcome.SENT)
    with freeze_time(T0 + timedelta(hours=1)):
        assert client.post(CODE, {"code": sent_code(sms.outbox)}).url == ASK  # this session holds no challenge now
        assert transparency_code_confirm(challenge_id=challenge.pk, code=sent_code(sms.outbox), ip=None) is None
    assert TransparencyEvent.objects.filter(outcome=Outcome.OPENED).count() == 1


def _answer(client, response) -> dict:
    followed = client.get(response.url) if response.status_code == 302 else response
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", followed.content.decode())
    return {
        "status": response.status_code,
        "location": response.get("Location"),
        "cookies": sorted(response.cookies),
        "session": sorted(client.session.keys()),
        "page": (followed.status_code, text),
    }


@pytest.mark.parametrize(
    ("reference_id", "mobile"),
    [("10000000000009", "98765 00001"), ("10000000000001", "98765 00009"), ("10000000000005", "9876500005")],
    ids=["unknown reference id", "another mobile", "a canary"],
)
def test_a_match_and_a_non_match_get_the_same_answer(world, records, reference_id, mobile):
    with freeze_time(T0):
        matching, other = Client(), Client()
        assert _answer(matching, ask(matching)) == _answer(other, ask(other, reference_id, mobile))
        assert len(sms.outbox) == 1  # only the match got a code
        assert other.post(CODE, {"code": sent_code(sms.outbox)}).status_code == 400  # no code opens a non-match
    assert TransparencyEvent.objects.filter(outcome=Outcome.NO_MATCH, beneficiary=None).count() == 1


@pytest.mark.parametrize(
    ("reference_id", "mobile"),
    [("1234", "9876500001"), ("1000000000000１", "9876500001"), ("10000000000001\x00", "9876500001"),
     ("10000000000001", "12345"), ("10000000000001", "98765\x0000001"), ("", ""), ("x" * 500, "9" * 500)],
)  # fmt: skip
def test_malformed_input_gets_a_form_error_and_asks_nothing(client, record, reference_id, mobile):
    response = ask(client, reference_id, mobile)
    assert response.status_code == 400 and 'class="errorlist' in response.content.decode()
    assert sms.outbox == [] and not TransparencyEvent.objects.exists() and CHALLENGE_KEY not in client.session


def _other_reference(n):
    return {"reference_id": f"2000000000000{n}"}


def _other_mobile(n):
    return {"mobile": f"98765 1000{n}"}


def _other_address(n):
    return {"REMOTE_ADDR": f"10.0.0.{n}"}


@pytest.mark.parametrize(
    ("limit", "varied"),
    [
        ("PRAHARI_TRANSPARENCY_PER_IP_HOUR", (_other_reference, _other_mobile)),
        ("PRAHARI_TRANSPARENCY_PER_REFERENCE_HOUR", (_other_mobile, _other_address)),
        ("PRAHARI_TRANSPARENCY_PER_MOBILE_HOUR", (_other_reference, _other_address)),
    ],
    ids=["per address", "per reference id", "per mobile"],
)
def test_each_hourly_limit_answers_429(client, record, settings, limit, varied):
    settings.PRAHARI_TRANSPARENCY_PER_IP_HOUR = settings.PRAHARI_TRANSPARENCY_PER_REFERENCE_HOUR = 100
    settings.PRAHARI_TRANSPARENCY_PER_MOBILE_HOUR = 100
    setattr(settings, limit, 2)

    def attempt(n):
        fields = {"reference_id": "10000000000001", "mobile": "98765 00001", "REMOTE_ADDR": "10.0.0.1"}
        for vary in varied:
            fields.update(vary(n))
        return ask(client, fields.pop("reference_id"), fields.pop("mobile"), **fields)

    with freeze_time(T0):
        assert [attempt(n).status_code for n in (1, 2)] == [302, 302]
        refused = attempt(3)
        assert refused.status_code == 429 and "Too many codes" in refused.content.decode()
        assert "no-store" in refused["Cache-Control"]
    with freeze_time(T0 + timedelta(hours=1, seconds=1)):
        assert attempt(4).status_code == 302  # the hour has passed
    assert TransparencyEvent.objects.filter(outcome=Outcome.LIMITED).count() == 1


def test_the_session_ends_after_its_minutes_and_forgets_the_record(client, world, record, settings):
    look(world.worker, record)
    unlock(client)
    assert history(client).status_code == 200
    minutes = settings.PRAHARI_TRANSPARENCY_SESSION_MINUTES
    response = history(client, at=T0 + timedelta(hours=1, minutes=minutes, seconds=1))
    assert response.status_code == 302 and response.url == ASK
    assert RECORD_KEY not in client.session and UNTIL_KEY not in client.session


def test_done_forgets_the_record(client, world, record):
    unlock(client)
    with freeze_time(T0 + timedelta(hours=1)):
        assert client.post("/my-record/end/").url == ASK
        assert client.get(HISTORY).url == ASK


def test_only_the_last_90_days_fifty_a_page_and_bad_pages_are_404(client, world, record, settings):
    look(world.worker, record, at=T0 - timedelta(days=settings.PRAHARI_TRANSPARENCY_DAYS) + timedelta(minutes=30))
    for n in range(51):
        look(world.worker, record, at=T0 + timedelta(seconds=n))
    unlock(client)
    assert history(client).content.decode().count("<tr>") == 1 + 50
    assert history(client, page=2).content.decode().count("<tr>") == 1 + 1  # the 90-day-old look is past the period
    for page in ("3", "abc", "-1", "1\x00"):
        assert history(client, page=page).status_code == 404


@pytest.mark.parametrize("events", [1, 50])
def test_the_history_page_costs_the_same_queries_for_1_or_50_looks(client, world, record, events):
    for n in range(events):
        look(world.worker if n % 2 else world.supervisor, record, at=T0 + timedelta(seconds=n))
    unlock(client)
    with CaptureQueriesContext(connection) as queries:
        response = history(client)
    assert response.content.decode().count("<tr>") == 1 + events
    # the session, the record, the log row, the count, the page and the `explain` job's watermark
    assert len(queries) == 6


def test_every_step_is_logged_without_the_code_or_what_was_typed(client, world, record):
    unlock(client)
    history(client)
    rows = TransparencyEvent.objects.order_by("pk")
    assert [(r.outcome, r.beneficiary_id, r.ip_address) for r in rows] == [
        (Outcome.SENT, record.pk, "127.0.0.1"),
        (Outcome.OPENED, record.pk, "127.0.0.1"),
        (Outcome.SHOWN, record.pk, "127.0.0.1"),
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {TransparencyEvent._meta.db_table}")
        stored = repr(cursor.fetchall())
    for secret in (sent_code(sms.outbox), record.reference_id, record.mobile, record.mobile[3:]):
        assert secret not in stored


def test_posts_need_the_csrf_token(record):
    client = Client(enforce_csrf_checks=True)
    assert ask(client).status_code == 403 and sms.outbox == []


def test_no_account_is_needed_and_a_signed_in_worker_is_not_turned_away(client, world):
    assert client.get(ASK).status_code == 200
    sign_in(client, world.worker)
    assert client.get(ASK).status_code == 200


def test_every_page_labels_its_controls_and_ties_its_errors(client, world, record):
    look(world.worker, record)
    with freeze_time(T0 + timedelta(hours=1)):
        pages = [client.get(ASK), ask(client, "12", "1")]
        ask(client)
        pages += [client.get(CODE), client.post(CODE, {"code": "12"})]
        pages.append(client.post(CODE, {"code": sent_code(sms.outbox)}, follow=True))
    assert [p.status_code for p in pages] == [200, 400, 200, 400, 200]
    assert "Who opened my record" in pages[-1].content.decode()
    assert [problems(p.content.decode()) for p in pages] == [[]] * len(pages)


class RefusingGateway(sms.BaseSMSBackend):
    def send(self, to: str, text: str) -> None:
        raise sms.SMSDeliveryError("SMS gateway answered HTTP 503")


def test_a_refused_send_answers_as_any_ask_and_is_logged_once(client, record, settings):
    settings.SMS_BACKEND = f"{__name__}.RefusingGateway"
    settings.PRAHARI_TRANSPARENCY_PER_IP_HOUR = 2
    with freeze_time(T0):
        assert ask(client).url == CODE
        assert ask(client, "10000000000009").url == CODE  # the refused send counted as one ask, not two
        assert ask(client, "10000000000008").status_code == 429
    outcomes = list(TransparencyEvent.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == [Outcome.SENT, Outcome.NOT_SENT, Outcome.NO_MATCH, Outcome.LIMITED]
