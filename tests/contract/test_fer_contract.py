"""Contract of the booking hub adapter: the real FerClient against the in-process HubService simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import httpx
import pytest
from litestar import Litestar
from lxml import etree

from backend.directory.hours import parse_work_time
from integrations.common.faults import Fault, FaultProfile
from integrations.common.http import build_http_client
from integrations.demo_region import get_region
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
from integrations.fer import (
    AccessDenied,
    AppointmentNotFound,
    AppointmentStatus,
    BookingChannel,
    BookingHub,
    DistrictInfo,
    FerClient,
    HubError,
    HubErrorCode,
    HubMalformedReply,
    HubTimeout,
    HubUnavailable,
    LpuInfoHub,
    OrganisationInfo,
    PatientNotFound,
    ReferralRequired,
    SlotUnavailable,
    SpecialistType,
    soap,
)
from integrations.fer.referrals import issue_referral
from integrations.fer.simulator import FerSimulatorState, create_fer_simulator, simulator_state

GUID = "2b5e4d1c-0000-4000-8000-000000000026"
MO = "1001"
OTHER_MO = "1002"
THERAPIST = "doc-ter-1"
EYE_DOCTOR = "doc-oft-1"
TODAY = date(2025, 3, 3)  # Monday
DAY_AFTER = TODAY + timedelta(days=1)


def _weekdays(start: time, end: time, days: range = range(5)) -> tuple[WorkingHours, ...]:
    return tuple(WorkingHours(weekday=d, start=start, end=end) for d in days)


def _region() -> Region:
    therapy = Specialty(code="27", name="Терапевт участковый", slot_minutes=15, direct_booking=True)
    eye = Specialty(code="65", name="Офтальмолог", slot_minutes=20, direct_booking=False)
    dept = Department(
        id="dep-1",
        mo_id=MO,
        name="Взрослое отделение",
        kind="adult",
        address="ул. Тестовая, 1",
        latitude=45.04,
        longitude=41.97,
    )
    doctors = (
        Doctor(
            id=THERAPIST,
            snils="112-233-445 95",
            last_name="Иванова",
            first_name="Мария",
            middle_name="Петровна",
            specialty_code="27",
            department_id="dep-1",
            room="101",
            hours=_weekdays(time(8, 0), time(12, 0)),
            weeks_ahead=2,
        ),
        Doctor(
            id=EYE_DOCTOR,
            snils="123-456-789 64",
            last_name="Сидоров",
            first_name="Олег",
            middle_name="Игоревич",
            specialty_code="65",
            department_id="dep-1",
            room="214",
            hours=(WorkingHours(1, time(9, 0), time(11, 0)), WorkingHours(3, time(14, 0), time(16, 0))),
            weeks_ahead=1,
        ),
    )
    mo = MedicalOrganisation(
        id=MO,
        oid="1.2.643.5.1.13.13.12.2.26.1001",
        name="ГБУЗ СК «Городская поликлиника № 1»",
        short_name="ГП № 1",
        district_id="d-1",
        address="ул. Тестовая, 1",
        latitude=45.04,
        longitude=41.97,
        phone="+7(8652)000001",
        kind="polyclinic",
        attaches=True,
        departments=(dept,),
        doctors=doctors,
    )
    other = MedicalOrganisation(
        id=OTHER_MO,
        oid="1.2.643.5.1.13.13.12.2.26.1002",
        name="ГБУЗ СК «Городская поликлиника № 2»",
        short_name="ГП № 2",
        district_id="d-1",
        address="ул. Другая, 2",
        latitude=45.05,
        longitude=41.98,
        phone="+7(8652)000002",
        kind="polyclinic",
        attaches=True,
        work_time="пн.-пт. с 7:30 до 19:00; сб. с 9.00 до 13.00",
    )

    def person(oid: str, last: str, first: str, middle: str, born: date, policy: str) -> Person:
        return Person(
            esia_oid=oid,
            last_name=last,
            first_name=first,
            middle_name=middle,
            birth_date=born,
            sex="F",
            snils="987-654-321 00",
            oms_policy=policy,
            smo_name="СМО «Тест»",
            phone="+7(900)0000000",
            email=f"{oid}@example.test",
            address="ул. Тестовая, 5",
            district_id="d-1",
            latitude=45.0,
            longitude=41.9,
            attached_mo_id=MO,
        )

    people = tuple(
        person(f"10000{i}", "Петрова", "Анна", "Сергеевна", date(1980 + i, 5, 17), f"26000000000000{i:02d}")
        for i in range(60)
    )
    return Region(
        code="26",
        name="Ставропольский край",
        timezone="Europe/Moscow",
        seed=26,
        scale=RegionScale.SMALL,
        specialties=(therapy, eye),
        districts=(District("d-1", "Тестовый округ", "07401000000"),),
        organisations=(mo, other),
        pharmacies=(),
        ambulance_stations=(),
        people=people,
    )


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.combine(TODAY, time(7, 30)))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Wire:
    """Every request and reply the client put on the wire."""

    requests: list[httpx.Request] = field(default_factory=list)
    responses: list[bytes] = field(default_factory=list)


@dataclass
class Hub:
    app: Litestar
    state: FerSimulatorState
    client: FerClient
    http: httpx.AsyncClient
    clock: Clock
    wire: Wire
    region: Region

    def person(self, i: int = 0) -> Person:
        return self.region.people[i]

    async def patient(self, i: int = 0, mo_id: str = MO) -> str:
        p = self.person(i)
        check = await self.client.check_patient(
            mo_id, oms_policy=p.oms_policy, birth_date=p.birth_date, last_name=p.last_name
        )
        return check.patient_id


@pytest.fixture
def region() -> Region:
    return _region()


@pytest.fixture
async def hub(region: Region) -> AsyncIterator[Hub]:
    clock = Clock()
    app = create_fer_simulator(region, clock=clock, guid=GUID)
    wire = Wire()

    async def on_request(request: httpx.Request) -> None:
        wire.requests.append(request)

    async def on_response(response: httpx.Response) -> None:
        wire.responses.append(await response.aread())

    http = build_http_client("inprocess://fer", simulator_app=lambda: app)
    http.event_hooks = {"request": [on_request], "response": [on_response]}
    async with http:
        yield Hub(
            app=app,
            state=simulator_state(app),
            client=FerClient(http, guid=GUID, timeout_s=2.0),
            http=http,
            clock=clock,
            wire=wire,
            region=region,
        )


# -- the whole flow ------------------------------------------------------------------------------


async def test_client_implements_the_port(hub: Hub) -> None:
    assert isinstance(hub.client, BookingHub)


async def test_full_booking_cycle(hub: Hub) -> None:
    specialties = await hub.client.get_specialties(MO)
    assert [(s.id, s.name) for s in specialties] == [("27", "Терапевт участковый"), ("65", "Офтальмолог")]
    therapy = specialties[0]
    # 2 weeks x 5 days x 16 fifteen-minute slots in 08:00-12:00
    assert therapy.free_tickets == 160
    assert therapy.nearest_date == datetime.combine(TODAY, time(8, 0))
    assert therapy.last_date == datetime.combine(TODAY + timedelta(days=11), time(11, 45))

    doctors = await hub.client.get_doctors(MO, "27")
    assert [(d.id, d.name, d.snils) for d in doctors] == [(THERAPIST, "Иванова Мария Петровна", "112-233-445 95")]
    assert doctors[0].free_tickets == 160

    dates = await hub.client.get_available_dates(MO, THERAPIST, TODAY, TODAY + timedelta(days=30))
    assert [d.day for d in dates] == [TODAY + timedelta(days=n) for n in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11)]
    assert {(d.mo_id, d.doctor_id) for d in dates} == {(MO, THERAPIST)}

    slots = await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER)
    assert len(slots) == 16
    first = slots[0]
    assert (first.start, first.end) == (
        datetime.combine(DAY_AFTER, time(8, 0)),
        datetime.combine(DAY_AFTER, time(8, 15)),
    )
    assert (first.room, first.address, first.num, first.mo_id, first.doctor_id) == (
        "101",
        "ул. Тестовая, 1",
        1,
        MO,
        THERAPIST,
    )
    assert len({s.id for s in slots}) == 16

    patient_id = await hub.patient()
    booking = await hub.client.book(MO, patient_id, first.id, channel=BookingChannel.INTERNET)
    assert booking.appointment_id == first.id
    assert booking.specialist_type is SpecialistType.GENERAL

    after = await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER)
    assert first.id not in {s.id for s in after} and len(after) == 15
    assert (await hub.client.get_doctors(MO, "27"))[0].free_tickets == 159

    history = await hub.client.get_history(MO, patient_id)
    assert len(history) == 1
    item = history[0]
    assert (item.appointment_id, item.visit_start, item.doctor_id, item.specialty_id) == (
        first.id,
        first.start,
        THERAPIST,
        "27",
    )
    assert item.doctor_name == "Иванова Мария Петровна" and item.specialty_name == "Терапевт участковый"
    assert item.status is None and item.source is BookingChannel.INTERNET
    assert item.created_at == hub.clock.now

    await hub.client.cancel(MO, patient_id, first.id)
    history = await hub.client.get_history(MO, patient_id)
    assert [h.status for h in history] == [AppointmentStatus.CANCELLED_BY_PATIENT]
    again = await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER)
    assert [s.id for s in again] == [s.id for s in slots]

    # the freed slot is bookable again, by someone else
    other = await hub.patient(1)
    await hub.client.book(MO, other, first.id, channel=BookingChannel.CALL_CENTRE)
    rebooked = hub.state.active_booking(first.id)
    assert rebooked is not None and rebooked.patient_id == other


async def test_cancel_twice_and_foreign_appointment(hub: Hub) -> None:
    slot = (await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER))[0]
    me, stranger = await hub.patient(0), await hub.patient(1)
    await hub.client.book(MO, me, slot.id, channel=BookingChannel.INTERNET)
    with pytest.raises(AppointmentNotFound) as foreign:
        await hub.client.cancel(MO, stranger, slot.id)
    assert foreign.value.code == HubErrorCode.APPOINTMENT_NOT_FOUND
    await hub.client.cancel(MO, me, slot.id)
    with pytest.raises(AppointmentNotFound) as twice:
        await hub.client.cancel(MO, me, slot.id)
    assert twice.value.code == HubErrorCode.APPOINTMENT_NOT_ACTIVE


# -- slot uniqueness -----------------------------------------------------------------------------


async def test_second_booking_of_a_slot_is_refused(hub: Hub) -> None:
    slot = (await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER))[3]
    first, second = await hub.patient(0), await hub.patient(1)
    await hub.client.book(MO, first, slot.id, channel=BookingChannel.INTERNET)
    with pytest.raises(SlotUnavailable) as exc:
        await hub.client.book(MO, second, slot.id, channel=BookingChannel.INTERNET)
    assert exc.value.code == HubErrorCode.SLOT_TAKEN
    assert "Талон уже занят" in exc.value.message
    holder = hub.state.active_booking(slot.id)
    assert holder is not None and holder.patient_id == first
    assert await hub.client.get_history(MO, second) == []


async def test_fifty_concurrent_bookings_of_one_slot_yield_exactly_one(hub: Hub) -> None:
    slot = (await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER))[0]
    patients = [await hub.patient(i) for i in range(50)]
    assert len(set(patients)) == 50

    results = await asyncio.gather(
        *(hub.client.book(MO, p, slot.id, channel=BookingChannel.INTERNET) for p in patients),
        return_exceptions=True,
    )
    successes = [r for r in results if not isinstance(r, BaseException)]
    refusals = [r for r in results if isinstance(r, SlotUnavailable)]
    assert len(successes) == 1
    assert len(refusals) == 49
    assert all(r.code == HubErrorCode.SLOT_TAKEN for r in refusals)
    assert [b.appointment_id for b in hub.state.bookings] == [slot.id]
    assert hub.state.calls["SetAppointment"] == 50


async def test_unknown_and_past_slots_are_unavailable(hub: Hub) -> None:
    patient_id = await hub.patient()
    with pytest.raises(SlotUnavailable) as unknown:
        await hub.client.book(MO, patient_id, "no-such-slot", channel=BookingChannel.INTERNET)
    assert unknown.value.code == HubErrorCode.SLOT_NOT_FOUND
    today_slots = await hub.client.get_slots(MO, THERAPIST, TODAY, TODAY)
    hub.clock.now = datetime.combine(TODAY, time(9, 5))
    remaining = await hub.client.get_slots(MO, THERAPIST, TODAY, TODAY)
    assert remaining[0].start == datetime.combine(TODAY, time(9, 15))
    assert len(remaining) == len(today_slots) - 5
    with pytest.raises(SlotUnavailable):
        await hub.client.book(MO, patient_id, today_slots[0].id, channel=BookingChannel.INTERNET)
    beyond = TODAY + timedelta(days=14)
    assert await hub.client.get_slots(MO, THERAPIST, beyond, beyond) == []


# -- patients, referrals, access ------------------------------------------------------------------


async def test_check_patient_by_policy_and_birth_date(hub: Hub) -> None:
    p = hub.person(2)
    check = await hub.client.check_patient(MO, oms_policy=p.oms_policy, birth_date=p.birth_date)
    assert check.mo_id == MO and check.patient_id
    # names are compared case- and ё-insensitively; the id is stable for the MO and differs between MOs
    again = await hub.client.check_patient(
        MO, oms_policy=p.oms_policy, birth_date=p.birth_date, last_name="ПЕТРОВА", first_name="анна"
    )
    assert again.patient_id == check.patient_id
    elsewhere = await hub.client.check_patient(OTHER_MO, oms_policy=p.oms_policy, birth_date=p.birth_date)
    assert elsewhere.patient_id != check.patient_id

    with pytest.raises(PatientNotFound) as wrong_birth:
        await hub.client.check_patient(MO, oms_policy=p.oms_policy, birth_date=date(1999, 1, 1))
    assert wrong_birth.value.code == HubErrorCode.PATIENT_NOT_FOUND
    with pytest.raises(PatientNotFound):
        await hub.client.check_patient(MO, oms_policy=p.oms_policy, birth_date=p.birth_date, last_name="Смирнова")
    with pytest.raises(PatientNotFound):
        await hub.client.check_patient(MO, oms_policy="0000000000000000", birth_date=p.birth_date)

    slot = (await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER))[0]
    with pytest.raises(PatientNotFound):  # an IdPat of another MO is not known here
        await hub.client.book(MO, elsewhere.patient_id, slot.id, channel=BookingChannel.INTERNET)


async def test_narrow_specialist_needs_a_referral(hub: Hub) -> None:
    patient_id = await hub.patient()
    slots = await hub.client.get_slots(MO, EYE_DOCTOR, TODAY, TODAY + timedelta(days=6))
    # Tuesday 09:00-11:00 and Thursday 14:00-16:00, 20-minute visits
    assert [s.start.weekday() for s in slots] == [1] * 6 + [3] * 6
    assert slots[0].start == datetime.combine(DAY_AFTER, time(9, 0))
    with pytest.raises(ReferralRequired) as exc:
        await hub.client.book(MO, patient_id, slots[0].id, channel=BookingChannel.INTERNET)
    assert exc.value.code == HubErrorCode.REFERRAL_REQUIRED
    number = issue_referral(
        hub.state,
        person_oid=hub.person().esia_oid,
        specialty_code="65",
        issuer_doctor_id=THERAPIST,
        number="NAPR-26-000123",
    )
    result = await hub.client.book(MO, patient_id, slots[0].id, channel=BookingChannel.DOCTOR, referral_id=number)
    assert result.specialist_type is SpecialistType.NARROW
    booked = hub.state.active_booking(slots[0].id)
    assert booked is not None and booked.referral_id == "NAPR-26-000123"


async def test_wrong_guid_is_access_denied(hub: Hub) -> None:
    stranger = FerClient(hub.http, guid="00000000-0000-0000-0000-000000000000", timeout_s=2.0)
    with pytest.raises(AccessDenied) as exc:
        await stranger.get_specialties(MO)
    assert exc.value.code == HubErrorCode.ACCESS_DENIED


# -- MO side: cancellations, visits, reschedule --------------------------------------------------


async def test_mo_cancellation_visible_in_history_and_frees_the_slot(hub: Hub) -> None:
    slot = (await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER))[5]
    patient_id = await hub.patient()
    await hub.client.book(MO, patient_id, slot.id, channel=BookingChannel.INTERNET)

    hub.clock.now += timedelta(hours=1)
    cancelled = hub.state.cancel_by_mo(slot.id)
    assert cancelled.status is AppointmentStatus.CANCELLED_BY_MO
    assert cancelled.status_changed_at == hub.clock.now

    history = await hub.client.get_history(MO, patient_id)
    assert [(h.appointment_id, h.status) for h in history] == [(slot.id, AppointmentStatus.CANCELLED_BY_MO)]
    assert slot.id in {s.id for s in await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER)}
    with pytest.raises(AppointmentNotFound):
        await hub.client.cancel(MO, patient_id, slot.id)
    with pytest.raises(KeyError):
        hub.state.cancel_by_mo(slot.id)


async def test_visited_and_no_show(hub: Hub) -> None:
    slots = await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER)
    patient_id = await hub.patient()
    await hub.client.book(MO, patient_id, slots[0].id, channel=BookingChannel.INTERNET)
    await hub.client.book(MO, patient_id, slots[1].id, channel=BookingChannel.INTERNET)
    hub.clock.now = datetime.combine(DAY_AFTER, time(12, 30))
    hub.state.mark_visited(slots[0].id)
    hub.state.mark_no_show(slots[1].id)
    history = await hub.client.get_history(MO, patient_id)
    assert [h.status for h in history] == [AppointmentStatus.VISITED, AppointmentStatus.NO_SHOW]
    # resolved visits keep their slots: no re-booking of a visit that took place
    assert hub.state.active_booking(slots[0].id) is not None
    with pytest.raises(AppointmentNotFound):
        await hub.client.cancel(MO, patient_id, slots[0].id)


async def test_reschedule_through_previous_appointment(hub: Hub) -> None:
    slots = await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER)
    patient_id = await hub.patient()
    await hub.client.book(MO, patient_id, slots[0].id, channel=BookingChannel.INTERNET)
    await hub.client.book(
        MO, patient_id, slots[4].id, channel=BookingChannel.INTERNET, previous_appointment_id=slots[0].id
    )
    history = await hub.client.get_history(MO, patient_id)
    assert [(h.appointment_id, h.status) for h in history] == [
        (slots[0].id, AppointmentStatus.RESCHEDULED),
        (slots[4].id, None),
    ]
    free = {s.id for s in await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER)}
    assert slots[0].id in free and slots[4].id not in free


async def test_appointment_source_recorded_per_channel(hub: Hub) -> None:
    slots = await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER)
    patient_id = await hub.patient()
    channels = list(BookingChannel)
    for slot, channel in zip(slots, channels, strict=False):
        await hub.client.book(MO, patient_id, slot.id, channel=channel)
    history = await hub.client.get_history(MO, patient_id)
    assert [h.source for h in history] == channels
    assert [b.source.value for b in hub.state.bookings] == [1, 2, 3, 4, 5, 6]
    set_requests = [r for r in hub.wire.requests if r.headers["SOAPAction"].endswith('/SetAppointment"')]
    sent = [etree.fromstring(r.content).findtext(f".//{{{soap.TEMPURI_NS}}}appointmentSource") for r in set_requests]
    assert sent == ["1", "2", "3", "4", "5", "6"]


# -- directory: districts and organisations --------------------------------------------------------

HUB_NS = "http://schemas.datacontract.org/2004/07/HubService2"


async def test_districts_and_organisations(hub: Hub) -> None:
    assert await hub.client.get_districts() == [DistrictInfo(id="d-1", name="Тестовый округ", okato="07401000000")]
    organisations = await hub.client.get_organisations("d-1")
    assert [o.id for o in organisations] == [MO, OTHER_MO]
    assert organisations[0] == OrganisationInfo(
        id=MO,
        full_name="ГБУЗ СК «Городская поликлиника № 1»",
        short_name="ГП № 1",
        kind="polyclinic",
        oid="1.2.643.5.1.13.13.12.2.26.1001",
        district_id="d-1",
        active=True,
        part_of=None,
        description=None,
        address="ул. Тестовая, 1",
        latitude=45.04,
        longitude=41.97,
        phone="+7(8652)000001",
    )


async def test_unknown_district_is_a_business_error(hub: Hub) -> None:
    with pytest.raises(HubError) as exc:
        await hub.client.get_organisations("no-such-district")
    assert exc.value.code == HubErrorCode.DISTRICT_NOT_FOUND
    assert not exc.value.retryable


async def test_directory_wire_shape(hub: Hub) -> None:
    await hub.client.get_districts()
    await hub.client.get_organisations("d-1")
    (districts_request, lpu_request), (districts_reply, lpu_reply) = hub.wire.requests, hub.wire.responses
    assert districts_request.headers["SOAPAction"] == '"http://tempuri.org/IHubService/GetDistrictList"'
    assert lpu_request.headers["SOAPAction"] == '"http://tempuri.org/IHubService/GetLPUList"'
    assert _names(etree.fromstring(districts_request.content)[0][0]) == ["guid"]
    assert _names(etree.fromstring(lpu_request.content)[0][0]) == ["idDistrict", "guid"]

    result = etree.fromstring(districts_reply)[0][0][0]
    assert result.tag == "{http://tempuri.org/}GetDistrictListResult"
    assert _names(result) == ["ErrorList", "IdHistory", "Success", "Districts"]
    district = result.find(f"{{{HUB_NS}}}Districts/{{{HUB_NS}}}District")
    assert district is not None and _names(district) == ["DistrictName", "IdDistrict", "Okato"]

    result = etree.fromstring(lpu_reply)[0][0][0]
    assert result.tag == "{http://tempuri.org/}GetLPUListResult"
    assert _names(result) == ["ErrorList", "IdHistory", "Success", "ListLPU"]
    clinic = result.find(f"{{{HUB_NS}}}ListLPU/{{{HUB_NS}}}Clinic")
    assert clinic is not None
    contract = {
        "Description",
        "District",
        "IdLPU",
        "IsActive",
        "LPUFullName",
        "LPUShortName",
        "LPUType",
        "Oid",
        "PartOf",
    }
    extension = {"Address", "Latitude", "Longitude", "Phone"}
    assert set(_names(clinic)) == contract | extension
    assert _names(clinic) == sorted(_names(clinic))  # DataContractSerializer order


async def test_client_tolerates_a_clinic_without_the_simulator_extension() -> None:
    """A real hub's Clinic: contract members only, nils, an inactive unit that is part of another."""
    reply = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        '<GetLPUListResponse xmlns="http://tempuri.org/">'
        f'<GetLPUListResult xmlns:a="{HUB_NS}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
        "<a:ErrorList/><a:IdHistory>7</a:IdHistory><a:Success>true</a:Success><a:ListLPU>"
        '<a:Clinic><a:Description i:nil="true"/><a:District>12</a:District><a:IdLPU>501</a:IdLPU>'
        "<a:IsActive>false</a:IsActive><a:LPUFullName>ГБУЗ «ЦРБ», ФАП с. Тестовое</a:LPUFullName>"
        "<a:LPUShortName>ФАП с. Тестовое</a:LPUShortName><a:LPUType>3</a:LPUType>"
        "<a:Oid>1.2.643.5.1.13.13.12.2.26.501</a:Oid><a:PartOf>500</a:PartOf></a:Clinic>"
        "<a:Clinic><a:IdLPU>502</a:IdLPU><a:LPUFullName>ГБУЗ «ЦРБ»</a:LPUFullName></a:Clinic>"
        "</a:ListLPU></GetLPUListResult></GetLPUListResponse></s:Body></s:Envelope>"
    ).encode()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=reply))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
        unit, minimal = await FerClient(http, guid=GUID, timeout_s=1.0).get_organisations("12")
    assert unit == OrganisationInfo(
        id="501",
        full_name="ГБУЗ «ЦРБ», ФАП с. Тестовое",
        short_name="ФАП с. Тестовое",
        kind="3",
        oid="1.2.643.5.1.13.13.12.2.26.501",
        district_id="12",
        active=False,
        part_of="500",
        description=None,
    )
    assert (unit.address, unit.latitude, unit.longitude, unit.phone) == (None, None, None, None)
    assert (minimal.id, minimal.active, minimal.oid, minimal.district_id) == ("502", True, None, None)


