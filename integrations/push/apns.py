"""Apple Push Notification service, provider-token (JWT) authentication.

``POST /3/device/{device token}`` with ``authorization: bearer <ES256 JWT {kid} {iss: team, iat}>``,
``apns-topic`` (the app's bundle id), ``apns-push-type: alert``, ``apns-id`` (a UUID we choose and
APNs echoes) and ``apns-priority: 10``; body ``{"aps": {"alert": {"title", "body"}, "sound": "default"},
<custom keys>}``. Success is 200 with an empty body; errors are ``{"reason": "…"}`` (410 adds
``timestamp``). The provider token is reused for 50 minutes: Apple refuses tokens older than an hour
and ones refreshed more often than every 20 minutes.

Real APNs speaks HTTP/2 only, which httpx does with the ``h2`` package (``httpx[http2]``); the
in-process simulator is reached over HTTP/1.1 through ``build_http_client``.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt
import orjson

from integrations.common.http import ASGIApp, build_http_client, is_inprocess
from integrations.push.protocol import (
    PushRejected,
    PushResult,
    PushTemporaryError,
    PushTokenInvalid,
    retry_after_seconds,
)

PROVIDER = "apns"
PRODUCTION_URL = "https://api.push.apple.com"
SANDBOX_URL = "https://api.sandbox.push.apple.com"
PROVIDER_TOKEN_REUSE_S = 50 * 60
_HEX = re.compile(r"[0-9A-Fa-f]+")

_TOKEN_INVALID = frozenset({"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"})
_TEMPORARY = frozenset(
    {"TooManyRequests", "TooManyProviderTokenUpdates", "InternalServerError", "ServiceUnavailable", "Shutdown"}
)


class ApnsPushProvider:
    """:class:`~integrations.push.protocol.PushProvider` over APNs with a ``.p8`` signing key.

    ``private_key`` is the PEM of the P-256 key from the developer account, ``key_id`` its 10-character
    id, ``team_id`` the developer team, ``topic`` the app's bundle id. ``base_url`` is
    :data:`PRODUCTION_URL`, :data:`SANDBOX_URL` or ``inprocess://apns`` with ``simulator_app``.
    """

    provider = PROVIDER

    def __init__(
        self,
        *,
        team_id: str,
        key_id: str,
        private_key: str,
        topic: str,
        base_url: str = PRODUCTION_URL,
        deadline_s: float = 10.0,
        simulator_app: Callable[[], ASGIApp] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._team_id = team_id
        self._key_id = key_id
        self._private_key = private_key
        self._topic = topic
        self._deadline_s = deadline_s
        self._clock = clock
        self._provider_token: str | None = None
        self._provider_token_iat = 0.0
        if is_inprocess(base_url):
            self._http = build_http_client(base_url, simulator_app=simulator_app, timeout_s=deadline_s)
        else:
            try:
                self._http = httpx.AsyncClient(base_url=base_url, http2=True, timeout=httpx.Timeout(deadline_s))
            except ImportError as exc:
                raise RuntimeError("APNs needs HTTP/2: install httpx[http2] (the h2 package)") from exc

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, token: str, title: str, body: str, data: Mapping[str, str]) -> PushResult:
        if "aps" in data:
            raise ValueError("custom data must not use the reserved key 'aps'")
        if not _HEX.fullmatch(token):
            raise PushTokenInvalid("BadDeviceToken", "device token must be hex")
        payload: dict[str, Any] = {
            "aps": {"alert": {"title": title, "body": body}, "sound": "default"},
            **data,
        }
        apns_id = str(uuid.uuid4())
        try:
            async with asyncio.timeout(self._deadline_s):
                return await self._send(token, orjson.dumps(payload), apns_id)
        except TimeoutError:
            raise PushTemporaryError("Timeout", f"APNs did not answer within {self._deadline_s}s") from None
        except httpx.HTTPError as exc:
            raise PushTemporaryError("Transport", f"APNs unreachable: {exc.__class__.__name__}") from None

    # ---

    async def _send(self, token: str, content: bytes, apns_id: str) -> PushResult:
        for attempt in range(2):
            response = await self._http.post(
                f"/3/device/{token}",
                content=content,
                headers={
                    "authorization": f"bearer {self._get_provider_token(refresh=attempt > 0)}",
                    "apns-topic": self._topic,
                    "apns-push-type": "alert",
                    "apns-id": apns_id,
                    "apns-priority": "10",
                    "apns-expiration": "0",
                    "content-type": "application/json",
                },
            )
            if response.status_code == 200:
                return PushResult(message_id=response.headers.get("apns-id", apns_id))
            reason = _reason(response)
            if reason == "ExpiredProviderToken" and attempt == 0:
                continue  # our token aged out (clock skew, long idle): sign a new one, once
            raise _map_error(reason, response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_provider_token(self, *, refresh: bool) -> str:
        now = self._clock()
        if self._provider_token is None or refresh or now - self._provider_token_iat >= PROVIDER_TOKEN_REUSE_S:
            self._provider_token = jwt.encode(
                {"iss": self._team_id, "iat": int(now)},
                self._private_key,
                algorithm="ES256",
                headers={"kid": self._key_id},
            )
            self._provider_token_iat = now
        return self._provider_token


def _reason(response: httpx.Response) -> str:
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("reason"), str):
        return str(payload["reason"])
    if response.status_code == 429 or response.status_code >= 500:
        return f"HTTP{response.status_code}"
    raise PushTemporaryError("MalformedReply", f"APNs replied HTTP {response.status_code} without a reason")


def _map_error(reason: str, response: httpx.Response) -> Exception:
    if reason in _TOKEN_INVALID or response.status_code == 410:
        return PushTokenInvalid(reason, f"APNs HTTP {response.status_code}")
    if reason in _TEMPORARY or response.status_code == 429 or response.status_code >= 500:
        return PushTemporaryError(
            reason,
            f"APNs HTTP {response.status_code}",
            retry_after_s=retry_after_seconds(response.headers.get("Retry-After")),
        )
    return PushRejected(reason, f"APNs HTTP {response.status_code}")
