"""Ending a background task for sure.

``task.cancel()`` then ``await task`` is not enough on Python 3.11: ``asyncio.wait_for`` swallows a
cancellation that arrives in the loop iteration in which its inner awaitable finishes (CPython
gh-86296, fixed in 3.12 by rewriting ``wait_for`` on ``asyncio.timeout``). redis-py's connection pool
sends through ``asyncio.wait_for`` when it checks out a connection, so a reader cancelled while it
(re)subscribes can lose the cancellation and go on reading forever, and whoever awaits it hangs (a
websocket test's app shutdown hung 300 s so under CPU load). :func:`cancel_and_wait` cancels again until
the task ends, and long-lived loops call :func:`cancel_requested` to stop when a cancellation was asked
for even if a library ate the exception.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

log = structlog.get_logger(__name__)

RECANCEL_S = 0.1


def cancel_requested() -> bool:
    """Whether the running task was asked to cancel (true even after a library swallowed the error)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def cancel_and_wait(task: asyncio.Task[Any] | None, *, limit_s: float = 10.0) -> bool:
    """Cancel ``task`` and wait until it ended, cancelling again every :data:`RECANCEL_S` while it
    runs on, for at most ``limit_s``. True if it ended; False (and a warning) if it would not."""
    if task is None:
        return True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not task.done():
        task.cancel()
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.warning("core.task_would_not_end", task=task.get_name())
            return False
        await asyncio.wait({task}, timeout=min(RECANCEL_S, remaining))
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
    return True


class Admission:
    """At most ``limit`` at once on each event loop (the limit of the first use); the rest wait their turn,
    without a timeout.

    For the setup of a long-lived thing that needs the database once, such as a subscription's first state:
    when thousands of clients reconnect together (a deploy, a network blip), unbounded setups queue in the
    connection pool, whose 30 s checkout timeout then fails them (issue 21's bench: 1,825 of 10,000). Kept
    to the pool's size they wait here instead and are served in order, and the pool's overflow stays free
    for ordinary requests. One semaphore per loop (tests run many loops in one process)."""

    def __init__(self) -> None:
        self._gates: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}

    def gate(self, limit: int) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        found = self._gates.get(loop)
        if found is None:
            for old in [k for k in self._gates if k.is_closed()]:
                del self._gates[old]
            found = self._gates[loop] = asyncio.Semaphore(limit)
        return found
