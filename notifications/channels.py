"""The channels that are ours rather than an upstream's: e-mail sending and the in-app inbox's live feed.

* :class:`EmailSender` — one method; :class:`FileEmailSender` writes ``.eml`` files (the embedded
  default and the tests), :class:`SmtpEmailSender` speaks SMTP through ``aiosmtplib`` (an optional
  dependency, imported when first used).
* :class:`InboxBus` — "a new inbox item for person X", the item itself (:class:`InboxEvent`) on the bus:
  in-process queues in the embedded profile, Redis pub/sub when there is Redis (API processes and
  workers are then different processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import aiosmtplib
import orjson
import structlog
from redis.asyncio import Redis

from backend.core import aio

if TYPE_CHECKING:
    from backend.settings import Settings

log = structlog.get_logger(__name__)

#: Where Twilio posts delivery reports (the notifications webhook).
WEBHOOK_PATH = "/api/v1/webhooks/sms/twilio"


def twilio_callback_url(settings: Settings, message_id: Any) -> str:
    """Where Twilio posts delivery reports of one message; our id in the URL lets a report arrive even
    when the worker died before it could record Twilio's sid."""
    return f"{settings.public_url.rstrip('/')}{WEBHOOK_PATH}?m={message_id}"


# --- e-mail ------------------------------------------------------------------------------------------


class EmailRejected(Exception):
    """Permanent: the server refused the recipient or the message."""


class EmailTemporaryError(Exception):
    """Retryable: the server is unreachable or asked us to come back later."""


class EmailSender(Protocol):
    async def send(self, *, to: str, subject: str, body: str, message_id: str) -> str:
        """Send one e-mail; ``message_id`` is ours and the same on every retry. Returns the Message-ID."""
        ...

    async def aclose(self) -> None: ...


