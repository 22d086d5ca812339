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