async def test_clinic_without_its_id_is_malformed() -> None:
    reply = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        '<GetLPUListResponse xmlns="http://tempuri.org/">'
        f'<GetLPUListResult xmlns:a="{HUB_NS}"><a:ErrorList/><a:IdHistory>1</a:IdHistory>'
        "<a:Success>true</a:Success><a:ListLPU><a:Clinic><a:LPUFullName>Без кода</a:LPUFullName></a:Clinic>"
        "</a:ListLPU></GetLPUListResult></GetLPUListResponse></s:Body></s:Envelope>"
    ).encode()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=reply))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
        with pytest.raises(HubMalformedReply) as exc:
            await FerClient(http, guid=GUID, timeout_s=1.0).get_organisations("12")
    assert exc.value.retryable and "IdLPU" in str(exc.value)


async def test_directory_needs_the_guid(hub: Hub) -> None:
    stranger = FerClient(hub.http, guid="00000000-0000-0000-0000-000000000000", timeout_s=2.0)
    with pytest.raises(AccessDenied):
        await stranger.get_districts()
    with pytest.raises(AccessDenied):
        await stranger.get_organisations("d-1")


async def test_demo_region_directory_is_served_whole() -> None:
    region = get_region(26, RegionScale.SMALL)
    app = create_fer_simulator(region, guid=GUID)
    async with build_http_client("inprocess://fer", simulator_app=lambda: app) as http:
        client = FerClient(http, guid=GUID, timeout_s=5.0)
        districts = await client.get_districts()
        assert {(d.id, d.name, d.okato) for d in districts} == {(d.id, d.name, d.okato) for d in region.districts}
        served = {o.id: o for d in districts for o in await client.get_organisations(d.id)}
    assert set(served) == {mo.id for mo in region.organisations}
    for mo in region.organisations:
        got = served[mo.id]
        assert (got.oid, got.full_name, got.short_name, got.district_id, got.phone, got.address) == (
            mo.oid,
            mo.name,
            mo.short_name,
            mo.district_id,
            mo.phone,
            mo.address,
        )
        assert got.latitude == pytest.approx(mo.latitude, abs=1e-6)
        assert got.longitude == pytest.approx(mo.longitude, abs=1e-6)


