"""A push's positions commit without waiting for the WAL flush on PostgreSQL (``set_config`` in its UPDATE,
for that transaction only); a position that also asks for a recovery, the setting turned off, or SQLite:
the ordinary durable commit."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text

from backend.ambulance.service import feed
from backend.core.hot import HotStatement
from tests.support.ambulance import SmpEnv, person


def _spy(used: list[tuple[str, str | None]], name: str, statement: HotStatement, postgresql: bool) -> Any:
    async def many(session: Any, params: list[dict[str, Any]]) -> None:
        await statement.many(session, params)
        if params:
            setting = (await session.execute(text("SHOW synchronous_commit"))).scalar() if postgresql else None
            used.append((name, setting))

    return SimpleNamespace(many=many)


@pytest.mark.dialect
async def test_a_lone_position_commits_asynchronously_and_nothing_else_does(
    smp: SmpEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = smp.runtime
    postgresql = runtime.engine.dialect.name == "postgresql"
    used: list[tuple[str, str | None]] = []
    monkeypatch.setattr(feed, "_MOVE", _spy(used, "durable", feed._MOVE, postgresql))
    monkeypatch.setattr(feed, "_MOVE_ASYNC_COMMIT", _spy(used, "async", feed._MOVE_ASYNC_COMMIT, postgresql))
    caller = await person(runtime)
    call_id = smp.call_from(caller)
    await smp.until("en_route", call_id)
    await smp.advance(seconds=30)
    assert used and set(used) == ({("async", "off")} if postgresql else {("durable", None)})
    async with runtime.sessionmaker() as session, session.begin():
        if postgresql:  # the setting was the transaction's own
            assert (await session.execute(text("SHOW synchronous_commit"))).scalar() == "on"

    last = next(e for e in reversed(smp.sim.call(call_id).events) if e.position is not None)
    assert last.position is not None
    used.clear()
    later = replace(last.position, ts=last.position.ts + timedelta(seconds=5))
    gap = replace(last, seq=last.seq + 5, position=later)  # a gap: the transaction also queues a recovery
    assert await feed.apply_position(runtime, gap)
    monkeypatch.setattr(runtime.settings, "ambulance_position_async_commit", False)
    off = replace(last, seq=last.seq + 6, position=replace(later, ts=later.ts + timedelta(seconds=5)))
    assert await feed.apply_position(runtime, off)
    assert used == [("durable", "on" if postgresql else None)] * 2
