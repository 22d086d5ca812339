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
import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.push import PushRejected, PushTemporaryError, PushTokenInvalid
from integrations.sms import SmsMessageNotFound, SmsRejected, SmsStatus, SmsTemporaryError
from integrations.sms.smsc import smsc_message_id
from notifications import registry
from notifications.channels import EmailRejected, EmailTemporaryError
from notifications.models import (
    AttemptOutcome,
    DeliveryAttempt,
    InboxItem,
    MessageChannel,
    MessageStatus,
    NotificationMessage,
)
from notifications.preferences import active_push_tokens, get_preferences, insert_ignore, invalidate_push_token
from notifications.quiet import quiet_until

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

# SMS gateway errors after which the provider may or may not have the message.
_UNKNOWN_SMS_CODES = frozenset({"timeout", "malformed_reply", "transport"})
MAX_BACKOFF_S = 3600.0
STATUS_POLL_HORIZON = timedelta(days=3)

_SMS_TO_STATUS = {
    SmsStatus.QUEUED: MessageStatus.SENT,
    SmsStatus.SENT: MessageStatus.SENT,
    SmsStatus.DELIVERED: MessageStatus.DELIVERED,
    SmsStatus.UNDELIVERED: MessageStatus.UNDELIVERED,
    SmsStatus.FAILED: MessageStatus.FAILED,
}
_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.DEAD: 3,
}


class Outcome(enum.StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    RECONCILED = "reconciled"  # an earlier attempt had reached the provider after all
    DEFERRED = "deferred"  # quiet hours, or waiting for a Twilio callback
    RETRY = "retry"  # temporary failure, due again at retry_at
    FAILED = "failed"
    DEAD = "dead"
    SKIPPED = "skipped"  # not due, already done, or held by another worker


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    retry_at: datetime | None = None


@dataclass(frozen=True)
class Snapshot:
    """What an attempt needs of the message, read once at claim time."""

    id: uuid.UUID
    patient_id: uuid.UUID
    dedupe_key: str
    channel: MessageChannel
    event: str
    urgent: bool
    address: str | None
    title: str
    body: str
    status: MessageStatus
    attempts: int
    not_after: datetime | None
    provider_id: str | None

    @classmethod
    def of(cls, row: NotificationMessage) -> Snapshot:
        return cls(
            id=row.id,
            patient_id=row.patient_id,
            dedupe_key=row.dedupe_key,
            channel=MessageChannel(row.channel),
            event=row.event,
            urgent=row.urgent,
            address=row.address,
            title=row.title,
            body=row.body,
            status=MessageStatus(row.status),
            attempts=row.attempts,
            not_after=row.not_after,
            provider_id=row.provider_id,
        )

    @property
    def client_ref(self) -> str:
        """Our id as the provider sees it: the same on every attempt (SMSC deduplicates by it)."""
        return self.id.hex


@dataclass(frozen=True)
class Accepted:
    provider: str
    provider_id: str
    provider_status: str
    status: MessageStatus


class _Permanent(Exception):
    pass


class _Temporary(Exception):
    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class _Unknown(Exception):
    """The provider may have the message: reconcile before any resend."""


def backoff(runtime: Runtime, attempts: int, retry_after_s: float | None = None) -> timedelta:
    base = runtime.settings.notify_retry_base_s
    delay = min(MAX_BACKOFF_S, base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=max(delay, retry_after_s or 0.0))


# --- the protocol ------------------------------------------------------------------------------------


async def deliver(runtime: Runtime, message_id: uuid.UUID) -> Result:  # noqa: PLR0911 - one exit per outcome
    """Carry one message one step further; safe to call any number of times, concurrently."""
    settings = runtime.settings
    sessionmaker = runtime.sessionmaker
    now = registry.now(runtime)
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
        retry_at = registry.now(runtime) + backoff(runtime, number, exc.retry_after_s)
        await _requeue(runtime, message.id, retry_at, error=str(exc))
        return Result(Outcome.RETRY, retry_at)
    except _Unknown as exc:
        await _close_attempt(runtime, message.id, number, AttemptOutcome.UNKNOWN, error=str(exc))
        retry_at = registry.now(runtime) + backoff(runtime, number)
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
    gateway = registry.sms_gateway(runtime)
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


# --- bookkeeping -------------------------------------------------------------------------------------


async def _close_attempt(
    runtime: Runtime,
    message_id: uuid.UUID,
    number: int,
    outcome: AttemptOutcome,
    *,
    provider: str | None = None,
    provider_id: str | None = None,
    provider_status: str | None = None,
    error: str | None = None,
) -> None:
    values: dict[str, Any] = {"outcome": outcome.value, "finished_at": registry.now(runtime), "error": error}
    if provider is not None:
        values["provider"] = provider
    if provider_id is not None:
        values["provider_id"] = provider_id
    if provider_status is not None:
        values["provider_status"] = provider_status
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == message_id, DeliveryAttempt.number == number)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