# -- faults --------------------------------------------------------------------------------------


async def _faulty_client(
    region: Region, profile: FaultProfile, timeout_s: float
) -> tuple[FerClient, FerSimulatorState, httpx.AsyncClient]:
    app = create_fer_simulator(region, faults=profile, clock=Clock(), guid=GUID)
    http = build_http_client("inprocess://fer", simulator_app=lambda: app)
    return FerClient(http, guid=GUID, timeout_s=timeout_s), simulator_state(app), http


async def test_error_fault_is_hub_unavailable(region: Region) -> None:
    client, state, http = await _faulty_client(region, FaultProfile(), 1.0)
    async with http:
        state.faults.force(Fault.ERROR)
        with pytest.raises(HubUnavailable) as exc:
            await client.get_specialties(MO)
        assert exc.value.retryable
        assert exc.value.status_code == 500 and exc.value.fault_code == "Server"
        assert "временно недоступен" in str(exc.value)
        assert len(await client.get_specialties(MO)) == 2  # the next call is served


async def test_timeout_fault_is_hub_timeout_within_the_deadline(region: Region) -> None:
    client, state, http = await _faulty_client(region, FaultProfile(timeout_stall_s=5.0), 0.2)
    async with http:
        state.faults.force(Fault.TIMEOUT)
        with pytest.raises(HubTimeout) as exc:  # the 5 s stall is cut by the client's 0.2 s deadline
            await client.get_doctors(MO, "27")
        assert exc.value.retryable
        assert len(await client.get_doctors(MO, "27")) == 1


