"""What the notifications layer needs from an SMS provider, independent of the provider.

Every gateway (SMSC.ru, a Twilio-shaped API) maps its own statuses onto :class:`SmsStatus` and its own
errors onto two exceptions: :class:`SmsRejected` is permanent (bad number, forbidden text, wrong
credentials: retrying cannot help), :class:`SmsTemporaryError` is retryable (provider down, rate limit,
timeout, a reply we could not parse). The caller retries temporary errors only, with back-off, and
keeps the same ``client_ref`` across retries so a provider that deduplicates can do so.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class SmsStatus(enum.StrEnum):
    """Provider-independent delivery status of one SMS."""

    QUEUED = "queued"  # accepted by the provider, not yet handed to the operator
    SENT = "sent"  # handed to the operator, no delivery report yet
    DELIVERED = "delivered"  # the handset confirmed delivery
    UNDELIVERED = "undelivered"  # the operator gave up (handset off, expired, unreachable)
    FAILED = "failed"  # the provider could not send it at all

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({SmsStatus.DELIVERED, SmsStatus.UNDELIVERED, SmsStatus.FAILED})


@dataclass(frozen=True, slots=True)
class SmsSendResult:
    provider: str  # "smsc" or "twilio"
    provider_id: str  # opaque; pass it back to SmsGateway.status()
    status: SmsStatus
    segments: int | None = None  # parts billed, when the provider says


class SmsError(Exception):
    """Base of the gateway errors; never raised itself."""


class SmsRejected(SmsError):
    """Permanent refusal: the same request will be refused again, do not retry."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SmsMessageNotFound(SmsRejected):
    """The provider does not know the message asked about."""


class SmsTemporaryError(SmsError):
    """Retryable failure: the provider is down, rate-limits us, timed out or replied nonsense."""

    def __init__(self, message: str, *, code: str | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message if code is None else f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s


@runtime_checkable
class SmsGateway(Protocol):
    """An SMS provider as the notifications layer sees it."""

    @property
    def provider(self) -> str: ...

    async def send(
        self, to_e164: str, body: str, *, client_ref: str, status_callback_url: str | None = None
    ) -> SmsSendResult:
        """Hand one SMS to the provider.

        ``client_ref`` identifies the notification on our side and must be the same on every retry
        of the same SMS; gateways that can deduplicate by it do so. ``status_callback_url`` is where
        a provider that pushes delivery reports should post them (ignored by polling-only gateways).
        """
        ...

    async def status(self, provider_id: str) -> SmsStatus:
        """Current status of a message previously returned by :meth:`send`."""
        ...

    async def aclose(self) -> None: ...
