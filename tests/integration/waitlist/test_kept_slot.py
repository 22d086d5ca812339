"""A freed slot is kept for the waitlist from the moment it is freed: nobody outside the line books it before
the offer is made, while it runs, or between an expired offer and the next one (booking's bridge hold,
``backend/booking/service/hooks.py``). Concurrent attempts on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from backend.booking import service as booking
from backend.booking.models import Appointment, HoldStatus, SlotHold
from backend.booking.problems import ProblemError as BookingProblemError
from backend.booking.service import hooks
from backend.runtime import Runtime
from backend.waitlist import service
from tests.support.booking import BookingEnv, ctx_for
from tests.support.waitlist import book_slot, cancel, deliver_all, join, live_offer

STRANGERS = 6


async def _book_directly(env: BookingEnv, patient_id: uuid.UUID, ref: booking.SlotRef) -> str:
    try:
        async with booking.booking_unit(env.runtime, ctx_for(patient_id)) as uow:
            await booking.book_now(uow, patient_id, ref, use_marker=False)
        return "booked"
    except BookingProblemError as exc:
        return exc.problem.code


async def _hold(env: BookingEnv, patient_id: uuid.UUID, ref: booking.SlotRef) -> str:
    try:
        async with booking.booking_unit(env.runtime, ctx_for(patient_id)) as uow:
            await booking.hold_slot(uow, patient_id, ref)
        return "held"
    except BookingProblemError as exc:
        return exc.problem.code


async def _live_appointments(runtime: Runtime, slot_id: str) -> list[uuid.UUID]:
    async with runtime.sessionmaker() as session:
        return list(
            await session.scalars(
                select(Appointment.patient_id).where(Appointment.slot_id == slot_id, Appointment.status == "booked")
            )
        )


async def test_the_moment_between_the_cancellation_and_the_offer_belongs_to_the_line(env: BookingEnv) -> None:
    """A stranger books (and holds) exactly between the commit that frees the slot and the waitlist's hook:
    refused, and the first in line is offered the slot."""
    runtime = env.runtime
    holder, first, stranger = await env.patient(100), await env.patient(0), await env.patient(101)
    appointment_id, ref = await book_slot(env, holder.id)
    await join(runtime, first.id)
    seen: list[str] = []
    original, keeps = hooks._SLOT_FREED["waitlist"], "waitlist" in hooks._KEEPERS

    async def stranger_first(rt: Runtime, freed: booking.FreedSlot) -> None:
        seen.append(await _book_directly(env, stranger.id, ref))
        seen.append(await _hold(env, stranger.id, ref))
        await original(rt, freed)

    booking.on_slot_freed("waitlist", stranger_first, keeps_slot=keeps)
    try:
        await cancel(env, holder.id, appointment_id)
    finally:
        booking.on_slot_freed("waitlist", original, keeps_slot=keeps)
    assert seen == ["SLOT_TAKEN", "SLOT_TAKEN"]
    offer = await live_offer(runtime, ref.slot_id)
    assert offer is not None and offer.patient_id == first.id
    async with runtime.sessionmaker() as session:
        held = list(
            await session.scalars(
                select(SlotHold).where(SlotHold.slot_id == ref.slot_id, SlotHold.status == HoldStatus.HELD.value)
            )
        )
    assert [h.id for h in held] == [offer.hold_id]  # the bridge is gone, the offer's hold keeps the slot


async def test_nobody_waiting_the_slot_is_free_at_once(env: BookingEnv) -> None:
    runtime = env.runtime
    holder, stranger = await env.patient(100), await env.patient(101)
    appointment_id, ref = await book_slot(env, holder.id)
    await cancel(env, holder.id, appointment_id)  # the hook finds nobody: the bridge is let go
    async with runtime.sessionmaker() as session:
        bridges = list(
            await session.scalars(
                select(SlotHold.status).where(
                    SlotHold.slot_id == ref.slot_id, SlotHold.actor_id == booking.BRIDGE_ACTOR
                )
            )
        )
    assert bridges == [HoldStatus.RELEASED.value]
    assert await _book_directly(env, stranger.id, ref) == "booked"


async def test_concurrent_strangers_never_take_an_offered_slot(env: BookingEnv) -> None:
    """The cancellation relayed while strangers keep trying the slot; then the offer expires while they keep
    trying: every attempt refused, the line's first and then second are offered it, and only the second's
    acceptance makes an appointment."""
    runtime = env.runtime
    holder = await env.patient(100)
    line = [await env.patient(i) for i in range(2)]
    strangers = [await env.patient(200 + i) for i in range(STRANGERS)]
    appointment_id, ref = await book_slot(env, holder.id)
    for p in line:
        await join(runtime, p.id)
    async with booking.booking_unit(runtime, ctx_for(holder.id)) as uow:
        await booking.cancel(uow, holder.id, appointment_id)

    async def keep_trying(patient_id: uuid.UUID) -> list[str]:
        outcomes = []
        for _ in range(3):
            outcomes.append(await _book_directly(env, patient_id, ref))
            await asyncio.sleep(0)
        return outcomes

    results = await asyncio.gather(deliver_all(runtime), *(keep_trying(s.id) for s in strangers))
    assert {o for r in results[1:] for o in r} == {"SLOT_TAKEN"}, results
    first = await live_offer(runtime, ref.slot_id)
    assert first is not None and first.patient_id == line[0].id

    env.clock.advance(minutes=16)  # the offer's time is over; the hold outlives it until the sweep passes it on

    async def expire_and_pass() -> None:
        assert await service.expire_offers(runtime) == 1
        await deliver_all(runtime)

    results = await asyncio.gather(expire_and_pass(), *(keep_trying(s.id) for s in strangers))
    assert {o for r in results[1:] for o in r} == {"SLOT_TAKEN"}, results
    second = await live_offer(runtime, ref.slot_id)
    assert second is not None and second.patient_id == line[1].id
    async with booking.booking_unit(runtime, ctx_for(line[1].id)) as uow:
        _, appointment = await service.accept(uow, line[1].id, second.id)
    assert await _live_appointments(runtime, ref.slot_id) == [line[1].id]
    assert env.state.active_booking(ref.slot_id) is not None
    async with runtime.sessionmaker() as session:
        live_holds = await session.scalar(
            select(func.count())
            .select_from(SlotHold)
            .where(SlotHold.slot_id == ref.slot_id, SlotHold.status == HoldStatus.HELD.value)
        )
    assert live_holds == 0 and appointment.patient_id == line[1].id


async def test_a_clinic_cancellation_seen_by_the_sync_is_kept_for_the_line(env: BookingEnv) -> None:
    """The hub's history says the clinic cancelled: the status sync frees the slot with a bridge hold, and
    the line's first is offered it; a stranger between the sync and the offer is refused."""
    runtime = env.runtime
    holder, first, stranger = await env.patient(100), await env.patient(0), await env.patient(101)
    appointment_id, ref = await book_slot(env, holder.id)
    await join(runtime, first.id)
    env.state.cancel_by_mo(ref.slot_id)
    seen: list[str] = []
    original, keeps = hooks._SLOT_FREED["waitlist"], "waitlist" in hooks._KEEPERS

    async def stranger_first(rt: Runtime, freed: booking.FreedSlot) -> None:
        seen.append(await _book_directly(env, stranger.id, ref))
        await original(rt, freed)

    booking.on_slot_freed("waitlist", stranger_first, keeps_slot=keeps)
    try:
        report = await booking.sync_statuses(runtime, min_interval=timedelta(0))
    finally:
        booking.on_slot_freed("waitlist", original, keeps_slot=keeps)
    assert report.cancelled_by_mo == [appointment_id]
    assert seen == ["SLOT_TAKEN"]
    offer = await live_offer(runtime, ref.slot_id)
    assert offer is not None and offer.patient_id == first.id