async def test_malformed_fault_is_hub_malformed_reply(region: Region) -> None:
    client, state, http = await _faulty_client(region, FaultProfile(), 1.0)
    async with http:
        state.faults.force(Fault.MALFORMED)
        with pytest.raises(HubMalformedReply) as exc:
            await client.get_available_dates(MO, THERAPIST, TODAY, TODAY)
        assert exc.value.retryable
        assert state.calls["GetAvailableDates"] == 0  # the fault replaced the reply; nothing was processed


async def test_latency_and_random_faults_with_a_seed(region: Region) -> None:
    profile = FaultProfile(latency_ms=20, jitter_ms=5, error_rate=0.3, malformed_rate=0.2, seed=7)
    client, _, http = await _faulty_client(region, profile, 1.0)
    async with http:
        outcomes = []
        for _ in range(20):
            try:
                await client.get_specialties(MO)
                outcomes.append("ok")
            except HubUnavailable:
                outcomes.append("error")
            except HubMalformedReply:
                outcomes.append("malformed")
        assert set(outcomes) == {"ok", "error", "malformed"}


async def test_hostile_or_foreign_replies_are_malformed() -> None:
    entity_bomb = (
        b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x "boom">]>'
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&x;</s:Body></s:Envelope>'
    )
    wrong_root = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b'<OtherResponse xmlns="http://tempuri.org/"/></s:Body></s:Envelope>'
    )
    for body in (entity_bomb, wrong_root, b"not xml", b""):
        transport = httpx.MockTransport(lambda request, body=body: httpx.Response(200, content=body))
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            with pytest.raises(HubMalformedReply):
                await FerClient(http, guid=GUID, timeout_s=1.0).get_specialties(MO)


