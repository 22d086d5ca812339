"""Holds: a slot kept for a patient for a few minutes while the booking is completed."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.booking.models import Appointment, HoldStatus, SlotHold
from backend.booking.problems import HoldNotFound, SlotTaken, fail
from backend.booking.service.base import HOLD_TTL, Acting, _tz, now, to_utc
from backend.booking.service.rules import VisitPurpose, _prepare
from backend.booking.service.slots import SlotRef
from backend.booking.service.statements import _CLAIM_HOLD
from backend.core.context import Channel
from backend.core.db import detached
from backend.core.uow import UnitOfWork
from integrations.fer import Slot

if TYPE_CHECKING:
    from backend.directory.service import DoctorCard
    from backend.runtime import Runtime


#: A bridge hold keeps a freed slot from the moment the change that frees it commits until the hook that
#: keeps slots (the waitlist) has made its own hold or let the slot go (:mod:`.hooks`). Its actor names it.
BRIDGE_ACTOR = "booking.slot_freed"
BRIDGE_TTL = timedelta(minutes=2)


async def bridge_hold(session: AsyncSession, runtime: Runtime, appointment: Appointment) -> None:
    """In the transaction that frees ``appointment``'s slot: hold the slot for :data:`BRIDGE_TTL` (nothing
    if a live hold of the slot is already there). Its patient is the appointment's; it is nobody's to
    confirm (:func:`take_bridge` closes it)."""
    at = now(runtime)
    if appointment.slot_start <= at:
        return
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "patient_id": appointment.patient_id,
        "mo_id": appointment.mo_id,
        "doctor_id": appointment.doctor_id,
        "specialty_code": appointment.specialty_code,
        "slot_id": appointment.slot_id,
        "slot_start": appointment.slot_start,
        "slot_end": appointment.slot_end,
        "room": appointment.room,
        "address": appointment.address,
        "status": HoldStatus.HELD.value,
        "expires_at": at + BRIDGE_TTL,
        "channel": Channel.SYSTEM.value,
        "actor_kind": "system",
        "actor_id": BRIDGE_ACTOR,
        "reschedule_of_id": None,
        "created_at": at,
        "closed_at": None,
    }
    await _expire_stale_holds(session, at, mo_id=appointment.mo_id, slot_id=appointment.slot_id)
    await _CLAIM_HOLD.first(session, values)


async def take_bridge(uow: UnitOfWork, mo_id: str, slot_id: str) -> bool:
    """Close the slot's bridge hold in ``uow`` (the caller's own hold of the slot may follow in the same
    transaction: concurrent claims see the bridge until it commits, then the caller's hold). Whether
    there was one."""
    result = await uow.session.execute(
        update(SlotHold)
        .where(
            SlotHold.mo_id == mo_id,
            SlotHold.slot_id == slot_id,
            SlotHold.status == HoldStatus.HELD.value,
            SlotHold.actor_id == BRIDGE_ACTOR,
        )
        .values(status=HoldStatus.RELEASED.value, closed_at=now(uow.runtime))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def bridge_from_hold(uow: UnitOfWork, hold_id: uuid.UUID) -> bool:
    """Turn a live hold into the slot's bridge hold (:data:`BRIDGE_TTL` from now), in ``uow``: a hold that
    ends (a declined or expired offer) keeps its slot for the next in line rather than freeing it. Whether
    the hold was still live."""
    at = now(uow.runtime)
    result = await uow.session.execute(
        update(SlotHold)
        .where(SlotHold.id == hold_id, SlotHold.status == HoldStatus.HELD.value)
        .values(
            expires_at=at + BRIDGE_TTL,
            channel=Channel.SYSTEM.value,
            actor_kind="system",
            actor_id=BRIDGE_ACTOR,
            reschedule_of_id=None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _expire_stale_holds(session: AsyncSession, at: datetime, *, mo_id: str, slot_id: str) -> None:
    await session.execute(
        update(SlotHold)
        .where(
            SlotHold.mo_id == mo_id,
            SlotHold.slot_id == slot_id,
            SlotHold.status == HoldStatus.HELD.value,
            SlotHold.expires_at <= at,
        )
        .values(status=HoldStatus.EXPIRED.value, closed_at=at)
        .execution_options(synchronize_session=False)
    )


async def _insert_hold(
    uow: UnitOfWork,
    patient_id: uuid.UUID,
    slot: Slot,
    info: DoctorCard,
    *,
    ttl: timedelta,
    reschedule_of: uuid.UUID | None = None,
) -> SlotHold:
    """Insert a live hold: the slot's serialisation point (a concurrent attempt waits on the unique index
    until this transaction ends, then finds the slot held or booked). A live hold in the way that has
    expired is closed as expired and the claim tried once more; one still running means SlotTaken."""
    runtime = uow.runtime
    at = now(runtime)
    acting = Acting.of(uow.ctx, patient_id)
    session = uow.session
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "patient_id": patient_id,
        "mo_id": slot.mo_id,
        "doctor_id": slot.doctor_id,
        "specialty_code": info.specialty_code,
        "slot_id": slot.id,
        "slot_start": to_utc(runtime, slot.start),
        "slot_end": to_utc(runtime, slot.end),
        "room": slot.room or None,
        "address": slot.address or None,
        "status": HoldStatus.HELD.value,
        "expires_at": at + ttl,
        "channel": acting.channel.value,
        "actor_kind": acting.actor_kind,
        "actor_id": acting.actor_id,
        "reschedule_of_id": reschedule_of,
        "created_at": at,
        "closed_at": None,
    }
    if await _CLAIM_HOLD.first(session, values) is None:
        await _expire_stale_holds(session, at, mo_id=slot.mo_id, slot_id=slot.id)
        if await _CLAIM_HOLD.first(session, values) is None:
            raise fail(SlotTaken.default())
    return detached(SlotHold, values)


async def hold_slot(
    uow: UnitOfWork,
    patient_id: uuid.UUID,
    ref: SlotRef,
    *,
    ttl: timedelta = HOLD_TTL,
    purpose: VisitPurpose = VisitPurpose.GENERAL,
) -> SlotHold:
    """Hold a slot for the patient for ``ttl`` (one live hold per slot: the database decides)."""
    slot, info, _ = await _prepare(uow, patient_id, ref, purpose=purpose)
    hold = await _insert_hold(uow, patient_id, slot, info, ttl=ttl)
    uow.audit("booking.hold", object_type="slot_hold", object_id=hold.id, subject_id=patient_id)
    return hold


async def release_hold(uow: UnitOfWork, patient_id: uuid.UUID, hold_id: uuid.UUID) -> SlotHold:
    hold = await uow.session.get(SlotHold, hold_id)
    if hold is None or hold.patient_id != patient_id:
        raise fail(HoldNotFound.default())
    if hold.status == HoldStatus.HELD.value:
        hold.status = HoldStatus.RELEASED.value
        hold.closed_at = now(uow.runtime)
    uow.audit("booking.hold_released", object_type="slot_hold", object_id=hold.id, subject_id=patient_id)
    return hold


async def _close_hold_now(runtime: Runtime, hold_id: uuid.UUID, status: HoldStatus) -> None:
    """Close a committed hold in a transaction of its own (the caller's work is about to roll back)."""
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(SlotHold)
            .where(SlotHold.id == hold_id, SlotHold.status == HoldStatus.HELD.value)
            .values(status=status.value, closed_at=now(runtime))
            .execution_options(synchronize_session=False)
        )


def remaining_seconds(runtime: Runtime, hold: SlotHold) -> int:
    if hold.status != HoldStatus.HELD.value:
        return 0
    return max(0, math.ceil((hold.expires_at - now(runtime)).total_seconds()))


def _slot_of_hold(runtime: Runtime, hold: SlotHold) -> Slot:
    tz = _tz(runtime)
    return Slot(
        id=hold.slot_id,
        mo_id=hold.mo_id,
        doctor_id=hold.doctor_id,
        start=hold.slot_start.astimezone(tz).replace(tzinfo=None),
        end=hold.slot_end.astimezone(tz).replace(tzinfo=None),
        room=hold.room or "",
        address=hold.address or "",
        num=0,
    )
