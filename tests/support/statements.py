"""Count the SQL statements an operation costs (the N+1 guard of every trusted operation)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event

from backend.runtime import Runtime

Variables = dict[str, Any]
Headers = dict[str, str]


@contextmanager
def counting_statements(runtime: Runtime) -> Iterator[list[str]]:
    seen: list[str] = []

    def on_execute(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement not in ("BEGIN", "COMMIT", "ROLLBACK"):  # SQLite's explicit transaction control
            seen.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", on_execute)


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
