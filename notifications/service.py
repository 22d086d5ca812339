"""The notifications domain's entry point for other domains, and what the patient sees.

Other domains call :func:`notify` inside their unit of work; it only writes an outbox row, so a
notification exists if and only if the change it announces committed. The outbox handler then plans
the messages — one row per (notification, person, channel) under a unique key, so a handler run twice
plans once — and hands the ones due now to delivery (:mod:`notifications.delivery`).

Channels: the in-app inbox always; push when the person allows it and has a device; SMS when urgent or
when there is no push (and later as the fallback of an unread push); e-mail when the person turned it
on. SMS respects quiet hours in the region's time zone unless the event is urgent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.outbox.service import REDACTED, Envelope
from notifications import delivery
from notifications.channels import InboxEvent
from notifications.models import InboxItem, MessageChannel, MessageStatus, NotificationMessage
from notifications.preferences import active_push_tokens, get_preferences, insert_ignore
from notifications.quiet import quiet_until
from notifications.rendering import EVENTS, render, spec_of

if TYPE_CHECKING:
    from backend.core.uow import UnitOfWork
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

TOPIC = "notifications.requested"
MAX_DEDUPE_KEY = 200


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("notification data: datetimes must be timezone-aware")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ValueError(f"notification data: {type(value).__name__} is not JSON")


#: (event, time zone, the data's keys and value types) already rendered without error: the templates are
#: rendered in full once per shape of data a producer sends (three Jinja renders cost more than the rest
#: of a booking), not on every notification. Values of a known shape are checked by type: datetimes
#: must be aware (``_json_safe``).
_RENDERED_SHAPES: set[tuple[Any, ...]] = set()
MAX_SHAPES = 10_000


def _shape(event: str, timezone: str, data: dict[str, Any]) -> tuple[Any, ...]:
    present = tuple(sorted((k, type(v).__name__) for k, v in data.items() if v is not None and v != ""))
    return (event, timezone, present)


def notify(
    uow: UnitOfWork,
    *,
    patient_id: uuid.UUID,
    event: str,
    data: dict[str, Any],
    urgent: bool = False,
    dedupe_key: str,
) -> uuid.UUID:
    """Announce ``event`` to a person, in the caller's transaction (nothing is sent if it rolls back).

    ``dedupe_key`` names this notification: the same key for the same person is planned once, however
    often it is emitted (``f"appointment:{id}:booked"``). ``data`` feeds the event's template and is
    checked against it now: a missing key raises ``ValueError`` here, in the producer, not in a worker.
    Datetimes must be aware. Returns the outbox id.
    """
    spec = spec_of(event)
    if not dedupe_key or len(dedupe_key) > MAX_DEDUPE_KEY:
        raise ValueError(f"dedupe_key must be 1–{MAX_DEDUPE_KEY} characters")
    safe = _json_safe(data)
    timezone = uow.runtime.settings.region_timezone
    shape = _shape(event, timezone, data)
    if shape not in _RENDERED_SHAPES:
        render(event, safe, timezone=timezone)
        if len(_RENDERED_SHAPES) < MAX_SHAPES:
            _RENDERED_SHAPES.add(shape)
    return uow.emit(
        TOPIC,
        {
            "patient_id": str(patient_id),
            "event": event,
            "data": safe,
            "urgent": bool(urgent or spec.urgent),
            "dedupe_key": dedupe_key,
        },
    )


def _without_secrets(event: str, data: dict[str, Any]) -> dict[str, Any]:
    spec = EVENTS.get(event)
    if spec is None or not spec.secret_keys:
        return data
    return {key: (REDACTED if key in spec.secret_keys else value) for key, value in data.items()}


def redact(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The outbox redactor of :data:`TOPIC` (registered by :mod:`backend.wiring`): the payload with its
    event's secret data keys blanked, once the notification is planned; ``None`` when it holds no secret."""
    data = payload.get("data")
    event = str(payload.get("event", ""))
    if not isinstance(data, dict):
        return None
    clean = _without_secrets(event, data)
    return None if clean is data else {**payload, "data": clean}


@dataclass
class Plan:
    due_now: list[uuid.UUID] = field(default_factory=list)
    inbox_item: uuid.UUID | None = None


