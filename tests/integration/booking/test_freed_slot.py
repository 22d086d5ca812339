"""A slot freed by a cancellation or a reschedule can be booked at once (the booking's marker goes with it)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from backend.booking import service
from backend.outbox import service as outbox
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from tests.support.booking import BookingEnv, ctx_for, env

pytestmark = pytest.mark.dialect
_ = env  # the fixture


async def _deliver_all(runtime: Runtime) -> None:
    await runtime.relay.drain()
    async with runtime.sessionmaker() as session:
        ids = list(await session.scalars(select(OutboxMessage.id).where(OutboxMessage.dispatched_at.is_(None))))
    for message_id in ids:
        await outbox.dispatch(runtime, message_id)


async def _book(env: BookingEnv, patient_id: uuid.UUID, ref: service.SlotRef) -> uuid.UUID:
    async with service.booking_unit(env.runtime, ctx_for(patient_id)) as uow:
        return (await service.book_now(uow, patient_id, ref)).id


async def test_a_cancelled_slot_is_bookable_at_once(env: BookingEnv) -> None:
    first, second = await env.patient(0), await env.patient(1)
    ref = service.parse_ref((await env.slot_refs())[0])
    appointment_id = await _book(env, first.id, ref)
    async with service.booking_unit(env.runtime, ctx_for(first.id)) as uow:
        await service.cancel(uow, first.id, appointment_id)
    await _deliver_all(env.runtime)  # the hub has let the slot go
    assert env.state.active_booking(ref.slot_id) is None

    booked = await _book(env, second.id, ref)  # no SlotTaken from the first booking's marker

    assert env.state.active_booking(ref.slot_id) is not None
    assert booked != appointment_id


async def test_a_slot_left_by_a_reschedule_is_bookable_at_once(env: BookingEnv) -> None:
    first, second = await env.patient(0), await env.patient(1)
    refs = [service.parse_ref(r) for r in await env.slot_refs()]
    appointment_id = await _book(env, first.id, refs[0])
    async with service.booking_unit(env.runtime, ctx_for(first.id)) as uow:
        await service.reschedule(uow, first.id, appointment_id, refs[1])
    await _deliver_all(env.runtime)
    assert env.state.active_booking(refs[0].slot_id) is None

    await _book(env, second.id, refs[0])

    assert env.state.active_booking(refs[0].slot_id) is not None
