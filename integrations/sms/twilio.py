"""Client of the Twilio Messages API (and of anything that speaks its shape).

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP Basic ``AccountSid:AuthToken`` and a
form body (``To``, ``From`` or ``MessagingServiceSid``, ``Body``, ``StatusCallback``); the reply is the
JSON message resource (``sid`` = ``SM`` + 32 hex) or the error JSON ``{"code", "message", "more_info",
"status"}``. Delivery reports arrive as form POSTs to ``StatusCallback``, signed with
``X-Twilio-Signature`` (see :func:`verify_twilio_signature`).

Twilio has no idempotency key: a send retried after a lost reply is a second SMS. The gateway does
not try to dedupe; the notification task that calls it is idempotent on ``client_ref`` and only
retries when the first attempt provably did not reach Twilio or failed temporarily.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from integrations.common.http import ASGIApp, build_http_client
from integrations.sms.phones import InvalidPhone, normalise_phone
from integrations.sms.protocol import (
    SmsMessageNotFound,
    SmsRejected,
    SmsSendResult,
    SmsStatus,
    SmsTemporaryError,
)

PROVIDER = "twilio"
API_VERSION = "2010-04-01"
SIGNATURE_HEADER = "X-Twilio-Signature"

# Twilio message statuses → ours. "sending" is still on Twilio's side; "partially_delivered" is not a
# delivery of the whole text, which for a one-time code is as good as none.
_STATUS_MAP: dict[str, SmsStatus] = {
    "accepted": SmsStatus.QUEUED,
    "scheduled": SmsStatus.QUEUED,
    "queued": SmsStatus.QUEUED,
    "sending": SmsStatus.QUEUED,
    "sent": SmsStatus.SENT,
    "delivered": SmsStatus.DELIVERED,
    "read": SmsStatus.DELIVERED,
    "partially_delivered": SmsStatus.UNDELIVERED,
    "undelivered": SmsStatus.UNDELIVERED,
    "failed": SmsStatus.FAILED,
    "canceled": SmsStatus.FAILED,
}

# Error codes that say "try again later" even when the HTTP status is a 4xx.
_TEMPORARY_CODES = frozenset({20429, 20500, 20503, 30001})


def normalise_twilio_status(raw: str) -> SmsStatus:
    try:
        return _STATUS_MAP[raw]
    except KeyError:
        raise ValueError(f"unknown Twilio message status {raw!r}") from None


# --- status callbacks --------------------------------------------------------------------------------


def compute_twilio_signature(auth_token: str, url: str, params: Mapping[str, str | Sequence[str]]) -> str:
    """base64(HMAC-SHA1(auth_token, url + every POST param as key+value, keys sorted))."""
    data = url
    for key in sorted(params):
        value = params[key]
        for item in [value] if isinstance(value, str) else sorted(value):
            data += key + item
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    """The URL as given, with the default port removed and with it added: proxies rewrite either way."""
    parts = urlsplit(url)
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    variants = [url]
    if default_port is None or parts.hostname is None:
        return variants
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    if parts.port == default_port:
        variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}")))
    elif parts.port is None:
        variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default_port}")))
    return variants


def verify_twilio_signature(
    auth_token: str, url: str, params: Mapping[str, str | Sequence[str]], signature: str | None
) -> bool:
    """Check ``X-Twilio-Signature`` of a callback: ``url`` is the full URL Twilio posted to (with its
    query string), ``params`` the decoded form body. A missing or empty signature never verifies."""
    if not signature:
        return False
    return any(
        hmac.compare_digest(compute_twilio_signature(auth_token, candidate, params), signature)
        for candidate in _url_variants(url)
    )


@dataclass(frozen=True, slots=True)
class TwilioStatusCallback:
    message_sid: str
    account_sid: str | None
    status: SmsStatus
    raw_status: str
    error_code: str | None


def parse_twilio_status_callback(form: Mapping[str, str]) -> TwilioStatusCallback:
    """Read a (signature-verified) status callback form; raises ``ValueError`` if it is not one."""
    sid = form.get("MessageSid") or form.get("SmsSid")
    raw_status = form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not raw_status:
        raise ValueError("not a Twilio message status callback: MessageSid/MessageStatus missing")
    return TwilioStatusCallback(
        message_sid=sid,
        account_sid=form.get("AccountSid"),
        status=normalise_twilio_status(raw_status),
        raw_status=raw_status,
        error_code=form.get("ErrorCode") or None,
    )


# --- client ------------------------------------------------------------------------------------------


class TwilioSmsGateway:
    """:class:`~integrations.sms.protocol.SmsGateway` over the Twilio Messages API.

    ``base_url`` is ``https://api.twilio.com`` in production or ``inprocess://twilio`` with
    ``simulator_app`` in tests. Exactly one of ``from_number`` / ``messaging_service_sid`` is needed.
    ``deadline_s`` bounds every call end to end (``asyncio.timeout``; httpx timeouts do not apply to
    an in-process transport).
    """

    provider = PROVIDER

    def __init__(
        self,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        deadline_s: float = 10.0,
        simulator_app: Callable[[], ASGIApp] | None = None,
    ) -> None:
        if (from_number is None) == (messaging_service_sid is None):
            raise ValueError("give exactly one of from_number and messaging_service_sid")
        self._account_sid = account_sid
        self._from = from_number
        self._service_sid = messaging_service_sid
        self._deadline_s = deadline_s
        self._http = build_http_client(
            base_url, simulator_app=simulator_app, timeout_s=deadline_s, auth=(account_sid, auth_token)
        )
        self._base_path = f"/{API_VERSION}/Accounts/{account_sid}/Messages"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(
        self, to_e164: str, body: str, *, client_ref: str, status_callback_url: str | None = None
    ) -> SmsSendResult:
        # client_ref is not sent: the API has no field for it (see the module docstring).
        try:
            to = normalise_phone(to_e164)
        except InvalidPhone as exc:
            raise SmsRejected("invalid_phone", str(exc)) from None
        form = {"To": to, "Body": body}
        if self._from is not None:
            form["From"] = self._from
        if self._service_sid is not None:
            form["MessagingServiceSid"] = self._service_sid
        if status_callback_url:
            form["StatusCallback"] = status_callback_url
        resource = await self._call("POST", f"{self._base_path}.json", data=form)
        sid, status = self._read_resource(resource)
        segments = resource.get("num_segments")
        return SmsSendResult(
            provider=PROVIDER,
            provider_id=sid,
            status=status,
            segments=int(segments) if isinstance(segments, int | str) and str(segments).isdigit() else None,
        )

    async def status(self, provider_id: str) -> SmsStatus:
        if not provider_id.startswith("SM") or not provider_id.isalnum():
            raise SmsMessageNotFound("20404", f"not a Twilio message sid: {provider_id!r}")
        resource = await self._call("GET", f"{self._base_path}/{provider_id}.json")
        return self._read_resource(resource)[1]

    # ---

    @staticmethod
    def _read_resource(resource: dict[str, Any]) -> tuple[str, SmsStatus]:
        sid, raw_status = resource.get("sid"), resource.get("status")
        if not isinstance(sid, str) or not isinstance(raw_status, str):
            raise SmsTemporaryError("Twilio reply has no sid/status", code="malformed_reply")
        try:
            return sid, normalise_twilio_status(raw_status)
        except ValueError as exc:
            raise SmsTemporaryError(str(exc), code="malformed_reply") from None

    async def _call(self, method: str, path: str, *, data: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self._deadline_s):
                response = await self._http.request(method, path, data=data)
        except TimeoutError:
            raise SmsTemporaryError(f"Twilio did not answer within {self._deadline_s}s", code="timeout") from None
        except httpx.HTTPError as exc:
            raise SmsTemporaryError(f"Twilio unreachable: {exc.__class__.__name__}", code="transport") from None
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            raise SmsTemporaryError(
                f"Twilio replied HTTP {response.status_code} with a body that is not a JSON object",
                code="malformed_reply",
            )
        if response.is_success:
            return payload
        raise self._error(response, payload)

    @staticmethod
    def _error(response: httpx.Response, payload: dict[str, Any]) -> Exception:
        code = payload.get("code")
        message = str(payload.get("message") or response.reason_phrase)
        more_info = payload.get("more_info")
        if more_info:
            message = f"{message} ({more_info})"
        code_text = str(code) if code is not None else f"http_{response.status_code}"
        status = response.status_code
        if status == 429 or status >= 500 or code in _TEMPORARY_CODES:
            retry_after = response.headers.get("Retry-After")
            return SmsTemporaryError(
                message,
                code=code_text,
                retry_after_s=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        if status == 404:
            return SmsMessageNotFound(code_text, message)
        return SmsRejected(code_text, message)