async def plan(
    runtime: Runtime,
    *,
    patient_id: uuid.UUID,
    event: str,
    data: dict[str, Any],
    urgent: bool,
    dedupe_key: str,
) -> Plan:
    """Write the messages of one notification (idempotent) and return those due now."""
    settings = runtime.settings
    spec = spec_of(event)
    rendered = render(event, data, timezone=settings.region_timezone)
    now = runtime.now()
    not_after = None
    if spec.expires_key and data.get(spec.expires_key):
        not_after = datetime.fromisoformat(str(data[spec.expires_key]))
    result = Plan()
    # Read first in a session of its own, then write in a transaction that starts with a write (SQLite
    # refuses the write lock to a transaction that read before another connection wrote).
    async with runtime.sessionmaker() as session:
        prefs = await get_preferences(session, patient_id)
        has_push = prefs.push and bool(await active_push_tokens(session, patient_id))
    async with runtime.sessionmaker() as session, session.begin():
        channels: list[tuple[MessageChannel, str | None]] = []
        if has_push:
            channels.append((MessageChannel.PUSH, None))
        if prefs.sms and prefs.phone and (urgent or not has_push):
            channels.append((MessageChannel.SMS, prefs.phone))
        if prefs.email and prefs.email_address:
            channels.append((MessageChannel.EMAIL, prefs.email_address))
        base = {
            "dedupe_key": dedupe_key,
            "patient_id": patient_id,
            "event": event,
            "urgent": urgent,
            "title": rendered.title,
            "data": _without_secrets(event, data),
            "not_after": not_after,
            "created_at": now,
            "updated_at": now,
        }
        for channel, address in channels:
            due = now
            if channel is MessageChannel.SMS and not urgent:
                due = quiet_until(now, settings) or now
            body = rendered.email_body if channel is MessageChannel.EMAIL else rendered.text
            await insert_ignore(
                session,
                NotificationMessage,
                {
                    **base,
                    "id": uuid.uuid4(),
                    "channel": channel.value,
                    "address": address,
                    "body": body,
                    "status": MessageStatus.QUEUED.value,
                    "attempts": 0,
                    "next_attempt_at": due,
                },
                ["dedupe_key", "patient_id", "channel"],
            )
        result.inbox_item = await _put_in_inbox(session, base, rendered.text, now)
        rows = await session.execute(
            select(NotificationMessage.id).where(
                NotificationMessage.dedupe_key == dedupe_key,
                NotificationMessage.patient_id == patient_id,
                NotificationMessage.status == MessageStatus.QUEUED.value,
                NotificationMessage.next_attempt_at <= now,
            )
        )
        result.due_now = [row.id for row in rows]
    if result.inbox_item is not None:  # after commit, the item as stored: live subscribers read nothing
        item = InboxEvent(
            id=result.inbox_item,
            patient_id=patient_id,
            event=event,
            title=rendered.title,
            text=rendered.text,
            created_at=now,
        )
        await runtime.adapters.inbox_bus.publish(item)
    return result


async def _put_in_inbox(session: AsyncSession, base: dict[str, Any], text: str, now: datetime) -> uuid.UUID | None:
    """The inbox channel is delivered at once: its message row and the item are one insert each."""
    message_id = uuid.uuid4()
    inserted = await insert_ignore(
        session,
        NotificationMessage,
        {
            **base,
            "id": message_id,
            "channel": MessageChannel.INBOX.value,
            "address": None,
            "body": text,
            "status": MessageStatus.DELIVERED.value,
            "attempts": 1,
            "sent_at": now,
            "final_at": now,
        },
        ["dedupe_key", "patient_id", "channel"],
    )
    if not inserted:
        return None
    item = InboxItem(
        id=uuid.uuid4(),
        patient_id=base["patient_id"],
        message_id=message_id,
        dedupe_key=base["dedupe_key"],
        event=base["event"],
        title=base["title"],
        body=text,
        data=base["data"],
        created_at=now,
    )
    session.add(item)
    await session.flush()
    return item.id


