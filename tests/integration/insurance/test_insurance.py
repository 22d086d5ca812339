"""Insurance: the policy's states (ESIA mismatch, "not found yet", the register down), complaints reopened once,
nothing half-written on a fault, the representative's quiet hours and KPI, the kiosk's print, the login refresh."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select

from backend.insurance import printing
from backend.insurance.models import InsurancePolicySnapshot, InsuranceTicket
from backend.insurance.service import messages, policy, tickets
from backend.outbox.service import Envelope
from backend.runtime import Runtime
from backend.waitlist.models import WaitlistEntry
from integrations.common.faults import Fault
from tests.support.client import app_client, gql
from tests.support.identity import auth_headers, kiosk_session_token, make_patient, token_for
from tests.support.insurance import PROBLEM, enrol, erzl, freeze, insured, new_enp

MSK = ZoneInfo("Europe/Moscow")
NOON = datetime(2025, 3, 3, 12, 0, tzinfo=MSK)
POLICY = (
    "query { myInsurancePolicy { __typename ... on InsurancePolicy { enp esiaEnp esiaMatches esiaMessage fresh }"
    f" {PROBLEM} }} }}"
)
OPEN = (
    "mutation($i: InsuranceTicketInput!, $k: String!) { openInsuranceTicket(input: $i, idempotencyKey: $k) {"
    f" __typename ... on InsuranceTicketOpened {{ ticket {{ id status }} }} {PROBLEM} }} }}"
)
REOPEN = (
    'mutation($x: UUID!, $k: String!) { reopenInsuranceTicket(ticketId: $x, comment: "Не согласен с ответом",'
    " idempotencyKey: $k) { __typename ... on InsuranceTicketReopened { ticket { status canReopen } }"
    f" {PROBLEM} }} }}"
)
CHANGE = (
    "mutation($i: InsurerChangeInput!, $k: String!) { applyForInsurerChange(input: $i, idempotencyKey: $k) {"
    f" __typename {PROBLEM} }} }}"
)
COMPLAINT = {"kind": "COMPLAINT", "category": "payment_demanded", "description": "С меня потребовали оплатить анализы"}


async def _count(runtime: Runtime, model: type) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_an_esia_number_unlike_the_registers_is_shown_with_both(runtime: Runtime) -> None:
    freeze(runtime, NOON)
    patient = await make_patient(runtime, oms_policy="0700000000000012")  # a typo: the control digit is off
    register_enp = new_enp()
    enrol(runtime, patient, enp=register_enp)
    async with app_client(runtime) as client:
        card = (await gql(client, POLICY, {}, headers=auth_headers(token_for(runtime, patient.id))))["data"]
    found = card["myInsurancePolicy"]
    assert found["enp"] == register_enp and found["esiaEnp"] == "0700000000000012" and found["esiaMatches"] is False
    assert register_enp in found["esiaMessage"] and "контрольная цифра" in found["esiaMessage"]


async def test_not_found_yet_then_found_and_the_register_down(runtime: Runtime) -> None:
    clock = freeze(runtime, NOON)
    patient = await insured(runtime)
    erzl(runtime).delay_person(patient.esia_oid or "", timedelta(hours=3))
    headers = auth_headers(token_for(runtime, patient.id))
    async with app_client(runtime) as client:
        pending = (await gql(client, POLICY, {}, headers=headers))["data"]["myInsurancePolicy"]
        assert pending["code"] == "INSURANCE_POLICY_NOT_READY" and "03.03.2025 15:00" in pending["message"]
        clock.now += timedelta(hours=3)
        headers = auth_headers(token_for(runtime, patient.id))
        found = (await gql(client, POLICY, {}, headers=headers))["data"]["myInsurancePolicy"]
        assert found["enp"] == patient.oms_policy and found["fresh"] is True
        # Hours later the register is down: the last answer is shown, marked as not fresh.
        clock.now += timedelta(hours=7)
        headers = auth_headers(token_for(runtime, patient.id))
        erzl(runtime).faults.force(Fault.ERROR)
        stale = (await gql(client, POLICY, {}, headers=headers))["data"]["myInsurancePolicy"]
        assert stale["enp"] == patient.oms_policy and stale["fresh"] is False
        # Someone never answered for: a typed "unavailable", nothing kept.
        other = await insured(runtime)
        erzl(runtime).faults.force(Fault.ERROR)
        down = (await gql(client, POLICY, {}, headers=auth_headers(token_for(runtime, other.id))))["data"]
        assert down["myInsurancePolicy"]["code"] == "INSURANCE_SERVICE_UNAVAILABLE"
    assert await _count(runtime, InsurancePolicySnapshot) == 1


async def test_a_complaint_is_reopened_once_and_a_fault_writes_nothing(runtime: Runtime) -> None:
    freeze(runtime, NOON)
    patient = await insured(runtime)
    headers = auth_headers(token_for(runtime, patient.id))
    state = erzl(runtime)
    await policy.current(runtime, patient.id)  # the policy read first: the fault below hits the appeal itself
    async with app_client(runtime) as client:
        state.faults.force(Fault.ERROR)
        failed = (await gql(client, OPEN, {"i": COMPLAINT, "k": "c-1"}, headers=headers))["data"]
        assert failed["openInsuranceTicket"]["code"] == "INSURANCE_SERVICE_UNAVAILABLE"
        assert await _count(runtime, InsuranceTicket) == 0 and state.appeals == {}
        missing = COMPLAINT | {"attachmentIds": [str(uuid.uuid4())]}
        refused = (await gql(client, OPEN, {"i": missing, "k": "c-2"}, headers=headers))["data"]
        assert refused["openInsuranceTicket"]["code"] == "INSURANCE_ATTACHMENT_NOT_FOUND" and state.appeals == {}
        # The same key after the fault really retries (a transient refusal is not kept).
        opened = (await gql(client, OPEN, {"i": COMPLAINT, "k": "c-1"}, headers=headers))["data"]
        ticket_id = opened["openInsuranceTicket"]["ticket"]["id"]
        (appeal,) = state.appeals
        early = (await gql(client, REOPEN, {"x": ticket_id, "k": "r-0"}, headers=headers))["data"]
        assert early["reopenInsuranceTicket"]["code"] == "INSURANCE_REOPEN_NOT_ALLOWED"
        state.review(appeal)
        state.answer(appeal, "Оплата возвращена", upheld=True)
        await tickets.sync(runtime)
        reopened = (await gql(client, REOPEN, {"x": ticket_id, "k": "r-1"}, headers=headers))["data"]
        assert reopened["reopenInsuranceTicket"]["ticket"] == {"status": "reopened", "canReopen": False}
        state.answer(appeal, "Повторно проверено", upheld=False)
        await tickets.sync(runtime)
        twice = (await gql(client, REOPEN, {"x": ticket_id, "k": "r-2"}, headers=headers))["data"]
        assert twice["reopenInsuranceTicket"]["code"] == "INSURANCE_REOPEN_NOT_ALLOWED"
    assert state.appeals[appeal].reopened == 1


async def test_the_representative_keeps_quiet_at_night_and_counts_who_it_reached(runtime: Runtime) -> None:
    clock = freeze(runtime, datetime(2025, 3, 3, 23, 30, tzinfo=MSK))
    reached = await insured(runtime, birth_date=date(1970, 1, 1), history=False)
    child = await insured(runtime, birth_date=date(2015, 1, 1), history=False)  # no rule: a child, no billed care
    for patient in (reached, child):
        await policy.refresh(runtime, patient.id)
    night = await messages.run(runtime)
    assert night.quiet and night.created == 0
    clock.now = datetime(2025, 3, 4, 9, 0, tzinfo=MSK).astimezone(clock.now.tzinfo)
    day = await messages.run(runtime)
    assert not day.quiet and day.patients == 2 and day.created >= 1
    async with runtime.sessionmaker() as session:
        kpi = await messages.kpi(session, NOON - timedelta(days=1), NOON + timedelta(days=2))
    assert (kpi.insured, kpi.reached, kpi.share) == (2, 1, 0.5)
    assert kpi.by_rule["dispanserization_due"] == 1


async def test_a_kiosk_prints_the_policy_with_its_code(runtime: Runtime) -> None:
    freeze(runtime, NOON)
    patient = await insured(runtime)
    async with app_client(runtime) as client:
        kiosk = auth_headers(await kiosk_session_token(runtime, patient.id))
        response = await client.get("/api/v1/insurance/policy.pdf", headers=kiosk)
        anonymous = await client.get("/api/v1/insurance/policy.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert anonymous.status_code == 401
    view = await policy.view(runtime, patient.id)
    enp = patient.oms_policy or ""
    assert (f"Номер полиса (ЕНП): {enp[:4]} {enp[4:8]} {enp[8:12]} {enp[12:]}", 11) in printing.policy_lines(view)


async def test_a_login_refreshes_the_policy(runtime: Runtime) -> None:
    freeze(runtime, NOON)
    patient = await insured(runtime)
    envelope = Envelope(
        id=uuid.uuid4(), topic="identity.patient_logged_in", payload={"patient_id": str(patient.id)}, attempt=1,
        request_id=None,
    )  # fmt: skip
    await policy.on_login(envelope, runtime)
    async with runtime.sessionmaker() as session:
        snapshot = await policy.snapshot_of(session, patient.id)
    assert snapshot is not None and snapshot.state == "found" and snapshot.enp == patient.oms_policy


async def _joined_waitlist(runtime: Runtime, patient_id: uuid.UUID, at: datetime, seq: int) -> None:
    """A waitlist entry as ``waitlist.join`` leaves it (joined because nothing was free), dated ``at``."""
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            WaitlistEntry(
                patient_id=patient_id,
                seq=seq,
                mo_id="mo-1",
                mo_name="Поликлиника № 1",
                specialty_code="46",
                specialty_name="Офтальмология",
                doctor_id=None,
                doctor_name=None,
                date_from=at.date(),
                date_to=at.date() + timedelta(days=7),
                claim_type=1,
                phone="+79990000000",
                hub_claim_guid=f"g-{seq}",
                channel="mobile",
                actor_kind="patient",
                actor_id=str(patient_id),
                created_at=at,
                updated_at=at,
            )
        )


async def test_a_booking_that_failed_for_lack_of_slots_brings_the_insurers_hotline_once(runtime: Runtime) -> None:
    freeze(runtime, NOON)
    patient = await insured(runtime, birth_date=date(2015, 1, 1), history=False)  # a child: no other rule fires
    late = await insured(runtime, birth_date=date(2015, 1, 1), history=False)
    for person in (patient, late):
        await policy.refresh(runtime, person.id)
    await _joined_waitlist(runtime, patient.id, NOON - timedelta(days=2), seq=1)
    await _joined_waitlist(runtime, late.id, NOON - timedelta(days=20), seq=2)  # outside the 14 days
    first = await messages.run_for(runtime, patient.id)
    assert [m.rule for m in first] == ["booking_failed"]
    assert "Офтальмология" in first[0].text
    assert await messages.run_for(runtime, patient.id) == []  # once per week
    assert await messages.run_for(runtime, late.id) == []


@pytest.mark.dialect
async def test_a_first_complaint_and_insurer_change_work_before_the_policy_was_ever_read(runtime: Runtime) -> None:
    """The policy's refresh is its own transaction: it comes before the mutation's first write (on SQLite, one
    writer at a time, it used to wait for the mutation's own commit: «database is locked»)."""
    freeze(runtime, NOON)
    patient = await insured(runtime, history=False)
    headers = auth_headers(token_for(runtime, patient.id))
    async with app_client(runtime) as client:
        opened = (await gql(client, OPEN, {"i": COMPLAINT, "k": "first"}, headers=headers))["data"]
        assert opened["openInsuranceTicket"]["__typename"] == "InsuranceTicketOpened"
        async with runtime.sessionmaker() as session:
            await session.execute(delete(InsurancePolicySnapshot))  # never read again
            await session.commit()
        change = {"insurerCode": "26002", "reason": "CHANGE_OF_RESIDENCE", "newAddress": "г. Пятигорск, ул. Мира, 1"}
        applied = (await gql(client, CHANGE, {"i": change, "k": "change"}, headers=headers))["data"]
    assert applied["applyForInsurerChange"]["__typename"] == "InsurerChangeApplied"
    assert await _count(runtime, InsuranceTicket) == 1 and await _count(runtime, InsurancePolicySnapshot) == 1
