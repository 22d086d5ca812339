"""Delivery of one message: claim, reconcile, send, record — so nothing is lost and nothing is sent twice.

The protocol for a message (a row of ``notification_messages``):

1. **Claim** with a conditional UPDATE (a lease in ``claimed_until``): a duplicated or retried task
   finds the row held, or no longer due, and does nothing.
2. **Reconcile** when the row is still ``sending`` from an earlier attempt whose outcome is unknown (a
   worker died after the provider accepted, or the reply was lost): ask the provider before sending
   again. SMSC knows the message by our id (the status API, and its duplicate refusal within a minute);
   Twilio has no idempotency key, so its attempt waits ``notify_reconcile_grace_s`` for the status
   callback (whose URL carries our message id) before it is presumed not sent.
3. **Quiet hours and expiry**: a non-urgent SMS due at night moves to the morning; a reminder after the
   visit is not sent at all.
4. **Attempt**: a ``delivery_attempts`` row is committed *before* the provider is called, then
   completed with the provider's id and status. Temporary failures come back with exponential back-off;
   after ``notify_max_attempts`` the message is ``dead`` (the dead letter). Permanent refusals are
   ``failed`` at once.

Delivery reports (Twilio callbacks, SMSC polling) only ever move a message forward.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.celery_app import TaskName, celery_app
from integrations.sms import SmsMessageNotFound, SmsRejected, SmsTemporaryError
from integrations.sms.smsc import smsc_message_id
from notifications.models import (
    AttemptOutcome,
    DeliveryAttempt,
    InboxItem,
    MessageChannel,
    MessageStatus,
    NotificationMessage,
)
from notifications.preferences import get_preferences, insert_ignore
from notifications.quiet import quiet_until
from notifications.sending import (
    _SENDERS,
    _SMS_TO_STATUS,
    STATUS_POLL_HORIZON,
    Accepted,
    Outcome,
    Result,
    Snapshot,
    _close_attempt,
    _finish,
    _hold,
    _Permanent,
    _record_accepted,
    _requeue,
    _Temporary,
    _Unknown,
    _update_message,
    apply_sms_status,
    backoff,
)

if TYPE_CHECKING:
    from backend.runtime import Runtime

__all__ = ["Outcome", "Result", "apply_sms_status", "backoff", "deliver", "enqueue", "scan_push_fallback", "tick"]

log = structlog.get_logger(__name__)


# --- the protocol ------------------------------------------------------------------------------------


async def deliver(runtime: Runtime, message_id: uuid.UUID) -> Result:  # noqa: PLR0911 - one exit per outcome
    """Carry one message one step further; safe to call any number of times, concurrently."""
    settings = runtime.settings
    sessionmaker = runtime.sessionmaker
    now = runtime.now()
    lease = timedelta(seconds=settings.notify_send_lease_s)
    async with sessionmaker() as session, session.begin():
        claimed = await session.execute(
            update(NotificationMessage)
            .where(
                NotificationMessage.id == message_id,
                or_(NotificationMessage.claimed_until.is_(None), NotificationMessage.claimed_until < now),
                or_(
                    and_(
                        NotificationMessage.status == MessageStatus.QUEUED.value,
                        or_(NotificationMessage.next_attempt_at.is_(None), NotificationMessage.next_attempt_at <= now),
                    ),
                    NotificationMessage.status == MessageStatus.SENDING.value,
                ),
            )
            .values(claimed_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return Result(Outcome.SKIPPED)
        message = Snapshot.of(await session.get_one(NotificationMessage, message_id))
        last = await _last_attempt(session, message_id)

    if message.status is MessageStatus.SENDING:
        reconciled = await _reconcile(runtime, message, last, now)
        if reconciled is not None:
            return reconciled

    if message.not_after is not None and now >= message.not_after:
        await _finish(runtime, message.id, None, status=MessageStatus.FAILED, error="Срок актуальности истёк")
        return Result(Outcome.FAILED)
    if message.channel is MessageChannel.SMS and not message.urgent:
        morning = quiet_until(now, settings)
        if morning is not None:
            await _requeue(runtime, message.id, morning, error=None)
            return Result(Outcome.DEFERRED, morning)
    if message.attempts >= settings.notify_max_attempts:
        await _finish(runtime, message.id, None, status=MessageStatus.DEAD, error="Исчерпаны попытки отправки")
        return Result(Outcome.DEAD)

    number = message.attempts + 1
    async with sessionmaker() as session, session.begin():
        session.add(DeliveryAttempt(id=uuid.uuid4(), message_id=message.id, number=number, started_at=now))
        await session.execute(
            update(NotificationMessage)
            .where(NotificationMessage.id == message.id)
            .values(status=MessageStatus.SENDING.value, attempts=number, claimed_until=now + lease, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    try:
        accepted = await _SENDERS[message.channel](runtime, message)
    except _Permanent as exc:
        await _close_attempt(runtime, message.id, number, AttemptOutcome.REJECTED, error=str(exc))
        await _finish(runtime, message.id, number, status=MessageStatus.FAILED, error=str(exc))
        return Result(Outcome.FAILED)
    except _Temporary as exc:
        await _close_attempt(runtime, message.id, number, AttemptOutcome.TEMPORARY_ERROR, error=str(exc))
        if number >= settings.notify_max_attempts:
            await _finish(runtime, message.id, number, status=MessageStatus.DEAD, error=str(exc))
            return Result(Outcome.DEAD)
        retry_at = runtime.now() + backoff(runtime, number, exc.retry_after_s)
        await _requeue(runtime, message.id, retry_at, error=str(exc))
        return Result(Outcome.RETRY, retry_at)
    except _Unknown as exc:
        await _close_attempt(runtime, message.id, number, AttemptOutcome.UNKNOWN, error=str(exc))
        retry_at = runtime.now() + backoff(runtime, number)
        await _hold(runtime, message.id, retry_at, error=str(exc))
        return Result(Outcome.RETRY, retry_at)

    await _close_attempt(
        runtime,
        message.id,
        number,
        AttemptOutcome.ACCEPTED,
        provider=accepted.provider,
        provider_id=accepted.provider_id,
        provider_status=accepted.provider_status,
    )
    await _record_accepted(runtime, message.id, accepted)
    return Result(Outcome.DELIVERED if accepted.status is MessageStatus.DELIVERED else Outcome.SENT)


async def _last_attempt(session: AsyncSession, message_id: uuid.UUID) -> DeliveryAttempt | None:
    result: DeliveryAttempt | None = await session.scalar(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.message_id == message_id)
        .order_by(DeliveryAttempt.number.desc())
        .limit(1)
    )
    return result


async def _reconcile(  # noqa: PLR0911 - one exit per verdict
    runtime: Runtime, message: Snapshot, last: DeliveryAttempt | None, now: datetime
) -> Result | None:
    """Decide an earlier attempt whose outcome is unknown. None: it did not send, go on and send."""
    if last is None or last.outcome not in (None, AttemptOutcome.UNKNOWN.value):
        return None
    if message.channel is not MessageChannel.SMS:
        # Push and e-mail have no status API; a resend may duplicate a push (harmless) — the file and
        # SMTP senders carry our Message-ID so a mail client can fold a duplicate.
        await _close_attempt(runtime, message.id, last.number, AttemptOutcome.NOT_SENT, error="presumed not sent")
        return None
    gateway = runtime.adapters.sms
    provider_id = last.provider_id or message.provider_id
    if provider_id is None and gateway.provider == "smsc" and message.address:
        provider_id = f"{smsc_message_id(message.client_ref)}:{message.address.removeprefix('+')}"
    if provider_id is None:
        # Twilio without a sid: its status callback (to a URL carrying our id) settles it; wait for it.
        grace_end = last.started_at + timedelta(seconds=runtime.settings.notify_reconcile_grace_s)
        if now < grace_end:
            await _hold(runtime, message.id, grace_end, error=None)
            return Result(Outcome.DEFERRED, grace_end)
        await _close_attempt(
            runtime, message.id, last.number, AttemptOutcome.NOT_SENT, error="no status callback within grace"
        )
        return None
    try:
        status = await gateway.status(provider_id)
    except SmsMessageNotFound:
        await _close_attempt(
            runtime, message.id, last.number, AttemptOutcome.NOT_SENT, error="provider has no such message"
        )
        return None
    except (SmsTemporaryError, SmsRejected) as exc:
        retry_at = now + backoff(runtime, message.attempts)
        await _hold(runtime, message.id, retry_at, error=f"reconcile: {exc}")
        return Result(Outcome.RETRY, retry_at)
    accepted = Accepted(gateway.provider, provider_id, status.value, _SMS_TO_STATUS[status])
    await _close_attempt(
        runtime,
        message.id,
        last.number,
        AttemptOutcome.RECONCILED,
        provider=accepted.provider,
        provider_id=provider_id,
        provider_status=status.value,
    )
    await _record_accepted(runtime, message.id, accepted)
    log.info("notifications.reconciled", message_id=str(message.id), provider_id=provider_id, status=status.value)
    return Result(Outcome.RECONCILED)


# --- hand-off, scans ---------------------------------------------------------------------------------


async def enqueue(runtime: Runtime, message_ids: list[uuid.UUID]) -> None:
    """Hand messages to delivery: inline in the embedded profile, as Celery tasks otherwise. A lost
    hand-off (broker down) only delays: :func:`tick` finds every due message again."""
    if not message_ids:
        return
    if runtime.settings.celery_eager:
        for message_id in message_ids:
            try:
                await deliver(runtime, message_id)
            except Exception:
                log.exception("notifications.deliver_crashed", message_id=str(message_id))
        return
    for message_id in message_ids:
        try:
            await asyncio.to_thread(celery_app.send_task, TaskName.NOTIFICATIONS_DELIVER, args=[str(message_id)])
        except Exception:
            log.warning("notifications.enqueue_failed", message_id=str(message_id), exc_info=True)


async def due_message_ids(runtime: Runtime, *, limit: int = 500) -> list[uuid.UUID]:
    """Queued messages that are due, and ``sending`` ones whose lease ran out (to reconcile)."""
    now = runtime.now()
    async with runtime.sessionmaker() as session:
        rows = await session.execute(
            select(NotificationMessage.id)
            .where(
                or_(NotificationMessage.claimed_until.is_(None), NotificationMessage.claimed_until < now),
                or_(
                    and_(
                        NotificationMessage.status == MessageStatus.QUEUED.value,
                        NotificationMessage.next_attempt_at <= now,
                    ),
                    NotificationMessage.status == MessageStatus.SENDING.value,
                ),
            )
            .order_by(NotificationMessage.next_attempt_at)
            .limit(limit)
        )
        return [row.id for row in rows]


async def poll_sms_statuses(runtime: Runtime, *, limit: int = 200) -> int:
    """Ask the SMS provider about sent messages without a final report (SMSC has no callbacks; Twilio's
    may be lost). Returns how many changed."""
    now = runtime.now()
    async with runtime.sessionmaker() as session:
        rows = (
            await session.execute(
                select(NotificationMessage.id, NotificationMessage.provider_id, NotificationMessage.sent_at)
                .where(
                    NotificationMessage.channel == MessageChannel.SMS.value,
                    NotificationMessage.status == MessageStatus.SENT.value,
                    NotificationMessage.next_check_at <= now,
                    NotificationMessage.provider_id.is_not(None),
                )
                .order_by(NotificationMessage.next_check_at)
                .limit(limit)
            )
        ).all()
    if not rows:
        return 0
    gateway = runtime.adapters.sms
    changed = 0
    poll = timedelta(seconds=runtime.settings.notify_status_poll_s)
    for row in rows:
        age = now - (row.sent_at or now)
        next_check = None if age > STATUS_POLL_HORIZON else now + max(poll, age / 4)
        try:
            status = await gateway.status(row.provider_id)
        except SmsMessageNotFound:
            status = None
        except SmsTemporaryError:
            log.warning("notifications.status_poll_failed", message_id=str(row.id), exc_info=True)
            status = None
        if status is not None and await apply_sms_status(
            runtime, status=status, provider_id=row.provider_id, raw_status=status.value, message_id=row.id
        ):
            changed += 1
        await _update_message(
            runtime, row.id, NotificationMessage.status == MessageStatus.SENT.value, next_check_at=next_check
        )
    return changed


async def tick(runtime: Runtime) -> dict[str, int]:
    """The periodic safety net: hand on what is due (retries, mornings, lost hand-offs, crashed
    attempts to reconcile) and poll delivery reports."""
    ids = await due_message_ids(runtime)
    await enqueue(runtime, ids)
    polled = await poll_sms_statuses(runtime)
    return {"due": len(ids), "status_changes": polled}


async def scan_push_fallback(runtime: Runtime, *, limit: int = 200) -> int:
    """Pushes unread after ``notify_push_fallback_s`` (or that failed) get an SMS, if the person allows
    SMS and has a phone. Returns how many SMS were planned."""
    now = runtime.now()
    cutoff = now - timedelta(seconds=runtime.settings.notify_push_fallback_s)
    async with runtime.sessionmaker() as session:
        pushes = list(
            await session.scalars(
                select(NotificationMessage)
                .where(
                    NotificationMessage.channel == MessageChannel.PUSH.value,
                    NotificationMessage.fallback_checked_at.is_(None),
                    or_(
                        and_(
                            NotificationMessage.status.in_([MessageStatus.SENT.value, MessageStatus.DELIVERED.value]),
                            NotificationMessage.sent_at <= cutoff,
                        ),
                        NotificationMessage.status.in_([MessageStatus.FAILED.value, MessageStatus.DEAD.value]),
                    ),
                )
                .order_by(NotificationMessage.created_at)
                .limit(limit)
            )
        )
    planned: list[uuid.UUID] = []
    for push in pushes:
        try:
            created = await _fallback_one(runtime, push, now)
        except Exception:  # one bad row must not stop the others
            log.exception("notifications.fallback_failed", message_id=str(push.id))
            continue
        if created is not None:
            planned.append(created)
    await enqueue(runtime, planned)
    return len(planned)


async def _fallback_one(runtime: Runtime, push: NotificationMessage, now: datetime) -> uuid.UUID | None:
    async with runtime.sessionmaker() as session, session.begin():
        claimed = await session.execute(
            update(NotificationMessage)
            .where(NotificationMessage.id == push.id, NotificationMessage.fallback_checked_at.is_(None))
            .values(fallback_checked_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None  # another scan got there first
        read = await session.scalar(
            select(InboxItem.read_at).where(
                InboxItem.patient_id == push.patient_id, InboxItem.dedupe_key == push.dedupe_key
            )
        )
        created: uuid.UUID | None = None
        prefs = await get_preferences(session, push.patient_id)
        if read is None and prefs.sms and prefs.phone:
            message_id = uuid.uuid4()
            due = now if push.urgent else (quiet_until(now, runtime.settings) or now)
            inserted = await insert_ignore(
                session,
                NotificationMessage,
                {
                    "id": message_id,
                    "dedupe_key": push.dedupe_key,
                    "patient_id": push.patient_id,
                    "channel": MessageChannel.SMS.value,
                    "event": push.event,
                    "urgent": push.urgent,
                    "address": prefs.phone,
                    "title": push.title,
                    "body": push.body,
                    "data": push.data,
                    "status": MessageStatus.QUEUED.value,
                    "attempts": 0,
                    "next_attempt_at": due,
                    "not_after": push.not_after,
                    "fallback_of": push.id,
                    "created_at": now,
                    "updated_at": now,
                },
                ["dedupe_key", "patient_id", "channel"],
            )
            if inserted and due <= now:
                created = message_id
    return created