async def _update_message(runtime: Runtime, message_id: uuid.UUID, *conditions: Any, **values: Any) -> int:
    values.setdefault("updated_at", registry.now(runtime))
    async with runtime.sessionmaker() as session, session.begin():
        result = await session.execute(
            update(NotificationMessage)
            .where(NotificationMessage.id == message_id, *conditions)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def _requeue(runtime: Runtime, message_id: uuid.UUID, at: datetime, *, error: str | None) -> None:
    await _update_message(
        runtime,
        message_id,
        status=MessageStatus.QUEUED.value,
        next_attempt_at=at,
        claimed_until=None,
        last_error=error,
    )


async def _hold(runtime: Runtime, message_id: uuid.UUID, until: datetime, *, error: str | None) -> None:
    """Keep the message ``sending`` (outcome unknown) and come back to reconcile it at ``until``."""
    values: dict[str, Any] = {"claimed_until": until}
    if error is not None:
        values["last_error"] = error
    await _update_message(runtime, message_id, NotificationMessage.status == MessageStatus.SENDING.value, **values)


async def _finish(
    runtime: Runtime, message_id: uuid.UUID, number: int | None, *, status: MessageStatus, error: str
) -> None:
    await _update_message(
        runtime,
        message_id,
        status=status.value,
        claimed_until=None,
        next_attempt_at=None,
        last_error=error,
        final_at=registry.now(runtime),
    )
    log.warning("notifications.message_final", message_id=str(message_id), status=status.value, error=error)


async def _record_accepted(runtime: Runtime, message_id: uuid.UUID, accepted: Accepted) -> None:
    now = registry.now(runtime)
    final = accepted.status.is_final
    moved = await _update_message(
        runtime,
        message_id,
        NotificationMessage.status.in_([MessageStatus.QUEUED.value, MessageStatus.SENDING.value]),
        status=accepted.status.value,
        provider=accepted.provider,
        provider_id=accepted.provider_id,
        provider_status=accepted.provider_status,
        claimed_until=None,
        next_attempt_at=None,
        last_error=None,
        sent_at=now,
        final_at=now if final else None,
        next_check_at=None if final else now + timedelta(seconds=runtime.settings.notify_status_poll_s),
    )
    if not moved:  # a delivery report got there first; keep its status, fill in what it lacked
        await _update_message(
            runtime,
            message_id,
            NotificationMessage.provider_id.is_(None),
            provider=accepted.provider,
            provider_id=accepted.provider_id,
        )


async def apply_sms_status(
    runtime: Runtime,
    *,
    status: SmsStatus,
    provider_id: str,
    raw_status: str,
    message_id: uuid.UUID | None = None,
    error_code: str | None = None,
) -> bool:
    """A delivery report (callback or poll): move the message forward, never back. True if it changed."""
    new = _SMS_TO_STATUS[status]
    now = registry.now(runtime)
    condition = (
        NotificationMessage.id == message_id
        if message_id is not None
        else NotificationMessage.provider_id == provider_id
    )
    async with runtime.sessionmaker() as session, session.begin():
        # Lock the row with a no-op write before reading it (a row lock on PostgreSQL, the write lock
        # on SQLite), so concurrent reports and the sending worker apply one after the other.
        await session.execute(
            update(NotificationMessage)
            .where(condition)
            .values(attempts=NotificationMessage.attempts, updated_at=NotificationMessage.updated_at)
            .execution_options(synchronize_session=False)
        )
        row = await session.scalar(select(NotificationMessage).where(condition))
        if row is None or (row.provider_id is not None and row.provider_id != provider_id):
            return False
        current = MessageStatus(row.status)
        if _RANK[new] <= _RANK[current] and row.provider_id is not None:
            return False
        if current is MessageStatus.SENDING or current is MessageStatus.QUEUED:
            # The report proves the provider has it: settle an attempt whose outcome we never learnt.
            await session.execute(
                update(DeliveryAttempt)
                .where(
                    DeliveryAttempt.message_id == row.id,
                    or_(DeliveryAttempt.outcome.is_(None), DeliveryAttempt.outcome == AttemptOutcome.UNKNOWN.value),
                )
                .values(
                    outcome=AttemptOutcome.RECONCILED.value,
                    provider_id=provider_id,
                    provider_status=raw_status,
                    finished_at=now,
                )
                .execution_options(synchronize_session=False)
            )
        if _RANK[new] > _RANK[current]:
            row.status = new.value
            row.claimed_until = None
            row.next_attempt_at = None
            row.sent_at = row.sent_at or now
            if new.is_final:
                row.final_at = now
                row.next_check_at = None
            elif row.next_check_at is None:
                row.next_check_at = now + timedelta(seconds=runtime.settings.notify_status_poll_s)
            if new in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
                row.last_error = f"оператор: {raw_status}" + (f" ({error_code})" if error_code else "")
        row.provider_id = provider_id
        row.provider_status = raw_status
        row.updated_at = now
    return True


# --- channels ----------------------------------------------------------------------------------------


async def _send_sms(runtime: Runtime, message: Snapshot) -> Accepted:
    if not message.address:
        raise _Permanent("нет номера телефона")
    gateway = registry.sms_gateway(runtime)
    callback = registry.twilio_callback_url(runtime.settings, message.id) if gateway.provider == "twilio" else None
    try:
        result = await gateway.send(
            message.address, message.body, client_ref=message.client_ref, status_callback_url=callback
        )
    except SmsRejected as exc:
        raise _Permanent(f"SMS refused: {exc}") from None
    except SmsTemporaryError as exc:
        if exc.code in _UNKNOWN_SMS_CODES:
            raise _Unknown(f"SMS outcome unknown: {exc}") from None
        raise _Temporary(f"SMS provider: {exc}", exc.retry_after_s) from None
    return Accepted(result.provider, result.provider_id, result.status.value, _SMS_TO_STATUS[result.status])


async def _send_push(runtime: Runtime, message: Snapshot) -> Accepted:
    async with runtime.sessionmaker() as session:
        tokens = await active_push_tokens(session, message.patient_id)
    if not tokens:
        raise _Permanent("нет устройств для push-уведомлений")
    providers = registry.push_providers(runtime)
    data = {"notificationId": str(message.id), "key": message.dedupe_key, "event": message.event}
    accepted: list[str] = []
    temporary: PushTemporaryError | None = None
    refused: list[str] = []
    dead_tokens: list[uuid.UUID] = []
    for token in tokens:
        provider = providers.get(token.provider)
        if provider is None:
            refused.append(f"{token.provider}: not configured")
            continue
        try:
            result = await provider.send(token.token, message.title, message.body, data)
        except PushTokenInvalid as exc:
            dead_tokens.append(token.id)
            refused.append(str(exc))
        except PushTemporaryError as exc:
            temporary = exc
        except PushRejected as exc:
            refused.append(str(exc))
        else:
            accepted.append(result.message_id)
    if dead_tokens:
        async with runtime.sessionmaker() as session, session.begin():
            for token_id in dead_tokens:
                await invalidate_push_token(session, token_id, registry.now(runtime))
    if accepted:
        return Accepted("push", accepted[0][:128], f"accepted by {len(accepted)}", MessageStatus.SENT)
    if temporary is not None:
        raise _Temporary(f"push: {temporary}", temporary.retry_after_s)
    raise _Permanent("push: " + "; ".join(refused)[:500])


async def _send_email(runtime: Runtime, message: Snapshot) -> Accepted:
    if not message.address:
        raise _Permanent("нет адреса электронной почты")
    try:
        sent_id = await registry.email_sender(runtime).send(
            to=message.address, subject=message.title, body=message.body, message_id=message.client_ref
        )
    except EmailRejected as exc:
        raise _Permanent(f"e-mail refused: {exc}") from None
    except EmailTemporaryError as exc:
        raise _Temporary(f"e-mail: {exc}") from None
    return Accepted("email", sent_id[:128], "accepted", MessageStatus.SENT)


async def _send_inbox(runtime: Runtime, message: Snapshot) -> Accepted:  # inbox rows are delivered when planned
    return Accepted("inbox", str(message.id), "delivered", MessageStatus.DELIVERED)


_SENDERS = {
    MessageChannel.SMS: _send_sms,
    MessageChannel.PUSH: _send_push,
    MessageChannel.EMAIL: _send_email,
    MessageChannel.INBOX: _send_inbox,
}


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
    from notifications.tasks import send_deliver_task

    for message_id in message_ids:
        try:
            await asyncio.to_thread(send_deliver_task, str(message_id))
        except Exception:
            log.warning("notifications.enqueue_failed", message_id=str(message_id), exc_info=True)


async def due_message_ids(runtime: Runtime, *, limit: int = 500) -> list[uuid.UUID]:
    """Queued messages that are due, and ``sending`` ones whose lease ran out (to reconcile)."""
    now = registry.now(runtime)
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
    now = registry.now(runtime)
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
    gateway = registry.sms_gateway(runtime)
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
    now = registry.now(runtime)
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
