"""Disputes and complaints: tracked tickets mirroring the appeal sent to the insurer or the TFOMS.

A dispute names a billed case («я не получал эту услугу»); a complaint is about quality of, or access to,
care. Attachments are files of the patient's vault (read through the vault's service; the insurer gets
their titles, the files stay in the vault). The answer is due in 30 days (59-ФЗ art. 12 ч. 1; the
register's own due date is kept when it sends one). Every change of status is announced
(``insurance.ticket_changed``); the patient may reopen a ticket once, after the answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.insurance import problems as p
from backend.insurance.models import InsuranceTicket, InsuranceTicketEvent
from backend.insurance.service.billed import find_case
from backend.insurance.service.common import aware, problem_of, register
from backend.insurance.service.policy import enp_of
from backend.vault import service as vault
from integrations.erzl import AppealForm, AppealInfo, AppealKind, AppealStatus, ErzlError
from notifications import service as notifications

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

TICKET_CHANGED = "insurance.ticket_changed"
MAX_DESCRIPTION = 4000
MAX_ATTACHMENTS = 10

DISPUTE_CATEGORIES = {
    "service_not_received": "Услуга не оказывалась",
    "wrong_details": "Неверные дата, место или объем услуги",
}
COMPLAINT_CATEGORIES = {
    "waiting_time": "Нарушены сроки ожидания помощи",
    "refusal": "Отказ в оказании помощи",
    "payment_demanded": "Требовали оплату за бесплатную помощь",
    "quality": "Качество медицинской помощи",
    "other": "Другое",
}
ADDRESSEES = {"smo": "Страховая медицинская организация", "tfoms": "ТФОМС"}


def category_label(kind: str, category: str) -> str:
    table = DISPUTE_CATEGORIES if kind == AppealKind.DISPUTE.value else COMPLAINT_CATEGORIES
    return table.get(category, category)


@dataclass(frozen=True)
class TicketRequest:
    kind: AppealKind
    category: str
    description: str
    addressee: str = "smo"
    case_id: str | None = None
    attachment_ids: Sequence[uuid.UUID] = field(default_factory=tuple)


def _check(request: TicketRequest) -> str:
    categories = DISPUTE_CATEGORIES if request.kind is AppealKind.DISPUTE else COMPLAINT_CATEGORIES
    if request.category not in categories:
        raise p.fail(p.InvalidInput.of("category", "Выберите причину обращения из списка."))
    if request.addressee not in ADDRESSEES:
        raise p.fail(p.InvalidInput.of("addressee", "Обращение направляется в страховую компанию или в ТФОМС."))
    text = request.description.strip()
    if len(text) < 10:
        raise p.fail(p.InvalidInput.of("description", "Опишите, что произошло: не меньше 10 символов."))
    if len(text) > MAX_DESCRIPTION:
        raise p.fail(p.InvalidInput.of("description", f"Описание длиннее {MAX_DESCRIPTION} символов."))
    if request.kind is AppealKind.DISPUTE and not request.case_id:
        raise p.fail(p.InvalidInput.of("caseId", "Выберите услугу, которую вы не получали."))
    if len(request.attachment_ids) > MAX_ATTACHMENTS:
        raise p.fail(
            p.InvalidInput.of("attachmentIds", f"К обращению можно приложить до {MAX_ATTACHMENTS} документов.")
        )
    return text


async def open_ticket(
    uow: UnitOfWork, patient_id: uuid.UUID, request: TicketRequest, *, idempotency_key: str
) -> InsuranceTicket:
    """Check the request, send the appeal, keep the ticket; a typed problem (nothing written) otherwise."""
    runtime = uow.runtime
    text = _check(request)
    attachments: list[dict[str, str]] = []
    if request.attachment_ids:
        files = {f.id: f for f in await vault.list_files(runtime, patient_id)}
        for file_id in dict.fromkeys(request.attachment_ids):
            found = files.get(file_id)
            if found is None:
                raise p.fail(p.AttachmentNotFound.default())
            attachments.append({"id": str(found.id), "title": found.title, "file_name": found.file_name})
    case = await find_case(runtime, patient_id, request.case_id) if request.case_id else None
    if case is not None and request.kind is AppealKind.DISPUTE:
        open_dispute = await uow.session.scalar(
            select(InsuranceTicket.id).where(
                InsuranceTicket.patient_id == patient_id,
                InsuranceTicket.case_id == case.case_id,
                InsuranceTicket.status.in_([s.value for s in AppealStatus if s.is_open]),
            )
        )
        if open_dispute is not None:
            raise p.fail(p.DisputeExists.default())
    form = AppealForm(
        enp=await enp_of(runtime, patient_id),
        kind=request.kind,
        category=request.category,
        addressee=request.addressee,
        description=text,
        case_id=case.case_id if case else None,
        attachments=tuple(a["title"] for a in attachments),
    )
    try:
        info = await register(runtime).submit_appeal(form, idempotency_key=f"{patient_id}:{idempotency_key}")
    except ErzlError as exc:
        raise p.fail(problem_of(exc)) from None
    actor = uow.ctx.actor
    now = runtime.now()
    ticket = InsuranceTicket(
        id=uuid.uuid4(),
        patient_id=patient_id,
        upstream_id=info.id,
        kind=request.kind.value,
        category=request.category,
        addressee=request.addressee,
        case_id=case.case_id if case else None,
        service_name=case.service_name if case else None,
        service_date=case.service_date if case else None,
        service_cost=case.cost if case else None,
        description=text,
        attachments=attachments,
        status=info.status.value,
        due_on=info.due_on,
        channel=actor.channel.value,
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(ticket)
    await uow.session.flush()
    await _apply(uow, ticket, info, announce=True)
    uow.audit(
        "insurance.ticket_opened",
        object_type="insurance_ticket",
        object_id=ticket.id,
        subject_id=patient_id,
        details={"kind": ticket.kind, "category": ticket.category, "attachments": len(attachments)},
    )
    return ticket


def _notify(uow: UnitOfWork, ticket: InsuranceTicket, steps: int) -> None:
    status = AppealStatus(ticket.status)
    notifications.notify(
        uow,
        patient_id=ticket.patient_id,
        event=TICKET_CHANGED,
        data={
            "kind": "Спор по услуге" if ticket.kind == AppealKind.DISPUTE.value else "Жалоба",
            "status": status.label_ru,
            "due_on": f"{ticket.due_on:%d.%m.%Y}",
        },
        dedupe_key=f"insurance_ticket:{ticket.id}:{steps}:{ticket.status}",
    )


async def _apply(uow: UnitOfWork, ticket: InsuranceTicket, info: AppealInfo, *, announce: bool = False) -> bool:
    """Bring the ticket in step with the upstream's appeal: new steps of its history, the status, a notice."""
    session = uow.session
    known = await session.scalar(
        select(func.count()).select_from(InsuranceTicketEvent).where(InsuranceTicketEvent.ticket_id == ticket.id)
    )
    for seq, step in enumerate(info.history):
        if seq < (known or 0):
            continue
        session.add(
            InsuranceTicketEvent(
                id=uuid.uuid4(),
                ticket_id=ticket.id,
                seq=seq,
                status=step.status.value,
                at=aware(uow.runtime, step.at),
                comment=step.comment,
            )
        )
    changed = ticket.status != info.status.value or len(info.history) > (known or 0)
    if changed or announce:
        ticket.status = info.status.value
        ticket.due_on = info.due_on
        ticket.answer = info.answer
        ticket.upheld = info.upheld
        ticket.updated_at = uow.runtime.now()
        await session.flush()
        _notify(uow, ticket, len(info.history))
    return changed


