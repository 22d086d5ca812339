"""Write outbox rows inside a unit of work; dispatch them idempotently by id; sweep what was missed.

Delivery is at-least-once to the handler and exactly-once in effect: a message is claimed with a
lease by a conditional UPDATE (works the same on PostgreSQL and SQLite), marked dispatched after its
handler returns, and a handler receives the message id to make its own external effect idempotent.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

import structlog
from sqlalchemy import Table, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.core.db import HotStatement, insert_all, utcnow
from backend.outbox.models import OutboxMessage

if TYPE_CHECKING:
    from backend.runtime import Runtime
    from backend.settings import Settings

log = structlog.get_logger(__name__)

SESSION_KEY = "outbox_ids"
MAX_ATTEMPTS = 8
#: The shortest claim: a row claimed just before a fault (the handler's release lost, the worker killed)
#: is due again after its lease, so the lease is as short as a handler may run: three upstream timeouts.
MIN_LEASE = timedelta(seconds=30)


def lease_for(settings: Settings) -> timedelta:
    return max(MIN_LEASE, timedelta(seconds=3 * settings.upstream_timeout_s))


@dataclass(frozen=True)
class Envelope:
    id: uuid.UUID
    topic: str
    payload: dict[str, Any]
    attempt: int
    request_id: str | None


Handler = Callable[[Envelope, "Runtime"], Awaitable[None]]
_HANDLERS: dict[str, Handler] = {}


def register(topic: str, fn: Handler) -> None:
    """Register the handler of an outbox topic (one per topic; registering the same one again is a no-op).
    The composition root (:mod:`backend.wiring`) registers the domains' handlers."""
    if topic in _HANDLERS and _HANDLERS[topic] is not fn:
        raise ValueError(f"outbox topic {topic!r} already has a handler")
    _HANDLERS[topic] = fn


def unregister(topic: str) -> None:
    _HANDLERS.pop(topic, None)


#: A payload without its secrets, or ``None`` when it holds none.
Redactor = Callable[[dict[str, Any]], dict[str, Any] | None]
#: topic → how to blank the payload's secrets (a one-time code, a link's token) once sent or dead.
_REDACTORS: dict[str, Redactor] = {}
REDACTED = "[скрыто после отправки]"


def keep_secret(topic: str, *keys: str) -> None:
    """Blank ``keys`` of a ``topic``'s payload once its handler succeeded (or gave up): the row keeps no
    secret after it is needed (the codes table keeps only a hash)."""
    names = tuple(keys)
    _REDACTORS[topic] = lambda payload: {key: (REDACTED if key in names else v) for key, v in payload.items()}


def keep_secret_with(topic: str, redactor: Redactor) -> None:
    """As :func:`keep_secret`, for a topic whose secrets depend on the payload (a notification's data:
    the event says which of its keys are secret)."""
    _REDACTORS[topic] = redactor


def _redacted(topic: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    redactor = _REDACTORS.get(topic)
    return redactor(payload) if redactor is not None else None


def row(topic: str, payload: dict[str, Any], *, request_id: str | None = None) -> dict[str, Any]:
    """The column values of a new outbox row (every column, ready for :data:`INSERT`)."""
    if topic not in _HANDLERS:
        raise ValueError(f"outbox topic {topic!r} has no handler")
    return {
        "id": uuid.uuid4(),
        "topic": topic,
        "payload": payload,
        "request_id": request_id,
        "created_at": utcnow(),
        "attempts": 0,
        "claimed_until": None,
        "dispatched_at": None,
        "dead_at": None,
        "last_error": None,
    }


#: Outbox rows a unit of work collected, written in one round trip just before it commits.
INSERT = HotStatement(insert_all(cast("Table", OutboxMessage.__table__)))


def add(session: AsyncSession, topic: str, payload: dict[str, Any], *, request_id: str | None = None) -> uuid.UUID:
    """Write a side effect into the current transaction; it is relayed only if that transaction commits."""
    message = OutboxMessage(**row(topic, payload, request_id=request_id))
    session.add(message)
    session.info.setdefault(SESSION_KEY, []).append(message.id)
    return message.id


def take_pending_ids(session: AsyncSession) -> list[uuid.UUID]:
    """The ids this session wrote (call after commit, to relay them; after rollback, to forget them)."""
    ids: list[uuid.UUID] = session.info.pop(SESSION_KEY, [])
    return ids


class Outcome(enum.Enum):
    DISPATCHED = "dispatched"
    SKIPPED = "skipped"  # already dispatched, dead, or held by another worker
    FAILED = "failed"  # the handler failed; it will be retried
    DEAD = "dead"  # the handler failed for the last time


async def dispatch(runtime: Runtime, message_id: uuid.UUID) -> Outcome:
    sessionmaker = runtime.sessionmaker
    now = utcnow()
    async with sessionmaker() as session, session.begin():
        claimed = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.dispatched_at.is_(None),
                OutboxMessage.dead_at.is_(None),
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .values(claimed_until=now + lease_for(runtime.settings), attempts=OutboxMessage.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return Outcome.SKIPPED
        message = await session.get_one(OutboxMessage, message_id)
        envelope = Envelope(
            id=message.id,
            topic=message.topic,
            payload=dict(message.payload),
            attempt=message.attempts,
            request_id=message.request_id,
        )
    fn = _HANDLERS.get(envelope.topic)
    try:
        if fn is None:
            raise LookupError(f"no handler for outbox topic {envelope.topic!r}")
        await fn(envelope, runtime)
    except Exception as exc:
        dead = envelope.attempt >= MAX_ATTEMPTS
        try:
            await _release(
                sessionmaker,
                message_id,
                error=f"{type(exc).__name__}: {exc}"[:2000],
                dead=dead,
                payload=_redacted(envelope.topic, envelope.payload) if dead else None,
            )
        except Exception:  # the database went away too: the (short) lease runs out and the sweep finds it
            log.warning("outbox.release_failed", message_id=str(message_id), exc_info=True)
            dead = False
        log.warning(
            "outbox.handler_failed",
            message_id=str(message_id),
            topic=envelope.topic,
            attempt=envelope.attempt,
            dead=dead,
            exc_info=True,
        )
        return Outcome.DEAD if dead else Outcome.FAILED
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(dispatched_at=utcnow(), claimed_until=None, last_error=None, **_payload_values(envelope))
            .execution_options(synchronize_session=False)
        )
    return Outcome.DISPATCHED


def _payload_values(envelope: Envelope) -> dict[str, Any]:
    redacted = _redacted(envelope.topic, envelope.payload)
    return {"payload": redacted} if redacted is not None else {}


async def _release(
    sessionmaker: async_sessionmaker[AsyncSession],
    message_id: uuid.UUID,
    *,
    error: str,
    dead: bool,
    payload: dict[str, Any] | None = None,
) -> None:
    extra = {"payload": payload} if payload is not None else {}
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(claimed_until=None, last_error=error, dead_at=utcnow() if dead else None, **extra)
            .execution_options(synchronize_session=False)
        )


