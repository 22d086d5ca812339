"""The insurance rows of the authorization matrix (``tests/integration/identity/test_matrix.py`` imports them).

Each allowed row meets a world where the action succeeds: the target T is enrolled in the runtime's ЕРЗЛ
simulator with a billed case ``MATRIX-1``; a reopen finds T's answered complaint; a dismissal T's message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from backend.core.uow import UnitOfWork
from backend.identity import policy
from backend.identity.service import get_patient
from backend.insurance.models import RepresentativeMessage
from backend.insurance.service import tickets
from backend.runtime import Runtime
from integrations.erzl import AppealKind
from tests.support.booking import ctx_for
from tests.support.insurance import billed, enrol, erzl

CASE = "MATRIX-1"
_TICKETS: dict[uuid.UUID, uuid.UUID] = {}
_MESSAGES: dict[uuid.UUID, uuid.UUID] = {}


async def enrolled(runtime: Runtime, w: Any, principal: Any) -> None:
    """T is in the register (insurer 26001) with a billed case of last year."""
    async with runtime.sessionmaker() as session:
        patient = await get_patient(session, w.target)
    assert patient is not None
    enrol(runtime, patient, insurer=0)
    billed(runtime, patient, case_id=CASE, on=date(2024, 5, 6))


async def answered_ticket(runtime: Runtime, w: Any, principal: Any) -> None:
    """T's complaint, answered by the insurer (so it may be reopened once)."""
    await enrolled(runtime, w, principal)
    request = tickets.TicketRequest(
        kind=AppealKind.COMPLAINT, category="waiting_time", description="Запись к кардиологу только через два месяца"
    )
    async with UnitOfWork(runtime, ctx_for(w.target)) as uow:
        ticket = await tickets.open_ticket(uow, w.target, request, idempotency_key=uuid.uuid4().hex)
    state = erzl(runtime)
    state.review(ticket.upstream_id)
    state.answer(ticket.upstream_id, "Запись организована", upheld=True)
    await tickets.sync(runtime)
    _TICKETS[w.target] = ticket.id


async def a_message(runtime: Runtime, w: Any, principal: Any) -> None:
    message = RepresentativeMessage(
        id=uuid.uuid4(), patient_id=w.target, rule="dispanserization_due", period_key="2025", title="Пора",
        text="Пройдите диспансеризацию", citation="Приказ № 404н", created_at=runtime.now(),
    )  # fmt: skip
    async with runtime.sessionmaker() as session, session.begin():
        session.add(message)
    _MESSAGES[w.target] = message.id


def _t(w: Any) -> dict[str, Any]:
    return {"t": str(w.target)}


def _typename(name: str) -> Callable[[Any, Any], bool]:
    return lambda w, d: d.get("__typename") == name


def _mutation(field: str, arguments: str, declarations: str, problem: str) -> str:
    return f"mutation({declarations}$t: UUID) {{ {field}({arguments}actingFor: $t) {{ {problem} }} }}"


