"""Count the SQL statements an operation costs (the N+1 guard of every trusted operation)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any

import aiosqlite
import aiosqlite.cursor
import asyncpg.connection
import asyncpg.prepared_stmt

from backend.runtime import Runtime

Variables = dict[str, Any]
Headers = dict[str, str]

# Counted at the driver, below SQLAlchemy: a hot statement (backend.core.db.HotStatement) runs on the
# asyncpg connection itself, where SQLAlchemy's events never see it. Every method that sends a statement
# is wrapped; each one calls the protocol directly, never another of these, so nothing counts twice.
_DRIVER_METHODS: dict[type, tuple[str, ...]] = {
    asyncpg.connection.Connection: ("execute", "executemany", "fetch", "fetchrow", "fetchval", "fetchmany"),
    asyncpg.prepared_stmt.PreparedStatement: ("fetch", "fetchrow", "fetchval", "fetchmany", "executemany"),
    aiosqlite.Connection: ("execute", "executemany", "executescript", "execute_fetchall", "execute_insert"),
    aiosqlite.cursor.Cursor: ("execute", "executemany", "executescript"),
}
_counters: list[list[str]] = []
_originals: dict[tuple[type, str], Any] = {}


def _sql_of(target: Any, args: tuple[Any, ...]) -> str:
    if isinstance(target, asyncpg.prepared_stmt.PreparedStatement):
        return str(target.get_query())
    return str(args[0])


def _counted(sql: str) -> bool:
    """Not transaction control, a liveness ping (``;``) nor SQLite's PRAGMAs (a new pooled connection's
    set-up; asyncpg's runs on private methods): the same whatever an operation reads."""
    words = sql.strip().rstrip(";").split()
    if not words:
        return False
    first = words[0].upper()
    return not (first in ("BEGIN", "COMMIT", "PRAGMA") or (first == "ROLLBACK" and len(words) == 1))


def _wrap(original: Any) -> Any:
    @wraps(original)
    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        sql = _sql_of(self, args)
        if _counted(sql):
            for seen in _counters:
                seen.append(sql)
        return original(self, *args, **kwargs)  # the driver's coroutine (or aiosqlite's awaitable context)

    return counting


def _install() -> None:
    for cls, names in _DRIVER_METHODS.items():
        for name in names:
            original = cls.__dict__.get(name)
            assert original is not None, f"{cls.__module__}.{cls.__name__}.{name} is gone: count its replacement"
            _originals[cls, name] = original
            setattr(cls, name, _wrap(original))


def _uninstall() -> None:
    for (cls, name), original in _originals.items():
        setattr(cls, name, original)
    _originals.clear()


@contextmanager
def counting_statements(runtime: Runtime) -> Iterator[list[str]]:
    """The SQL statements sent to the database driver (asyncpg or aiosqlite) while the block runs, whatever
    path sent them (the ORM, Core, a hot statement on the driver, an autocommit read); BEGIN, COMMIT,
    ROLLBACK, pings and connection set-up are left out. Every connection of this process counts (a test runs one
    runtime)."""
    driver = runtime.engine.dialect.driver
    assert driver in ("asyncpg", "aiosqlite"), f"the statement counter wraps asyncpg and aiosqlite, not {driver}"
    seen: list[str] = []
    if not _counters:
        _install()
    _counters.append(seen)
    try:
        yield seen
    finally:
        _counters.remove(seen)
        if not _counters:
            _uninstall()


#: (variables for few items, variables for more items, headers) or, when the items belong to the caller
#: (their proxies, their appointments), (few, more, the headers of a caller with few, of a caller with more).
Setup = tuple[Variables, Variables, Headers] | tuple[Variables, Variables, Headers, Headers]


@dataclass(frozen=True)
class Scenario:
    """How to run one trusted operation over a few items and over more items.

    ``setup`` prepares data and returns a :data:`Setup`.
    """

    operation: str
    setup: Callable[[Runtime], Awaitable[Setup]]

    async def prepare(self, runtime: Runtime) -> tuple[tuple[Variables, Headers], tuple[Variables, Headers]]:
        """((variables, headers) for few items, (variables, headers) for more items)."""
        few, more, headers, *rest = await self.setup(runtime)
        return (few, headers), (more, rest[0] if rest else headers)
