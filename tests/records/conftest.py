"""Records in and out of every viewer's scope, and a canary, on top of the shared `world`."""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import pytest
from django.db import DatabaseError, connection

from records.models import AccessEvent, Beneficiary, Dose
from records.services import Viewer
from tests.accounts.test_login_sms_and_backup import outbox  # noqa: F401 (a fixture: the SMS sent, newest last)
from tests.factories import DistrictFactory, FacilityFactory


def make_record(reference_id: str, facility, **fields) -> Beneficiary:
    defaults = {
        "name": "Sunita Yadav",
        "year_of_birth": 1984,
        "gender": "F",
        "id_type": "aadhaar",
        "id_number": "123412345678",
        "mobile": "+919876500001",
    }
    return Beneficiary.objects.create(reference_id=reference_id, facility=facility, **{**defaults, **fields})


@dataclass
class Records:
    own: Beneficiary  # the worker's facility
    same_district: Beneficiary  # another facility of the worker's district
    far: Beneficiary  # another district, same state
    other_state: Beneficiary
    canary: Beneficiary  # in the worker's own facility

    def __iter__(self):
        return iter((self.own, self.same_district, self.far, self.other_state))


@pytest.fixture
def records(world) -> Records:
    other_state_district = DistrictFactory(state=world.other_state, code="201", name="Patna")
    other_state_facility = FacilityFactory(district=other_state_district, code="1100100001", name="PHC Danapur")
    own = make_record("10000000000001", world.facility, name="Sunita Yadav", id_number="123412345678")
    Dose.objects.create(
        beneficiary=own, vaccine="Covishield", dose_number=1, given_on=date(2021, 6, 1), facility=world.facility
    )
    Dose.objects.create(
        beneficiary=own, vaccine="Covishield", dose_number=2, given_on=date(2021, 9, 1), facility=world.facility
    )
    return Records(
        own=own,
        same_district=make_record("10000000000002", world.other_facility, name="Ramesh Kumar", mobile="+919876500002"),
        far=make_record("10000000000003", world.far_facility, name="Geeta Devi", mobile="+919876500003"),
        other_state=make_record("10000000000004", other_state_facility, name="Mohan Lal", mobile="+919876500004"),
        canary=make_record(
            "10000000000005", world.facility, name="Kavita Mishra", mobile="+919876500005", is_canary=True
        ),
    )


@contextmanager
def access_log_broken():
    """Every write to the access log fails at the database driver, as with a full disk or a lost table."""
    table = AccessEvent._meta.db_table

    def refuse(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith(("INSERT", "WITH")) and table in sql:
            raise DatabaseError(f"could not extend file of {table}: No space left on device")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield


def viewer(user, device_id=None) -> Viewer:
    return Viewer(user=user, ip="10.1.2.3", device_id=device_id)


def sent_code(messages) -> str:
    """The code in the newest SMS of `messages` (the `outbox` fixture)."""
    _to, text = messages[-1]
    return re.search(r"\b(\d{6})\b", text).group(1)
