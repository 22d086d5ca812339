"""Statement-count scenarios of the insurance queries (``tests/integration/api/test_statement_counts.py``
imports them): each runs over a caller with few items and one with more, and must cost the same."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from backend.insurance.models import (
    InsuranceTicket,
    InsuranceTicketEvent,
    InsurerChange,
    InsurerChangeEvent,
    RepresentativeMessage,
)
from backend.runtime import Runtime
from tests.support.identity import auth_headers, operator_token, token_for
from tests.support.insurance import billed, insured
from tests.support.statements import Headers, Scenario, Setup

AT = datetime(2025, 3, 1, 9, tzinfo=UTC)

#: Statements per operation, the same on PostgreSQL and SQLite (the register is an upstream: no statements).
INSURANCE_STATEMENTS: dict[str, int] = {
    "MyInsurancePolicy": 3,  # the snapshot, the patient, the audit row
    "Insurers": 0,
    "MyBilledServices": 2,  # the snapshot (the ЕНП), the audit row
    "MyBilledCase": 4,  # the snapshot, the tickets, their steps, the audit row
    "MyInsuranceTickets": 2,
    "MyInsurerChange": 4,  # the snapshot, the ordinary changes, the applications, their steps
    "MyRepresentativeMessages": 1,
    "InsuranceRepresentativeKpi": 4,  # the staff session, the insured, messages by rule, the people reached
}


def _as(runtime: Runtime, patient_id: uuid.UUID) -> Headers:
    return auth_headers(token_for(runtime, patient_id))


async def _tickets(runtime: Runtime, patient_id: uuid.UUID, count: int, case_id: str | None = None) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        for i in range(count):
            ticket = InsuranceTicket(
                id=uuid.uuid4(), patient_id=patient_id, upstream_id=f"OBR-{uuid.uuid4().hex[:12]}", kind="dispute",
                category="service_not_received", addressee="smo", case_id=case_id, description="Не получал услугу",
                status="answered", due_on=date(2025, 3, 31), channel="mobile", actor_kind="patient",
                actor_id=str(patient_id), created_at=AT + timedelta(hours=i), updated_at=AT,
            )  # fmt: skip
            session.add(ticket)
            for n, status in enumerate(("registered", "in_review", "answered")):
                session.add(InsuranceTicketEvent(id=uuid.uuid4(), ticket_id=ticket.id, seq=n, status=status, at=AT))


async def _changes(runtime: Runtime, patient_id: uuid.UUID, count: int) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        for i in range(count):
            change = InsurerChange(
                id=uuid.uuid4(), patient_id=patient_id, upstream_id=f"SMO-{uuid.uuid4().hex[:12]}",
                insurer_code="26002", insurer_name="СОГАЗ-Мед", reason="change_of_residence", status="rejected",
                channel="mobile", actor_kind="patient", actor_id=str(patient_id),
                created_at=AT - timedelta(days=400 * (i + 1)), updated_at=AT,
            )  # fmt: skip
            session.add(change)
            for status in ("submitted", "rejected"):
                session.add(InsurerChangeEvent(id=uuid.uuid4(), change_id=change.id, status=status, at=AT))


async def _messages(runtime: Runtime, patient_id: uuid.UUID, count: int, at: datetime = AT) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        for i in range(count):
            session.add(
                RepresentativeMessage(
                    id=uuid.uuid4(),
                    patient_id=patient_id,
                    rule=f"rule_{i}",
                    period_key="2025",
                    title="Т",
                    text="Текст",
                    citation="Норма",
                    created_at=at,
                )
            )


async def _two_insured(runtime: Runtime) -> tuple[uuid.UUID, uuid.UUID]:
    few, more = await insured(runtime), await insured(runtime, insurer=1)
    return few.id, more.id


async def _policy(runtime: Runtime) -> Setup:
    few, more = await _two_insured(runtime)
    return {}, {}, _as(runtime, few), _as(runtime, more)


async def _insurers(runtime: Runtime) -> Setup:
    return {}, {}, {}


async def _billed(runtime: Runtime) -> Setup:
    few, more = await insured(runtime), await insured(runtime)
    billed(runtime, few, case_id="S-1", on=date(2024, 4, 1))
    for n in range(5):
        billed(runtime, more, case_id=f"S-{n + 2}", on=date(2024, 4, 2 + n))
    return {}, {}, _as(runtime, few.id), _as(runtime, more.id)


async def _billed_case(runtime: Runtime) -> Setup:
    few, more = await insured(runtime), await insured(runtime)
    billed(runtime, few, case_id="C-1", on=date(2024, 4, 1))
    billed(runtime, more, case_id="C-1", on=date(2024, 4, 1))
    await _tickets(runtime, few.id, 1, "C-1")
    await _tickets(runtime, more.id, 3, "C-1")
    case = {"caseId": "C-1"}
    return case, case, _as(runtime, few.id), _as(runtime, more.id)


async def _tickets_of(runtime: Runtime) -> Setup:
    few, more = await _two_insured(runtime)
    await _tickets(runtime, few, 1)
    await _tickets(runtime, more, 4)
    return {}, {}, _as(runtime, few), _as(runtime, more)


async def _insurer_change(runtime: Runtime) -> Setup:
    few, more = await _two_insured(runtime)
    await _changes(runtime, few, 1)
    await _changes(runtime, more, 3)
    return {}, {}, _as(runtime, few), _as(runtime, more)


async def _representative(runtime: Runtime) -> Setup:
    few, more = await _two_insured(runtime)
    await _messages(runtime, few, 1)
    await _messages(runtime, more, 4)
    return {}, {}, _as(runtime, few), _as(runtime, more)


async def _kpi(runtime: Runtime) -> Setup:
    await _messages(runtime, uuid.uuid4(), 1, datetime(2025, 2, 10, 9, tzinfo=UTC))
    for _ in range(3):
        await _messages(runtime, uuid.uuid4(), 2, datetime(2025, 3, 2, 9, tzinfo=UTC))
    few = {"dateFrom": "2025-02-01", "dateTo": "2025-02-28"}
    more = {"dateFrom": "2025-03-01", "dateTo": "2025-03-31"}
    return few, more, auth_headers(await operator_token(runtime))


def insurance_scenarios() -> dict[str, Scenario]:
    return {
        s.operation: s
        for s in (
            Scenario("MyInsurancePolicy", _policy),
            Scenario("Insurers", _insurers),
            Scenario("MyBilledServices", _billed),
            Scenario("MyBilledCase", _billed_case),
            Scenario("MyInsuranceTickets", _tickets_of),
            Scenario("MyInsurerChange", _insurer_change),
            Scenario("MyRepresentativeMessages", _representative),
            Scenario("InsuranceRepresentativeKpi", _kpi),
        )
    }
