"""SQLite's writers of one process take turns, so that no write lands between another unit of work's reads
and its write.

In WAL mode a transaction that has read and then writes fails at once with «database is locked» when another
connection committed in between (its snapshot is stale: SQLite's busy timeout does not apply to that). The
embedded profile is one process, and its short writes of their own (the audit row of a read,
``HotStatement.alone``) commit at any moment: parallel requests of one page (the kiosk's, the console's) met
it in the browser tests. A unit of work on SQLite therefore holds this process's writer turn from its start
to its end, and a write on its own takes the turn for its statement. The turn is re-entrant within a task (a
unit of work's own audit rows and nested work pass), and waiting for it is bounded by
:data:`WAIT_S`: past that the writer goes ahead as before (a demo's slow hub call cannot stall every other
writer, and a wait that could never end does not hang). PostgreSQL takes no turn: its row locks and
constraints decide there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

#: The longest a writer waits for its turn before it goes ahead anyway.
WAIT_S = 10.0


class _Turn:
    __slots__ = ("depth", "lock", "owner")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.owner: asyncio.Task[Any] | None = None
        self.depth = 0


_TURNS: dict[tuple[int, asyncio.AbstractEventLoop], _Turn] = {}


def _turn(engine: Any) -> _Turn:
    loop = asyncio.get_running_loop()
    key = (id(engine), loop)
    found = _TURNS.get(key)
    if found is None:
        for old in [k for k in _TURNS if k[1].is_closed()]:
            del _TURNS[old]
        found = _TURNS[key] = _Turn()
    return found


@contextlib.asynccontextmanager
async def writer_turn(engine: Any) -> AsyncIterator[None]:
    """This process's turn to write to ``engine`` (an AsyncEngine or its sync engine), on SQLite only."""
    if engine.dialect.name != "sqlite":
        yield
        return
    turn = _turn(engine)
    task = asyncio.current_task()
    if turn.owner is not None and turn.owner is task:
        turn.depth += 1
        try:
            yield
        finally:
            turn.depth -= 1
        return
    try:
        await asyncio.wait_for(turn.lock.acquire(), WAIT_S)
    except TimeoutError:  # go ahead as before rather than wait on
        yield
        return
    turn.owner, turn.depth = task, 1
    try:
        yield
    finally:
        turn.owner, turn.depth = None, 0
        turn.lock.release()
