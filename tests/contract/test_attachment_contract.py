"""Contract of attachment: the AttachmentClient against the in-process attachment simulator, and the booking
hub's GetPatientsAreas (FerAreasClient against the hub simulator) over one shared attachment register."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar

from integrations.attachment import (
    ApplicationForm,
    ApplicationPending,
    ApplicationStatus,
    AttachmentAccessDenied,
    AttachmentClient,
    AttachmentMalformedReply,
    AttachmentMethod,
    AttachmentRefusal,
    AttachmentRegistry,
    AttachmentTimeout,
    AttachmentUnavailable,
    IdentityDocument,
    OrganisationNotFound,
    PersonData,
    PersonNotInsured,
    RejectionReason,
    Representative,
)
from integrations.attachment.simulator import (
    AttachmentSimulatorState,
    create_attachment_simulator,
)
from integrations.attachment.simulator import simulator_state as attachment_state
from integrations.common.faults import Fault, FaultProfile
from integrations.common.http import build_http_client
from integrations.demo_region import get_region
from integrations.demo_region.areas import AttachmentRegister
from integrations.demo_region.model import Person, Region
from integrations.fer import BookingHub, HubMalformedReply, PatientNotFound, soap
from integrations.fer.areas import AreaType, FerAreasClient, PatientArea, PatientAreasHub, use_register
from integrations.fer.simulator import create_fer_simulator
from integrations.fer.simulator import simulator_state as fer_state
from integrations.homecall import Address, Applicant, HomeCallClient, HomeCallPatient, PatientNotAttached
from integrations.homecall.simulator import create_homecall_simulator

GUID = "2b5e4d1c-0000-4000-8000-000000000026"
TOKEN = "attachment-token"
MONDAY = date(2025, 3, 3)
IVAN = "1097939660"  # ГП № 1 (101), area 5
SON = "1059988992"  # Иванов Фёдор (2017), ДГП № 2 (102), Ivan's child
STRANGER = "1129730520"  # Кравченко Мария Георгиевна
PYATIGORSK = "104"  # ГП № 1 Пятигорска: therapeutic and GP areas
SHPAKOVSKY = "105"  # Шпаковская РБ: therapeutic, GP and paediatric areas


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.combine(MONDAY, time(10, 0)))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    region: Region
    clock: Clock
    register: AttachmentRegister
    app: Litestar
    state: AttachmentSimulatorState
    client: AttachmentClient
    hub: FerAreasClient
    homecall: HomeCallClient
    hub_requests: list[httpx.Request]

    def person(self, oid: str) -> Person:
        return self.region.person_by_oid(oid)

    def form(self, oid: str, mo_id: str, **kwargs: Any) -> ApplicationForm:
        p = self.person(oid)
        person = PersonData(
            last_name=kwargs.pop("last_name", p.last_name),
            first_name=p.first_name,
            middle_name=p.middle_name,
            birth_date=p.birth_date,
            sex=p.sex,
            oms_number=p.oms_policy,
            snils=p.snils,
            phone=p.phone,
            document=IdentityDocument("passport", p.passport[:5], p.passport[5:]) if p.passport else None,
        )
        return ApplicationForm(person=person, mo_id=mo_id, registration_address=p.address, **kwargs)

    def parent_of(self, oid: str) -> Representative:
        child = self.person(oid)
        assert child.parent_oid is not None
        parent = self.person(child.parent_oid)
        return Representative(
            last_name=parent.last_name, first_name=parent.first_name, snils=parent.snils, relation="parent"
        )


@pytest.fixture
async def world() -> AsyncIterator[World]:
    region = get_region()
    clock = Clock()
    register = AttachmentRegister(region, today=MONDAY)
    app = create_attachment_simulator(region, clock=clock, token=TOKEN, register=register)
    fer = create_fer_simulator(region, clock=clock, guid=GUID)
    use_register(fer_state(fer), register)
    homecall = create_homecall_simulator(region, clock=clock, guid=GUID, register=register)
    hub_requests: list[httpx.Request] = []

    async def on_request(request: httpx.Request) -> None:
        hub_requests.append(request)

    http = build_http_client("inprocess://attachment", simulator_app=lambda: app)
    fer_http = build_http_client("inprocess://fer", simulator_app=lambda: fer)
    fer_http.event_hooks = {"request": [on_request]}
    hc_http = build_http_client("inprocess://homecall", simulator_app=lambda: homecall)
    async with http, fer_http, hc_http:
        yield World(
            region=region,
            clock=clock,
            register=register,
            app=app,
            state=attachment_state(app),
            client=AttachmentClient(http, token=TOKEN, timeout_s=2.0),
            hub=FerAreasClient(fer_http, guid=GUID, timeout_s=2.0),
            homecall=HomeCallClient(hc_http, guid=GUID, timeout_s=2.0),
            hub_requests=hub_requests,
        )


async def areas_in(world: World, oid: str, mo_id: str) -> list[PatientArea]:
    p = world.person(oid)
    check = await world.hub.check_patient(mo_id, oms_policy=p.oms_policy, birth_date=p.birth_date)
    return await world.hub.get_patient_areas(mo_id, check.patient_id)


def test_clients_implement_the_ports(world: World) -> None:
    assert isinstance(world.client, AttachmentRegistry)
    assert isinstance(world.hub, PatientAreasHub) and isinstance(world.hub, BookingHub)


# -- the ЕРЗЛ record and the hub's areas ---------------------------------------------------------


async def test_current_attachment_from_the_register(world: World) -> None:
    ivan = world.person(IVAN)
    record = await world.client.get_attachment(ivan.oms_policy)
    assert record is not None
    doctor = world.region.doctor("10011")
    mo = world.region.organisation("101")
    assert (record.mo_id, record.mo_oid, record.mo_name) == ("101", mo.oid, mo.name)
    assert (record.area_number, record.area_type) == ("5", AreaType.THERAPEUTIC)
    assert (record.doctor_id, record.doctor_snils, record.doctor_name) == (doctor.id, doctor.snils, doctor.full_name)
    assert record.method is AttachmentMethod.TERRITORIAL and record.attached_on == date(2019, 1, 15)
    child = await world.client.get_attachment(world.person(SON).oms_policy)
    assert child is not None and child.mo_id == "102" and child.area_type is AreaType.PAEDIATRIC
    with pytest.raises(PersonNotInsured) as exc:
        await world.client.get_attachment("0000000000000000")
    assert exc.value.upstream_code == "not_insured" and "Полис ОМС" in exc.value.user_message


async def test_patients_areas_from_the_booking_hub(world: World) -> None:
    assert await areas_in(world, IVAN, "101") == [PatientArea("101", "5", AreaType.THERAPEUTIC, "10011")]
    assert await areas_in(world, IVAN, PYATIGORSK) == []  # known there, attached elsewhere
    assert await areas_in(world, SON, "102") == [PatientArea("102", "1", AreaType.PAEDIATRIC, "10018")]
    with pytest.raises(PatientNotFound):
        await world.hub.get_patient_areas("101", "no-such-idpat")
    request = world.hub_requests[-1]
    assert request.headers["SOAPAction"] == '"http://tempuri.org/IHubService/GetPatientsAreas"'
    op = soap.parse_body(request.content)
    assert [soap.local_name(c) for c in op] == ["idLpu", "idPat", "guid"]


async def test_patients_areas_wire_shape_and_a_real_hub_without_extensions(world: World) -> None:
    p = world.person(IVAN)
    check = await world.hub.check_patient("101", oms_policy=p.oms_policy, birth_date=p.birth_date)
    body = soap.build_request("GetPatientsAreas", [("idLpu", "101"), ("idPat", check.patient_id), ("guid", GUID)])
    http = world.hub._http
    reply = await http.post(
        "/hub25/HubService.svc", content=body, headers={"SOAPAction": soap.soap_action("GetPatientsAreas")}
    )
    result = soap.parse_body(reply.content)[0]
    item = result.find(f"{{{soap.HUB_NS}}}PatientsAreaList/{{{soap.HUB_NS}}}PatientsArea")
    assert item is not None
    assert [soap.local_name(c) for c in item][:2] == ["Area", "AreaType"]
    assert soap.text(item, "AreaType") == "Терапевтический"

    bare = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b'<GetPatientsAreasResponse xmlns="http://tempuri.org/"><GetPatientsAreasResult '
        b'xmlns:a="http://schemas.datacontract.org/2004/07/HubService2"><a:ErrorList/><a:IdHistory>1</a:IdHistory>'
        b"<a:Success>true</a:Success><a:PatientsAreaList><a:PatientsArea><a:Area>12</a:Area>"
        b"<a:AreaType>7</a:AreaType></a:PatientsArea></a:PatientsAreaList></GetPatientsAreasResult>"
        b"</GetPatientsAreasResponse></s:Body></s:Envelope>"
    )
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=bare))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as mock:
        areas = await FerAreasClient(mock, guid=GUID, timeout_s=1.0).get_patient_areas("555", "p")
    assert areas == [PatientArea("555", "12", AreaType.PAEDIATRIC, None)]
    broken = bare.replace(b"<a:AreaType>7</a:AreaType>", "<a:AreaType>Неведомый</a:AreaType>".encode())
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=broken))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as mock:
        with pytest.raises(HubMalformedReply):
            await FerAreasClient(mock, guid=GUID, timeout_s=1.0).get_patient_areas("555", "p")


# -- applications --------------------------------------------------------------------------------


async def test_apply_accept_complete_moves_the_patient_everywhere(world: World) -> None:
    ivan = world.person(IVAN)
    submitted = await world.client.submit(world.form(IVAN, PYATIGORSK), idempotency_key="k-1")
    assert submitted.status is ApplicationStatus.SUBMITTED and submitted.mo_id == PYATIGORSK
    assert submitted.oms_number == ivan.oms_policy and submitted.submitted_at == world.clock.now
    assert submitted.status.label_ru == "Заявление отправлено в медицинскую организацию"

    world.clock.now += timedelta(hours=2)
    world.state.process(submitted.id)
    accepted = await world.client.get_application(submitted.id)
    assert accepted.status is ApplicationStatus.ACCEPTED and accepted.updated_at == world.clock.now
    world.clock.now += timedelta(days=1)
    world.state.complete(submitted.id)
    done = await world.client.get_application(submitted.id)
    assert done.status is ApplicationStatus.COMPLETED and done.attached_on == world.clock.now.date()
    assert [(s.status, s.at) for s in done.history] == [
        (ApplicationStatus.SUBMITTED, datetime.combine(MONDAY, time(10))),
        (ApplicationStatus.ACCEPTED, datetime.combine(MONDAY, time(12))),
        (ApplicationStatus.COMPLETED, datetime.combine(MONDAY + timedelta(days=1), time(12))),
    ]

    record = await world.client.get_attachment(ivan.oms_policy)
    assert record is not None and record.mo_id == PYATIGORSK and record.method is AttachmentMethod.APPLICATION
    assert record.attached_on == MONDAY + timedelta(days=1) and record.area_type is AreaType.THERAPEUTIC
    # The booking hub and the home-call service read the same register.
    assert await areas_in(world, IVAN, "101") == []
    assert [a.mo_id for a in await areas_in(world, IVAN, PYATIGORSK)] == [PYATIGORSK]
    patient = HomeCallPatient(
        last_name=ivan.last_name, first_name=ivan.first_name, birth_date=ivan.birth_date, oms_number=ivan.oms_policy
    )
    applicant = Applicant(last_name=ivan.last_name, first_name=ivan.first_name, mobile_phone=ivan.phone)
    address = Address(address_line=ivan.address)
    assert (
        await world.homecall.validate(PYATIGORSK, patient=patient, applicant=applicant, address=address, reason="ОРВИ")
    ).session_id
    with pytest.raises(PatientNotAttached):
        await world.homecall.validate("101", patient=patient, applicant=applicant, address=address, reason="ОРВИ")


async def _completed(world: World, oid: str, mo_id: str, key: str, **kwargs: Any) -> None:
    app = await world.client.submit(world.form(oid, mo_id, **kwargs), idempotency_key=key)
    world.state.process(app.id)
    world.state.complete(app.id)


async def test_a_second_choice_within_a_year_is_refused_unless_residence_changed(world: World) -> None:
    await _completed(world, IVAN, PYATIGORSK, "first")
    world.clock.now += timedelta(days=30)
    again = await world.client.submit(world.form(IVAN, "101"), idempotency_key="second")
    world.state.process(again.id)
    refused = await world.client.get_application(again.id)
    assert refused.status is ApplicationStatus.REJECTED
    assert refused.rejection_reason is RejectionReason.ALREADY_CHANGED_THIS_YEAR
    assert "не чаще одного раза в год" in refused.rejection_reason.message_ru
    assert refused.history[-1].comment == refused.rejection_reason.message_ru

    moved = await world.client.submit(world.form(IVAN, "101", change_of_residence=True), idempotency_key="moved")
    world.state.process(moved.id)
    assert (await world.client.get_application(moved.id)).status is ApplicationStatus.ACCEPTED
    world.state.reject(moved.id, RejectionReason.DOCUMENTS_REQUIRED, "Принесите справку о регистрации")
    world.clock.now += timedelta(days=366)
    later = await world.client.submit(world.form(IVAN, "101"), idempotency_key="a-year-later")
    world.state.process(later.id)
    assert (await world.client.get_application(later.id)).status is ApplicationStatus.ACCEPTED


async def test_child_needs_a_clinic_for_children_and_the_parent(world: World) -> None:
    form = world.form(SON, "101", representative=world.parent_of(SON))  # an adult polyclinic
    app = await world.client.submit(form, idempotency_key="adult-clinic")
    world.state.process(app.id)
    refused = await world.client.get_application(app.id)
    assert refused.rejection_reason is RejectionReason.AGE_GROUP_NOT_SERVED

    for key, representative in (
        ("nobody", None),
        (
            "stranger",
            Representative(
                last_name="Кравченко", first_name="Мария", snils=world.person(STRANGER).snils, relation="parent"
            ),
        ),
    ):
        app = await world.client.submit(world.form(SON, SHPAKOVSKY, representative=representative), idempotency_key=key)
        world.state.process(app.id)
        assert (await world.client.get_application(app.id)).rejection_reason is (
            RejectionReason.REPRESENTATIVE_NOT_CONFIRMED
        )

    app = await world.client.submit(
        world.form(SON, SHPAKOVSKY, representative=world.parent_of(SON)), idempotency_key="with-father"
    )
    world.state.process(app.id)
    world.state.complete(app.id)
    record = await world.client.get_attachment(world.person(SON).oms_policy)
    assert record is not None and record.mo_id == SHPAKOVSKY and record.area_type is AreaType.PAEDIATRIC


@pytest.mark.parametrize(
    ("mo_id", "kwargs", "reason"),
    [
        ("101", {}, RejectionReason.ALREADY_ATTACHED),
        ("103", {}, RejectionReason.NOT_PRIMARY_CARE),  # a regional hospital
        ("106", {}, RejectionReason.NOT_PRIMARY_CARE),  # a feldsher post
        (PYATIGORSK, {"last_name": "Петров"}, RejectionReason.DATA_MISMATCH),
    ],
)
async def test_clinic_rules(world: World, mo_id: str, kwargs: dict[str, Any], reason: RejectionReason) -> None:
    app = await world.client.submit(world.form(IVAN, mo_id, **kwargs), idempotency_key=f"{mo_id}-{reason.value}")
    world.state.process(app.id)
    info = await world.client.get_application(app.id)
    assert info.status is ApplicationStatus.REJECTED and info.rejection_reason is reason
    assert (await world.client.get_attachment(world.person(IVAN).oms_policy)).mo_id == "101"  # type: ignore[union-attr]


async def test_overloaded_clinic_rejects(world: World) -> None:
    world.state.overload(PYATIGORSK)
    app = await world.client.submit(world.form(IVAN, PYATIGORSK), idempotency_key="full")
    world.state.process(app.id)
    assert (await world.client.get_application(app.id)).rejection_reason is RejectionReason.AREA_OVERLOADED


async def test_one_pending_application_and_idempotent_submission(world: World) -> None:
    first = await world.client.submit(world.form(IVAN, PYATIGORSK), idempotency_key="same")
    repeat = await world.client.submit(world.form(IVAN, PYATIGORSK), idempotency_key="same")
    assert repeat == first and len(world.state.applications) == 1
    with pytest.raises(ApplicationPending) as exc:
        await world.client.submit(world.form(IVAN, SHPAKOVSKY), idempotency_key="other")
    assert exc.value.upstream_code == "application_pending" and "на рассмотрении" in exc.value.user_message
    world.state.reject(first.id, RejectionReason.OTHER)
    assert (await world.client.submit(world.form(IVAN, SHPAKOVSKY), idempotency_key="other")).id != first.id


async def test_submission_refusals(world: World) -> None:
    with pytest.raises(OrganisationNotFound):
        await world.client.submit(world.form(IVAN, "999"), idempotency_key="x1")
    form = world.form(IVAN, PYATIGORSK)
    unknown = ApplicationForm(
        person=PersonData(
            last_name="Нет", first_name="Такого", birth_date=date(1990, 1, 1), sex="M", oms_number="0000000000000000"
        ),
        mo_id=PYATIGORSK,
        registration_address=form.registration_address,
    )
    with pytest.raises(PersonNotInsured):
        await world.client.submit(unknown, idempotency_key="x2")
    http = build_http_client("inprocess://attachment", simulator_app=lambda: world.app)
    async with http:
        with pytest.raises(AttachmentAccessDenied):
            await AttachmentClient(http, token="wrong", timeout_s=1.0).get_attachment(world.person(IVAN).oms_policy)
    bad = await world.client._http.post(
        "/attachment/v1/applications",
        json={"person": {"last_name": "Иванов"}},
        headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "x3"},
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_request"
    assert world.state.applications == {}


async def test_listing_for_the_periodic_sync(world: World) -> None:
    a = await world.client.submit(world.form(IVAN, PYATIGORSK), idempotency_key="a")
    b = await world.client.submit(world.form(STRANGER, PYATIGORSK), idempotency_key="b")
    world.clock.now += timedelta(hours=1)
    mark = world.clock.now
    world.clock.now += timedelta(minutes=1)
    world.state.process(b.id)
    assert {x.id for x in await world.client.list_applications()} == {a.id, b.id}
    assert [x.id for x in await world.client.list_applications(oms_number=world.person(IVAN).oms_policy)] == [a.id]
    assert [x.id for x in await world.client.list_applications(changed_since=mark)] == [b.id]


async def test_automatic_decisions_by_the_clock() -> None:
    region = get_region()
    clock = Clock()
    app = create_attachment_simulator(
        region, clock=clock, auto_process=timedelta(hours=1), auto_complete=timedelta(days=1)
    )
    http = build_http_client("inprocess://attachment", simulator_app=lambda: app)
    async with http:
        client = AttachmentClient(http, token=None, timeout_s=2.0)
        ivan = region.person_by_oid(IVAN)
        form = ApplicationForm(
            person=PersonData(
                last_name=ivan.last_name,
                first_name=ivan.first_name,
                birth_date=ivan.birth_date,
                sex=ivan.sex,
                oms_number=ivan.oms_policy,
            ),
            mo_id=PYATIGORSK,
            registration_address=ivan.address,
        )
        submitted = await client.submit(form, idempotency_key="auto")
        clock.now += timedelta(minutes=59)
        assert (await client.get_application(submitted.id)).status is ApplicationStatus.SUBMITTED
        clock.now += timedelta(minutes=1)
        assert (await client.get_application(submitted.id)).status is ApplicationStatus.ACCEPTED
        clock.now += timedelta(days=1)
        assert (await client.get_application(submitted.id)).status is ApplicationStatus.COMPLETED
        record = await client.get_attachment(ivan.oms_policy)
        assert record is not None and record.mo_id == PYATIGORSK


async def test_served_clinic_side_hook(world: World) -> None:
    app = await world.client.submit(world.form(IVAN, PYATIGORSK), idempotency_key="hook")
    http = world.client._http
    rejected = await http.post(
        f"/attachment/v1/_sim/applications/{app.id}/reject",
        json={"reason": "documents_required", "comment": "Нужна справка"},
    )
    assert rejected.status_code == 200 and rejected.json()["rejection"]["reason"] == "documents_required"
    again = await http.post(f"/attachment/v1/_sim/applications/{app.id}/complete")
    assert again.status_code == 409
    info = await world.client.get_application(app.id)
    assert info.rejection_reason is RejectionReason.DOCUMENTS_REQUIRED and info.rejection_comment == "Нужна справка"


# -- faults and malformed replies ----------------------------------------------------------------


async def _faulty(
    profile: FaultProfile, timeout_s: float
) -> tuple[AttachmentClient, AttachmentSimulatorState, httpx.AsyncClient]:
    app = create_attachment_simulator(get_region(), faults=profile, clock=Clock())
    http = build_http_client("inprocess://attachment", simulator_app=lambda: app)
    return AttachmentClient(http, token=None, timeout_s=timeout_s), attachment_state(app), http


async def test_error_fault_is_unavailable_and_nothing_is_submitted() -> None:
    client, state, http = await _faulty(FaultProfile(), 1.0)
    region = get_region()
    ivan = region.person_by_oid(IVAN)
    form = ApplicationForm(
        person=PersonData(
            last_name=ivan.last_name,
            first_name=ivan.first_name,
            birth_date=ivan.birth_date,
            sex="M",
            oms_number=ivan.oms_policy,
        ),
        mo_id=PYATIGORSK,
        registration_address=ivan.address,
    )
    async with http:
        state.faults.force(Fault.ERROR)
        with pytest.raises(AttachmentUnavailable) as exc:
            await client.submit(form, idempotency_key="k")
        assert exc.value.status_code == 503 and exc.value.retryable
        assert state.applications == {}
        assert "недоступен" in exc.value.user_message
        assert (await client.submit(form, idempotency_key="k")).status is ApplicationStatus.SUBMITTED


async def test_timeout_and_malformed_faults() -> None:
    client, state, http = await _faulty(FaultProfile(timeout_stall_s=5.0), 0.2)
    async with http:
        state.faults.force(Fault.TIMEOUT)
        with pytest.raises(AttachmentTimeout) as timeout:
            await client.list_applications()
        assert timeout.value.retryable and "не ответил" in timeout.value.user_message
        state.faults.force(Fault.MALFORMED)
        with pytest.raises(AttachmentMalformedReply):
            await client.list_applications()


async def test_latency_and_random_faults_with_a_seed() -> None:
    profile = FaultProfile(latency_ms=5, jitter_ms=2, error_rate=0.3, malformed_rate=0.2, seed=5)
    client, _, http = await _faulty(profile, 1.0)
    outcomes: set[str] = set()
    async with http:
        for _ in range(20):
            try:
                await client.list_applications()
                outcomes.add("ok")
            except AttachmentUnavailable:
                outcomes.add("error")
            except AttachmentMalformedReply:
                outcomes.add("malformed")
    assert outcomes == {"ok", "error", "malformed"}


_APPLICATION_HEAD = (
    '{"id": "x", "mo_id": "1", "oms_number": "1", "submitted_at": "2025-03-03T10:00:00", '
    '"updated_at": "2025-03-03T10:00:00", "history": [], '
)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b"not json", AttachmentMalformedReply),
        (200, b"[]", AttachmentMalformedReply),
        (200, (_APPLICATION_HEAD + '"status": "rejected"}').encode(), AttachmentMalformedReply),  # no reason
        (200, (_APPLICATION_HEAD + '"status": "lost"}').encode(), AttachmentMalformedReply),
        (502, b"<html>Bad Gateway</html>", AttachmentUnavailable),
        (500, b'{"error": {"code": "boom", "message": "x"}}', AttachmentUnavailable),
        (418, '{"error": {"code": "teapot", "message": "Не по адресу"}}'.encode(), AttachmentRefusal),
    ],
)
async def test_foreign_replies(status: int, body: bytes, expected: type[Exception]) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    async with httpx.AsyncClient(transport=transport, base_url="http://att") as http:
        with pytest.raises(expected):
            await AttachmentClient(http, token=None, timeout_s=1.0).get_application("x")


def test_every_rejection_reason_has_a_russian_message() -> None:
    for reason in RejectionReason:
        assert any("а" <= ch <= "я" for ch in reason.message_ru.lower())
    for status in ApplicationStatus:
        assert status.label_ru
