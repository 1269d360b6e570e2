"""P2: the governed record page against the same page ungoverned; P5: record reads per second, 16 writers.

P2 requests the real record page (`/records/<id>/`) and, as the baseline, a bare page (bench/_urls.py)
that reads the same row and its doses and renders the same template, with no scope check, budget,
canary check, event or chain: what is left is what governance adds. One signed-in worker (a real
login, an approved device) requests both through the whole middleware stack, interleaved. The
headline is the whole request (goal ≤ 1.5× and ≤ 8 queries, those of one governed request); `extra`
adds the view functions alone (no middleware, no client), the stricter ratio, with their statements.

P5 runs 16 writer processes at once on PostgreSQL, each with its own connection and its own worker's
chain (bench/_writers.py), one transaction per event. The headline is record reads per second on the
path the record page takes, `record_get_for_viewer` (records/services.py: the chain head locked so the
daily budget is exact, the canary and scope checks, the event in the same transaction, the doses);
the baseline is the same 16 writers inserting an access event's row by one statement each in
autocommit, with no head and no hash: the cheapest write a read must make, measured in the same
rounds. Goal: ≥ 3,000 reads/s and ≥ 0.85 of the baseline. `extra` adds `access_event_append` (one
statement, compare-and-swap on the head; appends without a budget) and its ratio. Rounds are
interleaved, the order turning; medians are reported.
"""

from __future__ import annotations

import statistics
import time

from bench import Result, django_setup, figure, repetitions

P2_QUERIES = 8  # the governed request's goal, beside the ratio
P5_WRITERS = 16
P5_GOAL = 3000  # reads per second
P5_GOAL_RATIO = 0.85  # of the unchained INSERT's rate


def _place_and_worker(username: str = "bench.viewer"):
    from django.contrib.auth.models import Group

    from accounts.models import District, Facility, Role, State, Status, User

    state, _ = State.objects.get_or_create(code="09", defaults={"name": "Uttar Pradesh"})
    district, _ = District.objects.get_or_create(state=state, code="164", defaults={"name": "Lucknow"})
    facility, _ = Facility.objects.get_or_create(district=district, code="1090100001", defaults={"name": "PHC Chinhat"})
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create_user(
            username=username, password=None, role=Role.WORKER, status=Status.ACTIVE, facility=facility
        )
        user.groups.set(Group.objects.filter(name=Role.WORKER))
    return facility, user


def _record(facility):
    from datetime import date

    from records.models import Beneficiary, Dose

    record, created = Beneficiary.objects.get_or_create(
        reference_id="10000000000001",
        defaults={
            "name": "Sunita Yadav",
            "year_of_birth": 1984,
            "gender": "F",
            "id_type": "aadhaar",
            "id_number": "123412345678",
            "mobile": "+919876500001",
            "facility": facility,
        },
    )
    if created:
        for n, day in enumerate((date(2021, 6, 1), date(2021, 9, 1)), start=1):
            Dose.objects.create(
                beneficiary=record, vaccine="Covishield", dose_number=n, given_on=day, facility=facility
            )
    return record


def _request(user):
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import RequestFactory
    from django.utils import timezone

    from accounts.login.session import AUTH_AT_KEY

    request = RequestFactory().get("/records/10000000000001/", {"purpose": "due_dose"}, REMOTE_ADDR="10.0.0.7")
    request.user = user
    request.session = SessionStore()
    request.session[AUTH_AT_KEY] = timezone.now().isoformat()
    return request


def ungoverned_record(request, reference_id):
    """The same page without governance: read the row and its doses, mask, render."""
    from django.shortcuts import render

    from accounts.sms import mask_mobile
    from records.changes import mask_id_number
    from records.forms import RevealForm
    from records.models import Beneficiary
    from records.shown import DoseRow, RecordView

    record = Beneficiary.objects.select_related("facility").get(reference_id=reference_id)
    doses = [
        DoseRow(d.vaccine, d.dose_number, d.given_on, d.facility.name)
        for d in record.doses.select_related("facility").order_by("given_on", "dose_number")
    ]
    view = RecordView(
        reference_id=record.reference_id,
        name=record.name,
        year_of_birth=record.year_of_birth,
        gender=record.get_gender_display(),
        facility=record.facility.name,
        id_type=record.get_id_type_display(),
        id_number_masked=mask_id_number(record.id_number),
        mobile_masked=mask_mobile(record.mobile),
        doses=doses,
    )
    return render(
        request,
        "records/record.html",
        {
            "record": view,
            "purpose": "due_dose",
            "reveal_form": RevealForm(initial={"purpose": "due_dose"}),
            "stepped_up": True,
            "step_up_url": "/accounts/step-up/",
        },
    )


