"""Shared set-up for the booking tests: a small region on the hub simulator, the directory synced from it,
clocks in step, and patients matching the region's people (the hub identifies them by policy and birth date).

Imported by tests/integration/booking/ (through its conftest), identity/, api/ and tests/e2e/; it holds no tests.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from litestar import Litestar

from backend.adapters import set_booking_hub
from backend.booking import service
from backend.core.context import Actor, ActorKind, Channel, RequestContext
from backend.directory.service import sync_directory
from backend.identity.service import PatientView
from backend.runtime import Runtime
from integrations.common.faults import FaultProfile
from integrations.common.http import build_http_client
from integrations.demo_region.model import (
    Department,
    District,
    Doctor,
    MedicalOrganisation,
    Person,
    Region,
    RegionScale,
    Specialty,
    WorkingHours,
)
from integrations.fer import FerClient
from integrations.fer.simulator import FerSimulatorState, create_fer_simulator, simulator_state
from tests.support.client import gql
from tests.support.identity import make_patient

ADULT_MO = "1001"
OTHER_MO = "1002"
CHILDREN_MO = "2001"
HOSPITAL_MO = "3001"
THERAPIST = "doc-ter-1"
THERAPIST_2 = "doc-ter-2"
EYE = "doc-oft-1"
PEDIATRICIAN = "doc-ped-1"
CARDIOLOGIST = "doc-card-1"
TZ = ZoneInfo("Europe/Moscow")
TODAY = date(2025, 3, 3)  # a Monday
TOMORROW = TODAY + timedelta(days=1)
ADULTS = 240


def _weekdays(start: time, end: time) -> tuple[WorkingHours, ...]:
    return tuple(WorkingHours(weekday=d, start=start, end=end) for d in range(5))


def _doctor(doc_id: str, code: str, dept: str, room: str, last: str) -> Doctor:
    return Doctor(
        id=doc_id,
        snils="112-233-445 95",
        last_name=last,
        first_name="Мария",
        middle_name="Петровна",
        specialty_code=code,
        department_id=dept,
        room=room,
        hours=_weekdays(time(8, 0), time(12, 0)),
        weeks_ahead=2,
    )


def _mo(mo_id: str, kind: str, name: str, lat: float, lon: float, doctors: tuple[Doctor, ...], dept_kind: str) -> Any:
    dept = Department(
        id=f"dep-{mo_id}",
        mo_id=mo_id,
        name="Отделение",
        kind=dept_kind,
        address=f"ул. {name}, 1",
        latitude=lat,
        longitude=lon,
    )
    return MedicalOrganisation(
        id=mo_id,
        oid=f"1.2.643.5.1.13.13.12.2.26.{mo_id}",
        name=f"ГБУЗ СК «{name}»",
        short_name=name,
        district_id="d-1",
        address=f"ул. {name}, 1",
        latitude=lat,
        longitude=lon,
        phone="+7(8652)000001",
        kind=kind,
        attaches=True,
        departments=(dept,),
        doctors=doctors,
    )


def person(i: int, *, born: date | None = None, parent: str | None = None) -> Person:
    return Person(
        esia_oid=f"50000{i:04d}",
        last_name="Петрова",
        first_name="Анна",
        middle_name="Сергеевна",
        birth_date=born or date(1960 + i % 40, 5, 17),
        sex="F",
        snils="987-654-321 00",
        oms_policy=f"2600000000{i:06d}",
        smo_name="СМО «Тест»",
        phone="+7(900)0000000",
        email=f"p{i}@example.test",
        address="ул. Тестовая, 5",
        district_id="d-1",
        latitude=45.0,
        longitude=41.9,
        attached_mo_id=ADULT_MO,
        parent_oid=parent,
    )


CHILD = ADULTS  # index of the child in region.people


def make_region() -> Region:
    specialties = (
        Specialty(code="76", name="Терапевт", slot_minutes=15, direct_booking=True),
        Specialty(code="46", name="Офтальмолог", slot_minutes=15, direct_booking=True),
        Specialty(code="49", name="Педиатр", slot_minutes=15, direct_booking=True),
        Specialty(code="22", name="Кардиолог", slot_minutes=20, direct_booking=False),
    )
    organisations = (
        _mo(
            ADULT_MO,
            "polyclinic",
            "Городская поликлиника № 1",
            45.04,
            41.97,
            (
                _doctor(THERAPIST, "76", f"dep-{ADULT_MO}", "101", "Иванова"),
                _doctor(EYE, "46", f"dep-{ADULT_MO}", "214", "Сидорова"),
            ),
            "adult",
        ),
        _mo(
            OTHER_MO,
            "polyclinic",
            "Городская поликлиника № 2",
            45.20,
            42.10,
            (_doctor(THERAPIST_2, "76", f"dep-{OTHER_MO}", "7", "Кузнецова"),),
            "adult",
        ),
        _mo(
            CHILDREN_MO,
            "children_polyclinic",
            "Детская поликлиника № 1",
            45.05,
            41.96,
            (_doctor(PEDIATRICIAN, "49", f"dep-{CHILDREN_MO}", "12", "Смирнова"),),
            "children",
        ),
        _mo(
            HOSPITAL_MO,
            "hospital",
            "Краевая больница",
            45.30,
            42.30,
            (_doctor(CARDIOLOGIST, "22", f"dep-{HOSPITAL_MO}", "301", "Орлова"),),
            "adult",
        ),
    )
    people = (*(person(i) for i in range(ADULTS)), person(CHILD, born=date(2016, 9, 1), parent="500000000"))
    return Region(
        code="26",
        name="Ставропольский край",
        timezone="Europe/Moscow",
        seed=26,
        scale=RegionScale.SMALL,
        specialties=specialties,
        districts=(District("d-1", "Тестовый округ", "07401000000"),),
        organisations=organisations,
        pharmacies=(),
        ambulance_stations=(),
        people=people,
    )


@dataclass
class Clock:
    """One clock for the hub (naive local time) and our services (aware UTC)."""

    now: datetime = field(default_factory=lambda: datetime.combine(TODAY, time(7, 30), tzinfo=TZ))

    def __call__(self) -> datetime:
        return self.now.astimezone(UTC)

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class BookingEnv:
    runtime: Runtime
    app: Litestar
    state: FerSimulatorState
    client: FerClient
    clock: Clock
    region: Region
    faults: Any

    async def patient(self, i: int) -> PatientView:
        p = self.region.people[i]
        return await make_patient(
            self.runtime,
            last_name=p.last_name,
            first_name=p.first_name,
            middle_name=p.middle_name,
            birth_date=p.birth_date,
            oms_policy=p.oms_policy,
        )

    async def slot_refs(self, doctor_id: str = THERAPIST, mo_id: str = ADULT_MO, day: date = TOMORROW) -> list[str]:
        slots = await self.client.get_slots(mo_id, doctor_id, day, day)
        return [service.SlotRef(mo_id, doctor_id, s.id, day).encode() for s in slots]


def ctx_for(patient_id: uuid.UUID, channel: Channel = Channel.MOBILE, *, actor: str | None = None) -> RequestContext:
    """A request context as identity's authn would build it for that channel."""
    if channel is Channel.CALLCENTRE:
        a = Actor(ActorKind.OPERATOR, channel, id=actor or "operator-1", subject_id=patient_id)
    elif channel is Channel.KIOSK:
        a = Actor(ActorKind.KIOSK, channel, id=actor or "kiosk-1", subject_id=patient_id)
    else:
        a = Actor(ActorKind.PATIENT, channel, id=str(patient_id), subject_id=patient_id)
    return RequestContext(actor=a, request_id=uuid.uuid4().hex)


