"""Bulk onboarding: invite the health workers listed in a CSV file, after checking every row first.

The file is UTF-8 (a byte-order mark is fine), comma-separated, with a header row. Columns:
`first_name`, `last_name`, `mobile` (required), `email`, `username`, `facility` (a facility's NIN
code; empty means the facility chosen for the upload). Every row is checked before anything is
written; the report names each bad row by its line number in the file, with every reason. Nothing
is imported while any row is bad, unless the supervisor explicitly asks to import the valid rows.
Mobile numbers and usernames already in use, or repeated within the file, are refused.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from accounts.exceptions import DomainError
from accounts.models import Facility, Role, User
from accounts.scoping import governable_facilities
from accounts.services.onboarding import (
    InvitationSent,
    InvitePlan,
    invitation_place_check,
    invitations_send,
    mobile_clean,
)

REQUIRED_COLUMNS = ("first_name", "last_name", "mobile")
OPTIONAL_COLUMNS = ("email", "username", "facility")
MAX_ROWS = 20_000
MAX_BYTES = 5 * 1024 * 1024
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,149}$")
CHUNK = 1000


@dataclass
class RowProblem:
    line: int  # the line of the file (the header is line 1)
    reasons: list[str]


@dataclass
class ImportReport:
    rows: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    sent: list[InvitationSent] = field(default_factory=list)

    @property
    def valid(self) -> int:
        return self.rows - len(self.problems)

    @property
    def imported(self) -> int:
        return len(self.sent)


def _read(data: bytes) -> tuple[int, list[tuple[int, dict[str, str]]]]:
    """(header width, rows as (line, {column: value})); DomainError for a file that cannot be read as a whole."""
    if len(data) > MAX_BYTES:
        raise DomainError(_("The file is larger than 5 MB. Split it into smaller files."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DomainError(
            _("The file is not UTF-8 text (line %(line)d). Save it as “CSV UTF-8” and upload it again.")
            % {"line": line}
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise DomainError(_("The file is empty.")) from None
    except csv.Error as error:
        raise DomainError(_("The file is not a readable CSV file: %(error)s.") % {"error": error}) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise DomainError(
            _("Missing column(s): %(missing)s. The first line must name the columns: %(columns)s.")
            % {"missing": ", ".join(missing), "columns": ", ".join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}
        )
    unknown = [h for h in header if h and h not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise DomainError(_("Unknown column(s): %(unknown)s.") % {"unknown": ", ".join(unknown)})
    rows = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue  # blank lines are not rows
            if len(rows) >= MAX_ROWS:
                raise DomainError(_("The file has more than %(max)d rows. Split it.") % {"max": MAX_ROWS})
            line = reader.line_num
            if len(values) != len(header):
                rows.append((line, {"__width__": str(len(values))}))
                continue
            rows.append((line, {h: v.strip() for h, v in zip(header, values, strict=True)}))
    except csv.Error as error:
        raise DomainError(
            _("Line %(line)d is not valid CSV: %(error)s.") % {"line": reader.line_num, "error": error}
        ) from None
    return len(header), rows


def _taken(values: set[str], lookup) -> set[str]:
    found: set[str] = set()
    values = sorted(values)
    for start in range(0, len(values), CHUNK):
        found |= lookup(values[start : start + CHUNK])
    return found


def _check(rows, *, default: Facility, facilities: dict[str, Facility], width: int):
    """(plans by line, problems): every rule applied to every row; set-based lookups only."""
    mobiles: dict[str, list[int]] = {}
    usernames: dict[str, list[int]] = {}
    parsed = []
    for line, row in rows:
        reasons: list[str] = []
        if "__width__" in row:
            reasons.append(_("has %(n)s values; the header has %(m)d") % {"n": row["__width__"], "m": width})
            parsed.append((line, None, reasons))
            continue
        first_name, last_name = " ".join(row["first_name"].split()), " ".join(row["last_name"].split())
        if not first_name:
            reasons.append(_("first name is missing"))
        mobile = ""
        try:
            mobile = mobile_clean(row["mobile"])
            mobiles.setdefault(mobile, []).append(line)
        except DomainError:
            reasons.append(
                _("mobile number %(value)s is not a 10-digit Indian mobile number") % {"value": row["mobile"] or "—"}
            )
        email = row.get("email", "")
        if email:
            try:
                validate_email(email)
            except ValidationError:
                reasons.append(_("e-mail address %(value)s is not valid") % {"value": email})
        username = row.get("username", "").lower()
        if username:
            if not USERNAME.match(username):
                reasons.append(
                    _("username %(value)s: use 3 or more lower-case letters, digits, dots, dashes")
                    % {"value": username}
                )
            else:
                usernames.setdefault(username, []).append(line)
        facility = default
        code = row.get("facility", "")
        if code:
            facility = facilities.get(code)
            if facility is None:
                reasons.append(_("facility %(code)s is not a facility in your jurisdiction") % {"code": code})
        plan = InvitePlan(first_name, last_name, mobile, Role.WORKER, facility, None, email, username)
        parsed.append((line, plan, reasons))

    used_mobiles = _taken(
        set(mobiles), lambda chunk: set(User.objects.filter(mobile__in=chunk).values_list("mobile", flat=True))
    )
    used_names = _taken(
        set(usernames),
        lambda chunk: set(User.objects.annotate(u=Lower("username")).filter(u__in=chunk).values_list("u", flat=True)),
    )
    plans, problems = [], []
    for line, plan, reasons in parsed:
        if plan is not None and plan.mobile:
            if plan.mobile in used_mobiles:
                reasons.append(_("mobile number %(value)s already belongs to an account") % {"value": plan.mobile})
            elif len(mobiles[plan.mobile]) > 1:
                others = ", ".join(str(n) for n in mobiles[plan.mobile] if n != line)
                reasons.append(
                    _("mobile number %(value)s is also on line %(lines)s") % {"value": plan.mobile, "lines": others}
                )
        if plan is not None and plan.username:
            if plan.username in used_names:
                reasons.append(_("username %(value)s is already taken") % {"value": plan.username})
            elif len(usernames.get(plan.username, [])) > 1:
                others = ", ".join(str(n) for n in usernames[plan.username] if n != line)
                reasons.append(
                    _("username %(value)s is also on line %(lines)s") % {"value": plan.username, "lines": others}
                )
        if reasons:
            problems.append(RowProblem(line, reasons))
        else:
            plans.append(plan)
    return plans, problems


def invitations_import(
    *,
    acting_user: User,
    facility: Facility,
    data: bytes,
    import_valid_rows: bool = False,
    base_url: str,
    ip: str | None = None,
) -> ImportReport:
    """Check every row of a CSV file, then invite all of them (or, if asked, the valid ones) at once.

    Returns the report (rows, problems by line, invitations sent). Raises NotPermitted when the
    facility is outside the inviter's jurisdiction, DomainError for a file that cannot be read.
    Nothing is written unless every row is valid or `import_valid_rows` is set; the writing is one
    transaction, so a failure leaves nothing half-imported.
    """
    invitation_place_check(acting_user=acting_user, role=Role.WORKER, facility=facility, district=None)
    width, rows = _read(data)
    if not rows:
        raise DomainError(_("The file has a header but no rows."))
    facilities = {f.code: f for f in governable_facilities(acting_user)}
    plans, problems = _check(rows, default=facility, facilities=facilities, width=width)
    report = ImportReport(rows=len(rows), problems=problems)
    if not plans or (problems and not import_valid_rows):
        return report
    try:
        with transaction.atomic():
            report.sent = invitations_send(plans, acting_user, base_url=base_url, reason="invited (CSV upload)")
    except IntegrityError:
        raise DomainError(
            _(
                "Another change took one of these mobile numbers or usernames while the file was checked. "
                "Upload it again."
            )
        ) from None
    return report
