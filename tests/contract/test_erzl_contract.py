"""Contract of the ЕРЗЛ / insurer upstream: the ErzlClient against the in-process simulator, for every
exchange (policy, insurers, billed services, appeals, insurer change) and each of its refusals and faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from litestar import Litestar

from integrations.common.faults import Fault, FaultProfile
from integrations.common.http import build_http_client
from integrations.demo_region import get_region
from integrations.demo_region.model import Person, Region
from integrations.erzl import (
    AppealForm,
    AppealKind,
    AppealNotFound,
    AppealStatus,
    BilledService,
    CareKind,
    CaseNotFound,
    ChangeForm,
    ChangeNotAllowed,
    ChangeNotFound,
    ChangePending,
    ChangeReason,
    ChangeStatus,
    ConsentRequired,
    DisputeExists,
    ErzlAccessDenied,
    ErzlBadRequest,
    ErzlClient,
    ErzlMalformedReply,
    ErzlTimeout,
    ErzlUnavailable,
    InsuranceRegister,
    InsurerNotFound,
    PaymentStatus,
    PersonNotFound,
    PolicyFound,
    PolicyPending,
    PolicyStatus,
    ReopenNotAllowed,
)
from integrations.erzl import enp as enp_rules
from integrations.erzl.simulator import REGION_INSURERS, ErzlSimulatorState, create_erzl_simulator, simulator_state

TOKEN = "erzl-token"
TODAY = date(2025, 3, 3)


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.combine(TODAY, time(10, 0)))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    region: Region
    clock: Clock
    app: Litestar
    state: ErzlSimulatorState
    client: ErzlClient

    @property
    def adult(self) -> Person:
        return next(p for p in self.region.people if p.parent_oid is None and p.age(TODAY) >= 18)

    def other_insurer(self, person: Person) -> str:
        current = self.state.record(person).insurer.code
        return next(i.code for i in REGION_INSURERS if i.code != current)

    def change_form(self, person: Person, code: str, reason: ChangeReason = ChangeReason.ORDINARY) -> ChangeForm:
        return ChangeForm(
            enp=person.oms_policy, insurer_code=code, reason=reason, last_name=person.last_name,
            first_name=person.first_name, birth_date=person.birth_date, snils=person.snils,
        )  # fmt: skip


@pytest.fixture
async def world() -> AsyncIterator[World]:
    region = get_region()
    clock = Clock()
    app = create_erzl_simulator(region, clock=clock, token=TOKEN)
    http = build_http_client("inprocess://erzl", simulator_app=lambda: app)
    async with http:
        yield World(region, clock, app, simulator_state(app), ErzlClient(http, token=TOKEN, timeout_s=2.0))


def test_the_client_is_the_port(world: World) -> None:
    assert isinstance(world.client, InsuranceRegister)


async def test_policy_by_snils_and_by_esia_person(world: World) -> None:
    person = world.adult
    by_snils = await world.client.find_policy(consent_id="c-1", snils=person.snils)
    by_oid = await world.client.find_policy(consent_id="c-1", esia_oid=person.esia_oid)
    assert isinstance(by_snils, PolicyFound) and by_snils == by_oid
    record = by_snils.record
    assert record.enp == person.oms_policy and enp_rules.validate(record.enp).ok
    assert record.status is PolicyStatus.ACTIVE and record.end_date is None and record.region == world.region.code
    assert record.insurer.name == person.smo_name and len(record.insurer.ogrn) == 13
    assert record.attachment_mo_oid == world.region.organisation(person.attached_mo_id).oid


async def test_policy_refusals(world: World) -> None:
    with pytest.raises(ConsentRequired):
        await world.client.find_policy(consent_id="", snils=world.adult.snils)
    with pytest.raises(PersonNotFound):
        await world.client.find_policy(consent_id="c", snils="000-000-001 00")
    with pytest.raises(ErzlBadRequest):
        await world.client.find_policy(consent_id="c")
    stranger = ErzlClient(
        build_http_client("inprocess://erzl", simulator_app=lambda: world.app), token="bad", timeout_s=2
    )
    with pytest.raises(ErzlAccessDenied):
        await stranger.list_insurers("26")


async def test_not_found_yet_then_found_after_the_retry_window(world: World) -> None:
    person = world.adult
    world.state.delay_person(person.esia_oid, timedelta(hours=2))
    first = await world.client.find_policy(consent_id="c", esia_oid=person.esia_oid)
    assert isinstance(first, PolicyPending) and first.retry_after == world.clock.now + timedelta(hours=2)
    world.clock.now += timedelta(hours=1)
    assert isinstance(await world.client.find_policy(consent_id="c", esia_oid=person.esia_oid), PolicyPending)
    world.clock.now += timedelta(hours=1)
    assert isinstance(await world.client.find_policy(consent_id="c", esia_oid=person.esia_oid), PolicyFound)


async def test_insurers_of_the_region(world: World) -> None:
    insurers = await world.client.list_insurers(world.region.code)
    assert [i.code for i in insurers] == [i.code for i in REGION_INSURERS]
    assert all(i.phone.startswith("8-800") for i in insurers)
    assert await world.client.list_insurers("77") == []
    world.state.insurer_exits("26003", TODAY + timedelta(days=60))
    exiting = {i.code: i.exiting_on for i in await world.client.list_insurers(world.region.code)}
    assert exiting["26003"] == TODAY + timedelta(days=60)


async def test_billed_services_in_a_period_newest_first(world: World) -> None:
    person = world.adult
    extra = BilledService(
        case_id="T-1", service_date=date(2024, 5, 6), mo_oid="1.2.3", mo_name="ГП № 1", service_code="B01.047.001",
        service_name="Прием терапевта", diagnosis_code="I10", diagnosis_name="Гипертензия",
        care_kind=CareKind.AMBULATORY, cost=Decimal("1234.56"), payment_status=PaymentStatus.PAID,
    )  # fmt: skip
    world.state.add_service(person.oms_policy, extra)
    rows = await world.client.billed_services(person.oms_policy, date_from=date(2024, 1, 1), date_to=date(2024, 12, 31))
    assert extra in rows and all(date(2024, 1, 1) <= r.service_date <= date(2024, 12, 31) for r in rows)
    assert [r.service_date for r in rows] == sorted((r.service_date for r in rows), reverse=True)
    this_year = await world.client.billed_services(person.oms_policy, date_from=date(2025, 1, 1), date_to=TODAY)
    assert all(r.care_kind is not CareKind.DISPANSERIZATION for r in this_year)
    with pytest.raises(PersonNotFound):
        await world.client.billed_services(enp_rules.with_control_digit("9" * 15), date_from=TODAY, date_to=TODAY)
    with pytest.raises(ErzlBadRequest):
        await world.client.billed_services("1234", date_from=TODAY, date_to=TODAY)
    with pytest.raises(ErzlBadRequest):
        await world.client.billed_services(person.oms_policy, date_from=TODAY, date_to=TODAY - timedelta(days=1))


async def test_a_dispute_to_the_answer_reopened_once(world: World) -> None:
    person = world.adult
    case = (await world.client.billed_services(person.oms_policy, date_from=date(2023, 1, 1), date_to=TODAY))[0]
    form = AppealForm(
        enp=person.oms_policy, kind=AppealKind.DISPUTE, category="service_not_received", addressee="smo",
        description="Я не получал эту услугу в указанный день", case_id=case.case_id, attachments=("Справка",),
    )  # fmt: skip
    appeal = await world.client.submit_appeal(form, idempotency_key="k1")
    assert appeal.status is AppealStatus.REGISTERED and appeal.due_on == TODAY + timedelta(days=30)
    assert await world.client.submit_appeal(form, idempotency_key="k1") == appeal  # the key replays
    with pytest.raises(DisputeExists):
        await world.client.submit_appeal(form, idempotency_key="k2")
    with pytest.raises(ReopenNotAllowed):  # not answered yet
        await world.client.reopen_appeal(appeal.id, comment="Нет ответа", idempotency_key="r0")
    world.state.review(appeal.id)
    world.state.answer(appeal.id, "Услуга исключена из реестра счетов", upheld=True)
    answered = await world.client.get_appeal(appeal.id)
    assert answered.status is AppealStatus.ANSWERED and answered.upheld is True
    assert [s.status for s in answered.history] == [
        AppealStatus.REGISTERED,
        AppealStatus.IN_REVIEW,
        AppealStatus.ANSWERED,
    ]
    rows = await world.client.billed_services(person.oms_policy, date_from=date(2023, 1, 1), date_to=TODAY)
    assert next(r for r in rows if r.case_id == case.case_id).payment_status is PaymentStatus.REJECTED
    reopened = await world.client.reopen_appeal(appeal.id, comment="Не согласен", idempotency_key="r1")
    assert reopened.status is AppealStatus.REOPENED
    assert await world.client.reopen_appeal(appeal.id, comment="Не согласен", idempotency_key="r1") == reopened
    world.state.answer(appeal.id, "Повторно проверено", upheld=False)
    with pytest.raises(ReopenNotAllowed):
        await world.client.reopen_appeal(appeal.id, comment="Ещё раз", idempotency_key="r2")


async def test_appeal_refusals(world: World) -> None:
    person = world.adult
    with pytest.raises(CaseNotFound):
        await world.client.submit_appeal(
            AppealForm(enp=person.oms_policy, kind=AppealKind.DISPUTE, category="x", addressee="smo",
                       description="Не получал такую услугу", case_id="nope"),
            idempotency_key="a",
        )  # fmt: skip
    with pytest.raises(ErzlBadRequest):
        await world.client.submit_appeal(
            AppealForm(
                enp=person.oms_policy, kind=AppealKind.COMPLAINT, category="x", addressee="smo", description="?"
            ),
            idempotency_key="b",
        )
    with pytest.raises(AppealNotFound):
        await world.client.get_appeal("OBR-0")
    complaint = await world.client.submit_appeal(
        AppealForm(enp=person.oms_policy, kind=AppealKind.COMPLAINT, category="waiting_time", addressee="tfoms",
                   description="Запись к кардиологу только через два месяца"),
        idempotency_key="c",
    )  # fmt: skip
    assert complaint.kind is AppealKind.COMPLAINT and complaint.status is AppealStatus.REGISTERED


async def test_insurer_change_once_a_year_and_after_moving(world: World) -> None:
    person = world.adult
    target = world.other_insurer(person)
    change = await world.client.submit_change(world.change_form(person, target), idempotency_key="c1")
    assert change.status is ChangeStatus.SUBMITTED and change.reason is ChangeReason.ORDINARY
    with pytest.raises(ChangePending):
        await world.client.submit_change(world.change_form(person, target), idempotency_key="c2")
    world.state.process(change.id)
    accepted = await world.client.get_change(change.id)
    assert accepted.status is ChangeStatus.ACCEPTED and accepted.certificate is not None
    assert accepted.certificate.valid_until == TODAY + timedelta(days=30)
    world.state.complete(change.id)
    assert (await world.client.get_change(change.id)).status is ChangeStatus.COMPLETED
    found = await world.client.find_policy(consent_id="c", snils=person.snils)
    assert isinstance(found, PolicyFound) and found.record.insurer.code == target
    assert found.history[0].status is PolicyStatus.CLOSED and found.history[0].end_date == TODAY - timedelta(days=1)
    back = world.other_insurer(person)
    with pytest.raises(ChangeNotAllowed):  # an ordinary change again in the same year
        await world.client.submit_change(world.change_form(person, back), idempotency_key="c3")
    moved = await world.client.submit_change(
        world.change_form(person, back, ChangeReason.CHANGE_OF_RESIDENCE), idempotency_key="c4"
    )
    assert moved.status is ChangeStatus.SUBMITTED


async def test_insurer_change_refusals(world: World) -> None:
    person = world.adult
    current = world.state.record(person).insurer.code
    with pytest.raises(InsurerNotFound):
        await world.client.submit_change(world.change_form(person, "99999"), idempotency_key="a")
    with pytest.raises(ChangeNotAllowed):
        await world.client.submit_change(world.change_form(person, current), idempotency_key="b")
    with pytest.raises(ChangeNotAllowed):  # the insurer is not leaving
        await world.client.submit_change(
            world.change_form(person, world.other_insurer(person), ChangeReason.INSURER_EXIT), idempotency_key="c"
        )
    world.clock.now = datetime(2025, 11, 2, 10, 0)
    with pytest.raises(ChangeNotAllowed):  # after 1 November
        await world.client.submit_change(world.change_form(person, world.other_insurer(person)), idempotency_key="d")
    world.state.insurer_exits(current, date(2025, 12, 31))
    exit_change = await world.client.submit_change(
        world.change_form(person, world.other_insurer(person), ChangeReason.INSURER_EXIT), idempotency_key="e"
    )
    world.state.reject(exit_change.id, "Не подтверждены данные")
    rejected = await world.client.get_change(exit_change.id)
    assert rejected.status is ChangeStatus.REJECTED and rejected.rejection == "Не подтверждены данные"
    with pytest.raises(ChangeNotFound):
        await world.client.get_change("SMO-0")


async def test_faults_are_transport_errors_and_change_nothing(world: World) -> None:
    person = world.adult
    world.state.faults.force(Fault.ERROR)
    with pytest.raises(ErzlUnavailable):
        await world.client.submit_change(world.change_form(person, world.other_insurer(person)), idempotency_key="x")
    world.state.faults.force(Fault.MALFORMED)
    with pytest.raises(ErzlMalformedReply):
        await world.client.billed_services(person.oms_policy, date_from=date(2024, 1, 1), date_to=TODAY)
    assert world.state.changes == {}


async def test_a_slow_register_times_out() -> None:
    region = get_region()
    app = create_erzl_simulator(region, faults=FaultProfile(latency_ms=300), token=None)
    async with build_http_client("inprocess://erzl", simulator_app=lambda: app) as http:
        client = ErzlClient(http, token=None, timeout_s=0.05)
        with pytest.raises(ErzlTimeout):
            await client.list_insurers(region.code)