def insurance_rows(
    standard: Callable[..., Any], only: Callable[..., Any], public: Callable[..., Any], p: Any
) -> dict[str, Any]:
    """The rows, built with the matrix's own helpers (``standard``, ``only``, ``public``, the principals ``p``)."""
    problem = "__typename ... on Problem { code }"
    keyed = {"k": lambda: uuid.uuid4().hex}
    return {
        "myInsurancePolicy": standard(
            f"query($t: UUID) {{ myInsurancePolicy(actingFor: $t) {{ {problem} ... on InsurancePolicy {{ enp }} }} }}",
            _t,
            policy.SCOPE_INSURANCE_POLICY,
            _typename("InsurancePolicy"),
            prepare=enrolled,
        ),
        "insurers": public("the region's insurers (СМО): reference data"),
        "myBilledServices": standard(
            f"query($t: UUID) {{ myBilledServices(actingFor: $t) {{ {problem}"
            " ... on BilledHistory { services { caseId } } } }",
            _t,
            policy.SCOPE_INSURANCE,
            lambda w, d: CASE in {s["caseId"] for s in d.get("services", [])},
            prepare=enrolled,
        ),
        "myBilledCase": standard(
            f"query($t: UUID, $c: String!) {{ myBilledCase(caseId: $c, actingFor: $t) {{ {problem}"
            " ... on BilledCase { service { caseId } } } }",
            lambda w: {"t": str(w.target), "c": CASE},
            policy.SCOPE_INSURANCE,
            lambda w, d: d.get("service", {}).get("caseId") == CASE,
            prepare=enrolled,
        ),
        "myInsuranceTickets": standard(
            "query($t: UUID) { myInsuranceTickets(actingFor: $t) { id } }", _t, policy.SCOPE_INSURANCE_COMPLAINTS
        ),
        "myInsurerChange": standard(
            f"query($t: UUID) {{ myInsurerChange(actingFor: $t) {{ {problem} ... on InsurerChangeOverview"
            " { possibleFrom } } }",
            _t,
            policy.SCOPE_INSURANCE,
            _typename("InsurerChangeOverview"),
            prepare=enrolled,
        ),
        "myRepresentativeMessages": standard(
            "query($t: UUID) { myRepresentativeMessages(actingFor: $t) { id } }", _t, policy.SCOPE_INSURANCE
        ),
        "insuranceRepresentativeKpi": only(
            {p.OPERATOR},
            "query($a: Date!, $b: Date!) { insuranceRepresentativeKpi(dateFrom: $a, dateTo: $b) { reached } }",
            lambda w: {"a": "2025-03-01", "b": "2025-03-31"},
        ),
        "openInsuranceTicket": standard(
            _mutation(
                "openInsuranceTicket",
                "input: $i, idempotencyKey: $k, ",
                "$i: InsuranceTicketInput!, $k: String!, ",
                problem,
            ),
            lambda w: {
                "t": str(w.target),
                "k": keyed["k"](),
                "i": {"kind": "COMPLAINT", "category": "refusal", "description": "Отказали в записи к терапевту"},
            },
            policy.SCOPE_INSURANCE_COMPLAINTS,
            _typename("InsuranceTicketOpened"),
            prepare=enrolled,
        ),
        "reopenInsuranceTicket": standard(
            _mutation(
                "reopenInsuranceTicket",
                "ticketId: $x, comment: $c, idempotencyKey: $k, ",
                "$x: UUID!, $c: String!, $k: String!, ",
                problem,
            ),
            lambda w: {"t": str(w.target), "x": str(_TICKETS.get(w.target)), "c": "Не согласен", "k": keyed["k"]()},
            policy.SCOPE_INSURANCE_COMPLAINTS,
            _typename("InsuranceTicketReopened"),
            prepare=answered_ticket,
        ),
        "applyForInsurerChange": standard(
            _mutation(
                "applyForInsurerChange",
                "input: $i, idempotencyKey: $k, ",
                "$i: InsurerChangeInput!, $k: String!, ",
                problem,
            ),
            lambda w: {
                "t": str(w.target),
                "k": keyed["k"](),
                "i": {
                    "insurerCode": "26002",
                    "reason": "CHANGE_OF_RESIDENCE",
                    "newAddress": "г. Пятигорск, ул. Мира, 1",
                },
            },
            policy.SCOPE_INSURANCE,
            _typename("InsurerChangeApplied"),
            prepare=enrolled,
        ),
        "dismissRepresentativeMessage": standard(
            _mutation("dismissRepresentativeMessage", "messageId: $m, ", "$m: UUID!, ", problem),
            lambda w: {"t": str(w.target), "m": str(_MESSAGES.get(w.target))},
            policy.SCOPE_INSURANCE,
            _typename("RepresentativeMessageDismissed"),
            prepare=a_message,
        ),
    }
