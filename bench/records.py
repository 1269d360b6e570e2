"""P2: a governed record view against an ungoverned view of the same row; P5: access-log appends per second.

P2 requests the real record page (`/records/<id>/`) and, as the baseline, a bare page
(bench/_urls.py) that reads the same row and its doses and renders the same template, with no scope
check, budget, event or chain; one signed-in worker (a real login, an approved device) requests both
through the whole middleware stack, interleaved. The figure's queries are those of one governed
request. The notes add the view functions alone (no middleware), the stricter ratio.

P5 runs 16 writer processes at once on PostgreSQL, each appending events to its own worker's chain
(one transaction per event), and reports events per second of `access_event_append` outside a
transaction (one statement per event: see records/audit.py); the baseline is the same 16 writers
inserting the same rows, one statement each, with no chain (no head, no hash). The notes add the
record look-up's locked path (what records/services.py runs for each look-up, the budget's lock
included) measured in the same rounds. Goal ≥ 3,000 appends/s.
"""

from __future__ import annotations

import multiprocessing
import queue
import statistics
import time

from bench import Result, django_setup, figure, repetitions

P5_WRITERS = 16
P5_GOAL = 3000  # appends per second


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
    from records.services import DoseRow, RecordView

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


@figure("P2", "Governed record view vs an ungoverned view of the same row (whole request)", goal=1.5)
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
        request_queries, view_queries = _Statements(), _Statements()
        with connection.execute_wrapper(request_queries):
            client.get(governed_url, secure=True)
        with connection.execute_wrapper(view_queries):
            governed(_request(user), record.reference_id)
        pages, bare_pages, views, bare_views = [], [], [], []
        for _ in range(n):  # interleaved, so both see the same machine
            elapsed, page = _timed(clock, lambda: client.get(governed_url, secure=True))
            pages.append(elapsed)
            elapsed, bare_page = _timed(clock, lambda: client.get(bare_url, secure=True))
            bare_pages.append(elapsed)
            if page.status_code != 200 or bare_page.status_code != 200 or b"XXXX XXXX 5678" not in page.content:
                raise RuntimeError("a page stopped answering 200 with the masked record")
            views.append(_timed(clock, lambda: governed(_request(user), record.reference_id))[0])
            bare_views.append(_timed(clock, lambda: ungoverned_record(_request(user), record.reference_id))[0])
    clear_url_caches()
    median = statistics.median
    return Result(
        value=median(pages),
        baseline=median(bare_pages),
        unit="s",
        size=size,
        queries=len(request_queries),
        repetitions=n,
        notes=f"PostgreSQL {connection.pg_version}; whole requests {1000 * median(pages):.2f} vs "
        f"{1000 * median(bare_pages):.2f} ms; the view functions alone (no middleware) "
        f"{1000 * median(views):.2f} vs {1000 * median(bare_views):.2f} ms, ratio "
        f"{median(views) / median(bare_views):.3f}, {len(view_queries)} statements in the governed read "
        f"(besides BEGIN and COMMIT)",
    )


# --- P5 -------------------------------------------------------------------------------------------------


# What each writer does per event (every one its own transaction, the same row, the same prepared statements):
#   chained   records.audit.access_event_append outside a transaction, the path for appends without a
#             daily budget: one statement that moves the head this process wrote last (compare-and-swap)
#             and inserts the event; the locked path for a process's first event of the round;
#   locked    the record look-up's path (records/services.py): BEGIN, lock and read the head, the event
#             and the head in one statement, COMMIT (the lock keeps the daily budget exact);
#   unchained the same row inserted by one statement, with no head and no hash (the baseline).
P5_MODES = ("chained", "locked", "unchained")
UNCHAINED_FROM = 10**9  # the unchained rows' actor_seq, out of every chain's way


def _writer(actor_id: int, count: int, mode: str, first: int, start, results) -> None:
    """One writer process: `count` events, one transaction each, after every writer is ready."""
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import User
    from records.audit import access_event_append, chain_append, chain_head_lock, event_content
    from records.statements import event_row, prepared_cursor, statements_for

    connection.close()  # never share the parent's connection across a fork
    insert = statements_for(connection)["insert"]
    actor = User.objects.get(pk=actor_id)
    fields = {"action": "view", "outcome": "allowed", "purpose": "due_dose", "ip_address": "10.0.0.7", "detail": {}}
    placeholder = "0" * 64  # as wide as a hash, so the rows are the same size
    start.wait()
    started = time.perf_counter()
    for n in range(count):
        if mode == "chained":
            access_event_append(actor=actor, **fields)
        elif mode == "locked":
            with transaction.atomic():
                chain_append(chain_head_lock(actor.pk), **fields)
        else:
            at, pace = timezone.now(), (240.0, 60.0)  # as wide as the chained rows' figures
            row = event_row(connection, at, actor.pk, first + n, event_content(fields), placeholder, placeholder, pace)
            with prepared_cursor(connection) as cursor:
                cursor.execute(insert, row)
    results.put(time.perf_counter() - started)
    connection.close()


