"""SQLite's writers of one process take turns: re-entrant within a task, in turn across tasks, a wait bounded;
nothing on PostgreSQL."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from backend.core import sqlite_writers
from backend.core.sqlite_writers import writer_turn

SQLITE = SimpleNamespace(dialect=SimpleNamespace(name="sqlite"))
POSTGRESQL = SimpleNamespace(dialect=SimpleNamespace(name="postgresql"))


async def test_writers_take_turns_across_tasks_and_pass_within_one() -> None:
    order: list[str] = []

    async def unit(name: str) -> None:
        async with writer_turn(SQLITE):
            order.append(f"{name} in")
            async with writer_turn(SQLITE):  # its own nested write passes
                await asyncio.sleep(0.01)
            order.append(f"{name} out")

    await asyncio.gather(unit("a"), unit("b"))
    assert order == ["a in", "a out", "b in", "b out"]


async def test_a_wait_is_bounded_and_postgresql_takes_no_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_writers, "WAIT_S", 0.05)
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with writer_turn(SQLITE):
            held.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await held.wait()
    async with writer_turn(SQLITE):  # goes ahead after the bounded wait
        pass
    async with writer_turn(POSTGRESQL):  # never waits
        pass
    release.set()
    await task
    async with writer_turn(SQLITE):  # the turn was given back
        pass