async def _mine(session: AsyncSession, patient_id: uuid.UUID, ticket_id: uuid.UUID) -> InsuranceTicket:
    ticket = await session.get(InsuranceTicket, ticket_id, with_for_update=True)
    if ticket is None or ticket.patient_id != patient_id:
        raise p.fail(p.TicketNotFound.default())
    return ticket


async def reopen_ticket(
    uow: UnitOfWork, patient_id: uuid.UUID, ticket_id: uuid.UUID, comment: str, *, idempotency_key: str
) -> InsuranceTicket:
    """Reopen an answered ticket once, saying what the patient disagrees with."""
    text = comment.strip()
    if len(text) < 5:
        raise p.fail(p.InvalidInput.of("comment", "Напишите, с чем вы не согласны."))
    ticket = await _mine(uow.session, patient_id, ticket_id)
    if ticket.reopened or ticket.status != AppealStatus.ANSWERED.value:
        raise p.fail(p.ReopenNotAllowed.default())
    try:
        info = await register(uow.runtime).reopen_appeal(
            ticket.upstream_id, comment=text, idempotency_key=f"{patient_id}:{idempotency_key}"
        )
    except ErzlError as exc:
        raise p.fail(problem_of(exc)) from None
    ticket.reopened = True
    await _apply(uow, ticket, info, announce=True)
    uow.audit("insurance.ticket_reopened", object_type="insurance_ticket", object_id=ticket.id, subject_id=patient_id)
    return ticket


async def tickets_of(
    session: AsyncSession, patient_id: uuid.UUID
) -> list[tuple[InsuranceTicket, list[InsuranceTicketEvent]]]:
    """The patient's tickets, newest first, each with its history (two statements)."""
    rows = list(
        await session.scalars(
            select(InsuranceTicket)
            .where(InsuranceTicket.patient_id == patient_id)
            .order_by(InsuranceTicket.created_at.desc())
        )
    )
    events: dict[uuid.UUID, list[InsuranceTicketEvent]] = {r.id: [] for r in rows}
    if rows:
        for event in await session.scalars(
            select(InsuranceTicketEvent)
            .where(InsuranceTicketEvent.ticket_id.in_(list(events)))
            .order_by(InsuranceTicketEvent.seq)
        ):
            events[event.ticket_id].append(event)
    return [(r, events[r.id]) for r in rows]


async def sync(runtime: Runtime) -> int:
    """Bring every open or answered ticket in step with the insurer's appeal (the periodic job)."""
    watched = [s.value for s in AppealStatus if s is not AppealStatus.CLOSED]
    async with runtime.sessionmaker() as session:
        rows = list(await session.scalars(select(InsuranceTicket).where(InsuranceTicket.status.in_(watched))))
    changed = 0
    for row in rows:
        try:
            info = await register(runtime).get_appeal(row.upstream_id)
        except ErzlError:
            log.warning("insurance.ticket_sync_failed", ticket=str(row.id), exc_info=True)
            continue
        async with UnitOfWork(runtime, RequestContext.for_system("insurance.sync")) as uow:
            ticket = await uow.session.get(InsuranceTicket, row.id, with_for_update=True)
            if ticket is not None and await _apply(uow, ticket, info):
                uow.audit(
                    "insurance.ticket_status_changed",
                    object_type="insurance_ticket",
                    object_id=ticket.id,
                    subject_id=ticket.patient_id,
                    details={"status": ticket.status},
                )
                changed += 1
    return changed
