"""The fairness rules of backend/waitlist/service (its docstring): first come, first served within a priority;
out of turn only by an operator; doctor and date range respected; those who cannot take a slot passed over,
not dropped; a slot too close is not offered. Run on both dialects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.booking import service as booking
from backend.core.context import Channel
from backend.waitlist import service
from backend.waitlist.models import EntryStatus, OfferStatus, WaitlistEntry
from backend.waitlist.problems import ProblemError
from integrations.fer.waiting_list import ClaimType, claims_of
from tests.support.booking import EYE, TOMORROW, BookingEnv, ctx_for
from tests.support.waitlist import book_slot, cancel, deliver_all, join, live_offer, offers, request

pytestmark = pytest.mark.dialect


async def test_out_of_turn_first_then_first_come_first_served(env: BookingEnv) -> None:
    runtime = env.runtime
    holder = await env.patient(100)
    appointment_id, ref = await book_slot(env, holder.id)
    early, middle, priority = await env.patient(0), await env.patient(1), await env.patient(2)
    await join(runtime, early.id)
    await join(runtime, middle.id, request(doctor_id=None))  # any eye doctor
    await join(runtime, priority.id, request(out_of_turn=True), channel=Channel.CALLCENTRE)  # joined last
    await cancel(env, holder.id, appointment_id)

    order = []
    for _ in range(3):
        offer = await live_offer(runtime, ref.slot_id)
        assert offer is not None
        order.append(offer.patient_id)
        env.clock.advance(minutes=16)
        await service.expire_offers(runtime)
        await deliver_all(runtime)
    assert order == [priority.id, early.id, middle.id]


async def test_only_an_operator_marks_the_out_of_turn_right(env: BookingEnv) -> None:
    patient = await env.patient(0)
    with pytest.raises(ProblemError) as refused:
        await join(env.runtime, patient.id, request(out_of_turn=True))
    assert refused.value.problem.code == "INVALID_INPUT"
    assert "оператор 122" in refused.value.problem.message


async def test_doctor_and_date_range_are_respected(env: BookingEnv) -> None:
    runtime = env.runtime
    holder = await env.patient(100)
    appointment_id, ref = await book_slot(env, holder.id)
    later, fits = await env.patient(1), await env.patient(2)
    with pytest.raises(ProblemError) as unknown:  # a doctor who does not see this specialty here
        await join(runtime, later.id, request(doctor_id="doc-ter-1"))
    assert unknown.value.problem.code == "INVALID_INPUT"
    # A range that starts after the slot's day does not fit it.
    late = request()
    late = service.JoinRequest(**{**late.__dict__, "date_from": TOMORROW + timedelta(days=1)})
    await join(runtime, later.id, late)
    await join(runtime, fits.id)
    await cancel(env, holder.id, appointment_id)
    offer = await live_offer(runtime, ref.slot_id)
    assert offer is not None and offer.patient_id == fits.id
    assert later.id not in {o.patient_id for o in await offers(runtime, ref.slot_id)}


async def test_someone_who_cannot_take_the_slot_is_passed_over_and_keeps_their_place(env: BookingEnv) -> None:
    runtime = env.runtime
    holder, busy, next_one = await env.patient(100), await env.patient(0), await env.patient(1)
    appointment_id, ref = await book_slot(env, holder.id, 0)
    await join(runtime, busy.id)
    await join(runtime, next_one.id)
    await book_slot(env, busy.id, 1)  # meanwhile the first in line booked another eye appointment
    await cancel(env, holder.id, appointment_id)
    trail = await offers(runtime, ref.slot_id)
    assert [(o.patient_id, o.status, o.reason) for o in trail] == [
        (busy.id, OfferStatus.PASSED.value, "SAME_SPECIALTY_ACTIVE"),
        (next_one.id, OfferStatus.OFFERED.value, None),
    ]
    async with runtime.sessionmaker() as session:
        entry = await session.scalar(select(WaitlistEntry).where(WaitlistEntry.patient_id == busy.id))
    assert entry is not None and entry.status == EntryStatus.WAITING.value


async def test_a_slot_starting_too_soon_is_not_offered(env: BookingEnv) -> None:
    runtime = env.runtime
    holder, waiting = await env.patient(100), await env.patient(0)
    appointment_id, ref = await book_slot(env, holder.id)
    await join(runtime, waiting.id)
    slot_start = booking.to_utc(runtime, env.state.active_booking(ref.slot_id).visit_start)  # type: ignore[union-attr]
    env.clock.now = slot_start.astimezone(env.clock.now.tzinfo) - timedelta(minutes=10)
    await cancel(env, holder.id, appointment_id)
    assert await offers(runtime, ref.slot_id) == []


async def test_leaving_passes_a_live_offer_on(env: BookingEnv) -> None:
    runtime = env.runtime
    holder, first, second = await env.patient(100), await env.patient(0), await env.patient(1)
    appointment_id, ref = await book_slot(env, holder.id)
    entry = await join(runtime, first.id)
    await join(runtime, second.id)
    await cancel(env, holder.id, appointment_id)
    async with booking.booking_unit(runtime, ctx_for(first.id)) as uow:
        left = await service.leave(uow, first.id, entry.id)
    assert left.status == EntryStatus.LEFT.value
    await deliver_all(runtime)
    offer = await live_offer(runtime, ref.slot_id)
    assert offer is not None and offer.patient_id == second.id


async def test_joining_checks(env: BookingEnv) -> None:
    runtime = env.runtime
    patient = await env.patient(0)

    # "No tickets" while the eye doctor has free slots in the range: book instead.
    with pytest.raises(ProblemError) as refused:
        await join(runtime, patient.id, request(claim=ClaimType.NO_TICKETS))
    assert refused.value.problem.code == "WAITLIST_SLOTS_AVAILABLE"
    entry = await join(runtime, patient.id)
    [claim] = claims_of(env.state)
    assert (claim.guid, claim.doctor_id, claim.specialty_id) == (entry.hub_claim_guid, EYE, "46")
    with pytest.raises(ProblemError) as again:
        await join(runtime, patient.id)
    assert again.value.problem.code == "WAITLIST_ALREADY_WAITING"
    past = service.JoinRequest(**{**request().__dict__, "date_from": TOMORROW - timedelta(days=3)})
    with pytest.raises(ProblemError) as bad:
        await join(runtime, patient.id, past)
    assert bad.value.problem.code == "INVALID_INPUT"