def _signed_in_client(user, *, device_code: str = "BENCHP2A"):
    """A test Client that signed in through the real login pages (password, TOTP) on an approved device."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import RegisteredDevice
    from accounts.services.devices import device_token_hash, device_token_new
    from bench.login import CODE, LOGIN, PASSWORD, USER_AGENT, _client, _totp

    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    otp = TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=True)
    token = device_token_new()
    RegisteredDevice.objects.create(
        user=user, token_hash=device_token_hash(token), code=device_code, label=USER_AGENT[:40], status="approved"
    )
    client = _client(token)
    client.post(LOGIN, {"username": user.username, "password": PASSWORD}, secure=True)
    response = client.post(CODE, {"method": "totp", "token": _totp(otp)}, secure=True)
    if response.status_code != 302 or response["Location"].startswith("/accounts/"):
        raise RuntimeError(f"{user.username} could not sign in ({response.status_code})")
    return client


class _Statements:
    """Counts the SQL statements run through Django while active (an execute wrapper: it survives the
    reconnects between requests that CaptureQueriesContext's log does not)."""

    def __init__(self):
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)

    def __len__(self) -> int:
        return len(self.sql)


def _timed(clock, call) -> tuple[float, object]:
    started = clock()
    result = call()
    return clock() - started, result


@figure("P2", "record page governed vs ungoverned", goal=1.5)
def governed_view(size: str) -> Result:
    django_setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import override_settings
    from django.urls import clear_url_caches

    from records.views import record as governed

    n = repetitions(size, small=50, full=400)
    facility, user = _place_and_worker()
    record = _record(facility)
    settings.PRAHARI_DAILY_VIEW_BUDGET = 10 * n  # the figure measures views, not the refusal past the budget
    clock = time.perf_counter
    governed_url = f"/records/{record.reference_id}/?purpose=due_dose"
    bare_url = f"/bench/ungoverned/{record.reference_id}/"
    with override_settings(ROOT_URLCONF="bench._urls"):
        clear_url_caches()
        client = _signed_in_client(user)
        for url in (governed_url, bare_url):  # warm-up: templates, URLconf, the worker's chain head
            if client.get(url, secure=True).status_code != 200:
                raise RuntimeError(f"{url} did not answer 200")
        request_queries, view_queries, bare_request_queries = _Statements(), _Statements(), _Statements()
        with connection.execute_wrapper(request_queries):
            client.get(governed_url, secure=True)
        with connection.execute_wrapper(bare_request_queries):
            client.get(bare_url, secure=True)
        with connection.execute_wrapper(view_queries):
            governed(_request(user), record.reference_id)
        pages, bare_pages, views, bare_views = [], [], [], []
        for _ in range(n):  # interleaved, so both see the same machine
            elapsed, page = _timed(clock, lambda: client.get(governed_url, secure=True))
            pages.append(elapsed)
            elapsed, bare_page = _timed(clock, lambda: client.get(bare_url, secure=True))
            bare_pages.append(elapsed)
            elapsed, view = _timed(clock, lambda: governed(_request(user), record.reference_id))
            views.append(elapsed)
            elapsed, bare_view = _timed(clock, lambda: ungoverned_record(_request(user), record.reference_id))
            bare_views.append(elapsed)
            for answer in (page, bare_page, view, bare_view):
                if answer.status_code != 200 or b"XXXX XXXX 5678" not in answer.content:
                    raise RuntimeError("a page stopped answering 200 with the masked record")
    clear_url_caches()
    median = statistics.median
    view_ratio = median(views) / median(bare_views)
    return Result(
        value=median(pages),
        baseline=median(bare_pages),
        unit="s",
        size=size,
        queries=len(request_queries),
        repetitions=n,
        notes=f"PostgreSQL {connection.pg_version}; whole requests {1000 * median(pages):.2f} vs "
        f"{1000 * median(bare_pages):.2f} ms, {len(request_queries)} vs {len(bare_request_queries)} queries "
        f"(goal ≤ {P2_QUERIES}: {'met' if len(request_queries) <= P2_QUERIES else 'MISSED'}); the view functions "
        f"alone (no middleware) {1000 * median(views):.2f} vs {1000 * median(bare_views):.2f} ms, ratio "
        f"{view_ratio:.3f}, {len(view_queries)} statements in the governed view",
        extra={
            "view_ratio": round(view_ratio, 4),
            "view_value": median(views),
            "view_baseline": median(bare_views),
            "view_queries": len(view_queries),
            "baseline_queries": len(bare_request_queries),
            "queries_goal": P2_QUERIES,
        },
    )


