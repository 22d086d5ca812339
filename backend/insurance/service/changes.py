"""Changing insurer: the region's insurers, the 326-ФЗ art. 16 rule checked before sending (with the date the
change becomes possible), the application's status over time and a notice at each step.

The rule is :func:`backend.insurance.rules.insurer_change_decision`; the register checks it again and may
still refuse. A completed change refreshes the policy snapshot (the new insurer, ``policy.updated``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.insurance import problems as p
from backend.insurance.models import InsurerChange, InsurerChangeEvent
from backend.insurance.rules import ChangeDecision, insurer_change_decision
from backend.insurance.service.common import aware, local_today, patient_of, problem_of, register
from backend.insurance.service.policy import current, refresh
from integrations.erzl import ChangeForm, ChangeInfo, ChangeReason, ChangeStatus, ErzlError, Insurer
from notifications import service as notifications

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

CHANGE_EVENT = "insurance.change_status_changed"
OPEN = (ChangeStatus.SUBMITTED.value, ChangeStatus.ACCEPTED.value)


async def insurers(runtime: Runtime) -> list[Insurer]:
    try:
        return await register(runtime).list_insurers(runtime.settings.region_code)
    except ErzlError as exc:
        raise p.fail(problem_of(exc)) from None


async def _ordinary_changes(session: AsyncSession, patient_id: uuid.UUID) -> list[date]:
    rows = await session.scalars(
        select(InsurerChange.created_at).where(
            InsurerChange.patient_id == patient_id,
            InsurerChange.reason == ChangeReason.ORDINARY.value,
            InsurerChange.status.in_((*OPEN, ChangeStatus.COMPLETED.value)),
        )
    )
    return [moment.date() for moment in rows]


@dataclass(frozen=True)
class Availability:
    current: Insurer | None
    ordinary: ChangeDecision  # the ordinary (yearly) change
    insurers: list[Insurer]


async def availability(runtime: Runtime, patient_id: uuid.UUID) -> Availability:
    """When the patient may change insurer in the ordinary way, and the region's insurers."""
    row, _ = await current(runtime, patient_id)
    listed = await insurers(runtime)
    mine = next((i for i in listed if i.code == row.insurer_code), None)
    async with runtime.sessionmaker() as session:
        done = await _ordinary_changes(session, patient_id)
    decision = insurer_change_decision(local_today(runtime), ChangeReason.ORDINARY, ordinary_changes=done)
    return Availability(current=mine, ordinary=decision, insurers=listed)


@dataclass(frozen=True)
class ChangeRequest:
    insurer_code: str
    reason: ChangeReason
    new_address: str | None = None