def _throughput(actors: list[int], per_writer: int, mode: str, first: int = 0) -> float:
    """Appends per second of all writers together (total events / wall time of the slowest writer)."""
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(len(actors)), context.Queue()
    processes = [context.Process(target=_writer, args=(a, per_writer, mode, first, start, results)) for a in actors]
    for process in processes:
        process.start()
    elapsed, deadline = [], time.monotonic() + 600
    while len(elapsed) < len(processes):  # a writer that died fails the figure now, not after the timeout
        try:
            elapsed.append(results.get(timeout=1))
        except queue.Empty:
            if time.monotonic() > deadline or any(p.exitcode not in (None, 0) for p in processes):
                for process in processes:
                    process.kill()
                raise RuntimeError("a writer process failed or timed out (see its traceback above)") from None
    for process in processes:
        process.join(60)
        if process.exitcode != 0:
            raise RuntimeError(f"a writer process failed (exit {process.exitcode})")
    return len(actors) * per_writer / max(elapsed)


@figure("P5", "Access-log appends per second, 16 writers, chain on (PostgreSQL)")
def appends_per_second(size: str) -> Result:
    django_setup()
    from django.db import connection

    from records.models import AccessEvent
    from records.verification import verify

    per_writer = repetitions(size, small=100, full=1000)
    actors = [_place_and_worker(f"bench.writer{n:02d}")[1].pk for n in range(P5_WRITERS)]
    _throughput(actors, per_writer // 10, "chained")  # warm-up: connections, heads, caches
    rounds = repetitions(size, small=1, full=3)
    rates: dict[str, list[float]] = {mode: [] for mode in P5_MODES}
    for n in range(rounds):  # interleaved, so each sees the same machine; unchained rows numbered round after round
        for mode in P5_MODES:
            rates[mode].append(_throughput(actors, per_writer, mode, first=UNCHAINED_FROM + n * per_writer))
    # The unchained rows are outside any chain; leave the chains alone and check them.
    chained_events = AccessEvent.objects.filter(actor__in=actors, actor_seq__lt=UNCHAINED_FROM).count()
    plain_rows = AccessEvent.objects.filter(actor_seq__gte=UNCHAINED_FROM).count()
    value, locked, baseline = (statistics.median(rates[mode]) for mode in P5_MODES)
    with connection.cursor() as cursor:  # drop the unchained rows so verify_audit sees only chains
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(f"DELETE FROM {AccessEvent._meta.db_table} WHERE actor_seq >= %s", [UNCHAINED_FROM])
        cursor.execute("SET session_replication_role = origin")
    verdict = verify(actors)  # the writers' chains (P3's generated events, in the same database, have none)
    if verdict.problem or verdict.checked != chained_events:
        raise RuntimeError(f"the chains do not verify after the run: {verdict.problem or verdict.checked}")
    runs = {mode: [round(v) for v in rates[mode]] for mode in P5_MODES}
    return Result(
        value=value,
        baseline=baseline,
        unit="appends/s",
        size=size,
        repetitions=rounds * P5_WRITERS * per_writer,
        notes=f"goal ≥ {P5_GOAL}/s: {'met' if value >= P5_GOAL else 'MISSED'}; {P5_WRITERS} writer processes, "
        f"{per_writer} events each per round, {rounds} round(s), one transaction per event. "
        f"Value: access_event_append outside a transaction (one statement, compare-and-swap on the head) "
        f"{runs['chained']}/s; the record look-up's locked path (BEGIN, head FOR UPDATE, event+head, COMMIT; "
        f"it keeps the daily budget exact) {runs['locked']}/s, median {locked:.0f}/s; baseline: the same rows, "
        f"one INSERT each, no head, no hash {runs['unchained']}/s ({plain_rows} rows, removed); "
        f"{chained_events} chained events verified",
    )