async def test_http_error_without_soap_is_hub_unavailable() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(502, content=b"<html>Bad Gateway</html>"))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
        with pytest.raises(HubUnavailable) as exc:
            await FerClient(http, guid=GUID, timeout_s=1.0).get_specialties(MO)
    assert exc.value.status_code == 502


# -- the wire: spellings, namespaces, order ------------------------------------------------------


def _names(el: etree._Element) -> list[str]:
    return [etree.QName(c).localname for c in el if isinstance(c.tag, str)]


async def test_request_envelope_follows_the_hub_contract(hub: Hub) -> None:
    patient_id = await hub.patient()
    await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER, patient_id=patient_id)
    request = hub.wire.requests[-1]
    assert request.method == "POST" and request.url.path == "/hub25/HubService.svc"
    assert request.headers["SOAPAction"] == '"http://tempuri.org/IHubService/GetAvaibleAppointments"'
    assert request.headers["Content-Type"] == "text/xml; charset=utf-8"
    envelope = etree.fromstring(request.content)
    assert envelope.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Envelope"
    body = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    assert body is not None
    op = body[0]
    assert op.tag == "{http://tempuri.org/}GetAvaibleAppointments"
    assert all(etree.QName(c).namespace == "http://tempuri.org/" for c in op)
    assert _names(op) == ["idDoc", "idLpu", "idPat", "visitStart", "visitEnd", "guid"]
    assert op.findtext("{http://tempuri.org/}visitStart") == "2025-03-04T00:00:00"
    assert op.findtext("{http://tempuri.org/}visitEnd") == "2025-03-04T23:59:59"
    assert op.findtext("{http://tempuri.org/}guid") == GUID

    check = etree.fromstring(hub.wire.requests[0].content)[0][0]
    assert check.tag == "{http://tempuri.org/}CheckPatient"
    assert _names(check) == ["pat", "idLpu", "guid"]
    pat = check[0]
    assert {etree.QName(c).namespace for c in pat} == {"http://schemas.datacontract.org/2004/07/HubService2"}
    assert _names(pat) == sorted(_names(pat)) and "Polis_N" in _names(pat) and "Birthday" in _names(pat)


