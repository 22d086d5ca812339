"""Contract of the home-call adapter: the real HomeCallClient against the in-process HomeCallService simulator,
and the MIS's push ``HandleHomeCallRequestChanged`` through the parser/handler our endpoint will use."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, Response, post
from lxml import etree

from integrations.common.faults import Fault, FaultProfile
from integrations.common.http import build_http_client
from integrations.demo_region import get_region
from integrations.demo_region.model import Person, Region
from integrations.fer.areas import AreaType
from integrations.homecall import (
    ActiveCallExists,
    Address,
    Applicant,
    HomeCallAccessDenied,
    HomeCallChanged,
    HomeCallClient,
    HomeCallError,
    HomeCallFilter,
    HomeCallHub,
    HomeCallMalformedReply,
    HomeCallNotFound,
    HomeCallPatient,
    HomeCallRefusal,
    HomeCallStatus,
    HomeCallTimeout,
    HomeCallUnavailable,
    NoAddress,
    NoContactPhone,
    NoReason,
    PatientNotAttached,
    PatientNotIdentified,
    PushRejected,
    ServiceDisabled,
    SessionExpired,
    SlotUnavailable,
    StatusChangeNotAllowed,
    StatusTable,
    TimeInterval,
    build_push,
    handle_push,
    parse_push,
)
from integrations.homecall import soap as hc_soap
from integrations.homecall.client import DEFAULT_ERROR_MAP
from integrations.homecall.simulator import HomeCallSimulatorState, create_homecall_simulator, simulator_state

GUID = "7c1d2e3f-0000-4000-8000-000000000018"
PUSH_GUID = "push-guid-of-our-endpoint"
ADULT_MO = "101"
CHILDREN_MO = "102"
HOSPITAL = "103"
MONDAY = date(2025, 3, 3)
FATHER = "1097939660"  # Иванов Иван Иванович, ГП № 1, area 101-5
SON = "1059988992"  # Иванов Фёдор Иванович (2017), ДГП № 2, area 102-1, the father's child
WIFE = "1037284708"  # Иванова Елизавета Михайловна, same home: area 101-5 too
MOTHER_OF_TWO = "1129730520"  # Кравченко Мария Георгиевна, ГП № 1


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.combine(MONDAY, time(10, 0)))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Inbox:
    """Our side of the push: the events our endpoint accepted and the HTTP replies it gave."""

    events: list[HomeCallChanged] = field(default_factory=list)
    replies: list[tuple[int, bytes]] = field(default_factory=list)
    fail: bool = False

    async def on_change(self, event: HomeCallChanged) -> None:
        if self.fail:
            raise RuntimeError("database is down")
        self.events.append(event)

    async def endpoint(self, body: bytes, headers: Mapping[str, str]) -> bytes:
        status, reply = await handle_push(body, headers.get("SOAPAction"), self.on_change, expected_guid=PUSH_GUID)
        self.replies.append((status, reply))
        return reply


@dataclass
class Svc:
    app: Litestar
    state: HomeCallSimulatorState
    client: HomeCallClient
    clock: Clock
    region: Region
    inbox: Inbox
    requests: list[httpx.Request]

    def person(self, oid: str) -> Person:
        return self.region.person_by_oid(oid)


def patient_of(person: Person) -> HomeCallPatient:
    return HomeCallPatient(
        last_name=person.last_name,
        first_name=person.first_name,
        middle_name=person.middle_name,
        birth_date=person.birth_date,
        sex=person.sex,
        snils=person.snils,
        oms_number=person.oms_policy,
    )


def applicant_of(person: Person, phone: str | None = None) -> Applicant:
    return Applicant(
        last_name=person.last_name,
        first_name=person.first_name,
        middle_name=person.middle_name,
        mobile_phone=phone if phone is not None else person.phone,
        email=person.email or None,
    )


HOME = Address(
    region="Ставропольский край",
    city="г. Ставрополь",
    street="ул. Мира",
    house="149",
    apartment="62",
    post_index="355000",
    kladr_fias_code="2a1c7bdb-05ea-492f-9e1c-b3999f79dcbc",
    comment="подъезд 3, домофон 62",
)


@pytest.fixture
async def svc() -> AsyncIterator[Svc]:
    region = get_region()
    clock = Clock()
    inbox = Inbox()
    app = create_homecall_simulator(region, clock=clock, guid=GUID, push_to=inbox.endpoint, push_guid=PUSH_GUID)
    seen: list[httpx.Request] = []

    async def on_request(request: httpx.Request) -> None:
        seen.append(request)

    http = build_http_client("inprocess://homecall", simulator_app=lambda: app)
    http.event_hooks = {"request": [on_request]}
    async with http:
        yield Svc(app, simulator_state(app), HomeCallClient(http, guid=GUID, timeout_s=2.0), clock, region, inbox, seen)


async def call_for(svc: Svc, patient_oid: str, applicant_oid: str | None = None, **kwargs: Any) -> Any:
    patient = svc.person(patient_oid)
    applicant = svc.person(applicant_oid or patient_oid)
    return await svc.client.validate(
        kwargs.pop("mo_id", patient.attached_mo_id),
        patient=kwargs.pop("patient", patient_of(patient)),
        applicant=kwargs.pop("applicant", applicant_of(applicant)),
        address=kwargs.pop("address", HOME),
        reason=kwargs.pop("reason", "Температура выше 38"),
        **kwargs,
    )


# -- the flow ------------------------------------------------------------------------------------


async def test_client_implements_the_port(svc: Svc) -> None:
    assert isinstance(svc.client, HomeCallHub)


async def test_parent_calls_the_area_paediatrician_for_a_child(svc: Svc) -> None:
    validation = await call_for(svc, SON, FATHER, comment="Кашель третий день")
    assert validation.doctor is not None
    doctor = svc.region.doctor("10018")
    assert (validation.doctor.id, validation.doctor.name, validation.doctor.snils) == (
        doctor.id,
        doctor.full_name,
        doctor.snils,
    )
    assert (validation.doctor.area, validation.doctor.area_type) == ("1", AreaType.PAEDIATRIC)
    assert validation.doctor_position_id == "49"
    # Monday 10:00: three windows today and three on Tuesday, two hours each.
    starts = [s.visit_time for s in validation.slots]
    assert starts == [
        datetime.combine(day, time(h)) for day in (MONDAY, MONDAY + timedelta(days=1)) for h in (12, 14, 16)
    ]
    assert {s.duration_minutes for s in validation.slots} == {120}
    assert validation.slots[0].end == datetime.combine(MONDAY, time(14))
    assert validation.doctor.free_tickets == 6 and validation.doctor.nearest_date == starts[0]

    afternoon = TimeInterval(datetime.combine(MONDAY, time(15)), datetime.combine(MONDAY, time(20)))
    slots = await svc.client.get_slots(CHILDREN_MO, validation.session_id, [afternoon])
    assert [s.visit_time.hour for s in slots] == [14, 16]

    created = await svc.client.create(CHILDREN_MO, validation.session_id, slots[1].id)
    assert created.session_id == validation.session_id

    found = await svc.client.search(HomeCallFilter(request_id=created.request_id))
    assert found.count == 1
    info = found.requests[0]
    assert info.request_id == created.request_id
    assert info.mo_id == CHILDREN_MO
    assert info.status is HomeCallStatus.NEW and info.status_code == 1
    assert info.created_at == info.updated_at == svc.clock.now
    assert info.patient_id == validation.patient_id
    assert info.slot == slots[1]
    assert info.doctor is None  # the clinic has not assigned anybody yet
    assert info.reason == "Температура выше 38" and info.comment == "Кашель третий день"
    # The patient and the applicant stay separate; the structured address comes back whole.
    son, father = svc.person(SON), svc.person(FATHER)
    assert info.patient is not None and info.patient.first_name == son.first_name
    assert info.patient.birth_date == son.birth_date and info.patient.oms_number == son.oms_policy
    assert info.applicant is not None and info.applicant.first_name == father.first_name
    assert info.applicant.mobile_phone == father.phone
    assert info.address == HOME
    assert info.member_guid == GUID


async def test_session_is_reused_when_given_back(svc: Svc) -> None:
    first = await call_for(svc, FATHER)
    again = await call_for(svc, FATHER, session_id=first.session_id, reason="Давление")
    assert again.session_id == first.session_id
    assert svc.state.sessions[first.session_id].reason == "Давление"


# -- refusals ------------------------------------------------------------------------------------


async def test_no_address_is_4025(svc: Svc) -> None:
    for address in (None, Address(), Address(comment="код домофона 12"), Address(street="ул. Мира")):
        with pytest.raises(NoAddress) as exc:
            await call_for(svc, FATHER, address=address)
        assert exc.value.upstream_code == 4025
        assert exc.value.message.startswith("Не указан адрес")
        assert exc.value.code == "homecall.no_address" and "адрес" in exc.value.user_message
    assert svc.state.sessions == {}
    # A single address line (or a FIAS-coded house) is enough.
    assert (await call_for(svc, FATHER, address=Address(address_line="г. Ставрополь, ул. Мира, 149-62"))).slots


async def test_second_active_call_is_4015_until_the_first_ends(svc: Svc) -> None:
    first = await call_for(svc, FATHER)
    created = await svc.client.create(ADULT_MO, first.session_id, first.slots[0].id)
    with pytest.raises(ActiveCallExists) as exc:
        await call_for(svc, FATHER, reason="Другая причина")
    assert exc.value.upstream_code == 4015
    assert "активный вызов" in exc.value.message
    assert "активный вызов" in exc.value.user_message
    # Another member of the family may still call.
    assert (await call_for(svc, SON, FATHER)).slots
    await svc.client.update(created.request_id, HomeCallStatus.CANCELLED_BY_PATIENT, "Стало лучше")
    assert (await call_for(svc, FATHER)).slots


async def test_two_open_sessions_cannot_both_create(svc: Svc) -> None:
    one = await call_for(svc, FATHER)
    two = await call_for(svc, FATHER)
    assert one.session_id != two.session_id
    await svc.client.create(ADULT_MO, one.session_id, one.slots[0].id)
    with pytest.raises(ActiveCallExists):
        await svc.client.create(ADULT_MO, two.session_id, two.slots[1].id)
    assert len(svc.state.requests) == 1


async def test_service_switched_off_for_a_clinic(svc: Svc) -> None:
    with pytest.raises(ServiceDisabled) as exc:  # a hospital takes no home calls
        await call_for(svc, FATHER, mo_id=HOSPITAL)
    assert exc.value.upstream_code == 4010
    svc.state.switch_off(ADULT_MO)
    with pytest.raises(ServiceDisabled) as exc:
        await call_for(svc, FATHER)
    assert "не принимает вызовы врача на дом" in exc.value.user_message
    svc.state.switch_on(ADULT_MO)
    assert (await call_for(svc, FATHER)).slots


async def test_service_off_after_validation_refuses_the_session(svc: Svc) -> None:
    validation = await call_for(svc, FATHER)
    svc.state.switch_off(ADULT_MO)
    with pytest.raises(ServiceDisabled):
        await svc.client.create(ADULT_MO, validation.session_id, validation.slots[0].id)
    assert svc.state.requests == {}


async def test_patient_must_be_identified_and_attached_to_the_clinic(svc: Svc) -> None:
    father = svc.person(FATHER)
    wrong_policy = HomeCallPatient(
        last_name=father.last_name, first_name=father.first_name, birth_date=father.birth_date, oms_number="0000"
    )
    with pytest.raises(PatientNotIdentified) as not_found:
        await call_for(svc, FATHER, patient=wrong_policy)
    assert not_found.value.upstream_code == 4020
    wrong_birth = HomeCallPatient(
        last_name=father.last_name,
        first_name=father.first_name,
        birth_date=date(1990, 1, 1),
        oms_number=father.oms_policy,
    )
    with pytest.raises(PatientNotIdentified):
        await call_for(svc, FATHER, patient=wrong_birth)
    with pytest.raises(PatientNotAttached) as not_attached:  # the adult is attached to 101, not the children's 102
        await call_for(svc, FATHER, mo_id=CHILDREN_MO)
    assert not_attached.value.upstream_code == 4021


async def test_phone_and_reason_are_required(svc: Svc) -> None:
    father = svc.person(FATHER)
    for phone in ("", "12-34"):
        with pytest.raises(NoContactPhone):
            await call_for(svc, FATHER, applicant=applicant_of(father, phone=phone))
    with pytest.raises(NoReason):
        await call_for(svc, FATHER, reason="  ")


async def test_unknown_and_expired_sessions(svc: Svc) -> None:
    with pytest.raises(SessionExpired) as exc:
        await svc.client.get_slots(ADULT_MO, "no-such-session")
    assert exc.value.upstream_code == 4030
    validation = await call_for(svc, FATHER)
    with pytest.raises(SessionExpired):  # a session belongs to its clinic
        await svc.client.get_slots(CHILDREN_MO, validation.session_id)
    svc.clock.now += timedelta(minutes=31)
    with pytest.raises(SessionExpired):
        await svc.client.create(ADULT_MO, validation.session_id, validation.slots[-1].id)


async def test_windows_that_ended_or_filled_up_are_refused(region_small_capacity: Svc) -> None:
    svc = region_small_capacity
    validation = await call_for(svc, FATHER)
    noon = validation.slots[0]
    svc.clock.now = datetime.combine(MONDAY, time(14, 0))  # the 12–14 window has ended
    validation = await call_for(svc, FATHER, session_id=validation.session_id)
    assert noon.id not in {s.id for s in validation.slots}
    with pytest.raises(SlotUnavailable) as exc:
        await svc.client.create(ADULT_MO, validation.session_id, noon.id)
    assert exc.value.upstream_code == 4031
    with pytest.raises(SlotUnavailable):
        await svc.client.create(ADULT_MO, validation.session_id, "hc-101-10011-209901011200")

    # Capacity 1: once the wife (same home, same area) takes the 14–16 window, it is gone for the husband.
    wife = await call_for(svc, WIFE)
    window = wife.slots[0]
    assert window.id == validation.slots[0].id
    await svc.client.create(ADULT_MO, wife.session_id, window.id)
    mine = await svc.client.get_slots(ADULT_MO, validation.session_id)
    assert window.id not in {s.id for s in mine} and len(mine) == len(validation.slots) - 1
    with pytest.raises(SlotUnavailable):
        await svc.client.create(ADULT_MO, validation.session_id, window.id)


@pytest.fixture
async def region_small_capacity() -> AsyncIterator[Svc]:
    region = get_region()
    clock = Clock()
    inbox = Inbox()
    app = create_homecall_simulator(region, clock=clock, guid=GUID, window_capacity=1)
    http = build_http_client("inprocess://homecall", simulator_app=lambda: app)
    async with http:
        yield Svc(app, simulator_state(app), HomeCallClient(http, guid=GUID, timeout_s=2.0), clock, region, inbox, [])


async def test_two_families_on_one_area_share_the_windows(region_small_capacity: Svc) -> None:
    svc = region_small_capacity
    # Иванов and Кравченко are on different adult areas: each area doctor has own windows.
    ivanov = await call_for(svc, FATHER)
    kravchenko = await call_for(svc, MOTHER_OF_TWO)
    assert ivanov.doctor is not None and kravchenko.doctor is not None
    assert ivanov.doctor.id != kravchenko.doctor.id
    assert {s.id for s in ivanov.slots}.isdisjoint({s.id for s in kravchenko.slots})


async def test_wrong_guid_is_access_denied(svc: Svc) -> None:
    http = build_http_client("inprocess://homecall", simulator_app=lambda: svc.app)
    async with http:
        with pytest.raises(HomeCallAccessDenied) as exc:
            await HomeCallClient(http, guid="wrong", timeout_s=1.0).get_slots(ADULT_MO, "x")
    assert exc.value.upstream_code == 5403 and exc.value.message == "Код авторизации не верен"


# -- update and search ---------------------------------------------------------------------------


async def _created(svc: Svc, oid: str = FATHER, applicant: str | None = None) -> str:
    validation = await call_for(svc, oid, applicant)
    return (
        await svc.client.create(svc.person(oid).attached_mo_id, validation.session_id, validation.slots[0].id)
    ).request_id


async def test_cancel_while_not_on_the_way(svc: Svc) -> None:
    request_id = await _created(svc)
    svc.clock.now += timedelta(minutes=5)
    await svc.client.update(request_id, HomeCallStatus.NEW, "Домофон не работает, звонить на телефон")
    svc.clock.now += timedelta(minutes=5)
    await svc.client.update(request_id, HomeCallStatus.CANCELLED_BY_PATIENT, "Стало лучше")
    info = (await svc.client.search(HomeCallFilter(request_id=request_id))).requests[0]
    assert info.status is HomeCallStatus.CANCELLED_BY_PATIENT
    assert info.updated_at == datetime.combine(MONDAY, time(10, 10))
    history = svc.state.requests[request_id].history
    assert [(h.status, h.at.time()) for h in history] == [
        (HomeCallStatus.NEW, time(10, 0)),
        (HomeCallStatus.NEW, time(10, 5)),
        (HomeCallStatus.CANCELLED_BY_PATIENT, time(10, 10)),
    ]
    with pytest.raises(StatusChangeNotAllowed):  # final
        await svc.client.update(request_id, HomeCallStatus.CANCELLED_BY_PATIENT)
    assert svc.inbox.events == []  # our own change is not pushed back to us


async def test_no_cancel_once_the_doctor_is_on_the_way(svc: Svc) -> None:
    request_id = await _created(svc)
    await svc.state.doctor_on_the_way(request_id)
    with pytest.raises(StatusChangeNotAllowed) as exc:
        await svc.client.update(request_id, HomeCallStatus.CANCELLED_BY_PATIENT)
    assert exc.value.upstream_code == 4041
    with pytest.raises(StatusChangeNotAllowed):  # only the clinic reports visits
        await svc.client.update(request_id, HomeCallStatus.VISITED)
    with pytest.raises(HomeCallNotFound):
        await svc.client.update("no-such-request", HomeCallStatus.CANCELLED_BY_PATIENT)


async def test_search_filters(svc: Svc) -> None:
    first = await _created(svc, FATHER)
    svc.clock.now += timedelta(hours=1)
    second = await _created(svc, SON, FATHER)
    svc.clock.now += timedelta(hours=1)
    await svc.state.assign_doctor(first)
    son_patient_id = svc.state.requests[second].patient_id

    async def ids(**kwargs: Any) -> set[str]:
        result = await svc.client.search(HomeCallFilter(**kwargs))
        assert result.count == len(result.requests)
        return {r.request_id for r in result.requests}

    assert await ids() == {first, second}
    assert await ids(mo_id=CHILDREN_MO) == {second}
    assert await ids(patient_ids=[son_patient_id]) == {second}
    assert await ids(statuses=[HomeCallStatus.DOCTOR_ASSIGNED]) == {first}
    assert await ids(statuses=[HomeCallStatus.NEW, HomeCallStatus.DOCTOR_ASSIGNED]) == {first, second}
    at = datetime.combine(MONDAY, time(10, 30))
    assert await ids(created=TimeInterval(at, at + timedelta(hours=1))) == {second}
    assert await ids(updated=TimeInterval(at + timedelta(hours=1), at + timedelta(hours=2))) == {first}
    assert await ids(doctor_id=svc.state.requests[first].doctor_id) == {first}
    assert await ids(request_id="none") == set()


# -- the MIS's side: changes pushed to us --------------------------------------------------------


async def test_clinic_changes_reach_us_as_typed_events(svc: Svc) -> None:
    request_id = await _created(svc, SON, FATHER)
    steps = [
        (svc.state.assign_doctor, HomeCallStatus.DOCTOR_ASSIGNED),
        (svc.state.doctor_on_the_way, HomeCallStatus.ON_THE_WAY),
        (svc.state.mark_visited, HomeCallStatus.VISITED),
    ]
    for minutes, (hook, status) in enumerate(steps, start=1):
        svc.clock.now += timedelta(minutes=30 * minutes)
        await hook(request_id)
        event = svc.inbox.events[-1]
        assert event.request.request_id == request_id and event.request.status is status
        assert event.request.updated_at == svc.clock.now
        assert event.guid == PUSH_GUID
    assert [e.request.status.label_ru for e in svc.inbox.events] == [
        "Назначен врач",
        "Врач выехал к пациенту",
        "Врач посетил пациента",
    ]
    assigned = svc.inbox.events[0].request.doctor
    assert assigned is not None and assigned.id == "10018" and assigned.area_type is AreaType.PAEDIATRIC
    assert svc.inbox.events[0].request.patient is not None
    assert len({e.dedup_key for e in svc.inbox.events}) == 3
    assert all(d.ok for d in svc.state.deliveries) and len(svc.state.deliveries) == 3
    assert [h.by_mis for h in svc.state.requests[request_id].history] == [False, True, True, True]
    # The periodic sync sees the same final state.
    info = (await svc.client.search(HomeCallFilter(request_id=request_id))).requests[0]
    assert info.status is HomeCallStatus.VISITED and info.doctor == assigned


async def test_clinic_cancellation_reaches_us_with_its_reason(svc: Svc) -> None:
    request_id = await _created(svc)
    await svc.state.cancel_by_clinic(request_id, "Пациент госпитализирован")
    event = svc.inbox.events[-1]
    assert event.request.status is HomeCallStatus.CANCELLED_BY_MO
    assert event.request.comment == "Пациент госпитализирован"
    assert event.request.status.label_ru == "Вызов отменён медицинской организацией"
    with pytest.raises(ValueError):  # a final request takes no more clinic-side changes
        await svc.state.mark_visited(request_id)


async def test_a_repeated_delivery_has_the_same_dedup_key(svc: Svc) -> None:
    request_id = await _created(svc)
    await svc.state.assign_doctor(request_id)
    await svc.state.push(svc.state.requests[request_id])
    first, again = svc.inbox.events[-2:]
    assert first.dedup_key == again.dedup_key and first.request == again.request


async def test_push_is_refused_with_a_wrong_guid_or_shape(svc: Svc) -> None:
    request_id = await _created(svc)
    svc.state.push_guid = "someone-else"
    delivery = await svc.state.assign_doctor(request_id)
    assert svc.inbox.events == []
    assert not svc.state.deliveries[-1].ok and "5403" in (svc.state.deliveries[-1].detail or "")
    assert delivery.status is HomeCallStatus.DOCTOR_ASSIGNED

    body = build_push(svc.state.info(svc.state.requests[request_id]), guid=PUSH_GUID)
    action = hc_soap.soap_action("HandleHomeCallRequestChanged")
    assert parse_push(body, action, expected_guid=PUSH_GUID).request.request_id == request_id
    with pytest.raises(PushRejected):
        parse_push(body, hc_soap.soap_action("CreateHomeCallRequest"))
    with pytest.raises(PushRejected):
        parse_push(b"<not-soap", action)
    with pytest.raises(PushRejected):  # a status number our table does not know
        parse_push(body, action, table=StatusTable({s: 100 + i for i, s in enumerate(HomeCallStatus)}))
    with pytest.raises(PushRejected):
        parse_push(body.replace(b"IdHomeCallRequest", b"IdSomethingElse"), action)


async def test_push_our_side_failure_is_a_fault_so_the_mis_retries(svc: Svc) -> None:
    request_id = await _created(svc)
    svc.inbox.fail = True
    await svc.state.assign_doctor(request_id)
    assert svc.inbox.replies[-1][0] == 500
    assert not svc.state.deliveries[-1].ok
    svc.inbox.fail = False
    await svc.state.push(svc.state.requests[request_id])  # the MIS delivers again
    assert svc.state.deliveries[-1].ok and svc.inbox.events[-1].request.status is HomeCallStatus.DOCTOR_ASSIGNED


async def test_served_simulator_posts_the_push_over_http_and_takes_hook_calls() -> None:
    """The served shape: the push is an HTTP POST of the SOAP message to a URL; the MIS side is an HTTP hook."""
    inbox = Inbox()

    @post("/api/homecall/push", status_code=200)
    async def our_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
        status, reply = await handle_push(
            await request.body(), request.headers.get("soapaction"), inbox.on_change, expected_guid=PUSH_GUID
        )
        return Response(content=reply, status_code=status, media_type=hc_soap.CONTENT_TYPE)

    ours = Litestar(route_handlers=[our_endpoint], logging_config=None, openapi_config=None)
    push_http = httpx.AsyncClient(transport=httpx.ASGITransport(app=ours), base_url="http://backend")
    region = get_region()
    clock = Clock()
    app = create_homecall_simulator(
        region,
        clock=clock,
        guid=GUID,
        push_to="http://backend/api/homecall/push",
        push_guid=PUSH_GUID,
        push_http=push_http,
    )
    http = build_http_client("inprocess://homecall", simulator_app=lambda: app)
    async with http, push_http:
        svc = Svc(app, simulator_state(app), HomeCallClient(http, guid=GUID, timeout_s=2.0), clock, region, inbox, [])
        request_id = await _created(svc)
        hook = await http.post(
            f"/hub25/HomeCallService.svc/_sim/requests/{request_id}/status",
            json={"status": "doctor_assigned", "comment": "Врач будет после 14:00"},
        )
        assert hook.status_code == 200 and hook.json() == {"status": "doctor_assigned", "pushed": True, "detail": None}
        bad = await http.post(f"/hub25/HomeCallService.svc/_sim/requests/{request_id}/status", json={"status": "new"})
        assert bad.status_code == 409
    assert [e.request.status for e in inbox.events] == [HomeCallStatus.DOCTOR_ASSIGNED]
    assert inbox.events[0].request.comment == "Врач будет после 14:00"


async def test_an_unreachable_push_target_is_logged_not_raised() -> None:
    region = get_region()
    transport = httpx.MockTransport(lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused")))
    push_http = httpx.AsyncClient(transport=transport)
    app = create_homecall_simulator(
        region, clock=Clock(), guid=GUID, push_to="http://backend/push", push_http=push_http
    )
    state = simulator_state(app)
    http = build_http_client("inprocess://homecall", simulator_app=lambda: app)
    async with http, push_http:
        svc = Svc(app, state, HomeCallClient(http, guid=GUID, timeout_s=2.0), Clock(), region, Inbox(), [])
        request_id = await _created(svc)
        await state.assign_doctor(request_id)
    assert state.deliveries[-1].ok is False and "refused" in (state.deliveries[-1].detail or "")
    assert state.requests[request_id].status is HomeCallStatus.DOCTOR_ASSIGNED


# -- configurable status table -------------------------------------------------------------------


async def test_a_deployment_status_table_is_used_on_both_sides() -> None:
    table = StatusTable(
        {
            HomeCallStatus.NEW: 0,
            HomeCallStatus.DOCTOR_ASSIGNED: 10,
            HomeCallStatus.ON_THE_WAY: 11,
            HomeCallStatus.VISITED: 20,
            HomeCallStatus.CANCELLED_BY_PATIENT: 30,
            HomeCallStatus.CANCELLED_BY_MO: 31,
        }
    )
    region = get_region()
    app = create_homecall_simulator(region, clock=Clock(), guid=GUID, status_table=table)
    http = build_http_client("inprocess://homecall", simulator_app=lambda: app)
    async with http:
        client = HomeCallClient(http, guid=GUID, timeout_s=2.0, status_table=table)
        svc = Svc(app, simulator_state(app), client, Clock(), region, Inbox(), [])
        request_id = await _created(svc)
        await svc.state.assign_doctor(request_id)
        found = await client.search(HomeCallFilter(statuses=[HomeCallStatus.DOCTOR_ASSIGNED]))
        assert found.requests[0].status is HomeCallStatus.DOCTOR_ASSIGNED and found.requests[0].status_code == 10
        with pytest.raises(HomeCallMalformedReply):  # a client with another table cannot read the reply
            await HomeCallClient(http, guid=GUID, timeout_s=2.0).search(HomeCallFilter(request_id=request_id))
    with pytest.raises(ValueError):
        StatusTable({HomeCallStatus.NEW: 1})


# -- faults --------------------------------------------------------------------------------------


async def _faulty(
    profile: FaultProfile, timeout_s: float
) -> tuple[HomeCallClient, HomeCallSimulatorState, httpx.AsyncClient, Svc]:
    region = get_region()
    app = create_homecall_simulator(region, faults=profile, clock=Clock(), guid=GUID)
    http = build_http_client("inprocess://homecall", simulator_app=lambda: app)
    client = HomeCallClient(http, guid=GUID, timeout_s=timeout_s)
    state = simulator_state(app)
    return client, state, http, Svc(app, state, client, Clock(), region, Inbox(), [])


async def test_error_fault_is_unavailable_and_writes_nothing() -> None:
    client, state, http, svc = await _faulty(FaultProfile(), 1.0)
    async with http:
        validation = await call_for(svc, FATHER)
        state.faults.force(Fault.ERROR)
        with pytest.raises(HomeCallUnavailable) as exc:
            await client.create(ADULT_MO, validation.session_id, validation.slots[0].id)
        assert exc.value.retryable and exc.value.status_code == 500 and exc.value.fault_code == "Server"
        assert state.requests == {}
        assert "недоступен" in exc.value.user_message and "103" in exc.value.user_message
        assert (await client.create(ADULT_MO, validation.session_id, validation.slots[0].id)).request_id


async def test_timeout_fault_is_a_timeout_within_the_deadline() -> None:
    client, state, http, _ = await _faulty(FaultProfile(timeout_stall_s=5.0), 0.2)
    async with http:
        state.faults.force(Fault.TIMEOUT)
        with pytest.raises(HomeCallTimeout) as exc:
            await client.get_slots(ADULT_MO, "any")
        assert exc.value.retryable and exc.value.code == "homecall.timeout"
        assert "не ответил" in exc.value.user_message


async def test_malformed_fault_is_a_malformed_reply() -> None:
    client, state, http, _ = await _faulty(FaultProfile(), 1.0)
    async with http:
        state.faults.force(Fault.MALFORMED)
        with pytest.raises(HomeCallMalformedReply) as exc:
            await client.search(HomeCallFilter())
        assert exc.value.retryable
        assert state.calls["SearchHomeCallRequests"] == 0


async def test_latency_and_random_faults_with_a_seed() -> None:
    profile = FaultProfile(latency_ms=5, jitter_ms=2, error_rate=0.3, malformed_rate=0.2, seed=11)
    client, _, http, _ = await _faulty(profile, 1.0)
    outcomes: set[str] = set()
    async with http:
        for _ in range(20):
            try:
                await client.search(HomeCallFilter())
                outcomes.add("ok")
            except HomeCallUnavailable:
                outcomes.add("error")
            except HomeCallMalformedReply:
                outcomes.add("malformed")
    assert outcomes == {"ok", "error", "malformed"}


async def test_hostile_foreign_or_http_error_replies() -> None:
    wrong_root = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b'<OtherResponse xmlns="http://tempuri.org/"/></s:Body></s:Envelope>'
    )
    entity = (
        b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x "boom">]>'
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&x;</s:Body></s:Envelope>'
    )
    for body in (wrong_root, entity, b"", b"not xml"):
        transport = httpx.MockTransport(lambda request, body=body: httpx.Response(200, content=body))
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            with pytest.raises(HomeCallMalformedReply):
                await HomeCallClient(http, guid=GUID, timeout_s=1.0).search(HomeCallFilter())
    transport = httpx.MockTransport(lambda request: httpx.Response(502, content=b"<html>Bad Gateway</html>"))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
        with pytest.raises(HomeCallUnavailable) as exc:
            await HomeCallClient(http, guid=GUID, timeout_s=1.0).search(HomeCallFilter())
    assert exc.value.status_code == 502


async def test_an_unmapped_error_code_is_a_plain_refusal() -> None:
    env, _ = hc_soap.new_result("CreateHomeCallRequest", errors=[(9999, "Неизвестная ошибка МИС")])
    body = hc_soap.serialize(env)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
        with pytest.raises(HomeCallRefusal) as exc:
            await HomeCallClient(http, guid=GUID, timeout_s=1.0).create("101", "s", "x")
    assert type(exc.value) is HomeCallRefusal and exc.value.upstream_code == 9999
    assert isinstance(exc.value, HomeCallError) and not exc.value.retryable


# -- the wire ------------------------------------------------------------------------------------


def _names(el: etree._Element) -> list[str]:
    return [etree.QName(c).localname for c in el if isinstance(c.tag, str)]


async def test_request_envelopes_follow_the_service_contract(svc: Svc) -> None:
    interval = TimeInterval(datetime.combine(MONDAY, time(12)), datetime.combine(MONDAY, time(18)))
    await call_for(svc, SON, FATHER, comment="Кашель", intervals=[interval])
    request = svc.requests[-1]
    assert request.headers["SOAPAction"] == '"http://tempuri.org/IHomeCallService/ValidateHomeCall"'
    assert request.url.path == "/hub25/HomeCallService.svc"
    op = hc_soap.parse_body(request.content)
    assert op.tag == "{http://tempuri.org/}ValidateHomeCall"
    # Parameters in the operation's order (idSession left out: none yet).
    assert _names(op) == [
        "idLpu",
        "reason",
        "comment",
        "guid",
        "timeIntervals",
        "homeCallPatient",
        "applicant",
        "address",
    ]
    assert {c.tag.split("}")[0][1:] for c in op} == {"http://tempuri.org/"}
    hc = "http://schemas.datacontract.org/2004/07/HubService2.ContractsClasses.HomeCall"
    patient = op.find("{http://tempuri.org/}homeCallPatient")
    assert patient is not None and _names(patient) == [
        "BirthDate",
        "FirstName",
        "LastName",
        "MiddleName",
        "OMSNumber",
        "Sex",
        "Snils",
    ]
    assert all(c.tag.startswith(f"{{{hc}}}") for c in patient)
    assert patient.findtext(f"{{{hc}}}FirstName") == "Фёдор"
    applicant = op.find("{http://tempuri.org/}applicant")
    assert applicant is not None and applicant.findtext(f"{{{hc}}}FirstName") == "Иван"
    assert "MobilePhone" in _names(applicant)
    address = op.find("{http://tempuri.org/}address")
    assert address is not None and address.findtext(f"{{{hc}}}CodKladrFias") == HOME.kladr_fias_code
    assert _names(address) == sorted(_names(address))
    intervals = op.find("{http://tempuri.org/}timeIntervals")
    assert intervals is not None and [_names(i) for i in intervals] == [["End", "Start"]]


async def test_reply_envelope_follows_the_service_contract(svc: Svc) -> None:
    await call_for(svc, SON, FATHER)
    response = await svc.client._http.post(
        "/hub25/HomeCallService.svc",
        content=svc.requests[-1].content,
        headers={"SOAPAction": hc_soap.soap_action("ValidateHomeCall"), "Content-Type": hc_soap.CONTENT_TYPE},
    )
    payload = hc_soap.parse_body(response.content)
    assert payload.tag == "{http://tempuri.org/}ValidateHomeCallResponse"
    result = payload[0]
    assert result.tag == "{http://tempuri.org/}ValidateHomeCallResult"
    # MethodResult members first (hub namespace), then the derived ones alphabetically (home-call namespace).
    assert _names(result) == [
        "ErrorList",
        "IdHistory",
        "Success",
        "HomeCallDoctor",
        "IdDoctorPosition",
        "IdPat",
        "IdSession",
    ]
    hub = "http://schemas.datacontract.org/2004/07/HubService2"
    assert [etree.QName(c).namespace for c in result][:3] == [hub] * 3
    doctor = result.find(f"{{{hc_soap.HC_NS}}}HomeCallDoctor")
    assert doctor is not None and doctor.findtext(f"{{{hub}}}AreaType") == "Педиатрический"
    assert _names(doctor)[-1] == "ListSlot"
    slot = doctor.find(f"{{{hub}}}ListSlot/{{{hub}}}Slot")
    assert slot is not None and _names(slot) == ["Duration", "IdSlot", "VisitTime"]


async def test_soap_action_dispatch(svc: Svc) -> None:
    http = svc.client._http
    unknown = await http.post(
        "/hub25/HomeCallService.svc",
        content=b"<x/>",
        headers={"SOAPAction": '"http://tempuri.org/IHubService/GetLPUList"'},
    )
    assert unknown.status_code == 500 and b"ActionNotSupported" in unknown.content
    body = hc_soap.build_request("GetHomeCallAvailableSlots", [("idSession", "s"), ("idLpu", "101"), ("guid", GUID)])
    mismatch = await http.post(
        "/hub25/HomeCallService.svc", content=body, headers={"SOAPAction": hc_soap.soap_action("CreateHomeCallRequest")}
    )
    assert mismatch.status_code == 500


async def test_wsdl_lists_the_operations_and_their_actions(svc: Svc) -> None:
    reply = await svc.client._http.get("/hub25/HomeCallService.svc?wsdl")
    assert reply.status_code == 200
    wsdl = etree.fromstring(reply.content)
    ns = {"wsdl": "http://schemas.xmlsoap.org/wsdl/", "soap": "http://schemas.xmlsoap.org/wsdl/soap/"}
    actions = wsdl.xpath("//wsdl:binding/wsdl:operation/soap:operation/@soapAction", namespaces=ns)
    assert sorted(str(a).rsplit("/", 1)[1] for a in actions) == [
        "CreateHomeCallRequest",
        "GetHomeCallAvailableSlots",
        "HandleHomeCallRequestChanged",
        "SearchHomeCallRequests",
        "UpdateHomeCallRequest",
        "ValidateHomeCall",
    ]
    assert all(str(a).startswith("http://tempuri.org/IHomeCallService/") for a in actions)


def test_address_helpers() -> None:
    assert Address().is_empty and not Address().is_locatable
    assert Address(comment="этаж 3").is_empty
    assert Address(place="х. Демино", house="163").is_locatable
    assert HOME.one_line() == "Ставропольский край, г. Ставрополь, ул. Мира, д. 149, кв. 62"
    with pytest.raises(ValueError):
        TimeInterval(datetime(2025, 3, 3, 12), datetime(2025, 3, 3, 11))


def test_every_refusal_class_has_a_code_and_a_russian_message() -> None:
    for upstream_code, cls in DEFAULT_ERROR_MAP.items():
        error = cls(int(upstream_code), "x")
        assert error.code.startswith("homecall.") and error.code != "homecall.refused"
        assert any("а" <= ch <= "я" for ch in error.user_message.lower())
    assert len({cls.code for cls in DEFAULT_ERROR_MAP.values()}) == len(DEFAULT_ERROR_MAP)