async def start_env(runtime: Runtime, *, faults: FaultProfile | None = None, timeout_s: float = 2.0) -> BookingEnv:
    region = make_region()
    clock = Clock()
    profile = faults or FaultProfile()
    app = create_fer_simulator(region, clock=clock, faults=profile)
    http = build_http_client("inprocess://fer", simulator_app=lambda: app, timeout_s=timeout_s)
    client = FerClient(http, guid="test-guid", timeout_s=timeout_s)
    set_booking_hub(runtime, client, http=http)
    service.set_clock(runtime, clock)
    summary = await sync_directory(runtime, hub=client)
    assert not summary.failures, summary.failures
    state = simulator_state(app)
    return BookingEnv(runtime, app, state, client, clock, region, state.faults)


@pytest.fixture
async def env(runtime: Runtime) -> AsyncIterator[BookingEnv]:
    yield await start_env(runtime)
    await runtime.relay.drain()


# -- GraphQL documents and a caller --------------------------------------------------------------

PROBLEM = "... on Problem { code message }"
APPOINTMENT = "id status moId doctorId specialtyName start room channel actorKind onBehalf rescheduledFromId ticketUrl"
HOLD = (
    "mutation($slot: String!, $key: String!, $for: UUID) {"
    " holdSlot(slot: $slot, idempotencyKey: $key, actingFor: $for) {"
    f" __typename ... on SlotHeld {{ hold {{ id status remainingSeconds expiresAt }} }} {PROBLEM} }} }}"
)
CONFIRM = (
    "mutation($hold: UUID!, $key: String!) { confirmAppointment(holdId: $hold, idempotencyKey: $key) {"
    f" __typename ... on AppointmentBooked {{ appointment {{ {APPOINTMENT} }} }} {PROBLEM} }} }}"
)
BOOK = (
    "mutation($slot: String!, $key: String!, $for: UUID) {"
    " bookAppointment(slot: $slot, idempotencyKey: $key, actingFor: $for) {"
    f" __typename ... on AppointmentBooked {{ appointment {{ {APPOINTMENT} }} }} {PROBLEM} }} }}"
)
CANCEL = (
    "mutation($id: UUID!, $key: String!) { cancelAppointment(appointmentId: $id, idempotencyKey: $key) {"
    f" __typename ... on AppointmentCancelled {{ appointment {{ {APPOINTMENT} }} }} {PROBLEM} }} }}"
)
RESCHEDULE = (
    "mutation($id: UUID!, $slot: String!, $key: String!) {"
    " rescheduleAppointment(appointmentId: $id, slot: $slot, idempotencyKey: $key) {"
    f" __typename ... on AppointmentRescheduled {{ appointment {{ {APPOINTMENT} }} previous {{ {APPOINTMENT} }} }}"
    f" {PROBLEM} }} }}"
)
MINE = f"query($upcoming: Boolean) {{ myAppointments(upcoming: $upcoming) {{ {APPOINTMENT} }} }}"


def key() -> str:
    return uuid.uuid4().hex


async def call(client: httpx.AsyncClient, query: str, headers: dict[str, str], **variables: Any) -> dict[str, Any]:
    """The one root field's value (no GraphQL errors allowed)."""
    body = await gql(client, query, variables, headers=headers)
    assert "errors" not in body, body
    data: dict[str, Any] = next(iter(body["data"].values()))
    return data
