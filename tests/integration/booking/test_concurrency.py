"""200 concurrent attempts at one slot: exactly one appointment, every other attempt a typed SlotTaken.

The database's partial unique indexes are the guard; the Redis marker only turns attempts away early,
so one run switches it off to show that the database alone holds.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from backend.booking import service
from backend.booking.models import Appointment
from backend.booking.problems import ProblemError
from backend.core.context import Channel
from backend.runtime import Runtime
from backend.settings import Settings
from integrations.fer import BookingChannel, SlotUnavailable
from tests.conftest import make_settings
from tests.support.booking import ADULT_MO, THERAPIST, BookingEnv, ctx_for, start_env

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

CHANNELS = (Channel.MOBILE, Channel.CALLCENTRE, Channel.KIOSK)


@pytest.fixture
async def big_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = Runtime.build(make_settings(settings.database_url, settings.redis_url, database_pool_size=20))
    try:
        yield rt
    finally:
        await rt.close()


async def _attempt(env: BookingEnv, patient_id: uuid.UUID, channel: Channel, ref: str, *, marker: bool) -> object:
    try:
        async with service.booking_unit(env.runtime, ctx_for(patient_id, channel)) as uow:
            return await service.book_now(uow, patient_id, service.parse_ref(ref), use_marker=marker)
    except ProblemError as exc:
        return exc.problem


@pytest.mark.parametrize("marker", [True, False], ids=["with-redis-marker", "database-only"])
async def test_two_hundred_attempts_at_one_slot_make_one_appointment(big_runtime: Runtime, marker: bool) -> None:
    env = await start_env(big_runtime)
    patients = [(await env.patient(i)).id for i in range(200)]
    ref = (await env.slot_refs())[0]
    slot_id = service.SlotRef.decode(ref).slot_id

    results = await asyncio.gather(
        *(_attempt(env, p, CHANNELS[i % 3], ref, marker=marker) for i, p in enumerate(patients)),
        return_exceptions=True,
    )
    await big_runtime.relay.drain()

    booked = [r for r in results if isinstance(r, Appointment)]
    taken = [r for r in results if isinstance(r, service.SlotTaken)]
    others = [r for r in results if not isinstance(r, Appointment | service.SlotTaken)]
    assert others == []
    assert len(booked) == 1
    assert len(taken) == 199
    assert {t.code for t in taken} == {"SLOT_TAKEN"}
    async with big_runtime.sessionmaker() as session:
        rows = await session.scalar(select(func.count()).select_from(Appointment).where(Appointment.slot_id == slot_id))
    assert rows == 1
    # The hub agrees: one booking of that slot, by the winner.
    upstream = [b for b in env.state.bookings if b.appointment_id == slot_id]
    assert len(upstream) == 1
    assert env.state.active_booking(slot_id) is upstream[0]
    assert upstream[0].mo_id == ADULT_MO and upstream[0].doctor_id == THERAPIST


async def test_the_hub_alone_also_refuses_a_second_booking(big_runtime: Runtime) -> None:
    """Upstream uniqueness: with our database bypassed (distinct MO ids in our rows are impossible, so call
    the hub directly), 200 concurrent SetAppointment calls on one slot make one booking."""
    env = await start_env(big_runtime)
    people = env.region.people[:200]
    ids = [
        (await env.client.check_patient(ADULT_MO, oms_policy=p.oms_policy, birth_date=p.birth_date)).patient_id
        for p in people
    ]
    slot = (await env.client.get_slots(ADULT_MO, THERAPIST, env.clock.now.date(), env.clock.now.date()))[0]
    results = await asyncio.gather(
        *(env.client.book(ADULT_MO, pid, slot.id, channel=BookingChannel.INTERNET) for pid in ids),
        return_exceptions=True,
    )
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 1
    assert sum(1 for r in results if isinstance(r, SlotUnavailable)) == 199
