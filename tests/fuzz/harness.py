"""What every fuzz test shares: nasty inputs, the database snapshot, and the "never a 500" check.

A refused input must leave the database as it found it. `snapshot()` reads every table of the public schema
(partitions through their parent) in one statement: its row count and a hash of its rows' text, in a stable
order. A test compares the snapshot before and after a refused request, leaving out only the tables that a
refusal writes by design, each group named below with its reason.
"""

from __future__ import annotations

import string
from urllib.parse import quote_from_bytes

from django.db import connection
from hypothesis import strategies as st

# Tables a refusal writes on purpose, by group. Anything not named here must not change.
FAILURE_LOG = frozenset(
    {
        # A wrong password or code is counted (docs/login.md, Lockouts): axes' attempts and failure log, and the
        # account's OTP_FAILED / LOGIN_FAILED events that the failed_logins anomaly rule reads.
        "axes_accessattempt",
        "axes_accessattemptexpiration",
        "axes_accessfailurelog",
        "accounts_accountevent",
    }
)
OTP_THROTTLE = frozenset(
    {
        # django-otp's own back-off after a wrong code (throttling_failure_count / _timestamp on the device row).
        "otp_totp_totpdevice",
        "otp_static_staticdevice",
        "otp_email_emaildevice",
        "accounts_smsdevice",
    }
)
SESSIONS = frozenset(
    {
        # Every signed-in request stamps its own session (seen-at, the idle limit); the login flow keeps its
        # pending step there.
        "django_session",
        "accounts_usersession",
    }
)
# What a refused form may write: the failure counted, django-otp's back-off, the request's own session.
REFUSAL_WRITES = FAILURE_LOG | OTP_THROTTLE | SESSIONS


def tables(exclude: frozenset[str] = frozenset()) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1"
        )
        return [name for (name,) in cursor.fetchall() if name not in exclude]


def snapshot(exclude: frozenset[str] = frozenset()) -> dict[str, tuple[int, str]]:
    """{table: (row count, md5 of its rows)} for every table but `exclude`, in one statement."""
    names = tables(exclude)
    parts = [
        f"SELECT %s, count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM \"{name}\" t"
        for name in names
    ]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), names)
        return {name: (count, digest) for name, count, digest in cursor.fetchall()}


def changed(before: dict, after: dict) -> list[str]:
    """The tables whose rows differ, among those both snapshots read (`after` may leave out what the request was
    allowed to write)."""
    return sorted(name for name in before.keys() & after.keys() if before[name] != after[name])


def assert_not_500(response) -> None:
    assert response.status_code < 500, f"{response.status_code} for {response.request}"


# --- Inputs -------------------------------------------------------------------------------------------------

DEVANAGARI = st.characters(min_codepoint=0x0900, max_codepoint=0x097F)
RTL = st.characters(min_codepoint=0x0590, max_codepoint=0x06FF)  # Hebrew and Arabic
CONTROL = st.sampled_from(["\x00", "\x01", "\x08", "\x1b", "\x1f", "\x7f", "\u200f", "\u202e", "\u2066", "\ufeff"])
ANY_CHAR = st.characters(exclude_categories=("Cs",))  # the test client encodes UTF-8: no lone surrogates here
SPECIAL = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1e309",
        "NaN",
        "null",
        "None",
        "true",
        "[]",
        "{}",
        "000000",
        "123456",
        "١٢٣٤٥٦",  # Arabic-Indic digits
        "१२३४५६",  # Devanagari digits
        "' OR 1=1 --",
        "%00",
        "../../etc/passwd",
        "<script>alert(1)</script>",
        "{{ settings.SECRET_KEY }}",
        "%(name)s",
        "\\",
        "a\x00b",
        "99999999999999999999999999",
        "12345678901234",
    ]
)
HUGE = st.builds(
    lambda piece, times: piece * times,
    st.sampled_from(["a", "९", "ش", "1", "\x00", "\u202e", "𝕏"]),
    st.integers(min_value=1_000, max_value=120_000),
)
SHORT_TEXT = st.text(
    alphabet=st.one_of(DEVANAGARI, RTL, CONTROL, ANY_CHAR, st.sampled_from(string.digits)), max_size=40
)
NASTY = st.one_of(SHORT_TEXT, SPECIAL, HUGE, st.integers().map(str), st.floats().map(str))
# A value as a client may post it: a string, a number, a bool, or several values for one name.
VALUE = st.one_of(NASTY, st.integers(), st.booleans(), st.lists(NASTY, min_size=2, max_size=3))


def form_data(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict]:
    """A POST body: each named field absent, nasty, or from its own strategy; plus a few stray names."""
    body = st.fixed_dictionaries({}, optional={name: st.one_of(VALUE, strategy) for name, strategy in fields.items()})
    stray = st.dictionaries(st.text(min_size=1, max_size=12).filter(lambda s: "\x00" not in s), VALUE, max_size=2)
    return st.builds(lambda known, extra: {**extra, **known}, body, stray)


# Raw bytes, percent-encoded: invalid UTF-8, encoded lone surrogates (ED A0 80), overlong forms, NUL.
RAW_BYTES = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"\xed\xa0\x80", b"\xc0\x80", b"\xff\xfe", b"\x00", b"\xe0\xa4", b"\xf4\x90\x80\x80"]),
)


def raw_query(names: list[str]) -> st.SearchStrategy[str]:
    """A query string or urlencoded body built from raw bytes: what a browser never sends, a script may."""
    pair = st.tuples(st.one_of(st.sampled_from(names), RAW_BYTES.map(lambda b: b.decode("latin-1"))), RAW_BYTES)
    return st.lists(pair, max_size=5).map(
        lambda pairs: "&".join(
            f"{quote_from_bytes(name.encode('utf-8', 'surrogatepass'))}={quote_from_bytes(value)}"
            for name, value in pairs
        )
    )


def post_raw(client, path: str, body: str, **extra):
    return client.generic("POST", path, body.encode("ascii"), content_type="application/x-www-form-urlencoded", **extra)