def retry_delay(attempt: int) -> float:
    """Exponential backoff in seconds for the n-th attempt (1-based), capped at ten minutes."""
    return float(min(600, 2 ** max(0, attempt - 1)))


async def pending_ids(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    older_than: timedelta = timedelta(seconds=10),
    limit: int = 500,
    now: datetime | None = None,
) -> list[uuid.UUID]:
    """Messages not yet dispatched nor held, and old enough that their after-commit relay was missed
    or their handler failed and is due again (by the backoff of its attempt count)."""
    now = now or utcnow()
    async with sessionmaker() as session:
        rows = await session.execute(
            select(OutboxMessage.id, OutboxMessage.created_at, OutboxMessage.attempts)
            .where(
                OutboxMessage.dispatched_at.is_(None),
                OutboxMessage.dead_at.is_(None),
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
                OutboxMessage.created_at < now - older_than,
            )
            .order_by(OutboxMessage.created_at)
            .limit(limit)
        )
        return [
            row.id
            for row in rows
            if row.attempts == 0 or row.created_at + timedelta(seconds=retry_delay(row.attempts)) <= now
        ]


class Relay(Protocol):
    """Carries committed outbox ids to whatever runs their handlers."""

    async def enqueue(self, ids: Iterable[uuid.UUID]) -> None: ...

    async def drain(self) -> None:
        """Wait for what this process started (tests, shutdown); a no-op where work runs elsewhere."""
        ...


class InlineRelay:
    """Celery-eager semantics for the embedded and test profiles: handlers run in this process's event
    loop after the commit. On PostgreSQL they run as background tasks, not blocking the request that
    committed; on SQLite (one writer at a time) they run right away in the committing task, so they
    never write concurrently with that task's next transaction."""

    def __init__(self, runtime: Runtime, *, serial: bool = False) -> None:
        self._runtime = runtime
        self._serial = serial
        self._tasks: set[asyncio.Task[Outcome]] = set()

    async def enqueue(self, ids: Iterable[uuid.UUID]) -> None:
        for message_id in ids:
            if self._serial:
                await dispatch(self._runtime, message_id)
                continue
            task = asyncio.create_task(dispatch(self._runtime, message_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class CeleryRelay:
    """Hands ids to Celery workers; a broker outage only delays delivery (the sweep re-sends)."""

    def __init__(self, send: Callable[[str], None]) -> None:
        self._send = send

    async def enqueue(self, ids: Iterable[uuid.UUID]) -> None:
        for message_id in ids:
            try:
                await asyncio.to_thread(self._send, str(message_id))
            except Exception:
                log.warning("outbox.relay_failed", message_id=str(message_id), exc_info=True)

    async def drain(self) -> None:
        return None


async def sweep(runtime: Runtime, *, older_than: timedelta = timedelta(seconds=10)) -> int:
    """Re-relay what is pending; returns how many ids were handed on."""
    ids = await pending_ids(runtime.sessionmaker, older_than=older_than)
    if ids:
        await runtime.relay.enqueue(ids)
    return len(ids)