def build_email(*, sender: str, to: str, subject: str, body: str, message_id: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = to
    email["Subject"] = subject
    email["Message-ID"] = make_msgid(idstring=message_id, domain="moe-zdorovye.ru")
    email.set_content(body)
    return email


class FileEmailSender:
    """Writes every e-mail to ``directory/<message_id>.eml``: a retry overwrites, never duplicates."""

    def __init__(self, directory: Path, *, sender: str) -> None:
        self.directory = directory
        self._sender = sender

    async def send(self, *, to: str, subject: str, body: str, message_id: str) -> str:
        email = build_email(sender=self._sender, to=to, subject=subject, body=body, message_id=message_id)
        path = self.directory / f"{message_id}.eml"
        await asyncio.to_thread(self._write, path, email.as_bytes())
        return str(email["Message-ID"])

    @staticmethod
    def _write(path: Path, content: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        tmp.replace(path)

    def sent(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml")) if self.directory.exists() else []

    async def aclose(self) -> None:
        return None


class SmtpEmailSender:
    """SMTP over ``aiosmtplib``: ``smtps://user:password@host:465`` (TLS) or ``smtp://…:587`` with STARTTLS
    required; ``?starttls=off`` only for a relay on the same host or network segment (a local MTA).
    A 5xx answer is permanent (:class:`EmailRejected`), a 4xx or a connection failure temporary."""

    def __init__(self, url: str, *, sender: str, timeout_s: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL: expected smtp://user:password@host:port or smtps://…")
        self._host = parts.hostname
        self._port = parts.port or (465 if parts.scheme == "smtps" else 587)
        self._tls = parts.scheme == "smtps"
        starttls = dict(parse_qsl(parts.query)).get("starttls", "required")
        if starttls not in ("required", "off"):
            raise ValueError("SMTP_URL: starttls must be required or off")
        self._start_tls = not self._tls and starttls == "required"
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._sender = sender
        self._timeout_s = timeout_s

    async def send(self, *, to: str, subject: str, body: str, message_id: str) -> str:
        email = build_email(sender=self._sender, to=to, subject=subject, body=body, message_id=message_id)
        try:
            await aiosmtplib.send(
                email,
                hostname=self._host,
                port=self._port,
                username=self._user,
                password=self._password,
                use_tls=self._tls,
                start_tls=self._start_tls,
                timeout=self._timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [getattr(r, "code", 550) for r in exc.recipients]
            if any(400 <= code < 500 for code in codes):  # e.g. 451 greylisting, 452 mailbox full
                raise EmailTemporaryError(str(exc)) from None
            raise EmailRejected(str(exc)) from None
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise EmailRejected(f"{exc.code} {exc.message}") from None
            raise EmailTemporaryError(f"{exc.code} {exc.message}") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise EmailTemporaryError(f"{type(exc).__name__}: {exc}") from None
        return str(email["Message-ID"])

    async def aclose(self) -> None:
        return None


# --- inbox live feed ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxEvent:
    """A new inbox item as it was stored, carried on the bus so that a live delivery reads nothing.

    ``patient_id`` travels with the item: a subscriber yields only events of its own patient, whatever
    arrives on its channel. On Redis it is one JSON document, encoded once per publish and decoded once
    per node, however many subscribers the node holds."""

    id: uuid.UUID
    patient_id: uuid.UUID
    event: str
    title: str
    text: str
    created_at: datetime

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "patient_id": self.patient_id,
                "event": self.event,
                "title": self.title,
                "text": self.text,
                "created_at": self.created_at,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | str) -> InboxEvent:
        """ValueError (or KeyError/TypeError) for anything but a document :meth:`encode` wrote."""
        document = orjson.loads(raw)
        return cls(
            id=uuid.UUID(document["id"]),
            patient_id=uuid.UUID(document["patient_id"]),
            event=str(document["event"]),
            title=str(document["title"]),
            text=str(document["text"]),
            created_at=datetime.fromisoformat(document["created_at"]),
        )


class InboxBus(Protocol):
    async def publish(self, item: InboxEvent) -> None:
        """Best effort: a lost publish only delays what the person sees until they reload the inbox."""
        ...

    def subscribe(self, patient_id: uuid.UUID) -> AsyncIterator[InboxEvent]: ...

    def subscriber_count(self, patient_id: uuid.UUID) -> int:
        """Live subscriptions of ``patient_id`` in this process."""
        ...

    async def aclose(self) -> None: ...


class _Mailbox:
    """One live subscriber's pending events and the future its reader waits on: what it needs of an
    ``asyncio.Queue`` (unbounded, one reader) in three slots, since a node holds one per subscriber."""

    __slots__ = ("items", "loop", "waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.items: deque[InboxEvent] = deque()
        self.waiter: asyncio.Future[None] | None = None

    def put(self, item: InboxEvent) -> None:
        """In ``loop``'s thread."""
        self.items.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self) -> InboxEvent:
        while not self.items:
            self.waiter = self.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.items.popleft()


class InProcessInboxBus:
    """A mailbox per subscriber, filled synchronously by :meth:`deliver`. A subscriber in the publisher's
    event loop gets the event at once (no wake-up of the loop's self-pipe per subscriber); one in another
    thread's loop through ``call_soon_threadsafe``."""

    def __init__(self) -> None:
        self._subscribers: dict[uuid.UUID, set[_Mailbox]] = {}

    async def publish(self, item: InboxEvent) -> None:
        self.deliver(item)

    def deliver(self, item: InboxEvent) -> None:
        subscribers = self._subscribers.get(item.patient_id)
        if not subscribers:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for box in tuple(subscribers):  # another thread's subscriber may leave meanwhile
            if box.loop is running:
                box.put(item)
            else:
                with contextlib.suppress(RuntimeError):  # the subscriber's loop is gone
                    box.loop.call_soon_threadsafe(box.put, item)

    async def subscribe(self, patient_id: uuid.UUID) -> AsyncIterator[InboxEvent]:
        box = _Mailbox(asyncio.get_running_loop())
        self._subscribers.setdefault(patient_id, set()).add(box)
        try:
            while True:
                yield await box.get()
        finally:
            subscribers = self._subscribers.get(patient_id)
            if subscribers is not None:
                subscribers.discard(box)
                if not subscribers:
                    self._subscribers.pop(patient_id, None)

    def subscriber_count(self, patient_id: uuid.UUID) -> int:
        return len(self._subscribers.get(patient_id, ()))

    async def aclose(self) -> None:
        self._subscribers.clear()


class RedisInboxBus:
    """``PUBLISH mz:inbox:<patient id> <InboxEvent JSON>`` across nodes. Each process holds ONE pattern
    subscription (``mz:inbox:*``) whose reader decodes each message once and fans it out to its local
    subscribers, so 10,000 live subscribers cost one Redis connection per worker, not 10,000. If Redis
    drops, the reader reconnects; what was published meanwhile is in the database (live delivery is best
    effort)."""

    PREFIX = "mz:inbox:"
    RECONNECT_S = 1.0

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._local = InProcessInboxBus()
        self._reader: asyncio.Task[None] | None = None

    async def publish(self, item: InboxEvent) -> None:
        try:
            await self._redis.publish(f"{self.PREFIX}{item.patient_id}", item.encode())
        except Exception:  # Redis down: the item is in the database; live delivery is best effort
            log.warning("notifications.inbox_publish_failed", patient_id=str(item.patient_id), exc_info=True)

    async def subscribe(self, patient_id: uuid.UUID) -> AsyncIterator[InboxEvent]:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="inbox-bus-reader")
        async for item in self._local.subscribe(patient_id):
            yield item

    def subscriber_count(self, patient_id: uuid.UUID) -> int:
        return self._local.subscriber_count(patient_id)

    def _deliver(self, channel: Any, data: Any) -> None:
        try:
            channel = channel.decode() if isinstance(channel, bytes) else str(channel)
            patient_id = uuid.UUID(channel.removeprefix(self.PREFIX))
            item = InboxEvent.decode(data)
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("notifications.inbox_message_dropped", channel=str(channel)[:80])
            return
        if item.patient_id != patient_id:  # a channel carries only its own patient's items
            log.warning("notifications.inbox_message_dropped", channel=str(channel)[:80])
            return
        self._local.deliver(item)

    async def _read(self) -> None:
        while not aio.cancel_requested():
            pubsub: Any = self._redis.pubsub()
            try:
                await pubsub.psubscribe(f"{self.PREFIX}*")
                # A read timeout of its own: an idle feed must outlast the client's socket_timeout. The loop
                # stops when a cancellation was asked for, even one redis-py swallowed (backend/core/aio.py).
                while not aio.cancel_requested():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30.0)
                    if message is not None:
                        self._deliver(message.get("channel"), message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("notifications.inbox_reader_reconnecting", exc_info=True)
                await asyncio.sleep(self.RECONNECT_S)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def aclose(self) -> None:
        await aio.cancel_and_wait(self._reader)
        self._reader = None
