"""Shared fixtures: a small jurisdiction tree with one account of each role in and out of scope."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from accounts.models import District, Facility, State, User
from accounts.services.system import system_user
from tests.factories import (
    DistrictFactory,
    FacilityFactory,
    StateAdminFactory,
    StateFactory,
    SupervisorFactory,
    WorkerFactory,
)


@dataclass
class World:
    state: State
    district: District
    facility: Facility
    other_facility: Facility  # same district
    other_district: District  # same state
    far_facility: Facility  # in other_district
    other_state: State
    worker: User
    colleague: User  # another worker, same facility
    district_worker: User  # same district, other facility
    far_worker: User  # other district
    supervisor: User
    peer_supervisor: User  # same district's second supervisor
    far_supervisor: User  # other district, same state
    state_admin: User
    other_state_admin: User  # other state
    system: User


@pytest.fixture
def world(db) -> World:
    state = StateFactory(code="09", name="Uttar Pradesh")
    other_state = StateFactory(code="10", name="Bihar")
    district = DistrictFactory(state=state, code="164", name="Lucknow")
    other_district = DistrictFactory(state=state, code="175", name="Varanasi")
    facility = FacilityFactory(district=district, code="1090100001", name="PHC Chinhat")
    other_facility = FacilityFactory(district=district, code="1090100002", name="PHC Mohanlalganj")
    far_facility = FacilityFactory(district=other_district, code="1090200001", name="PHC Sarnath")
    return World(
        state=state,
        district=district,
        facility=facility,
        other_facility=other_facility,
        other_district=other_district,
        far_facility=far_facility,
        other_state=other_state,
        worker=WorkerFactory(username="asha", facility=facility),
        colleague=WorkerFactory(username="ravi", facility=facility),
        district_worker=WorkerFactory(username="meena", facility=other_facility),
        far_worker=WorkerFactory(username="kiran", facility=far_facility),
        supervisor=SupervisorFactory(username="dio.lucknow", district=district),
        peer_supervisor=SupervisorFactory(username="dio2.lucknow", district=district),
        far_supervisor=SupervisorFactory(username="dio.varanasi", district=other_district),
        state_admin=StateAdminFactory(username="sa.up", state=state),
        other_state_admin=StateAdminFactory(username="sa.br", state=other_state),
        system=system_user(),
    )
