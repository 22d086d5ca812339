"""GraphQL for «Мой полис – моя защита»: the digital policy and the insurer, billed care and its cost, disputes
and complaints, changing insurer, the virtual insurance representative and its staff KPI.

Who may do what (``backend/identity/policy.py``): the policy card (``insurance_policy``) — the patient, a
proxy, a 122 operator for the caller, a kiosk; complaints (``insurance_complaints``) — the patient, a proxy,
an operator; billed care, disputes, insurer change and the representative (``insurance``) — the patient and
a proxy (the billed services name diagnoses). Attaching vault files also needs the documents scope.
Mutations take ``idempotencyKey`` (booking's idempotency records) and ``actingFor``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import strawberry

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.audit import service as audit
from backend.booking import idempotency
from backend.identity.policy import (
    SCOPE_DOCUMENTS,
    SCOPE_INSURANCE,
    SCOPE_INSURANCE_COMPLAINTS,
    SCOPE_INSURANCE_POLICY,
    require_staff,
    require_subject,
)
from backend.insurance import problems
from backend.insurance.graphql_types import (
    PROBLEMS,
    ApplyForInsurerChangeResult,
    BilledCaseType,
    BilledHistoryType,
    BilledServiceType,
    CareKindEnum,
    DismissRepresentativeMessageResult,
    InsurancePolicyType,
    InsuranceTicketInput,
    InsuranceTicketOpened,
    InsuranceTicketReopened,
    InsuranceTicketType,
    InsurerChangeApplied,
    InsurerChangeInput,
    InsurerChangeOverview,
    InsurerChangeType,
    InsurerList,
    InsurersResult,
    InsurerType,
    MyBilledCaseResult,
    MyBilledServicesResult,
    MyInsurancePolicyResult,
    MyInsurerChangeResult,
    OpenInsuranceTicketResult,
    ReopenInsuranceTicketResult,
    RepresentativeKpi,
    RepresentativeMessageDismissed,
    RepresentativeMessageType,
    TicketKind,
    graphql_problem,
    problem_from_json,
)
from backend.insurance.service import billed, changes, messages, policy, tickets
from integrations.erzl import CareKind

domain_problems = PROBLEMS.guard
keyed = PROBLEMS.keyed


async def _read(info: Info, action: str, patient_id: uuid.UUID, **details: Any) -> None:
    """Audit a medical read (who saw the patient's insurance data, through which channel)."""
    await audit.record_now(
        info.context.sessionmaker,
        info.context.ctx,
        action,
        object_type="insurance",
        subject_id=patient_id,
        details=details,
    )


async def _ticket(session: Any, patient_id: uuid.UUID, ticket_id: uuid.UUID) -> InsuranceTicketType:
    rows = await tickets.tickets_of(session, patient_id)
    ticket, events = next((t, e) for t, e in rows if t.id == ticket_id)
    return InsuranceTicketType.of(ticket, events)


async def _change(session: Any, patient_id: uuid.UUID, change_id: uuid.UUID) -> InsurerChangeType:
    rows = await changes.changes_of(session, patient_id)
    change, events = next((c, e) for c, e in rows if c.id == change_id)
    return InsurerChangeType.of(change, events)


@strawberry.type
class Query:
    @strawberry.field(
        description="Мой полис ОМС: номер, статус, страховая компания и ее горячая линия, история, QR-код."
    )
    async def my_insurance_policy(self, info: Info, acting_for: uuid.UUID | None = None) -> MyInsurancePolicyResult:
        patient_id = await require_subject(info, SCOPE_INSURANCE_POLICY, acting_for=acting_for)
        try:
            found = await policy.view(info.context.runtime, patient_id)
        except problems.ProblemError as exc:
            return graphql_problem(exc.problem)  # type: ignore[return-value]
        await _read(info, "insurance.policy_read", patient_id, fresh=found.fresh)
        return InsurancePolicyType.of(found)

    @strawberry.field(description="Страховые медицинские организации региона (справочник).")
    async def insurers(self, info: Info) -> InsurersResult:
        try:
            listed = await changes.insurers(info.context.runtime)
        except problems.ProblemError as exc:
            return graphql_problem(exc.problem)  # type: ignore[return-value]
        return InsurerList(items=[InsurerType.of(i) for i in listed])

    @strawberry.field(description="Оказанные мне услуги и их стоимость по реестрам счетов ОМС, с итогами.")
    async def my_billed_services(
        self,
        info: Info,
        acting_for: uuid.UUID | None = None,
        year: int | None = None,
        mo_oid: str | None = None,
        care_kind: CareKindEnum | None = None,
    ) -> MyBilledServicesResult:
        patient_id = await require_subject(info, SCOPE_INSURANCE, acting_for=acting_for)
        filters = billed.Filters(year=year, mo_oid=mo_oid, care_kind=CareKind(care_kind.value) if care_kind else None)
        try:
            found = await billed.history(info.context.runtime, patient_id, filters)
        except problems.ProblemError as exc:
            return graphql_problem(exc.problem)  # type: ignore[return-value]
        await _read(info, "insurance.billed_read", patient_id, year=year, cases=len(found.services))
        return BilledHistoryType.of(found)

    @strawberry.field(description="Один случай оказания помощи и мои обращения по нему.")
    async def my_billed_case(self, info: Info, case_id: str, acting_for: uuid.UUID | None = None) -> MyBilledCaseResult:
        patient_id = await require_subject(info, SCOPE_INSURANCE, acting_for=acting_for)
        try:
            found = await billed.find_case(info.context.runtime, patient_id, case_id)
        except problems.ProblemError as exc:
            return graphql_problem(exc.problem)  # type: ignore[return-value]
        async with info.context.sessionmaker() as session:
            rows = await tickets.tickets_of(session, patient_id)
        await _read(info, "insurance.case_read", patient_id, case_id=case_id)
        return BilledCaseType(
            service=BilledServiceType.of(found),
            tickets=[InsuranceTicketType.of(t, e) for t, e in rows if t.case_id == case_id],
        )

    @strawberry.field(description="Мои обращения в страховую компанию и ТФОМС, новые первыми.")
    async def my_insurance_tickets(self, info: Info, acting_for: uuid.UUID | None = None) -> list[InsuranceTicketType]:
        patient_id = await require_subject(info, SCOPE_INSURANCE_COMPLAINTS, acting_for=acting_for)
        async with info.context.sessionmaker() as session:
            rows = await tickets.tickets_of(session, patient_id)
        return [InsuranceTicketType.of(t, e) for t, e in rows]

    @strawberry.field(description="Замена страховой компании: когда возможна, СМО региона, мои заявления.")
    async def my_insurer_change(self, info: Info, acting_for: uuid.UUID | None = None) -> MyInsurerChangeResult:
        patient_id = await require_subject(info, SCOPE_INSURANCE, acting_for=acting_for)
        try:
            found = await changes.availability(info.context.runtime, patient_id)
        except problems.ProblemError as exc:
            return graphql_problem(exc.problem)  # type: ignore[return-value]
        async with info.context.sessionmaker() as session:
            rows = await changes.changes_of(session, patient_id)
        return InsurerChangeOverview.of(found, rows)

    @strawberry.field(description="Сообщения виртуального страхового представителя (не скрытые), новые первыми.")
    async def my_representative_messages(
        self, info: Info, acting_for: uuid.UUID | None = None
    ) -> list[RepresentativeMessageType]:
        patient_id = await require_subject(info, SCOPE_INSURANCE, acting_for=acting_for)
        async with info.context.sessionmaker() as session:
            rows = await messages.messages_of(session, patient_id)
        return [RepresentativeMessageType.of(m) for m in rows]

    @strawberry.field(description="Охват виртуальным страховым представителем за период (для персонала).")
    async def insurance_representative_kpi(self, info: Info, date_from: date, date_to: date) -> RepresentativeKpi:
        require_staff(info)
        start = datetime.combine(date_from, time.min, tzinfo=UTC)
        end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
        async with info.context.sessionmaker() as session:
            found = await messages.kpi(session, start, end)
        return RepresentativeKpi.of(found)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Оспорить оказанную услугу или пожаловаться на качество и доступность помощи.")
    @keyed
    @atomic
    @domain_problems
    async def open_insurance_ticket(
        self, info: Info, input: InsuranceTicketInput, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> OpenInsuranceTicketResult:
        scope = SCOPE_INSURANCE if input.kind is TicketKind.DISPUTE else SCOPE_INSURANCE_COMPLAINTS
        patient_id = await require_subject(info, scope, acting_for=acting_for)
        if input.attachment_ids:
            await require_subject(info, SCOPE_DOCUMENTS, acting_for=acting_for)
        uow = info.context.uow
        request = input.request()
        await policy.prepare(info.context.runtime, patient_id)  # before the unit of work's first write
        stored = await idempotency.claim(
            uow,
            "openInsuranceTicket",
            idempotency_key,
            {
                "kind": request.kind.value,
                "category": request.category,
                "description": request.description,
                "addressee": request.addressee,
                "case_id": request.case_id,
                "attachments": [str(a) for a in request.attachment_ids],
                "patient_id": str(patient_id),
            },
        )
        if stored is not None:
            if stored.get("type") == "problem":
                return problem_from_json(stored)  # type: ignore[return-value]
            return InsuranceTicketOpened(ticket=await _ticket(uow.session, patient_id, uuid.UUID(stored["id"])))
        ticket = await tickets.open_ticket(uow, patient_id, request, idempotency_key=idempotency_key)
        idempotency.remember(uow, {"type": "opened", "id": str(ticket.id)})
        return InsuranceTicketOpened(ticket=await _ticket(uow.session, patient_id, ticket.id))

    @strawberry.mutation(description="Возобновить обращение, если ответ не устроил (один раз).")
    @keyed
    @atomic
    @domain_problems
    async def reopen_insurance_ticket(
        self,
        info: Info,
        ticket_id: uuid.UUID,
        comment: str,
        idempotency_key: str,
        acting_for: uuid.UUID | None = None,
    ) -> ReopenInsuranceTicketResult:
        patient_id = await require_subject(info, SCOPE_INSURANCE_COMPLAINTS, acting_for=acting_for)
        uow = info.context.uow
        stored = await idempotency.claim(
            uow,
            "reopenInsuranceTicket",
            idempotency_key,
            {"ticket_id": str(ticket_id), "comment": comment, "patient_id": str(patient_id)},
        )
        if stored is not None:
            if stored.get("type") == "problem":
                return problem_from_json(stored)  # type: ignore[return-value]
            return InsuranceTicketReopened(ticket=await _ticket(uow.session, patient_id, ticket_id))
        ticket = await tickets.reopen_ticket(uow, patient_id, ticket_id, comment, idempotency_key=idempotency_key)
        idempotency.remember(uow, {"type": "reopened", "id": str(ticket.id)})
        return InsuranceTicketReopened(ticket=await _ticket(uow.session, patient_id, ticket.id))

    @strawberry.mutation(
        description="Подать заявление о замене страховой компании (ст. 16 326-ФЗ проверяется заранее)."
    )
    @keyed
    @atomic
    @domain_problems
    async def apply_for_insurer_change(
        self, info: Info, input: InsurerChangeInput, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> ApplyForInsurerChangeResult:
        patient_id = await require_subject(info, SCOPE_INSURANCE, acting_for=acting_for)
        uow = info.context.uow
        request = input.request()
        await policy.prepare(info.context.runtime, patient_id)  # before the unit of work's first write
        stored = await idempotency.claim(
            uow,
            "applyForInsurerChange",
            idempotency_key,
            {
                "insurer_code": request.insurer_code,
                "reason": request.reason.value,
                "new_address": request.new_address,
                "patient_id": str(patient_id),
            },
        )
        if stored is not None:
            if stored.get("type") == "problem":
                return problem_from_json(stored)  # type: ignore[return-value]
            return InsurerChangeApplied(application=await _change(uow.session, patient_id, uuid.UUID(stored["id"])))
        change = await changes.apply(uow, patient_id, request, idempotency_key=idempotency_key)
        idempotency.remember(uow, {"type": "applied", "id": str(change.id)})
        return InsurerChangeApplied(application=await _change(uow.session, patient_id, change.id))

    @strawberry.mutation(description="Скрыть сообщение страхового представителя.")
    @atomic
    @domain_problems
    async def dismiss_representative_message(
        self, info: Info, message_id: uuid.UUID, acting_for: uuid.UUID | None = None
    ) -> DismissRepresentativeMessageResult:
        patient_id = await require_subject(info, SCOPE_INSURANCE, acting_for=acting_for)
        row = await messages.dismiss(info.context.uow, patient_id, message_id)
        return RepresentativeMessageDismissed(id=row.id)
