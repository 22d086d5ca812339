"""Sending one attempt and keeping its books: the outcome types, the channel senders (SMS, push,
e-mail, inbox) and the bookkeeping of ``delivery_attempts`` and ``notification_messages`` rows.

:mod:`notifications.delivery` runs the protocol over these.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import or_, select, update

from integrations.push import PushRejected, PushTemporaryError, PushTokenInvalid
from integrations.sms import SmsRejected, SmsStatus, SmsTemporaryError
from notifications.channels import EmailRejected, EmailTemporaryError, twilio_callback_url
from notifications.models import (
    AttemptOutcome,
    DeliveryAttempt,
    MessageChannel,
    MessageStatus,
    NotificationMessage,
)
from notifications.preferences import active_push_tokens, invalidate_push_token

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
    values: dict[str, Any] = {"outcome": outcome.value, "finished_at": runtime.now(), "error": error}
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
    values.setdefault("updated_at", runtime.now())
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
        final_at=runtime.now(),
    )
    log.warning("notifications.message_final", message_id=str(message_id), status=status.value, error=error)


async def _record_accepted(runtime: Runtime, message_id: uuid.UUID, accepted: Accepted) -> None:
    now = runtime.now()
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
    now = runtime.now()
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
    gateway = runtime.adapters.sms
    callback = twilio_callback_url(runtime.settings, message.id) if gateway.provider == "twilio" else None
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
    providers = runtime.adapters.push
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
                await invalidate_push_token(session, token_id, runtime.now())
    if accepted:
        return Accepted("push", accepted[0][:128], f"accepted by {len(accepted)}", MessageStatus.SENT)
    if temporary is not None:
        raise _Temporary(f"push: {temporary}", temporary.retry_after_s)
    raise _Permanent("push: " + "; ".join(refused)[:500])


async def _send_email(runtime: Runtime, message: Snapshot) -> Accepted:
    if not message.address:
        raise _Permanent("нет адреса электронной почты")
    try:
        sent_id = await runtime.adapters.email.send(
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
