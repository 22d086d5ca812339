"""The Redis inbox bus: one pattern subscription per process however many live subscribers, each
subscriber receiving only its own items (the item itself, as published), published from another
connection (another node)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from notifications.channels import InboxEvent, RedisInboxBus

pytestmark = pytest.mark.postgres_only  # needs Redis; the SQLite pass runs only dialect tests


async def _patterns(redis: Redis, name: str) -> int:
    """The pattern subscriptions of the connections named ``name``: ``PUBSUB NUMPAT`` counts the whole server's,
    which tests running beside this one (other xdist workers) change at any moment."""
    return sum(int(c.get("psub", 0)) for c in await redis.client_list() if c.get("name") == name)


async def test_many_subscribers_share_one_redis_subscription(redis_url: str) -> None:
    name = f"inbox-bus-{uuid.uuid4().hex[:12]}"
    subscriber_redis, publisher_redis = Redis.from_url(redis_url, client_name=name), Redis.from_url(redis_url)
    bus, other_node = RedisInboxBus(subscriber_redis), RedisInboxBus(publisher_redis)
    patients = [uuid.uuid4() for _ in range(50)]
    received: dict[uuid.UUID, list[InboxEvent]] = {p: [] for p in patients}
    ready = asyncio.Event()
    subscribed = 0

    async def listen(patient: uuid.UUID) -> None:
        nonlocal subscribed
        stream = bus.subscribe(patient)
        first = asyncio.ensure_future(anext(stream))  # starts the subscription
        await asyncio.sleep(0)
        subscribed += 1
        if subscribed == len(patients):
            ready.set()
        received[patient].append(await first)
        async for item in stream:
            received[patient].append(item)

    assert await _patterns(publisher_redis, name) == 0
    tasks = [asyncio.create_task(listen(p)) for p in patients]
    try:
        await asyncio.wait_for(ready.wait(), timeout=10)
        for _ in range(100):  # the shared reader subscribes once, in the background
            if await _patterns(publisher_redis, name) > 0:
                break
            await asyncio.sleep(0.05)
        assert await _patterns(publisher_redis, name) == 1
        at = datetime(2025, 3, 1, 9, 0, 0, 250000, tzinfo=UTC)
        items = {
            p: InboxEvent(id=uuid.uuid4(), patient_id=p, event="e", title=f"Тема {n}", text=f"Текст {n}", created_at=at)
            for n, p in enumerate(patients[:10])
        }
        # A forged message on a patient's channel carrying someone else's item is dropped, never delivered.
        forged = InboxEvent(id=uuid.uuid4(), patient_id=patients[20], event="e", title="x", text="x", created_at=at)
        await publisher_redis.publish(f"{RedisInboxBus.PREFIX}{patients[0]}", forged.encode())
        for item in items.values():
            await other_node.publish(item)
        for _ in range(100):
            if all(received[p] == [i] for p, i in items.items()):
                break
            await asyncio.sleep(0.05)
        assert all(received[p] == [i] for p, i in items.items())
        assert all(received[p] == [] for p in patients[10:])
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        await bus.aclose()
        await subscriber_redis.aclose()
        await publisher_redis.aclose()


async def test_the_shared_reader_outlasts_an_idle_feed(redis_url: str) -> None:
    """The runtime's Redis client has a short socket_timeout; a feed idle for longer must still deliver."""
    name = f"inbox-bus-{uuid.uuid4().hex[:12]}"
    subscriber_redis = Redis.from_url(redis_url, socket_timeout=0.2, client_name=name)
    publisher_redis = Redis.from_url(redis_url)
    bus, other_node = RedisInboxBus(subscriber_redis), RedisInboxBus(publisher_redis)
    patient = uuid.uuid4()
    item = InboxEvent(
        id=uuid.uuid4(), patient_id=patient, event="e", title="Тема", text="Текст", created_at=datetime.now(UTC)
    )
    subscriptions = 0
    pubsub = subscriber_redis.pubsub

    def counted_pubsub(**kwargs: object) -> object:
        nonlocal subscriptions
        subscriptions += 1
        return pubsub(**kwargs)  # type: ignore[arg-type]

    subscriber_redis.pubsub = counted_pubsub  # type: ignore[method-assign,assignment]
    stream = bus.subscribe(patient)
    first = asyncio.ensure_future(anext(stream))
    try:
        for _ in range(100):
            if await _patterns(publisher_redis, name) >= 1:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # idle for several socket timeouts
        for _ in range(100):  # a reconnecting reader would miss a publish: publish until heard
            await other_node.publish(item)
            done, _ = await asyncio.wait({first}, timeout=0.05)
            if done:
                break
        assert first.done() and first.result() == item
        assert subscriptions == 1  # the reader never had to reconnect
    finally:
        first.cancel()
        await stream.aclose()
        await bus.aclose()
        await subscriber_redis.aclose()
        await publisher_redis.aclose()
