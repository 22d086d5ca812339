"""The live feed of one call: what the ``ambulanceCallUpdated`` subscription delivers, coalesced.

Each change of a call (a status step, a position) is published once as a :class:`LiveUpdate` (the row's state
after the change: a delivery reads nothing). A subscriber holds a :class:`Mailbox`: status updates queue in
order, but a position **replaces** the position still waiting in the queue (latest wins), so a slow client
gets the newest position, never a backlog. :func:`open_mailbox` registers the mailbox *before* the caller
reads the current state, so nothing published in between is lost; updates no newer than that state are
skipped by ``version`` (the call's ``seq_high``).

Two buses, as for the inbox (``notifications/channels.py``): in-process, or Redis pub/sub across processes
(``PUBLISH mz:ambulance:<call ref>``, one pattern subscription per process fanning out to its mailboxes).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
import structlog
from redis.asyncio import Redis

log = structlog.get_logger(__name__)

STATE, STATUS, POSITION = "state", "status", "position"
READY_WAIT_S = 5.0


@dataclass(frozen=True, slots=True)
class LiveUpdate:
    """A call's live view after one change (``kind``: state on (re)connect, status, position)."""

    call_ref: uuid.UUID
    call_id: str
    kind: str
    version: int
    status: str
    brigade_id: str | None
    station_name: str | None
    hospital_name: str | None
    lat: float | None
    lon: float | None
    speed_kmh: float | None
    heading: float | None
    position_at: datetime | None
    eta_minutes: int | None
    eta_at: datetime | None
    at: datetime

    def encode(self) -> bytes:
        return orjson.dumps(self, default=str)  # asyncpg hands back its own UUID type

    @classmethod
    def decode(cls, raw: bytes | str) -> LiveUpdate:
        d = orjson.loads(raw)
        for key in ("position_at", "eta_at", "at"):
            if d.get(key):
                d[key] = datetime.fromisoformat(d[key])
        d["call_ref"] = uuid.UUID(d["call_ref"])
        return cls(**d)


class Mailbox:
    """One subscriber's pending updates; a newer position overwrites the one not yet taken."""

    __slots__ = ("items", "loop", "position", "waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.items: deque[list[LiveUpdate]] = deque()
        self.position: list[LiveUpdate] | None = None  # the queued position's holder
        self.waiter: asyncio.Future[None] | None = None

    def put(self, update: LiveUpdate) -> None:
        if update.kind == POSITION and self.position is not None:
            if update.version >= self.position[0].version:
                self.position[0] = update  # latest wins, in the place of the one not taken
            return
        holder = [update]
        if update.kind == POSITION:
            self.position = holder
        self.items.append(holder)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self) -> LiveUpdate:
        while not self.items:
            self.waiter = self.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        holder = self.items.popleft()
        if holder is self.position:
            self.position = None
        return holder[0]

    def pending(self) -> int:
        return len(self.items)


class AmbulanceBus(Protocol):
    async def publish(self, update: LiveUpdate) -> None: ...

    async def publish_many(self, updates: list[LiveUpdate]) -> None:
        """Several updates (one push's positions): one round trip."""
        ...

    def open_mailbox(self, call_ref: uuid.UUID) -> contextlib.AbstractContextManager[Mailbox]: ...

    def subscriber_count(self, call_ref: uuid.UUID) -> int: ...

    async def ready(self) -> None:
        """Until publishes reach this process's mailboxes (a Redis subscription is in place)."""
        ...

    async def aclose(self) -> None: ...


class InProcessAmbulanceBus:
    def __init__(self) -> None:
        self._boxes: dict[uuid.UUID, set[Mailbox]] = {}

    async def publish(self, update: LiveUpdate) -> None:
        self.deliver(update)

    async def publish_many(self, updates: list[LiveUpdate]) -> None:
        for update in updates:
            self.deliver(update)

    def deliver(self, update: LiveUpdate) -> None:
        boxes = self._boxes.get(update.call_ref)
        if not boxes:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for box in tuple(boxes):
            if box.loop is running:
                box.put(update)
            else:
                with contextlib.suppress(RuntimeError):
                    box.loop.call_soon_threadsafe(box.put, update)

    @contextlib.contextmanager
    def open_mailbox(self, call_ref: uuid.UUID) -> Iterator[Mailbox]:
        box = Mailbox(asyncio.get_running_loop())
        self._boxes.setdefault(call_ref, set()).add(box)
        try:
            yield box
        finally:
            boxes = self._boxes.get(call_ref)
            if boxes is not None:
                boxes.discard(box)
                if not boxes:
                    self._boxes.pop(call_ref, None)

    def subscriber_count(self, call_ref: uuid.UUID) -> int:
        return len(self._boxes.get(call_ref, ()))

    async def ready(self) -> None:
        return None

    async def aclose(self) -> None:
        self._boxes.clear()


class RedisAmbulanceBus:
    """Across processes: one pattern subscription per process; each message decoded once per process."""

    PREFIX = "mz:ambulance:"
    RECONNECT_S = 1.0

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._local = InProcessAmbulanceBus()
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def publish(self, update: LiveUpdate) -> None:
        try:
            await self._redis.publish(f"{self.PREFIX}{update.call_ref}", update.encode())
        except Exception:  # live delivery is best effort: the state is in the database
            log.warning("ambulance.live_publish_failed", call_id=update.call_id, exc_info=True)

    async def publish_many(self, updates: list[LiveUpdate]) -> None:
        if len(updates) == 1:
            await self.publish(updates[0])
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for update in updates:
                    pipe.publish(f"{self.PREFIX}{update.call_ref}", update.encode())
                await pipe.execute()
        except Exception:  # best effort, as one
            log.warning("ambulance.live_publish_failed", updates=len(updates), exc_info=True)

    @contextlib.contextmanager
    def open_mailbox(self, call_ref: uuid.UUID) -> Iterator[Mailbox]:
        if self._reader is None or self._reader.done():
            self._ready = asyncio.Event()
            self._reader = asyncio.create_task(self._read(), name="ambulance-bus-reader")
        with self._local.open_mailbox(call_ref) as box:
            yield box

    async def ready(self) -> None:
        """Until the pattern subscription is in place (at most :data:`READY_WAIT_S`: with Redis away, the
        subscriber still gets the state, and the reader keeps reconnecting)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), READY_WAIT_S)

    def subscriber_count(self, call_ref: uuid.UUID) -> int:
        return self._local.subscriber_count(call_ref)

    def _deliver(self, data: Any) -> None:
        try:
            update = LiveUpdate.decode(data)
        except (ValueError, KeyError, TypeError):
            log.warning("ambulance.live_message_dropped")
            return
        self._local.deliver(update)

    async def _read(self) -> None:
        while True:
            pubsub: Any = self._redis.pubsub()
            try:
                await pubsub.psubscribe(f"{self.PREFIX}*")
                self._ready.set()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30.0)
                    if message is not None:
                        self._deliver(message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("ambulance.live_reader_reconnecting", exc_info=True)
                await asyncio.sleep(self.RECONNECT_S)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