async def on_requested(envelope: Envelope, runtime: Runtime) -> None:
    """The outbox handler of :data:`TOPIC` (registered by :mod:`backend.wiring`): plan, then deliver."""
    payload = envelope.payload
    result = await plan(
        runtime,
        patient_id=uuid.UUID(payload["patient_id"]),
        event=payload["event"],
        data=payload["data"],
        urgent=bool(payload.get("urgent")),
        dedupe_key=payload["dedupe_key"],
    )
    await delivery.enqueue(runtime, result.due_now)


# --- what the patient sees ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelDelivery:
    channel: str
    status: str
    attempts: int
    updated_at: datetime
    scheduled_for: datetime | None
    error: str | None


@dataclass(frozen=True)
class NotificationView:
    key: str
    event: str
    title: str
    text: str
    created_at: datetime
    deliveries: list[ChannelDelivery]


async def list_notifications(
    session: AsyncSession, patient_id: uuid.UUID, *, limit: int = 20, before: datetime | None = None
) -> list[NotificationView]:
    """The person's notifications, newest first, each with its per-channel delivery status (2 queries)."""
    keys_query = (
        select(NotificationMessage.dedupe_key, func.min(NotificationMessage.created_at).label("first"))
        .where(NotificationMessage.patient_id == patient_id)
        .group_by(NotificationMessage.dedupe_key)
        .order_by(func.min(NotificationMessage.created_at).desc(), NotificationMessage.dedupe_key)
        .limit(limit)
    )
    if before is not None:
        keys_query = keys_query.having(func.min(NotificationMessage.created_at) < before)
    keys = [row.dedupe_key for row in await session.execute(keys_query)]
    if not keys:
        return []
    rows = await session.scalars(
        select(NotificationMessage).where(
            NotificationMessage.patient_id == patient_id, NotificationMessage.dedupe_key.in_(keys)
        )
    )
    grouped: dict[str, list[NotificationMessage]] = {}
    for row in rows:
        grouped.setdefault(row.dedupe_key, []).append(row)
    order = {MessageChannel.INBOX.value: 0, MessageChannel.PUSH.value: 1, "sms": 2, "email": 3}
    views = []
    for key in keys:
        messages = sorted(grouped.get(key, []), key=lambda m: (order.get(m.channel, 9), m.created_at))
        first = min(messages, key=lambda m: m.created_at)
        text = next((m.body for m in messages if m.channel != MessageChannel.EMAIL.value), first.body)
        views.append(
            NotificationView(
                key=key,
                event=first.event,
                title=first.title,
                text=text,
                created_at=first.created_at,
                deliveries=[
                    ChannelDelivery(
                        channel=m.channel,
                        status=m.status,
                        attempts=m.attempts,
                        updated_at=m.updated_at,
                        scheduled_for=m.next_attempt_at if m.status == MessageStatus.QUEUED.value else None,
                        error=m.last_error
                        if m.status in (MessageStatus.FAILED.value, MessageStatus.DEAD.value)
                        else None,
                    )
                    for m in messages
                ],
            )
        )
    return views


async def list_inbox(
    session: AsyncSession,
    patient_id: uuid.UUID,
    *,
    limit: int = 20,
    before: datetime | None = None,
    unread_only: bool = False,
) -> list[InboxItem]:
    query = select(InboxItem).where(InboxItem.patient_id == patient_id)
    if before is not None:
        query = query.where(InboxItem.created_at < before)
    if unread_only:
        query = query.where(InboxItem.read_at.is_(None))
    rows = await session.scalars(query.order_by(InboxItem.created_at.desc(), InboxItem.id).limit(limit))
    return list(rows)


async def unread_count(session: AsyncSession, patient_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(InboxItem)
        .where(InboxItem.patient_id == patient_id, InboxItem.read_at.is_(None))
    )
    return int(count or 0)


async def mark_read(
    session: AsyncSession, patient_id: uuid.UUID, item_ids: list[uuid.UUID] | None, at: datetime
) -> int:
    """Mark the person's own items read (all of them when ``item_ids`` is None); others' ids are ignored."""
    statement = update(InboxItem).where(InboxItem.patient_id == patient_id, InboxItem.read_at.is_(None))
    if item_ids is not None:
        statement = statement.where(InboxItem.id.in_(item_ids))
    result = await session.execute(statement.values(read_at=at).execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]
