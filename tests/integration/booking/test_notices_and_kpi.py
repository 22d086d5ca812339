"""The patient is told of a cancellation and of a reschedule; the remote-booking share counts a
rescheduled booking once and a cancelled one not at all."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from backend.booking import service
from backend.core.context import Channel
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from notifications import service as notifications
from tests.support.booking import EYE, TODAY, BookingEnv, ctx_for, env

pytestmark = pytest.mark.dialect
_ = env  # the fixture


async def _notices(runtime: Runtime, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    async with runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.topic == notifications.TOPIC).order_by(OutboxMessage.created_at)
        )
        return [dict(r.payload) for r in rows if r.payload["patient_id"] == str(patient_id)]


async def _book(env: BookingEnv, patient_id: uuid.UUID, ref: service.SlotRef, channel: Channel) -> uuid.UUID:
    async with service.booking_unit(env.runtime, ctx_for(patient_id, channel)) as uow:
        return (await service.book_now(uow, patient_id, ref)).id


async def test_a_cancellation_and_a_reschedule_are_told_to_the_patient(env: BookingEnv) -> None:
    rt = env.runtime
    patient = await env.patient(0)
    refs = [service.parse_ref(r) for r in await env.slot_refs()]
    eye = service.parse_ref((await env.slot_refs(EYE))[0])
    moved = await _book(env, patient.id, refs[0], Channel.MOBILE)
    cancelled = await _book(env, patient.id, eye, Channel.MOBILE)
    async with service.booking_unit(rt, ctx_for(patient.id)) as uow:
        new = await service.reschedule(uow, patient.id, moved, refs[1])
    async with service.booking_unit(rt, ctx_for(patient.id)) as uow:
        await service.cancel(uow, patient.id, cancelled)
    await rt.relay.drain()

    notices = {n["dedupe_key"]: n for n in await _notices(rt, patient.id)}
    rescheduled = notices[f"appointment:{new.id}:rescheduled"]
    assert rescheduled["event"] == "appointment.rescheduled"
    assert rescheduled["data"]["old_starts_at"] < rescheduled["data"]["starts_at"]
    assert f"appointment:{new.id}:booked" not in notices  # one notice for the move, not a new booking's
    gone = notices[f"appointment:{cancelled}:cancelled"]
    assert gone["event"] == "appointment.cancelled" and gone["data"]["by_clinic"] is False


async def test_the_remote_booking_share_counts_a_reschedule_once_and_no_cancelled_booking(env: BookingEnv) -> None:
    rt = env.runtime
    refs = [service.parse_ref(r) for r in await env.slot_refs()]
    mobile, operator, kiosk = [await env.patient(i) for i in range(3)]
    moved = await _book(env, mobile.id, refs[0], Channel.MOBILE)
    dropped = await _book(env, operator.id, refs[1], Channel.CALLCENTRE)
    await _book(env, kiosk.id, refs[2], Channel.KIOSK)
    async with service.booking_unit(rt, ctx_for(mobile.id)) as uow:  # moved twice: still one booking
        again = await service.reschedule(uow, mobile.id, moved, refs[3])
    async with service.booking_unit(rt, ctx_for(mobile.id)) as uow:
        await service.reschedule(uow, mobile.id, again.id, refs[4])
    async with service.booking_unit(rt, ctx_for(operator.id, Channel.CALLCENTRE)) as uow:
        await service.cancel(uow, operator.id, dropped)
    await rt.relay.drain()

    start = datetime.combine(TODAY, time.min, tzinfo=UTC)
    async with rt.sessionmaker() as session:
        kpi = await service.remote_booking_share(session, start, start + timedelta(days=1))
    assert (kpi.total, kpi.remote) == (2, 1)
    assert {c.channel: c.count for c in kpi.by_channel if c.count} == {"mobile": 1, "kiosk": 1}
