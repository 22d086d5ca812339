"""A booking whose COMMIT (or its answer) is lost on the way: neither lost nor a phantom.

A TCP proxy of the tests' own (:mod:`tests.support.pgproxy`) stands between the application and
PostgreSQL and loses the COMMIT of a transaction that inserted an appointment: either PostgreSQL's
answer (the booking is committed, the application does not know) or the COMMIT itself (PostgreSQL rolls
back). Either way the client is told «исход неизвестен, проверяем» (``OUTCOME_UNKNOWN``), compensation
cancels at the hub only what our database did not keep, and a repeat with the same idempotency key
answers the settled truth. Afterwards the patient's view, our database and the hub agree.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from backend.booking import schema, service
from backend.booking.models import LIVE_STATES, Appointment
from backend.outbox import service as outbox
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from backend.settings import Settings
from tests.conftest import make_settings
from tests.support.booking import BOOK, MINE, BookingEnv, call, key, start_env
from tests.support.client import app_client
from tests.support.identity import auth_headers, token_for
from tests.support.pgproxy import LoseCommit, PgProxy

pytestmark = pytest.mark.postgres_only


@pytest.fixture
async def proxy(settings: Settings) -> AsyncIterator[PgProxy]:
    proxy = await PgProxy("127.0.0.1", 5432).start()
    try:
        yield proxy
    finally:
        await proxy.close()


@pytest.fixture
async def proxied(settings: Settings, proxy: PgProxy) -> AsyncIterator[Runtime]:
    rt = Runtime.build(make_settings(proxy.url(settings.database_url), settings.redis_url))
    try:
        yield rt
    finally:
        await rt.close()


async def _deliver_all(runtime: Runtime) -> None:
    await runtime.relay.drain()
    async with runtime.sessionmaker() as session:
        ids = list(await session.scalars(select(OutboxMessage.id).where(OutboxMessage.dispatched_at.is_(None))))
    for message_id in ids:
        await outbox.dispatch(runtime, message_id)


async def _live_here(runtime: Runtime) -> dict[str, uuid.UUID]:
    """Slot id -> patient of every live appointment in our database."""
    async with runtime.sessionmaker() as session:
        rows = await session.execute(
            select(Appointment.slot_id, Appointment.patient_id).where(Appointment.status.in_(LIVE_STATES))
        )
    return {str(slot_id): patient_id for slot_id, patient_id in rows}


@pytest.mark.parametrize("mode", [LoseCommit.REPLY, LoseCommit.REQUEST], ids=["reply-lost", "commit-lost"])
async def test_a_lost_commit_makes_no_lost_and_no_phantom_booking(
    proxied: Runtime, proxy: PgProxy, mode: LoseCommit
) -> None:
    env: BookingEnv = await start_env(proxied)
    refs = await env.slot_refs()
    attempts = 3
    patients = [await env.patient(i) for i in range(attempts)]
    keys = [key() for _ in range(attempts)]
    slot_ids = [service.SlotRef.decode(refs[i]).slot_id for i in range(attempts)]
    async with app_client(proxied, [schema]) as client:
        for i, patient in enumerate(patients):
            proxy.arm(1, mode)
            headers = auth_headers(token_for(proxied, patient.id))
            first = await call(client, BOOK, headers, slot=refs[i], key=keys[i])
            assert first["__typename"] == "OutcomeUnknown", first
            assert first["code"] == "OUTCOME_UNKNOWN" and "Исход неизвестен, проверяем" in first["message"]
        assert proxy.lost == [mode] * attempts
        await _deliver_all(proxied)  # compensation: it decides what the hub keeps

        kept = await _live_here(proxied)
        if mode is LoseCommit.REPLY:  # committed: ours, and the hub's
            assert kept == {slot_ids[i]: p.id for i, p in enumerate(patients)}
        else:  # rolled back: nowhere
            assert kept == {}
        for slot_id in slot_ids:
            assert (env.state.active_booking(slot_id) is not None) == (slot_id in kept)

        # The same key again answers the settled truth: the booking kept, or (nothing was kept) a booking
        # made now; either way the patient's list, our database and the hub then say the same.
        for i, patient in enumerate(patients):
            headers = auth_headers(token_for(proxied, patient.id))
            again = await call(client, BOOK, headers, slot=refs[i], key=keys[i])
            assert again["__typename"] == "AppointmentBooked", again
            mine: Any = await call(client, MINE, headers, upcoming=True)
            assert [a["id"] for a in mine] == [again["appointment"]["id"]]
        await _deliver_all(proxied)

    kept = await _live_here(proxied)
    assert kept == {slot_ids[i]: p.id for i, p in enumerate(patients)}  # 0 lost
    for slot_id in slot_ids:
        assert env.state.active_booking(slot_id) is not None
    hub_active = {b.appointment_id for b in env.state.bookings if env.state.active_booking(b.appointment_id) is b}
    assert hub_active == set(kept)  # 0 phantom
    assert env.state.calls["SetAppointment"] == (attempts if mode is LoseCommit.REPLY else 2 * attempts)
