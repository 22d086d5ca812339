"""Shared builders for the waitlist tests (and the matrix and statement counts): people in the line of the
test region's eye doctor, a booked slot to free, the outbox delivered."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from backend.booking import service as booking
from backend.core.context import Channel
from backend.outbox import service as outbox
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from backend.waitlist import service
from backend.waitlist.models import WaitlistEntry, WaitlistOffer
from integrations.fer.waiting_list import ClaimType
from tests.support.booking import ADULT_MO, EYE, TOMORROW, BookingEnv, ctx_for

EYE_SPECIALTY = "46"


def request(
    *,
    doctor_id: str | None = EYE,
    days: int = 7,
    out_of_turn: bool = False,
    claim: ClaimType = ClaimType.NO_CONVENIENT_TIME,
) -> service.JoinRequest:
    return service.JoinRequest(
        mo_id=ADULT_MO,
        specialty_code=EYE_SPECIALTY,
        doctor_id=doctor_id,
        date_from=TOMORROW,
        date_to=TOMORROW + timedelta(days=days),
        claim_type=claim,
        phone=None,
        out_of_turn=out_of_turn,
    )


async def join(
    runtime: Runtime,
    patient_id: uuid.UUID,
    req: service.JoinRequest | None = None,
    *,
    channel: Channel = Channel.MOBILE,
) -> WaitlistEntry:
    async with booking.booking_unit(runtime, ctx_for(patient_id, channel)) as uow:
        return await service.join(uow, patient_id, req or request())


async def deliver_all(runtime: Runtime) -> None:
    """Every outbox row handled (the relay, then whatever it left: a handler's own follow-ups)."""
    for _ in range(10):
        await runtime.relay.drain()
        async with runtime.sessionmaker() as session:
            ids = list(await session.scalars(select(OutboxMessage.id).where(OutboxMessage.dispatched_at.is_(None))))
        if not ids:
            return
        for message_id in ids:
            await outbox.dispatch(runtime, message_id)


async def book_slot(env: BookingEnv, patient_id: uuid.UUID, index: int = 0) -> tuple[uuid.UUID, booking.SlotRef]:
    """Book the eye doctor's ``index``-th free slot of tomorrow for the patient: (appointment, its slot)."""
    ref = booking.parse_ref((await env.slot_refs(EYE))[index])
    async with booking.booking_unit(env.runtime, ctx_for(patient_id)) as uow:
        appointment = await booking.book_now(uow, patient_id, ref)
    return appointment.id, ref


async def cancel(env: BookingEnv, patient_id: uuid.UUID, appointment_id: uuid.UUID) -> None:
    async with booking.booking_unit(env.runtime, ctx_for(patient_id)) as uow:
        await booking.cancel(uow, patient_id, appointment_id)
    await deliver_all(env.runtime)


async def offers(runtime: Runtime, slot_id: str) -> list[WaitlistOffer]:
    async with runtime.sessionmaker() as session:
        return list(
            await session.scalars(
                select(WaitlistOffer).where(WaitlistOffer.slot_id == slot_id).order_by(WaitlistOffer.created_at)
            )
        )


async def live_offer(runtime: Runtime, slot_id: str) -> WaitlistOffer | None:
    return next((o for o in await offers(runtime, slot_id) if o.status == "offered"), None)


async def entries_with_offers(runtime: Runtime, patient_id: uuid.UUID, count: int) -> None:
    """``count`` entries of the patient at different clinics, each but the first with a live offer (rows as
    the service writes them; for the statement counts)."""
    at = booking.now(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        base = int(await session.scalar(select(func.coalesce(func.max(WaitlistEntry.seq), 0))) or 0)
        for i in range(count):
            entry = WaitlistEntry(
                id=uuid.uuid4(), patient_id=patient_id, seq=base + i + 1, priority=0, mo_id=f"mo-{i}-{base}",
                mo_name="Поликлиника", specialty_code=EYE_SPECIALTY, specialty_name="Офтальмолог", doctor_id=None,
                doctor_name=None, date_from=TOMORROW, date_to=TOMORROW + timedelta(days=7), claim_type=2,
                phone="+79001234567", hub_claim_guid=str(uuid.uuid4()), status="offered" if i else "waiting",
                appointment_id=None, channel="mobile", actor_kind="patient", actor_id=str(patient_id), created_at=at,
                updated_at=at,
            )  # fmt: skip
            session.add(entry)
            if i:
                session.add(
                    WaitlistOffer(
                        id=uuid.uuid4(), entry_id=entry.id, patient_id=patient_id, mo_id=entry.mo_id, doctor_id=EYE,
                        specialty_code=EYE_SPECIALTY, slot_id=f"slot-{i}", slot_start=at + timedelta(days=1),
                        slot_end=at + timedelta(days=1, minutes=15), hold_id=uuid.uuid4(), status="offered",
                        reason=None, expires_at=at + timedelta(minutes=15), appointment_id=None, created_at=at,
                        closed_at=None,
                    )
                )  # fmt: skip