async def test_misspelled_operations_and_parameters_are_kept(hub: Hub) -> None:
    patient_id = await hub.patient()
    await hub.client.get_specialties(MO)
    await hub.client.get_doctors(MO, "27")
    slot = (await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER))[0]
    await hub.client.book(MO, patient_id, slot.id, channel=BookingChannel.INTERNET, previous_appointment_id=None)
    await hub.client.cancel(MO, patient_id, slot.id)
    ops = {
        etree.QName(etree.fromstring(r.content)[0][0]).localname: etree.fromstring(r.content)[0][0]
        for r in hub.wire.requests
    }
    assert set(ops) == {
        "CheckPatient",
        "GetSpesialityList",
        "GetDoctorList",
        "GetAvaibleAppointments",
        "SetAppointment",
        "CreateClaimForRefusal",
    }
    assert _names(ops["GetSpesialityList"]) == ["idLpu", "guid"]
    assert _names(ops["GetDoctorList"]) == ["idSpesiality", "idLpu", "guid"]
    assert _names(ops["SetAppointment"]) == ["idAppointment", "idLpu", "idPat", "guid", "appointmentSource"]
    assert _names(ops["CreateClaimForRefusal"]) == ["idLpu", "idPat", "idAppointment", "guid"]


async def test_reply_envelope_follows_the_hub_contract(hub: Hub) -> None:
    await hub.client.get_slots(MO, THERAPIST, DAY_AFTER, DAY_AFTER)
    envelope = etree.fromstring(hub.wire.responses[-1])
    response = envelope[0][0]
    assert response.tag == "{http://tempuri.org/}GetAvaibleAppointmentsResponse"
    result = response[0]
    assert result.tag == "{http://tempuri.org/}GetAvaibleAppointmentsResult"
    hub_ns = "http://schemas.datacontract.org/2004/07/HubService2"
    assert {etree.QName(c).namespace for c in result} == {hub_ns}
    assert _names(result)[:3] == ["ErrorList", "IdHistory", "Success"]
    assert _names(result)[3:] == sorted(_names(result)[3:])
    assert result.findtext(f"{{{hub_ns}}}Success") == "true"
    appointment = result.find(f"{{{hub_ns}}}ListAppointments/{{{hub_ns}}}Appointment")
    assert appointment is not None
    assert _names(appointment) == ["Address", "IdAppointment", "Num", "Room", "VisitEnd", "VisitStart"]
    assert appointment.findtext(f"{{{hub_ns}}}VisitStart") == "2025-03-04T08:00:00"

    await hub.client.get_available_dates(MO, THERAPIST, DAY_AFTER, DAY_AFTER)
    dates = etree.fromstring(hub.wire.responses[-1])[0][0][0].find(f"{{{hub_ns}}}AvailableDateList")
    assert dates is not None
    assert [(c.tag, c.text) for c in dates] == [
        ("{http://schemas.microsoft.com/2003/10/Serialization/Arrays}dateTime", "2025-03-04T00:00:00")
    ]


