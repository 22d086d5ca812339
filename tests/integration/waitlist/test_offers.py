"""A freed slot and the waitlist: offers in line order, concurrent acceptances, expiry releasing the hold.

The issue's test: a freed slot with 50 people on the waitlist and concurrent acceptances → exactly one
appointment; offers move down the line in order; expired offers release the hold.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from backend.booking import service as booking
from backend.booking.models import Appointment, HoldStatus, SlotHold
from backend.booking.problems import ProblemError as BookingProblemError
from backend.waitlist import service
from backend.waitlist.models import EntryStatus, OfferStatus, WaitlistEntry
from backend.waitlist.problems import ProblemError
from tests.support.booking import BookingEnv, ctx_for
from tests.support.waitlist import book_slot, cancel, deliver_all, join, live_offer, offers

LINE = 50


async def _hold_status(env: BookingEnv, hold_id: uuid.UUID | None) -> str:
    assert hold_id is not None
    async with env.runtime.sessionmaker() as session:
        hold = await session.get(SlotHold, hold_id)
    assert hold is not None
    return hold.status


async def _line(env: BookingEnv) -> list[WaitlistEntry]:
    async with env.runtime.sessionmaker() as session:
        return list(await session.scalars(select(WaitlistEntry).order_by(WaitlistEntry.seq)))


async def _accept(env: BookingEnv, patient_id: uuid.UUID, offer_id: uuid.UUID) -> str:
    try:
        async with booking.booking_unit(env.runtime, ctx_for(patient_id)) as uow:
            _, appointment = await service.accept(uow, patient_id, offer_id)
        return f"booked:{appointment.id}"
    except (ProblemError, BookingProblemError) as exc:
        return exc.problem.code


async def _book_directly(env: BookingEnv, patient_id: uuid.UUID, ref: booking.SlotRef) -> str:
    try:
        async with booking.booking_unit(env.runtime, ctx_for(patient_id)) as uow:
            await booking.book_now(uow, patient_id, ref, use_marker=False)
        return "booked"
    except BookingProblemError as exc:
        return exc.problem.code


async def test_fifty_in_line_concurrent_acceptances_make_exactly_one_appointment(env: BookingEnv) -> None:
    runtime = env.runtime
    holder = await env.patient(100)
    appointment_id, ref = await book_slot(env, holder.id)
    people = [await env.patient(i) for i in range(LINE)]
    # Fifty joins at once: each gets its own place (the unique seq), none is lost.
    await asyncio.gather(*(join(runtime, p.id) for p in people))
    line = await _line(env)
    assert len(line) == LINE and len({e.seq for e in line}) == LINE
    assert all(e.hub_claim_guid for e in line)  # the hub's GuidClaim for each

    await cancel(env, holder.id, appointment_id)  # the hub lets the slot go; booking's hook offers it

    offer = await live_offer(runtime, ref.slot_id)
    assert offer is not None and offer.entry_id == line[0].id  # the first in line
    assert await _hold_status(env, offer.hold_id) == HoldStatus.HELD.value
    first = line[0].patient_id
    others = [e.patient_id for e in line[1:11]]
    outcomes = await asyncio.gather(
        *(_accept(env, first, offer.id) for _ in range(5)),  # the offered person's repeated taps
        *(_accept(env, p, offer.id) for p in others),  # others trying the same offer
        *(_book_directly(env, p, ref) for p in others[:5]),  # others trying the slot itself
    )
    booked = [o for o in outcomes if o.startswith("booked")]
    assert len(booked) == 1, outcomes
    assert sorted(set(outcomes[:5]) - set(booked)) == ["WAITLIST_OFFER_CLOSED"]
    assert set(outcomes[5:15]) == {"WAITLIST_OFFER_NOT_FOUND"}
    assert set(outcomes[15:]) == {"SLOT_TAKEN"}
    async with runtime.sessionmaker() as session:
        live = await session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.slot_id == ref.slot_id, Appointment.status == "booked")
        )
        entry = await session.get(WaitlistEntry, line[0].id)
    assert live == 1
    assert env.state.active_booking(ref.slot_id) is not None
    assert entry is not None and entry.status == EntryStatus.BOOKED.value
    assert str(entry.appointment_id) == booked[0].removeprefix("booked:")
    await deliver_all(runtime)
    assert await live_offer(runtime, ref.slot_id) is None  # taken: nobody else is offered it


async def test_offers_move_down_the_line_and_expiry_releases_the_hold(env: BookingEnv) -> None:
    runtime = env.runtime
    holder = await env.patient(100)
    appointment_id, ref = await book_slot(env, holder.id)
    people = [await env.patient(i) for i in range(4)]
    for p in people:
        await join(runtime, p.id)
    line = await _line(env)
    await cancel(env, holder.id, appointment_id)

    # 1st: lets it expire. The sweep closes the offer; its hold keeps the slot (a bridge) until the 2nd is
    # offered it: a stranger cannot take it in between. Then the hold is released.
    first = await live_offer(runtime, ref.slot_id)
    assert first is not None and first.entry_id == line[0].id
    env.clock.advance(minutes=16)
    assert await service.expire_offers(runtime) == 1
    assert await _hold_status(env, first.hold_id) == HoldStatus.HELD.value
    stranger = await env.patient(101)
    assert await _book_directly(env, stranger.id, ref) == "SLOT_TAKEN"
    await deliver_all(runtime)
    assert await _hold_status(env, first.hold_id) == HoldStatus.RELEASED.value
    second = await live_offer(runtime, ref.slot_id)
    assert second is not None and second.entry_id == line[1].id
    assert await _accept(env, people[0].id, first.id) == "WAITLIST_OFFER_EXPIRED"  # the 1st's offer is over

    # 2nd: declines. The 3rd is offered; the 2nd keeps their place for the next slot.
    env.clock.advance(minutes=1)
    async with booking.booking_unit(runtime, ctx_for(line[1].patient_id)) as uow:
        await service.decline(uow, line[1].patient_id, second.id)
    await deliver_all(runtime)
    assert await _hold_status(env, second.hold_id) == HoldStatus.RELEASED.value
    third = await live_offer(runtime, ref.slot_id)
    assert third is not None and third.entry_id == line[2].id

    # 3rd: accepts and declines at once: one of the two wins, never both.
    outcomes = await asyncio.gather(
        _accept(env, line[2].patient_id, third.id), _decline(env, line[2].patient_id, third.id)
    )
    assert sorted(o.split(":")[0] for o in outcomes) in (
        ["WAITLIST_OFFER_CLOSED", "booked"],
        ["WAITLIST_OFFER_CLOSED", "declined"],
    ), outcomes
    await deliver_all(runtime)
    trail = await offers(runtime, ref.slot_id)
    assert [o.entry_id for o in trail][:3] == [line[0].id, line[1].id, line[2].id]
    assert [o.status for o in trail][:2] == [OfferStatus.EXPIRED.value, OfferStatus.DECLINED.value]
    # Nobody was offered this slot twice.
    assert len({o.entry_id for o in trail}) == len(trail)
    async with runtime.sessionmaker() as session:
        statuses = {e.id: e.status for e in await session.scalars(select(WaitlistEntry))}
    assert statuses[line[0].id] == statuses[line[1].id] == EntryStatus.WAITING.value  # places kept


async def _decline(env: BookingEnv, patient_id: uuid.UUID, offer_id: uuid.UUID) -> str:
    try:
        async with booking.booking_unit(env.runtime, ctx_for(patient_id)) as uow:
            await service.decline(uow, patient_id, offer_id)
        return "declined"
    except ProblemError as exc:
        return exc.problem.code


async def test_when_the_whole_line_lets_it_pass_the_slot_is_free_again(env: BookingEnv) -> None:
    runtime = env.runtime
    holder = await env.patient(100)
    appointment_id, ref = await book_slot(env, holder.id)
    people = [await env.patient(i) for i in range(2)]
    for p in people:
        await join(runtime, p.id)
    await cancel(env, holder.id, appointment_id)
    for _ in people:
        env.clock.advance(minutes=16)
        assert await service.expire_offers(runtime) == 1
        await deliver_all(runtime)
    trail = await offers(runtime, ref.slot_id)
    assert [o.status for o in trail] == [OfferStatus.EXPIRED.value] * 2
    assert await live_offer(runtime, ref.slot_id) is None  # nobody gets it twice
    stranger = await env.patient(101)
    assert await _book_directly(env, stranger.id, ref) == "booked"  # no hold left behind


async def test_an_acceptance_after_the_time_is_refused_and_the_sweep_moves_on(env: BookingEnv) -> None:
    runtime = env.runtime
    holder = await env.patient(100)
    appointment_id, ref = await book_slot(env, holder.id)
    people = [await env.patient(i) for i in range(2)]
    for p in people:
        await join(runtime, p.id)
    await cancel(env, holder.id, appointment_id)
    offer = await live_offer(runtime, ref.slot_id)
    assert offer is not None
    env.clock.advance(minutes=15, seconds=1)
    assert await _accept(env, people[0].id, offer.id) == "WAITLIST_OFFER_EXPIRED"
    assert await service.expire_offers(runtime) == 1
    assert await service.expire_offers(runtime) == 0  # idempotent
    await deliver_all(runtime)
    nxt = await live_offer(runtime, ref.slot_id)
    assert nxt is not None and nxt.patient_id == people[1].id
    assert nxt.expires_at == env.clock() + timedelta(minutes=15)
