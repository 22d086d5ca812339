"""Issue 26, item 2: a row claimed just before a fault does not wait out a long lease."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from backend.core.db import utcnow
from backend.outbox import service as outbox
from backend.runtime import Runtime
from tests.support import testschema

pytestmark = pytest.mark.dialect


@pytest.fixture(autouse=True)
def _reset() -> None:
    testschema.DELIVERIES.clear()
    testschema.FAILURES_LEFT["count"] = 0


async def test_a_row_whose_release_is_lost_is_due_again_within_a_minute(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    testschema.FAILURES_LEFT["count"] = 1
    async with runtime.sessionmaker() as session, session.begin():  # committed, not relayed: dispatched here
        message_id = outbox.add(session, testschema.TOPIC, {"n": 1})

    async def database_gone(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("connection to the database lost")

    monkeypatch.setattr(outbox, "_release", database_gone)
    assert await outbox.dispatch(runtime, message_id) is outbox.Outcome.FAILED  # reported, not raised
    monkeypatch.undo()

    claimed_at = utcnow()
    assert message_id not in await outbox.pending_ids(runtime.sessionmaker, older_than=timedelta(0), now=claimed_at)
    later = claimed_at + timedelta(minutes=1)
    assert message_id in await outbox.pending_ids(runtime.sessionmaker, older_than=timedelta(0), now=later)
    assert await outbox.dispatch(runtime, message_id) is outbox.Outcome.SKIPPED  # still held right now
    assert not testschema.DELIVERIES


async def test_the_lease_is_as_short_as_three_upstream_timeouts(runtime: Runtime) -> None:
    settings = runtime.settings
    assert outbox.lease_for(settings.model_copy(update={"upstream_timeout_s": 2.0})) == timedelta(seconds=30)
    assert outbox.lease_for(settings.model_copy(update={"upstream_timeout_s": 60.0})) == timedelta(seconds=180)