async def test_business_error_reply_shape(hub: Hub) -> None:
    with pytest.raises(SlotUnavailable):
        await hub.client.book(MO, await hub.patient(), "bogus", channel=BookingChannel.INTERNET)
    result = etree.fromstring(hub.wire.responses[-1])[0][0][0]
    hub_ns = "http://schemas.datacontract.org/2004/07/HubService2"
    assert result.tag == "{http://tempuri.org/}SetAppointmentResult"
    assert result.findtext(f"{{{hub_ns}}}Success") == "false"
    error = result.find(f"{{{hub_ns}}}ErrorList/{{{hub_ns}}}Error")
    assert error is not None
    assert _names(error) == ["ErrorDescription", "IdError"]
    assert error.findtext(f"{{{hub_ns}}}IdError") == str(int(HubErrorCode.SLOT_NOT_FOUND))


async def test_soap_action_dispatch_and_wsdl(hub: Hub) -> None:
    body = soap.build_request("GetSpesialityList", [("idLpu", MO), ("guid", GUID)])
    mismatched = await hub.http.post(
        "/hub25/HubService.svc", content=body, headers={"SOAPAction": soap.soap_action("GetDoctorList")}
    )
    assert mismatched.status_code == 500
    with pytest.raises(soap.SoapFault) as fault:
        soap.parse_body(mismatched.content)
    assert fault.value.code == "Client"
    unknown = await hub.http.post("/hub25/HubService.svc", content=body, headers={"SOAPAction": '"urn:x"'})
    assert unknown.status_code == 500 and b"ActionNotSupported" in unknown.content

    wsdl = await hub.http.get("/hub25/HubService.svc?wsdl")
    assert wsdl.status_code == 200
    definitions = etree.fromstring(wsdl.content)
    ops = definitions.findall("{http://schemas.xmlsoap.org/wsdl/}portType/{http://schemas.xmlsoap.org/wsdl/}operation")
    assert {o.get("name") for o in ops} >= {
        "GetDistrictList",
        "GetLPUList",
        "GetSpesialityList",
        "GetAvaibleAppointments",
        "SetAppointment",
    }


