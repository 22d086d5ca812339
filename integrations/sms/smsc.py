"""Client of the SMSC.ru HTTP API (``/sys/send.php`` and ``/sys/status.php`` with ``fmt=3``, JSON).

Send: ``login``, ``psw``, ``phones``, ``mes``, ``id``, ``fmt=3``, ``charset=utf-8`` → ``{"id": …, "cnt": …}``
or ``{"error": "…", "error_code": N}`` (always HTTP 200). Status: ``phone`` + ``id`` → ``{"status": N, …}``.
Both are POSTed as a form so the password stays out of URLs and access logs (SMSC takes GET or POST).

Deduplication: the message ``id`` is ours (``client_ref``) and, together with the phone, names the
message in ``status.php``. SMSC refuses an identical send repeated within a minute with error 9; a
retry that gets error 9 therefore looks the message up by phone + id and, if SMSC has it, reports
that message instead of failing. A retry more than a minute later is not deduplicated by SMSC, which
is why the notification task is idempotent on ``client_ref`` on our side too.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable
from typing import Any

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

PROVIDER = "smsc"

# send.php error codes (protocols.md §9.1).
ERR_BAD_PARAMETERS = 1
ERR_BAD_CREDENTIALS = 2
ERR_NO_FUNDS = 3
ERR_IP_BLOCKED = 4
ERR_BAD_DATE = 5
ERR_FORBIDDEN = 6
ERR_BAD_PHONE = 7
ERR_CANNOT_DELIVER = 8
ERR_DUPLICATE = 9

# Funds and IP blocks are account-wide and fixed by operations or by waiting; the message is fine.
_TEMPORARY_ERRORS = frozenset({ERR_NO_FUNDS, ERR_IP_BLOCKED})
_PERMANENT_ERRORS = frozenset(
    {ERR_BAD_PARAMETERS, ERR_BAD_CREDENTIALS, ERR_BAD_DATE, ERR_FORBIDDEN, ERR_BAD_PHONE, ERR_CANNOT_DELIVER}
)

# status.php codes. 20 and 22–25 are the error statuses (unconfirmed in protocols.md).
STATUS_NOT_FOUND = -3
_STATUS_MAP: dict[int, SmsStatus] = {
    -2: SmsStatus.FAILED,  # stopped
    -1: SmsStatus.QUEUED,  # waiting to be sent
    0: SmsStatus.SENT,  # transferred to the operator
    1: SmsStatus.DELIVERED,
    2: SmsStatus.DELIVERED,  # read
    3: SmsStatus.UNDELIVERED,  # expired
    4: SmsStatus.DELIVERED,  # link clicked
    20: SmsStatus.UNDELIVERED,  # impossible to deliver
    22: SmsStatus.FAILED,  # wrong number
    23: SmsStatus.FAILED,  # forbidden
    24: SmsStatus.FAILED,  # insufficient funds
    25: SmsStatus.UNDELIVERED,  # unavailable number
}

# SMSC message ids: an integer 1..2147483647 or up to 40 of [A-Za-z0-9._-] (SMSC send.php docs;
# not covered by protocols.md). Anything else is hashed into that alphabet, deterministically.
_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


def smsc_message_id(client_ref: str) -> str:
    if _ID_RE.fullmatch(client_ref):
        return client_ref
    return hashlib.sha1(client_ref.encode(), usedforsecurity=False).hexdigest()


def normalise_smsc_status(code: int) -> SmsStatus:
    if code in _STATUS_MAP:
        return _STATUS_MAP[code]
    if code >= 20:
        return SmsStatus.FAILED
    raise ValueError(f"unknown SMSC status {code}")


def _provider_id(message_id: str, phone_digits: str) -> str:
    return f"{message_id}:{phone_digits}"


class SmscSmsGateway:
    """:class:`~integrations.sms.protocol.SmsGateway` over SMSC.ru.

    ``base_url`` is ``https://smsc.ru`` (backup ``https://www2.smsc.ru``) or ``inprocess://smsc`` with
    ``simulator_app``. ``sender`` is a registered sender name (optional). ``deadline_s`` bounds every
    call end to end with ``asyncio.timeout``.
    """

    provider = PROVIDER

    def __init__(
        self,
        *,
        base_url: str,
        login: str,
        password: str,
        sender: str | None = None,
        deadline_s: float = 10.0,
        simulator_app: Callable[[], ASGIApp] | None = None,
    ) -> None:
        self._login = login
        self._password = password
        self._sender = sender
        self._deadline_s = deadline_s
        self._http = build_http_client(base_url, simulator_app=simulator_app, timeout_s=deadline_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(
        self, to_e164: str, body: str, *, client_ref: str, status_callback_url: str | None = None
    ) -> SmsSendResult:
        # status_callback_url is ignored: SMSC callbacks are configured per account, we poll status.php.
        try:
            phone = normalise_phone(to_e164).removeprefix("+")
        except InvalidPhone as exc:
            raise SmsRejected("invalid_phone", str(exc)) from None
        message_id = smsc_message_id(client_ref)
        form = {"phones": phone, "mes": body, "id": message_id, "charset": "utf-8"}
        if self._sender:
            form["sender"] = self._sender
        reply = await self._call("/sys/send.php", form)
        if "error_code" in reply or "error" in reply:
            code = _error_code(reply)
            if code == ERR_DUPLICATE:
                return await self._resolve_duplicate(message_id, phone)
            raise _error(reply, code)
        returned_id = reply.get("id")
        cnt = reply.get("cnt")
        if returned_id is None or not isinstance(cnt, int):
            raise SmsTemporaryError("SMSC send reply has neither id/cnt nor error", code="malformed_reply")
        return SmsSendResult(
            provider=PROVIDER,
            provider_id=_provider_id(str(returned_id), phone),
            status=SmsStatus.QUEUED,
            segments=cnt,
        )

    async def status(self, provider_id: str) -> SmsStatus:
        message_id, sep, phone = provider_id.rpartition(":")
        if not sep or not message_id or not phone.isdigit():
            raise SmsMessageNotFound("not_found", f"not an SMSC message reference: {provider_id!r}")
        return await self._status(message_id, phone)

    # ---

    async def _resolve_duplicate(self, message_id: str, phone: str) -> SmsSendResult:
        try:
            status = await self._status(message_id, phone)
        except SmsMessageNotFound:
            raise SmsTemporaryError(
                "SMSC refused a duplicate request but does not know the message; retry in a minute",
                code=str(ERR_DUPLICATE),
                retry_after_s=60.0,
            ) from None
        return SmsSendResult(provider=PROVIDER, provider_id=_provider_id(message_id, phone), status=status)

    async def _status(self, message_id: str, phone: str) -> SmsStatus:
        reply = await self._call("/sys/status.php", {"phone": phone, "id": message_id})
        if "error_code" in reply or "error" in reply:
            raise _error(reply, _error_code(reply))
        code = reply.get("status")
        if not isinstance(code, int):
            raise SmsTemporaryError("SMSC status reply has no status", code="malformed_reply")
        if code == STATUS_NOT_FOUND:
            raise SmsMessageNotFound(str(code), f"SMSC does not know message {message_id} to {phone}")
        try:
            return normalise_smsc_status(code)
        except ValueError as exc:
            raise SmsTemporaryError(str(exc), code="malformed_reply") from None

    async def _call(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        form = {"login": self._login, "psw": self._password, "fmt": "3", **params}
        try:
            async with asyncio.timeout(self._deadline_s):
                response = await self._http.post(path, data=form)
        except TimeoutError:
            raise SmsTemporaryError(f"SMSC did not answer within {self._deadline_s}s", code="timeout") from None
        except httpx.HTTPError as exc:
            raise SmsTemporaryError(f"SMSC unreachable: {exc.__class__.__name__}", code="transport") from None
        if not response.is_success:
            raise SmsTemporaryError(f"SMSC replied HTTP {response.status_code}", code=f"http_{response.status_code}")
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            raise SmsTemporaryError("SMSC reply is not a JSON object", code="malformed_reply")
        return payload


def _error_code(reply: dict[str, Any]) -> int | None:
    code = reply.get("error_code")
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.isdigit():
        return int(code)
    return None


def _error(reply: dict[str, Any], code: int | None) -> Exception:
    message = str(reply.get("error") or "unknown error")
    if code in _PERMANENT_ERRORS:
        return SmsRejected(str(code), message)
    if code in _TEMPORARY_ERRORS:
        return SmsTemporaryError(message, code=str(code))
    # Unknown codes (or an error without a code) are treated as retryable; the caller bounds retries.
    return SmsTemporaryError(message, code=str(code) if code is not None else "unknown")