async def apply(
    uow: UnitOfWork, patient_id: uuid.UUID, request: ChangeRequest, *, idempotency_key: str
) -> InsurerChange:
    """Check the rules, send the application, keep it; a typed problem (nothing written) otherwise."""
    runtime, session = uow.runtime, uow.session
    address = (request.new_address or "").strip() or None
    if request.reason is ChangeReason.CHANGE_OF_RESIDENCE and (address is None or len(address) < 5):
        raise p.fail(p.InvalidInput.of("newAddress", "Укажите новый адрес места жительства: город, улицу и дом."))
    patient = await patient_of(session, patient_id)
    row, _ = await current(runtime, patient_id)
    listed = await insurers(runtime)
    target = next((i for i in listed if i.code == request.insurer_code), None)
    if target is None:
        raise p.fail(p.InsurerNotFound.default())
    mine = next((i for i in listed if i.code == row.insurer_code), None)
    if mine is not None and mine.code == target.code:
        raise p.fail(p.SameInsurer.default())
    pending = await session.scalar(
        select(InsurerChange.id).where(InsurerChange.patient_id == patient_id, InsurerChange.status.in_(OPEN))
    )
    if pending is not None:
        raise p.fail(p.ChangePending.default())
    reason = ChangeReason.FIRST_CHOICE if mine is None and request.reason is ChangeReason.ORDINARY else request.reason
    decision = insurer_change_decision(
        local_today(runtime),
        reason,
        ordinary_changes=await _ordinary_changes(session, patient_id),
        insurer_exiting=mine is not None and mine.exiting_on is not None,
    )
    if not decision.allowed:
        raise p.fail(p.ChangeNotAllowedYet.default(decision.message_ru))
    form = ChangeForm(
        enp=row.enp or "",
        insurer_code=target.code,
        reason=reason,
        last_name=patient.last_name,
        first_name=patient.first_name,
        middle_name=patient.middle_name,
        birth_date=patient.birth_date,
        snils=patient.snils,
        new_address=address,
    )
    try:
        info = await register(runtime).submit_change(form, idempotency_key=f"{patient_id}:{idempotency_key}")
    except ErzlError as exc:
        raise p.fail(problem_of(exc)) from None
    actor = uow.ctx.actor
    now = runtime.now()
    change = InsurerChange(
        id=uuid.uuid4(),
        patient_id=patient_id,
        upstream_id=info.id,
        insurer_code=target.code,
        insurer_name=target.name,
        reason=reason.value,
        new_address=address,
        status=ChangeStatus.SUBMITTED.value,
        channel=actor.channel.value,
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(change)
    await session.flush()
    await _apply(uow, change, info, announce=True)
    uow.audit(
        "insurance.change_submitted",
        object_type="insurer_change",
        object_id=change.id,
        subject_id=patient_id,
        details={"insurer": target.code, "reason": reason.value},
    )
    return change


def _notify(uow: UnitOfWork, change: InsurerChange) -> None:
    status = ChangeStatus(change.status)
    notifications.notify(
        uow,
        patient_id=change.patient_id,
        event=CHANGE_EVENT,
        data={"insurer": change.insurer_name, "status": status.label_ru, "reason": change.rejection or ""},
        dedupe_key=f"insurer_change:{change.id}:{change.status}",
    )


async def _apply(uow: UnitOfWork, change: InsurerChange, info: ChangeInfo, *, announce: bool = False) -> bool:
    session = uow.session
    known = set(
        await session.scalars(select(InsurerChangeEvent.status).where(InsurerChangeEvent.change_id == change.id))
    )
    for step in info.history:
        if step.status.value in known:
            continue
        known.add(step.status.value)
        session.add(
            InsurerChangeEvent(
                id=uuid.uuid4(),
                change_id=change.id,
                status=step.status.value,
                at=aware(uow.runtime, step.at),
                comment=step.comment,
            )
        )
    changed = change.status != info.status.value
    if changed or announce:
        change.status = info.status.value
        change.updated_at = uow.runtime.now()
        if info.certificate is not None:
            change.certificate_number = info.certificate.number
            change.certificate_valid_until = info.certificate.valid_until
        change.rejection = info.rejection
        await session.flush()
        _notify(uow, change)
    return changed


async def changes_of(
    session: AsyncSession, patient_id: uuid.UUID
) -> list[tuple[InsurerChange, list[InsurerChangeEvent]]]:
    """The patient's applications, newest first, each with its steps (two statements)."""
    rows = list(
        await session.scalars(
            select(InsurerChange)
            .where(InsurerChange.patient_id == patient_id)
            .order_by(InsurerChange.created_at.desc())
        )
    )
    events: dict[uuid.UUID, list[InsurerChangeEvent]] = {r.id: [] for r in rows}
    if rows:
        for event in await session.scalars(
            select(InsurerChangeEvent)
            .where(InsurerChangeEvent.change_id.in_(list(events)))
            .order_by(InsurerChangeEvent.at)
        ):
            events[event.change_id].append(event)
    return [(r, events[r.id]) for r in rows]


async def sync(runtime: Runtime) -> int:
    """Bring every application under review in step with the register (the periodic job)."""
    async with runtime.sessionmaker() as session:
        rows = list(await session.scalars(select(InsurerChange).where(InsurerChange.status.in_(OPEN))))
    changed = 0
    for row in rows:
        try:
            info = await register(runtime).get_change(row.upstream_id)
        except ErzlError:
            log.warning("insurance.change_sync_failed", change=str(row.id), exc_info=True)
            continue
        async with UnitOfWork(runtime, RequestContext.for_system("insurance.sync")) as uow:
            change = await uow.session.get(InsurerChange, row.id, with_for_update=True)
            if change is not None and await _apply(uow, change, info):
                uow.audit(
                    "insurance.change_status_changed",
                    object_type="insurer_change",
                    object_id=change.id,
                    subject_id=change.patient_id,
                    details={"status": change.status},
                )
                changed += 1
        if info.status is ChangeStatus.COMPLETED:
            try:
                await refresh(runtime, row.patient_id)
            except ErzlError:
                log.warning("insurance.refresh_after_change_failed", change=str(row.id), exc_info=True)
    return changed
