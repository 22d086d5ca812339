"""What the notifications layer needs from a push provider (FCM, APNs), independent of the provider.

Errors say what to do next: :class:`PushTokenInvalid` — the device token is dead (app removed, token
rotated, belongs to another app): drop it and do not retry; :class:`PushTemporaryError` — retry
later with back-off; :class:`PushRejected` — a permanent problem that is not the token's (our
credentials or configuration, an oversized payload): do not retry, alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class PushResult:
    message_id: str  # FCM message name or APNs apns-id


class PushError(Exception):
    """Base of the push errors; never raised itself."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason
        self.message = message


class PushTokenInvalid(PushError):
    """The device token will never work again: remove it from the person's devices."""


class PushRejected(PushError):
    """Permanent refusal not caused by the token (credentials, topic, payload): do not retry."""


class PushTemporaryError(PushError):
    """Retryable: provider unavailable, quota, timeout, a reply we could not parse."""

    def __init__(self, reason: str, message: str = "", *, retry_after_s: float | None = None) -> None:
        super().__init__(reason, message)
        self.retry_after_s = retry_after_s


@runtime_checkable
class PushProvider(Protocol):
    @property
    def provider(self) -> str: ...

    async def send(self, token: str, title: str, body: str, data: Mapping[str, str]) -> PushResult:
        """Deliver one notification with a visible ``title``/``body`` and string ``data`` for the app."""
        ...

    async def aclose(self) -> None: ...


def retry_after_seconds(header: str | None) -> float | None:
    """``Retry-After`` in seconds (HTTP-date values are ignored: providers send seconds)."""
    if header and header.strip().isdigit():
        return float(header.strip())
    return None
