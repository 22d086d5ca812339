"""A background task whose cancellation a library swallowed still ends (backend/core/aio.py).

On Python 3.11 ``asyncio.wait_for`` eats a cancellation that arrives in the iteration its inner awaitable
finishes; redis-py sends through it when it checks out a connection, so the inbox bus's reader, cancelled
while it (re)subscribed, went on reading forever and the app's shutdown waited on it (a websocket test hung
300 s in the TestClient's teardown). The fakes below swallow one cancellation the same way, every time."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from backend.core import aio
from notifications.channels import RedisInboxBus


async def _swallow_one_cancellation(started: asyncio.Event) -> None:
    """What 3.11's ``wait_for`` does when the awaited part is done as the cancellation comes."""
    started.set()
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        return


class _PubSub:
    def __init__(self, started: asyncio.Event) -> None:
        self.started = started
        self.reads = 0

    async def psubscribe(self, pattern: str) -> None:
        await _swallow_one_cancellation(self.started)

    async def get_message(self, *, ignore_subscribe_messages: bool, timeout: float) -> Any:  # noqa: ASYNC109 - redis-py's signature
        self.reads += 1
        await asyncio.sleep(min(timeout, 0.05))  # an idle feed: nothing within the read timeout
        return None

    async def aclose(self) -> None:
        return None


class _Redis:
    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.pubsubs: list[_PubSub] = []

    def pubsub(self) -> _PubSub:
        self.pubsubs.append(_PubSub(self.started))
        return self.pubsubs[-1]


async def test_the_inbox_readers_end_even_when_redis_swallows_the_cancellation() -> None:
    redis = _Redis()
    bus = RedisInboxBus(redis)  # type: ignore[arg-type]
    subscription = bus.subscribe(uuid.uuid4())
    listener = asyncio.create_task(anext(subscription))
    await asyncio.wait_for(redis.started.wait(), 5)
    try:
        await asyncio.wait_for(bus.aclose(), 5)  # before the fix: the reader read on, and this timed out
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    assert bus._reader is None
    assert len(redis.pubsubs) == 1, "the reader subscribed again after it was told to stop"
    assert redis.pubsubs[0].reads == 0, "the reader went on reading after it was told to stop"


async def test_cancel_and_wait_cancels_again_until_the_task_ends() -> None:
    started = asyncio.Event()

    async def stubborn() -> str:
        await _swallow_one_cancellation(started)  # the first cancellation is eaten
        await asyncio.sleep(3600)  # the second one ends it
        return "never"

    task = asyncio.create_task(stubborn())
    await started.wait()
    assert await aio.cancel_and_wait(task, limit_s=5)
    assert task.cancelled()


async def test_cancel_and_wait_gives_up_on_a_task_that_never_ends() -> None:
    eating = True

    async def immortal() -> None:
        while eating:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(immortal())
    await asyncio.sleep(0)
    assert await aio.cancel_and_wait(task, limit_s=0.3) is False
    assert not task.done()
    eating = False  # the test's own cleanup: now the next cancellation ends it
    assert await aio.cancel_and_wait(task, limit_s=5)
