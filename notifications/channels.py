"""The channels that are ours rather than an upstream's: e-mail sending and the in-app inbox's live feed.

* :class:`EmailSender` — one method; :class:`FileEmailSender` writes ``.eml`` files (the embedded
  default and the tests), :class:`SmtpEmailSender` speaks SMTP through ``aiosmtplib`` (an optional
  dependency, imported when first used).
* :class:`InboxBus` — "a new inbox item for person X": in-process queues in the embedded profile,
  Redis pub/sub when there is Redis (API processes and workers are then different processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import structlog
from redis.asyncio import Redis

log = structlog.get_logger(__name__)


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
        try:
            import aiosmtplib
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise EmailRejected("aiosmtplib is not installed: add it to the dependencies") from exc
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


class InboxBus(Protocol):
    async def publish(self, patient_id: uuid.UUID, item_id: uuid.UUID) -> None:
        """Best effort: a lost publish only delays what the person sees until they reload the inbox."""
        ...

    def subscribe(self, patient_id: uuid.UUID) -> AsyncIterator[uuid.UUID]: ...

    async def aclose(self) -> None: ...


class InProcessInboxBus:
    """Queues per subscriber; publishing from another thread's loop is safe (call_soon_threadsafe)."""

    def __init__(self) -> None:
        self._subscribers: dict[uuid.UUID, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[uuid.UUID]]]] = {}

    async def publish(self, patient_id: uuid.UUID, item_id: uuid.UUID) -> None:
        for loop, queue in list(self._subscribers.get(patient_id, ())):
            with contextlib.suppress(RuntimeError):  # the subscriber's loop is gone
                loop.call_soon_threadsafe(queue.put_nowait, item_id)

    async def subscribe(self, patient_id: uuid.UUID) -> AsyncIterator[uuid.UUID]:
        entry = (asyncio.get_running_loop(), asyncio.Queue[uuid.UUID]())
        self._subscribers.setdefault(patient_id, set()).add(entry)
        try:
            while True:
                yield await entry[1].get()
        finally:
            subscribers = self._subscribers.get(patient_id)
            if subscribers is not None:
                subscribers.discard(entry)
                if not subscribers:
                    self._subscribers.pop(patient_id, None)

    def subscriber_count(self, patient_id: uuid.UUID) -> int:
        return len(self._subscribers.get(patient_id, ()))

    async def aclose(self) -> None:
        self._subscribers.clear()


class RedisInboxBus:
    """``PUBLISH mz:inbox:<patient id> <item id>`` across nodes. Each process holds ONE pattern
    subscription (``mz:inbox:*``) whose reader fans messages out to its local subscribers, so 10,000
    live subscribers cost one Redis connection per worker, not 10,000. If Redis drops, the reader
    reconnects; what was published meanwhile is in the database (live delivery is best effort)."""

    PREFIX = "mz:inbox:"
    RECONNECT_S = 1.0

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._local = InProcessInboxBus()
        self._reader: asyncio.Task[None] | None = None

    async def publish(self, patient_id: uuid.UUID, item_id: uuid.UUID) -> None:
        try:
            await self._redis.publish(f"{self.PREFIX}{patient_id}", str(item_id))
        except Exception:  # Redis down: the item is in the database; live delivery is best effort
            log.warning("notifications.inbox_publish_failed", patient_id=str(patient_id), exc_info=True)

    async def subscribe(self, patient_id: uuid.UUID) -> AsyncIterator[uuid.UUID]:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="inbox-bus-reader")
        async for item_id in self._local.subscribe(patient_id):
            yield item_id

    async def _read(self) -> None:
        while True:
            pubsub: Any = self._redis.pubsub()
            try:
                await pubsub.psubscribe(f"{self.PREFIX}*")
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30.0)
                    if message is None:
                        continue
                    channel, data = message.get("channel"), message.get("data")
                    with contextlib.suppress(ValueError, AttributeError, TypeError):
                        channel = channel.decode() if isinstance(channel, bytes) else str(channel)
                        patient_id = uuid.UUID(channel.removeprefix(self.PREFIX))
                        item_id = uuid.UUID(data.decode() if isinstance(data, bytes) else str(data))
                        await self._local.publish(patient_id, item_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("notifications.inbox_reader_reconnecting", exc_info=True)
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
