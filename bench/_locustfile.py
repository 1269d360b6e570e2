"""The people `make load` simulates, for locust (headless): health workers and supervisors, each signing in for real.

bench/_load.py runs `locust -f bench/_locustfile.py --headless …` with:
- LOAD_ACCOUNTS: the accounts file of bench/_load_seed.py (passwords, TOTP keys, signed device cookies, records);
- LOAD_STATE: a JSON file of each account's last TOTP step, read at the start and written at the end, so a
  later run (the next round) never offers a code of a step the server has already taken for that account
  (and the seconds sessions waited for a free account: `account_wait_s` in load.json);
- LOAD_MIX: `governed` (the real record page) or `baseline` (bench/_urls.py's ungoverned page of the same
  record); everything else is the same in both mixes;
- LOAD_LOOKUPS and LOAD_PAGES: record look-ups per worker session, console pages per supervisor session;
- LOAD_SUPERVISORS: how many of the simulated people are supervisors (the rest are workers).

A worker's session: the login page, the password, the code page, the TOTP code (on the account's approved
device: its signed cookie is in the jar), home, LOAD_LOOKUPS records of their facility each opened with a
purpose, sign out. A supervisor's: the same login, then LOAD_PAGES console pages in turn (dashboard, user
list, alerts, access log), sign out. Each session takes a free account: one whose last code was of an earlier
30-second step. There is no think time: each simulated person sends the next request when the last answered,
so the figures are what the server does at this concurrency.

The load tool plays the TLS proxy's part: every request says `X-Forwarded-Proto: https` and
`X-Forwarded-For: <the account's address>`, and carries the jar's cookies (Secure ones too) over the
plain-HTTP hop to gunicorn. Every answer is checked (status, redirect target, a marker in the page): anything
else counts as a failure, and `make load` fails on any.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import re
import struct
import time
from collections import deque
from pathlib import Path

import gevent
from locust import HttpUser, constant, events, task

STEP = 30  # seconds of a TOTP code (django-otp's default, as the load accounts' devices have)
USER_AGENT = "Mozilla/5.0 (Linux; Android 14; SM-A155F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile"
PURPOSES = ("due_dose", "certificate", "adverse_event", "session_planning")  # none that needs the beneficiary's code
CONSOLE = (("dashboard", "/admin/"), ("user list", "/admin/accounts/user/"), ("alerts", "/admin/accounts/alert/"))
CONSOLE += (("access log", "/admin/records/accessevent/"),)
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

MIX = os.environ.get("LOAD_MIX", "governed")
LOOKUPS = int(os.environ.get("LOAD_LOOKUPS", "10"))
PAGES = int(os.environ.get("LOAD_PAGES", "10"))
SUPERVISORS = int(os.environ.get("LOAD_SUPERVISORS", "2"))
DATA = json.loads(Path(os.environ["LOAD_ACCOUNTS"]).read_text()) if os.environ.get("LOAD_ACCOUNTS") else {}
STATE = Path(os.environ["LOAD_STATE"]) if os.environ.get("LOAD_STATE") else None


def totp(key_hex: str, when: float) -> tuple[str, int]:
    """The six-digit code an authenticator app shows at `when` (RFC 6238, SHA-1), and its step."""
    step = int(when) // STEP
    digest = hmac.new(bytes.fromhex(key_hex), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}", step


class Pool:
    """Accounts free to sign in as: each only once per TOTP step (django-otp takes a step's code once)."""

    def __init__(self, accounts: list[dict], last_steps: dict[str, int]) -> None:
        self.free = deque(accounts)
        self.last_steps = last_steps
        self.waited = 0.0  # seconds sessions spent waiting for a free account

    def take(self) -> dict:
        while True:
            step = int(time.time()) // STEP
            for _ in range(len(self.free)):
                account = self.free.popleft()
                if self.last_steps.get(account["username"], -1) < step:
                    return account
                self.free.append(account)
            self.waited += 0.2  # every free account signed in during this step: wait for the next
            gevent.sleep(0.2)

    def give_back(self, account: dict) -> None:
        self.free.append(account)


SAVED = json.loads(STATE.read_text()) if STATE and STATE.exists() else {"last_steps": {}, "waited_s": 0.0}
LAST_STEPS: dict[str, int] = SAVED["last_steps"]
POOLS = {
    role: Pool([a for a in DATA.get("accounts", []) if a["role"] == role], LAST_STEPS)
    for role in ("worker", "supervisor")
}


@events.quitting.add_listener
def _state_save(environment, **_kwargs) -> None:
    """Each account's last step, and the seconds sessions waited for a free account (all runs so far)."""
    if STATE is not None:
        waited = SAVED["waited_s"] + sum(pool.waited for pool in POOLS.values())
        STATE.write_text(json.dumps({"last_steps": LAST_STEPS, "waited_s": round(waited, 1)}))


class Person(HttpUser):
    abstract = True
    wait_time = constant(0)
    role = ""

    def on_start(self) -> None:
        self.host_name = self.host.split("://", 1)[-1].rstrip("/")

    def headers(self, account: dict, referer: str | None = None) -> dict:
        headers = {"User-Agent": USER_AGENT, "X-Forwarded-Proto": "https", "X-Forwarded-For": account["ip"]}
        # The server's cookies are Secure and the hop to gunicorn is plain HTTP, where requests would keep them
        # back: send the jar's cookies as the browser sends them to the TLS proxy.
        headers["Cookie"] = "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.client.cookies)
        if referer:  # Django's CSRF check over HTTPS wants a same-origin Referer on a POST
            headers["Referer"] = f"https://{self.host_name}{referer}"
        return headers

    def get(self, account: dict, path: str, kind: str, marker: str | None = None) -> str | None:
        """GET `path` as `account`; 200 with `marker` in the page, else a failure. Returns the page or None."""
        with self.client.get(path, headers=self.headers(account), name=kind, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{kind}: {response.status_code} for {path}")
                return None
            if marker is not None and marker not in response.text:
                response.failure(f"{kind}: the page of {path} lacks {marker!r}")
                return None
            return response.text

    def post(self, account: dict, path: str, kind: str, data: dict, expect: str) -> bool:
        """POST `data` to `path`; a redirect to `expect` is success, anything else a failure."""
        with self.client.post(
            path, data=data, headers=self.headers(account, path), name=kind, allow_redirects=False, catch_response=True
        ) as response:
            location = response.headers.get("Location", "")
            if response.status_code != 302 or location != expect:
                response.failure(f"{kind}: {response.status_code} to {location or 'nowhere'}, not to {expect}")
                return False
            return True

    def sign_in(self, account: dict) -> bool:
        """Password, then the TOTP code, on the account's approved device; True when signed in."""
        self.client.cookies.clear()
        self.client.cookies.set(DATA["device_cookie_name"], account["device_cookie"])
        page = self.get(account, "/accounts/login/", "login page", "csrfmiddlewaretoken")
        if page is None:
            return False
        form = {"csrfmiddlewaretoken": CSRF_FIELD.search(page).group(1)}
        credentials = {**form, "username": account["username"], "password": DATA["password"]}
        if not self.post(account, "/accounts/login/", "login password", credentials, "/accounts/login/code/"):
            return False
        page = self.get(account, "/accounts/login/code/", "login code page", "csrfmiddlewaretoken")
        if page is None:
            return False
        code, step = totp(account["totp_key"], time.time())
        LAST_STEPS[account["username"]] = step
        answer = {"csrfmiddlewaretoken": CSRF_FIELD.search(page).group(1), "method": "totp", "token": code}
        return self.post(account, "/accounts/login/code/", "login code", answer, "/")

    def sign_out(self, account: dict) -> None:
        token = self.client.cookies.get(DATA["csrf_cookie_name"], "")
        self.post(account, "/accounts/logout/", "logout", {"csrfmiddlewaretoken": token}, "/accounts/login/")

    def session(self, work) -> None:
        account = POOLS[self.role].take()
        try:
            if self.sign_in(account) and self.get(account, "/", "home", account["username"]) is not None:
                work(account)
                self.sign_out(account)
        finally:
            POOLS[self.role].give_back(account)


class Worker(Person):
    """A health worker: signs in, opens records of their facility with a purpose, signs out."""

    weight = 1
    role = "worker"

    @task
    def day(self) -> None:
        self.session(self.look_ups)

    def look_ups(self, account: dict) -> None:
        records = DATA["records"][account["facility"]]
        for _ in range(LOOKUPS):
            reference_id = random.choice(records)
            if MIX == "baseline":
                path = f"/bench/ungoverned/{reference_id}/"
            else:
                path = f"/records/{reference_id}/?purpose={random.choice(PURPOSES)}"
            if self.get(account, path, "record", reference_id) is None:
                return


class Supervisor(Person):
    """A supervisor: signs in to the console (OTP, approved device), opens its pages in turn, signs out."""

    fixed_count = SUPERVISORS
    role = "supervisor"

    @task
    def rounds(self) -> None:
        self.session(self.console)

    def console(self, account: dict) -> None:
        for n in range(PAGES):
            kind, path = CONSOLE[n % len(CONSOLE)]
            if self.get(account, path, kind, account["username"]) is None:  # the console's header names them
                return


FAILURES_SHOWN = 20


@events.request.add_listener
def _failure_show(request_type, name, exception=None, **_kwargs) -> None:
    """Print the first failures as they happen (the run's log), so a failed `make load` says what went wrong."""
    global FAILURES_SHOWN
    if exception is not None and FAILURES_SHOWN > 0:
        FAILURES_SHOWN -= 1
        print(f"FAILURE {request_type} {name}: {exception}", flush=True)
