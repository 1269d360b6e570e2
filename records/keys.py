"""The keys of a record look-up: its purpose, the exact key searched by, and what the log keeps of an id.

Search only by an exact key (SECURITY.md §Record access): a 14-digit reference id, or a mobile number with
the full name; never wildcards, fragments or a name alone. Malformed input is refused here, before
anything is read (records/services.py), except an id in a record's address, which the read path answers
and logs like an id nobody has (`logged_id`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.exceptions import DomainError

WILDCARDS = re.compile(r"[*%_?]")
# ASCII digits, matched whole (fullmatch): `\d` would take other scripts' digits and `$` a final newline.
REFERENCE_ID = re.compile(r"[0-9]{14}")
MOBILE = re.compile(r"(?:\+91|91|0)?([6-9][0-9]{9})")
LOGGED_ID_LENGTH = 32
MIN_NAME_LETTERS = 3


class Purpose(models.TextChoices):
    """Why a record is looked up; every search and view states one."""

    DUE_DOSE = "due_dose", gettext_lazy("Due or missed dose follow-up")
    BENEFICIARY_REQUEST = "beneficiary_request", gettext_lazy("The beneficiary asked in person")
    CERTIFICATE = "certificate", gettext_lazy("Certificate or record correction")
    ADVERSE_EVENT = "adverse_event", gettext_lazy("Adverse event follow-up")
    SESSION_PLANNING = "session_planning", gettext_lazy("Vaccination session planning")


class LookupRefused(DomainError):
    """The request itself is not allowed (no purpose, not an exact key, a field that cannot be revealed)."""


@dataclass(frozen=True)
class SearchKey:
    reference_id: str = ""
    mobile: str = ""  # +91 and 10 digits
    name: str = ""

    @property
    def kind(self) -> str:
        return "reference_id" if self.reference_id else "mobile_name"


# Taken once: `Purpose.values` builds its list (and every label) again on each use.
_PURPOSES = tuple(Purpose.values)


def purpose_clean(purpose: str | None) -> str:
    if purpose not in _PURPOSES:
        raise LookupRefused(_("Choose the purpose of this look-up."))
    return purpose


def search_key_parse(*, reference_id: str = "", mobile: str = "", name: str = "") -> SearchKey:
    """Return the exact key to search by, or raise LookupRefused saying what is wrong with the input.

    A reference id alone (14 digits, spaces allowed), or a mobile number with the full name; never
    wildcards, fragments or a name alone.
    """
    reference_id, mobile = "".join((reference_id or "").split()), "".join((mobile or "").split())
    name = " ".join((name or "").split())
    if any(WILDCARDS.search(value) for value in (reference_id, mobile, name)):
        raise LookupRefused(
            _("Wildcards are not allowed: search by the exact reference id, or the exact mobile number and full name.")
        )
    if reference_id:
        if not REFERENCE_ID.fullmatch(reference_id):
            raise LookupRefused(_("A reference id has exactly 14 digits."))
        return SearchKey(reference_id=reference_id)
    if not mobile and not name:
        raise LookupRefused(_("Enter a reference id, or a mobile number and the full name."))
    match = MOBILE.fullmatch(mobile)
    if not match:
        raise LookupRefused(_("Enter the full 10-digit mobile number, with the full name."))
    if sum(ch.isalpha() for ch in name) < MIN_NAME_LETTERS:
        raise LookupRefused(_("Enter the full name as registered, with the mobile number."))
    return SearchKey(mobile=f"+91{match.group(1)}", name=name)


def _escaped(character: str) -> str:
    if character == "\\":
        return "\\\\"
    return character if character.isprintable() else ascii(character)[1:-1]


def logged_id(reference_id: str) -> str:
    """What the access log keeps of an id nobody has: a well-formed one as it is, anything else escaped.

    The escaped form keeps printable characters as typed, doubles a backslash and writes every other
    character (NUL and other controls, format characters such as a bidi override, separators) as a
    Python escape ("\\x00", "\\n", "\\u202e"), so it reads one way only, PostgreSQL can store it (it
    refuses \\u0000 in jsonb and text) and it cannot steer the page or terminal that shows it. It is cut
    to LOGGED_ID_LENGTH characters, ending in "…" when cut, at a character's boundary (never inside an
    escape): enough to see what was tried, and a 10,000-character id costs the log no more than a real one.
    """
    if REFERENCE_ID.fullmatch(reference_id):
        return reference_id
    pieces = [_escaped(character) for character in reference_id[: LOGGED_ID_LENGTH + 1]]
    if sum(map(len, pieces)) <= LOGGED_ID_LENGTH:
        return "".join(pieces)
    kept = ""
    for piece in pieces:
        if len(kept) + len(piece) >= LOGGED_ID_LENGTH:
            break
        kept += piece
    return f"{kept}…"
