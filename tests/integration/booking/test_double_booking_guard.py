"""The database alone refuses a double booking: the hub is asked once, and a hub that accepts anything
changes nothing.

Concurrent one-step bookings of one slot, the Redis marker switched off: each attempt's appointment row
claims the slot before the hub is asked, so the partial unique indexes (pinned by
``test_guard_indexes.py``) must turn every attempt but one away before its ``SetAppointment``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.booking import service
from backend.booking.models import Appointment
from backend.booking.problems import ProblemError
from backend.core.context import Channel
from backend.runtime import Runtime
from backend.settings import Settings
from tests.conftest import make_settings
from tests.support.booking import BookingEnv, ctx_for, start_env

pytestmark = pytest.mark.postgres_only

ATTEMPTS = 50
CHANNELS = (Channel.MOBILE, Channel.CALLCENTRE, Channel.KIOSK)


@pytest.fixture
async def pooled(settings: Settings) -> AsyncIterator[Runtime]:
    rt = Runtime.build(make_settings(settings.database_url, settings.redis_url, database_pool_size=20))
    try:
        yield rt
    finally:
        await rt.close()


def _hub_accepts_anything(env: BookingEnv) -> None:
    """The simulated hub books a slot even when it is taken (a hub whose own guard failed)."""
    state: Any = env.state
    real = state.book

    def book(mo_id: str, patient_id: str, appointment_id: str, **kwargs: Any) -> Any:
        state._taken.pop(appointment_id, None)
        return real(mo_id, patient_id, appointment_id, **kwargs)

    state.book = book


async def _attempt(env: BookingEnv, patient_id: uuid.UUID, channel: Channel, ref: str) -> object:
    try:
        async with service.booking_unit(env.runtime, ctx_for(patient_id, channel)) as uow:
            return await service.book_now(uow, patient_id, service.parse_ref(ref), use_marker=False)
    except ProblemError as exc:
        return exc.problem


@pytest.mark.parametrize("hub", ["strict", "accepts-anything"])
async def test_concurrent_bookings_of_one_slot_ask_the_hub_once(pooled: Runtime, hub: str) -> None:
    env = await start_env(pooled)
    if hub == "accepts-anything":
        _hub_accepts_anything(env)
    patients = [(await env.patient(i)).id for i in range(ATTEMPTS)]
    ref = (await env.slot_refs())[0]
    slot_id = service.SlotRef.decode(ref).slot_id
    calls_before = env.state.calls["SetAppointment"]

    results = await asyncio.gather(
        *(_attempt(env, p, CHANNELS[i % 3], ref) for i, p in enumerate(patients)), return_exceptions=True
    )
    await pooled.relay.drain()

    booked = [r for r in results if isinstance(r, Appointment)]
    refused = [r for r in results if isinstance(r, service.SlotTaken)]
    assert len(booked) == 1 and len(refused) == ATTEMPTS - 1, [r for r in results if r not in booked + refused]
    assert env.state.calls["SetAppointment"] - calls_before == 1  # the database refused the others first
    async with pooled.sessionmaker() as session:
        rows = await session.scalar(select(func.count()).select_from(Appointment).where(Appointment.slot_id == slot_id))
    assert rows == 1
    upstream = [b for b in env.state.bookings if b.appointment_id == slot_id]
    assert len(upstream) == 1 and upstream[0].patient_id == booked[0].hub_patient_id
