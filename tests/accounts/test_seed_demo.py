"""`manage.py seed_demo`: refuses outside DEBUG, builds every role and status, is idempotent, tells the truth,
and shows itself: due dates, 30 days of look-ups on the dashboard, an operator, a banner."""

from __future__ import annotations

import json
import stat
from base64 import b32decode
from binascii import unhexlify
from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Q
from django.db.models import F as models_F
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import (
    AccountEvent,
    AccountEventType,
    District,
    Facility,
    Notification,
    RegisteredDevice,
    Role,
    State,
    Status,
    User,
)
from accounts.services.demo import DEMO_BROWSER_LABEL, DEMO_REASON, TOTP_DEVICE_NAME
from accounts.services.devices import device_find
from accounts.services.system import system_user
from records.demo import CANARIES_PER_DISTRICT
from records.models import AccessEvent, Appointment, Beneficiary, Dose

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def seed(*args: str) -> str:
    """Run seed_demo; with few records unless the test asks for a number (the default makes a month of work)."""
    out = StringIO()
    few = () if "--beneficiaries" in args else ("--beneficiaries", "90")
    call_command("seed_demo", *args, *few, stdout=out)
    return out.getvalue()


def demo_users():
    return User.objects.filter(is_system=False)


def snapshot() -> dict:
    """Everything a second run must leave alone."""
    return {
        "users": demo_users().count(),
        "user_history": User.history.count(),
        "events": AccountEvent.objects.count(),
        "devices": list(TOTPDevice.objects.order_by("pk").values_list("pk", "user_id", "key", "confirmed")),
        "places": (State.history.count(), District.history.count(), Facility.history.count()),
        "passwords": dict(demo_users().values_list("username", "password")),
        "statuses": dict(demo_users().values_list("username", "status")),
        "beneficiaries": list(Beneficiary.objects.order_by("pk").values_list("reference_id", "name", "is_canary")),
        "doses": Dose.objects.count(),
        "access_events": AccessEvent.objects.count(),
        "due": dict(demo_users().values_list("username", "review_due_at")),
    }


def test_refuses_when_debug_is_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo")
    assert not demo_users().exists()
    assert not State.objects.exists()


def test_force_runs_when_debug_is_off(settings):
    settings.DEBUG = False
    seed("--force", "--workers", "0")
    assert User.objects.filter(username="sa.up", role=Role.STATE_ADMIN).exists()


def test_builds_the_jurisdiction_every_role_and_every_worker_status(debug):
    out = seed()
    state = State.objects.get(code="09")
    assert (state.name, state.name_hi) == ("Uttar Pradesh", "उत्तर प्रदेश")
    districts = District.objects.filter(state=state)
    assert set(districts.values_list("name", flat=True)) == {"Lucknow", "Varanasi", "Gorakhpur"}
    assert all(d.facilities.count() == 3 and d.name_hi for d in districts)
    assert User.objects.get(username="sa.up").state == state
    assert demo_users().filter(role=Role.SUPERVISOR, district__state=state).count() == 3
    workers = demo_users().filter(role=Role.WORKER)
    statuses = list(workers.values_list("status", flat=True))
    assert len(statuses) == 12
    assert set(statuses) == set(Status.values)
    assert max(set(statuses), key=statuses.count) == Status.ACTIVE
    assert workers.values("facility").distinct().count() == 9  # spread over every facility
    assert all(u.get_full_name() and u.mobile for u in workers)
    assert len({u.mobile for u in demo_users()}) == demo_users().count()
    assert "worker: " in out
    assert "active=6" in out