def test_request_parser_refuses_entities() -> None:
    hostile = (
        b'<!DOCTYPE s [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><a>&e;</a></s:Body></s:Envelope>'
    )
    with pytest.raises(soap.SoapMalformed):
        soap.parse_body(hostile)


# -- the organisation's card: GetLPUInfo (address, phone, hours) ---------------------------------

LPU_INFO = [
    "Address", "Commentary", "DistrictId", "DistrictName", "DistrictOkato", "Email", "FullName", "Id", "Oid", "Phone",
    "PublicGuid", "ShortName", "Type", "WorkTime",
]  # fmt: skip  # LpuInfo's members (HubServiceContractClasses.cs), in DataContractSerializer order


async def test_lpu_info_is_the_card_with_the_hours(hub: Hub) -> None:
    assert isinstance(hub.client, LpuInfoHub)
    card = await hub.client.get_lpu_info(MO)
    (request,), (reply,) = hub.wire.requests, hub.wire.responses
    assert request.headers["SOAPAction"] == '"http://tempuri.org/IHubService/GetLPUInfo"'
    assert _names(etree.fromstring(request.content)[0][0]) == ["idLpu", "guid"]
    result = etree.fromstring(reply)[0][0][0]
    assert result.tag == "{http://tempuri.org/}GetLPUInfoResult"
    assert _names(result) == ["ErrorList", "IdHistory", "Success", "LpuCollection"]
    info = result.find(f"{{{HUB_NS}}}LpuCollection/{{{HUB_NS}}}LpuInfo")
    assert info is not None and _names(info) == LPU_INFO

    mo = hub.region.organisations[0]
    assert card is not None
    assert (card.id, card.oid, card.full_name, card.address, card.phone) == (MO, mo.oid, mo.name, mo.address, mo.phone)
    assert card.work_time == "Пн-Пт 08:00-20:00; Сб 09:00-15:00; Вс выходной"  # no hours of its own: a polyclinic's
    other = await hub.client.get_lpu_info(OTHER_MO)
    assert other is not None and other.work_time == "пн.-пт. с 7:30 до 19:00; сб. с 9.00 до 13.00"
    week = parse_work_time(other.work_time)
    assert week is not None and week.summary() == "Пн–Пт 07:30–19:00; Сб 09:00–13:00; Вс выходной"


async def test_lpu_info_of_an_unknown_organisation_is_none(hub: Hub) -> None:
    assert await hub.client.get_lpu_info("9999") is None


async def test_lpu_info_needs_the_guid_and_survives_faults(hub: Hub, region: Region) -> None:
    stranger = FerClient(hub.http, guid="00000000-0000-0000-0000-000000000000", timeout_s=2.0)
    with pytest.raises(AccessDenied):
        await stranger.get_lpu_info(MO)
    client, state, http = await _faulty_client(region, FaultProfile(), 1.0)
    async with http:
        state.faults.force(Fault.MALFORMED)
        with pytest.raises(HubMalformedReply):
            await client.get_lpu_info(MO)
        state.faults.force(Fault.ERROR)
        with pytest.raises(HubUnavailable):
            await client.get_lpu_info(MO)
        card = await client.get_lpu_info(MO)  # the next call is served
        assert card is not None and card.work_time


async def test_a_real_hubs_card_without_hours_reads_as_none() -> None:
    """A card with nils (a hub that does not fill WorkTime): the client reads None, not an empty text."""
    reply = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        '<GetLPUInfoResponse xmlns="http://tempuri.org/">'
        f'<GetLPUInfoResult xmlns:a="{HUB_NS}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
        "<a:ErrorList/><a:IdHistory>1</a:IdHistory><a:Success>true</a:Success>"
        '<a:LpuCollection><a:LpuInfo><a:Address i:nil="true"/><a:FullName>ФАП с. Тестовое</a:FullName>'
        '<a:Id>77</a:Id><a:WorkTime i:nil="true"/></a:LpuInfo></a:LpuCollection>'
        "</GetLPUInfoResult></GetLPUInfoResponse></s:Body></s:Envelope>"
    )

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=reply.encode(), headers={"Content-Type": soap.CONTENT_TYPE})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://hub") as http:
        card = await FerClient(http, guid=GUID, timeout_s=2.0).get_lpu_info("77")
    assert card is not None
    assert (card.id, card.full_name, card.address, card.work_time) == ("77", "ФАП с. Тестовое", None, None)
