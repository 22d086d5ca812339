"""The PostgreSQL pool pings only connections that sat idle, and replaces one the server dropped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.core.db import create_engine
from backend.directory.models import District
from backend.runtime import Runtime

pytestmark = pytest.mark.postgres_only  # the SQLite engine has no pool to ping


@pytest.fixture
async def pinged(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[AsyncEngine, list[int]]]:
    engine = create_engine(database_url, pool_size=1, ping_after_idle_s=0.2)
    pings: list[int] = []
    dialect = engine.sync_engine.dialect
    original = dialect.do_ping

    def counting_ping(dbapi_connection: object) -> bool:
        pings.append(1)
        return original(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counting_ping)
    try:
        yield engine, pings
    finally:
        await engine.dispose()


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_reused_at_once_is_not_pinged(pinged: tuple[AsyncEngine, list[int]]) -> None:
    engine, pings = pinged
    first = await _backend_pid(engine)
    assert [await _backend_pid(engine) for _ in range(5)] == [first] * 5
    assert pings == []


async def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    pinged: tuple[AsyncEngine, list[int]], database_url: str
) -> None:
    engine, pings = pinged
    dropped = await _backend_pid(engine)
    killer = create_engine(database_url, pool_size=1)
    try:
        async with killer.connect() as conn:
            assert (await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})).scalar_one()
    finally:
        await killer.dispose()
    await asyncio.sleep(0.3)  # idle past the threshold: the next checkout pings, finds it dead, reconnects
    assert await _backend_pid(engine) != dropped
    assert pings == [1]


async def test_read_sessions_run_each_statement_on_its_own_and_refuse_writes(runtime: Runtime) -> None:
    """A read session (DataLoader batches) sends no BEGIN/ROLLBACK: each statement is its own transaction."""

    async def second_statement_in_the_first_ones_transaction(sessionmaker: Any) -> bool:
        async with sessionmaker() as session:
            first = (await session.execute(text("SELECT now()"))).scalar_one()
            await asyncio.sleep(0.02)
            return bool((await session.execute(text("SELECT now()"))).scalar_one() == first)  # the same transaction

    assert await second_statement_in_the_first_ones_transaction(runtime.sessionmaker)
    assert not await second_statement_in_the_first_ones_transaction(runtime.reads)
    async with runtime.reads() as session:
        assert list(await session.scalars(select(District))) == []
        session.add(District(upstream_id="d-1", name="Район", okato=None))
        with pytest.raises(RuntimeError, match="does not write"):
            await session.flush()