def test_accounts_are_made_and_moved_by_the_system_actor_with_history_and_events(debug):
    seed("--workers", "7")
    system = system_user()
    for user in demo_users():
        created = user.history.earliest("history_date")
        assert (created.history_type, created.history_user, created.history_change_reason) == ("+", system, DEMO_REASON)
        assert AccountEvent.objects.filter(
            type=AccountEventType.USER_CREATED, actor=system, subject=user, reason=DEMO_REASON
        ).exists()
    suspended = demo_users().get(role=Role.WORKER, status=Status.SUSPENDED)
    assert suspended.suspension_cause in {"dormant", "manual"}
    row = suspended.history.latest("history_date")
    assert (row.status, row.history_user) == (Status.SUSPENDED, system)
    assert row.history_change_reason.startswith(DEMO_REASON)
    assert AccountEvent.objects.filter(type=AccountEventType.USER_SUSPENDED, actor=system, subject=suspended).exists()
    deactivated = demo_users().get(role=Role.WORKER, status=Status.DEACTIVATED)
    assert not deactivated.is_active
    assert AccountEvent.objects.filter(
        type=AccountEventType.USER_DEACTIVATED, actor=system, subject=deactivated
    ).exists()


def test_credentials_file_is_true_and_private_and_lists_only_accounts_with_passwords(debug, tmp_path):
    path = tmp_path / "not" / "yet" / "credentials.json"
    seed("--workers", "7", "--credentials-out", str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entries = json.loads(path.read_text(encoding="utf-8"))
    can_log_in = demo_users().filter(status__in=[Status.ACTIVE, Status.SUSPENDED])
    assert sorted(e["username"] for e in entries) == sorted(can_log_in.values_list("username", flat=True))
    assert not any(u.has_usable_password() for u in demo_users().exclude(pk__in=can_log_in))
    devices = TOTPDevice.objects.filter(name=TOTP_DEVICE_NAME, confirmed=True)
    assert sorted(devices.values_list("user__username", flat=True)) == sorted(e["username"] for e in entries)
    for entry in entries:
        user = User.objects.get(username=entry["username"])
        assert set(entry) == {
            "username",
            "password",
            "role",
            "status",
            "facility",
            "totp_key",
            "totp_key_base32",
            "otpauth_uri",
            "device_token",
        }
        assert user.check_password(entry["password"]) and entry["status"] == user.status
        device = TOTPDevice.objects.get(user=user)
        assert b32decode(entry["totp_key_base32"]) == unhexlify(entry["totp_key"]) == device.bin_key
        uri = urlsplit(entry["otpauth_uri"])
        assert (uri.scheme, uri.netloc) == ("otpauth", "totp") and user.username in unquote(uri.path)
        assert parse_qs(uri.query)["secret"] == [entry["totp_key_base32"]]
        if user.status == Status.ACTIVE:  # an approved demo browser, whose cookie this installation accepts
            browser = device_find(user=user, token=entry["device_token"])
            assert browser is not None and browser.status == "approved"
        else:
            assert entry["device_token"] is None and not user.registered_devices.filter(status="approved").exists()
        assert entry["role"] == (user.role or "operator")
        assert entry["facility"] == (user.facility.code if user.facility else None)
        assert entry["totp_key"] == TOTPDevice.objects.get(user=user).key
    worker = next(e for e in entries if e["role"] == Role.WORKER)
    device = TOTPDevice.objects.get(user__username=worker["username"])
    assert device.verify_token(f"{totp(unhexlify(worker['totp_key'])):06d}")


def test_second_run_creates_and_changes_nothing(debug, tmp_path):
    path = tmp_path / "credentials.json"
    seed("--workers", "7", "--credentials-out", str(path))
    before, first_file = snapshot(), json.loads(path.read_text())
    out = seed("--workers", "7", "--credentials-out", str(path))
    assert snapshot() == before
    assert json.loads(path.read_text()) == first_file
    assert "0 created" in out
    assert "0 existing passwords replaced" in out


def test_second_run_without_a_file_keeps_passwords(debug):
    seed("--workers", "1")
    before = snapshot()
    seed("--workers", "1")
    assert snapshot() == before


def test_a_file_without_a_true_password_gets_a_new_recorded_one(debug, tmp_path):
    path = tmp_path / "credentials.json"
    seed("--workers", "1")  # passwords set, but nobody wrote them down
    path.write_text(json.dumps([{"username": "dio.lucknow", "password": "not-the-password"}]))
    seed("--workers", "1", "--credentials-out", str(path))
    entries = {e["username"]: e["password"] for e in json.loads(path.read_text())}
    for username, password in entries.items():
        assert User.objects.get(username=username).check_password(password)
    assert entries["dio.lucknow"] != "not-the-password"
    assert AccountEvent.objects.filter(
        type=AccountEventType.PASSWORD_CHANGED, subject__username="dio.lucknow", actor=system_user()
    ).exists()
    before = snapshot()
    seed("--workers", "1", "--credentials-out", str(path))  # now the file is true: nothing changes
    assert snapshot() == before


def test_workers_option_sets_the_number_of_workers(debug):
    seed("--workers", "9")
    assert demo_users().filter(role=Role.WORKER).count() == 9
    assert demo_users().filter(role=Role.WORKER, status=Status.ACTIVE).count() == 3  # the first and the extra two


def test_too_few_workers_say_which_statuses_are_missing(debug):
    out = seed("--workers", "2")
    assert demo_users().filter(role=Role.WORKER).count() == 2
    assert "use --workers 7 or more" in out


def test_beneficiaries_are_synthetic_spread_over_the_facilities_with_canaries_in_every_district(debug):
    out = seed("--workers", "0", "--beneficiaries", "50")
    ordinary = Beneficiary.objects.filter(is_canary=False)
    assert ordinary.count() == 50 and "56 in the demo facilities (50 created, 6 canaries created" in out
    per_facility = set(ordinary.values("facility").annotate(n=Count("pk")).values_list("n", flat=True))
    assert per_facility <= {5, 6} and len(set(ordinary.values_list("facility", flat=True))) == 9
    canaries = Beneficiary.objects.filter(is_canary=True)
    assert sorted(canaries.values("facility__district").annotate(n=Count("pk")).values_list("n", flat=True)) == [
        2,
        2,
        2,
    ]
    for record in Beneficiary.objects.all():
        record.full_clean()  # 14-digit reference ids, valid choices
        assert record.mobile.startswith("+91") and len(record.mobile) == 13
    assert Dose.objects.filter(beneficiary__in=ordinary).values("beneficiary").distinct().count() == 50
    assert Beneficiary.history.filter(history_user=system_user()).count() == 56


def test_more_beneficiaries_are_added_up_to_the_number_asked_and_never_twice(debug):
    seed("--workers", "0", "--beneficiaries", "20")
    before = set(Beneficiary.objects.values_list("reference_id", flat=True))
    out = seed("--workers", "0", "--beneficiaries", "30")
    assert "(10 created, 0 canaries created" in out
    assert before < set(Beneficiary.objects.values_list("reference_id", flat=True))
    assert "(0 created, 0 canaries created" in seed("--workers", "0", "--beneficiaries", "30")
    assert Beneficiary.objects.count() == 36


def test_negative_beneficiaries_are_refused(debug):
    with pytest.raises(CommandError, match="--beneficiaries must be 0 or more"):
        seed("--beneficiaries", "-1")


def _canaries_on_top(records: list[tuple[str, int, bool]], position: int) -> bool:
    """True when the district's canaries hold its largest values of `position` (0: reference id, 1: pk)."""
    ordered = sorted(records, key=lambda record: record[position])
    return all(canary for *_ignored, canary in ordered[-CANARIES_PER_DISTRICT:])


def test_canaries_sit_at_random_among_their_districts_ids(debug):
    """Canaries used to take each district's largest reference ids (and primary keys): easy to avoid.

    With 30 ordinary records and 2 canaries in each of the 3 districts, placed uniformly at random, a
    district's canaries are its 2 largest ids with probability 1/C(32, 2) = 1/496; all three districts
    at once, (1/496)^3 ≈ 8e-9, and likewise for primary keys: this test fails by chance about once in
    60 million runs, and every time against the old placement.
    """
    seed("--workers", "0", "--beneficiaries", "90")
    by_district: dict[int, list] = {}
    for district, *record in Beneficiary.objects.values_list("facility__district", "reference_id", "pk", "is_canary"):
        by_district.setdefault(district, []).append(tuple(record))
    assert len(by_district) == 3 and all(len(records) == 32 for records in by_district.values())
    assert not all(_canaries_on_top(records, 0) for records in by_district.values())
    assert not all(_canaries_on_top(records, 1) for records in by_district.values())


def test_reruns_keep_the_canaries_where_they_are(debug):
    seed("--workers", "0", "--beneficiaries", "20")
    canaries = Beneficiary.objects.filter(is_canary=True).order_by("pk")
    before = list(canaries.values_list("pk", "reference_id", "name", "mobile", "facility"))
    seed("--workers", "0", "--beneficiaries", "40")
    assert list(canaries.values_list("pk", "reference_id", "name", "mobile", "facility")) == before
    assert len(before) == 3 * CANARIES_PER_DISTRICT


def test_the_demo_records_cannot_be_recomputed_from_the_source(debug):
    """A fixed seed would give every fresh database the same records: the canaries would then be known to
    anyone who ran seed_demo once. Two fresh builds of 26 records share no reference id (by chance, one
    of 26 × 26 pairs out of 9 × 10^13 possible ids would match with probability under 10^-11)."""
    seed("--workers", "0", "--beneficiaries", "20")
    first = set(Beneficiary.objects.values_list("reference_id", flat=True))
    Appointment.objects.all().delete()
    Dose.objects.all().delete()
    Beneficiary.objects.all().delete()
    seed("--workers", "0", "--beneficiaries", "20")
    second = set(Beneficiary.objects.values_list("reference_id", flat=True))
    assert len(first) == len(second) == 26 and not first & second


# --- The demo shows itself -----------------------------------------------------------------------------


def test_the_operator_is_a_superuser_made_by_the_system_who_may_open_the_schedules(debug, client):
    from tests.conftest import sign_in

    seed("--workers", "1")
    operator = User.objects.get(username="operator")
    assert operator.is_superuser and operator.is_staff and operator.status == Status.ACTIVE and not operator.role
    created = operator.history.earliest("history_date")
    assert (created.history_user, created.history_change_reason) == (system_user(), DEMO_REASON)
    assert AccountEvent.objects.filter(type=AccountEventType.USER_CREATED, subject=operator).exists()
    sign_in(client, operator)
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 200


def test_seeded_browsers_are_approved_without_a_notice(debug):
    seed("--workers", "7")
    browsers = RegisteredDevice.objects.filter(label=DEMO_BROWSER_LABEL)
    assert browsers.count() == demo_users().filter(status=Status.ACTIVE).count()
    assert set(browsers.values_list("status", flat=True)) == {"approved"}
    assert set(browsers.values_list("decided_by", flat=True)) == {system_user().pk}
    assert not Notification.objects.filter(kind__in=["device_pending", "device_approved"]).exists()
    assert AccountEvent.objects.filter(type=AccountEventType.DEVICE_APPROVED).count() == browsers.count()


def test_active_accounts_are_due_for_re_verification_over_the_next_weeks(debug):
    from records.demo_lookups import SLOW_EXTRACTOR

    seed()
    now = timezone.now()
    # Active when seeded: the slow extractor too, before the anomalies job suspended it.
    seeded_active = Q(status=Status.ACTIVE) | Q(username=SLOW_EXTRACTOR)
    active = demo_users().filter(seeded_active, is_superuser=False)
    dues = sorted(active.values_list("review_due_at", flat=True))
    assert None not in dues and len(dues) == 10
    assert now < dues[0] <= now + timedelta(days=7) and dues[-1] <= now + timedelta(days=45)
    assert len({(d - now).days // 7 for d in dues}) >= 5  # spread over the weeks, never all at once
    for district in District.objects.all():  # each supervisor has a re-verification to see to soon
        soon = active.filter(facility__district=district, review_due_at__lte=now + timedelta(days=14))
        assert soon.count() == 1
    assert not demo_users().exclude(pk__in=active).exclude(review_due_at=None).exists()


def test_thirty_days_of_look_ups_fill_the_dashboard_and_only_the_slow_extractor_raises_alerts(debug):
    from accounts.models import Alert
    from governance.dashboard import dashboard_for
    from records.demo_lookups import SLOW_EXTRACTOR
    from records.verification import verify

    out = seed("--workers", "12", "--beneficiaries", "90")
    events = AccessEvent.objects.all()
    readers = set(events.values_list("actor__username", flat=True))
    active = demo_users().filter(role=Role.WORKER, status=Status.ACTIVE).values_list("username", flat=True)
    assert readers == {*active, SLOW_EXTRACTOR}  # the anomalies job suspended the slow extractor
    assert events.filter(beneficiary__is_canary=True).count() == 0
    assert set(events.values_list("action", "outcome").distinct()) == {
        ("search", "allowed"),
        ("view", "allowed"),
        ("view", "consent_asked"),  # a beneficiary asked in person: the code sent, then the record opened
    }
    assert timezone.localdate(events.earliest("created_at").created_at) > timezone.localdate() - timedelta(days=30)
    hours = {timezone.localtime(e).hour for e in events.values_list("created_at", flat=True)}
    assert min(hours) >= 9 and max(hours) <= 18
    assert not events.exclude(beneficiary__facility=models_F("actor__facility")).exists()  # their own facility
    assert verify().problem is None
    assert set(Alert.objects.values_list("subject__username", flat=True)) == {SLOW_EXTRACTOR}  # honest work: none
    assert f"Look-ups: {events.count()} access events added" in out
    supervisor = User.objects.get(username="dio.lucknow")
    dashboard = dashboard_for(supervisor)
    assert (
        sum(n for _day, n in dashboard.views_by_day)
        == events.filter(action="view", outcome="allowed", actor__facility__district=supervisor.district).count()
    )
    assert sum(1 for _day, n in dashboard.views_by_day if n) >= 15  # a chart, not a spike


def test_a_second_run_the_same_day_adds_no_look_ups(debug):
    seed("--workers", "8", "--beneficiaries", "30")
    before = AccessEvent.objects.count()
    assert before > 0
    assert "Look-ups: 0 access events added" in seed("--workers", "8", "--beneficiaries", "30")
    assert AccessEvent.objects.count() == before


def test_the_banner_names_who_to_be_and_three_records_the_demo_worker_may_read(debug, tmp_path):
    from records.services import Viewer, record_get_for_viewer

    banner = tmp_path / "banner.txt"
    seed("--workers", "7", "--credentials-out", str(tmp_path / "c.json"), "--banner-out", str(banner))
    text = banner.read_text(encoding="utf-8")
    assert "w.lucknow.01" in text and "dio.lucknow" in text and "operator" in text
    assert str(tmp_path / "c.json") in text and "device approve --user dio.lucknow" in text
    ids = text.split("Records w.lucknow.01 may read: ")[1].splitlines()[0].split(", ")
    worker = User.objects.get(username="w.lucknow.01")
    assert len(ids) == 3
    for reference_id in ids:  # each opens for the demo worker (no canary: it would suspend her)
        assert record_get_for_viewer(viewer=Viewer(user=worker), reference_id=reference_id, purpose="due_dose")
    worker.refresh_from_db()
    assert worker.status == Status.ACTIVE
