"""The outbox: rolled-back rows are never delivered; committed ones are delivered once, whatever the
relay does twice; failures are retried with backoff and end in a dead-letter state."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.core.context import RequestContext
from backend.core.db import utcnow
from backend.core.uow import UnitOfWork
from backend.outbox import service as outbox
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from tests.support import testschema

pytestmark = pytest.mark.dialect

CTX = RequestContext.for_system("test")


async def _emit(runtime: Runtime, *, commit: bool) -> uuid.UUID:
    async with UnitOfWork(runtime, CTX) as uow:
        message_id = uow.emit(testschema.TOPIC, {"n": 1})
        if not commit:
            uow.fail()
    return message_id


@pytest.fixture(autouse=True)
def _reset() -> None:
    testschema.DELIVERIES.clear()
    testschema.FAILURES_LEFT["count"] = 0


async def test_rolled_back_row_is_never_delivered(runtime: Runtime) -> None:
    message_id = await _emit(runtime, commit=False)
    await runtime.relay.drain()
    assert await outbox.dispatch(runtime, message_id) is outbox.Outcome.SKIPPED
    assert await outbox.sweep(runtime, older_than=timedelta(0)) == 0
    assert not testschema.DELIVERIES


async def test_committed_row_is_delivered_once_when_relayed_twice(runtime: Runtime) -> None:
    message_id = await _emit(runtime, commit=True)  # relayed after commit
    await runtime.relay.enqueue([message_id, message_id])  # and twice more, concurrently
    await asyncio.gather(outbox.dispatch(runtime, message_id), outbox.dispatch(runtime, message_id))
    await runtime.relay.drain()
    assert await outbox.sweep(runtime, older_than=timedelta(0)) == 0
    assert testschema.DELIVERIES[message_id] == 1
    async with runtime.sessionmaker() as session:
        row = await session.get_one(OutboxMessage, message_id)
    assert row.dispatched_at is not None


async def test_failed_handler_is_retried_by_the_sweep_then_delivered(runtime: Runtime) -> None:
    testschema.FAILURES_LEFT["count"] = 1
    message_id = await _emit(runtime, commit=True)
    await runtime.relay.drain()
    assert testschema.DELIVERIES[message_id] == 0
    # Not due yet: the backoff of attempt 1 has not elapsed.
    assert message_id not in await outbox.pending_ids(runtime.sessionmaker, older_than=timedelta(0))
    later = utcnow() + timedelta(seconds=outbox.retry_delay(1) + 1)
    assert message_id in await outbox.pending_ids(runtime.sessionmaker, older_than=timedelta(0), now=later)
    assert await outbox.dispatch(runtime, message_id) is outbox.Outcome.DISPATCHED
    assert testschema.DELIVERIES[message_id] == 1


async def test_last_failure_goes_to_dead_letter(runtime: Runtime) -> None:
    testschema.FAILURES_LEFT["count"] = outbox.MAX_ATTEMPTS + 5
    message_id = await _emit(runtime, commit=True)
    await runtime.relay.drain()  # attempt 1, by the after-commit relay
    outcomes = [await outbox.dispatch(runtime, message_id) for _ in range(outbox.MAX_ATTEMPTS - 1)]
    assert outcomes[:-1] == [outbox.Outcome.FAILED] * (outbox.MAX_ATTEMPTS - 2)
    assert outcomes[-1] is outbox.Outcome.DEAD
    assert await outbox.dispatch(runtime, message_id) is outbox.Outcome.SKIPPED
    async with runtime.sessionmaker() as session:
        row = (await session.scalars(select(OutboxMessage).where(OutboxMessage.id == message_id))).one()
    assert row.dead_at is not None
    assert row.attempts == outbox.MAX_ATTEMPTS
    assert "provider down" in (row.last_error or "")
    assert not testschema.DELIVERIES


async def test_missed_relay_is_recovered_by_the_sweep(runtime: Runtime) -> None:
    # Written and committed directly, as if the process died before its after-commit relay.
    async with runtime.sessionmaker() as session, session.begin():
        message_id = outbox.add(session, testschema.TOPIC, {"n": 2})
    assert await outbox.sweep(runtime, older_than=timedelta(0)) == 1
    await runtime.relay.drain()
    assert testschema.DELIVERIES[message_id] == 1


async def test_unknown_topic_is_refused_at_write_time(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="no handler"):
        async with UnitOfWork(runtime, CTX) as uow:
            uow.emit("no.such.topic", {})
    async with runtime.sessionmaker() as session:
        assert (await session.scalars(select(OutboxMessage))).all() == []
