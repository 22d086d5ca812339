"""Contract of the immunization register: the ImmunizationClient (FHIR R4 JSON) against the in-process
simulator over the demo region, for every operation and refusal; and the hub's vaccination rooms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime

import httpx
import pytest

from integrations.common.faults import Fault, FaultProfile
from integrations.common.http import build_http_client
from integrations.demo_region import get_region
from integrations.demo_region.model import Person
from integrations.fer.simulator import FerSimulatorState, create_fer_simulator
from integrations.fer.simulator import simulator_state as fer_state
from integrations.fer.vaccination import VACCINATION_ROOM_CODE, room_id, with_vaccination_rooms
from integrations.immunization import (
    ImmunizationClient,
    ImmunizationRegister,
    RegisterAccessDenied,
    RegisterBadRequest,
    RegisterExemption,
    RegisterImmunization,
    RegisterMalformedReply,
    RegisterPersonNotFound,
    RegisterTimeout,
    RegisterUnavailable,
)
from integrations.immunization.simulator import (
    DIGITISED_FROM,
    ImmunizationSimulatorState,
    create_immunization_simulator,
    simulator_state,
)

TOKEN = "immunization-token"
TODAY = datetime(2026, 12, 1, 9, 0)


@dataclass
class Register:
    client: ImmunizationClient
    state: ImmunizationSimulatorState
    http: httpx.AsyncClient


def _adult() -> Person:
    return next(p for p in get_region().people if p.parent_oid is None and p.birth_date.year >= 1996)


async def _register(profile: FaultProfile | None = None, timeout_s: float = 5.0) -> Register:
    app = create_immunization_simulator(get_region(), token=TOKEN, faults=profile, clock=lambda: TODAY)
    http = build_http_client("inprocess://immunization", simulator_app=lambda: app)
    return Register(ImmunizationClient(http, token=TOKEN, timeout_s=timeout_s), simulator_state(app), http)


@pytest.fixture
async def register() -> AsyncIterator[Register]:
    made = await _register()
    async with made.http:
        yield made


def test_client_implements_the_port() -> None:
    assert isinstance(ImmunizationClient(httpx.AsyncClient(), token=None, timeout_s=1), ImmunizationRegister)


async def test_an_adults_childhood_history_is_listed_oldest_first(register: Register) -> None:
    person = _adult()
    items = await register.client.immunizations(person.snils)
    assert items, "an adult born after the register went digital has a childhood history"
    assert [i.given_on for i in items] == sorted(i.given_on for i in items)
    assert all(DIGITISED_FROM <= i.given_on < TODAY.date() for i in items)
    measles = [i for i in items if i.vaccine_code == "104"]
    assert len(measles) == 2 and set(measles[0].target_diseases) == {"B05", "B06", "B26"}
    assert all(i.lot for i in items)
    assert await register.client.immunizations(person.snils) == items  # deterministic
    assert register.state.calls["immunizations"] == 2


async def test_a_childs_history_is_in_the_documents_not_the_register(register: Register) -> None:
    child = next(p for p in get_region().people if p.parent_oid is not None and p.age(TODAY.date()) < 18)
    assert await register.client.immunizations(child.snils) == []
    assert await register.client.exemptions(child.snils) == []


async def test_added_records_and_exemptions_round_trip(register: Register) -> None:
    person = _adult()
    record = RegisterImmunization(
        id="extra-1", given_on=date(2026, 10, 1), vaccine_code="106", vaccine_name="Ультрикс Квадри",
        target_diseases=("J10",), dose_number=1, lot="ГРИПП-1", clinic="ГП № 1", performer="Сидорова А. А.",
    )  # fmt: skip
    register.state.add_immunization(person.snils, record)
    temporary = RegisterExemption("ex-1", date(2026, 11, 1), date(2026, 12, 31), ("A37",), "Острое заболевание")
    permanent = RegisterExemption("ex-2", date(2020, 1, 1), None, (), None)
    register.state.add_exemption(person.snils, temporary)
    register.state.add_exemption(person.snils, permanent)
    assert (await register.client.immunizations(person.snils))[-1] == record
    assert await register.client.exemptions(person.snils) == [temporary, permanent]


async def test_refusals_are_typed(register: Register) -> None:
    with pytest.raises(RegisterPersonNotFound):
        await register.client.immunizations("000-000-000 00")
    with pytest.raises(RegisterPersonNotFound):
        await register.client.exemptions("00000000000")
    with pytest.raises(RegisterBadRequest):
        await register.client.immunizations("123")
    stranger = ImmunizationClient(register.http, token="wrong", timeout_s=2.0)
    with pytest.raises(RegisterAccessDenied):
        await stranger.immunizations(_adult().snils)


async def test_upstream_error_timeout_and_malformed_reply_are_typed() -> None:
    made = await _register(FaultProfile(timeout_stall_s=5.0), timeout_s=0.2)
    async with made.http:
        snils = _adult().snils
        made.state.faults.force(Fault.ERROR)
        with pytest.raises(RegisterUnavailable):
            await made.client.immunizations(snils)
        made.state.faults.force(Fault.MALFORMED)
        with pytest.raises(RegisterMalformedReply):
            await made.client.exemptions(snils)
        made.state.faults.force(Fault.TIMEOUT)
        with pytest.raises(RegisterTimeout):
            await made.client.immunizations(snils)
        assert made.state.calls["immunizations"] == 0  # nothing reached the register's state


async def test_every_attaching_clinic_lists_a_bookable_vaccination_room() -> None:
    region = with_vaccination_rooms(get_region())
    assert with_vaccination_rooms(region) is region  # idempotent
    app = create_fer_simulator(region, clock=lambda: TODAY)
    state: FerSimulatorState = fer_state(app)
    clinics = [mo for mo in region.organisations if any(d.id == room_id(mo.id) for d in mo.doctors)]
    assert clinics and all(mo.attaches for mo in clinics)
    mo = clinics[0]
    rooms = state.doctors(mo.id, VACCINATION_ROOM_CODE)
    assert [d.id for d, _ in rooms] == [room_id(mo.id)]
    assert rooms[0][1].count > 0, "the room has free slots"
    assert any(s.code == VACCINATION_ROOM_CODE for s, _ in state.specialties(mo.id))