# --- P5 -------------------------------------------------------------------------------------------------


def _unchained_removed() -> int:
    """Remove the baseline's rows after its round (not timed); return how many there were. They are numbered out of
    every chain's way, but the head lock reads its actor's newest number: left in place, they sent each later
    read down the lock's second statement (records/audit.py: `_latest_times`) and gave its pace their times."""
    from django.db import connection

    from bench._writers import UNCHAINED_FROM
    from records.models import AccessEvent

    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # past the append-only trigger
        cursor.execute(f"DELETE FROM {AccessEvent._meta.db_table} WHERE actor_seq >= %s", [UNCHAINED_FROM])
        removed = cursor.rowcount
        cursor.execute("SET session_replication_role = origin")
    return removed


@figure("P5", "record reads on the read path, 16 writers", goal=P5_GOAL_RATIO, floor=P5_GOAL)
def reads_per_second(size: str) -> Result:
    django_setup()
    from django.conf import settings

    from bench._writers import MODES, UNCHAINED_FROM, throughput, writers_make
    from records.models import AccessEvent
    from records.verification import verify

    per_writer = repetitions(size, small=100, full=1000)
    rounds = repetitions(size, small=3, full=3)
    settings.PRAHARI_DAILY_VIEW_BUDGET = 10**9  # the figure measures reads, not the refusal past the budget
    writers = writers_make(P5_WRITERS)
    actors = [actor for actor, _device in writers]
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    plain_rows = 0
    for n in range(rounds):  # interleaved, the order turning, so each mode sees the same machine
        for mode in MODES[n % 3 :] + MODES[: n % 3]:
            rates[mode].append(throughput(writers, per_writer, mode, first=UNCHAINED_FROM + n * (per_writer + 1)))
            if mode == "unchained":
                plain_rows += _unchained_removed()
    views = AccessEvent.objects.filter(actor__in=actors, action="view", beneficiary__isnull=False).count()
    chained_events = AccessEvent.objects.filter(actor__in=actors, actor_seq__lt=UNCHAINED_FROM).count()
    verdict = verify(actors)  # the writers' chains (P3's generated events, in the same database, have none)
    if verdict.problem or verdict.checked != chained_events:
        raise RuntimeError(f"the chains do not verify after the run: {verdict.problem or verdict.checked}")
    read, append, baseline = (statistics.median(rates[mode]) for mode in MODES)
    met = read >= P5_GOAL and read / baseline >= P5_GOAL_RATIO
    runs = {mode: [round(v) for v in rates[mode]] for mode in MODES}
    return Result(
        value=read,
        baseline=baseline,
        unit="reads/s",
        size=size,
        repetitions=rounds * P5_WRITERS * per_writer,
        notes=f"goal ≥ {P5_GOAL}/s and ≥ {P5_GOAL_RATIO} of the unchained INSERT: {'met' if met else 'MISSED'} "
        f"(ratio {read / baseline:.3f}); {P5_WRITERS} writer processes, {per_writer} events each per round, "
        f"{rounds} rounds, one transaction per event. Read path (record_get_for_viewer) {runs['read']}/s; "
        f"access_event_append (one statement) {runs['append']}/s, median {append:.0f}/s, ratio "
        f"{append / baseline:.3f}; baseline, one INSERT each, no head, no hash {runs['unchained']}/s "
        f"({plain_rows} rows, removed); {chained_events} chained events verified, {views} record views",
        extra={
            "goal_met": met,
            "append_rate": append,
            "append_ratio": round(append / baseline, 4),
            "read_rounds": runs["read"],
            "append_rounds": runs["append"],
            "unchained_rounds": runs["unchained"],
            "writers": P5_WRITERS,
        },
    )
