"""Firebase Cloud Messaging, HTTP v1 API.

``POST /v1/projects/{project}/messages:send`` with ``{"message": {"token", "notification": {"title",
"body"}, "data": {…}}}`` and an OAuth 2 bearer token. The token comes from the service account: an
RS256-signed JWT assertion (``iss`` = client e-mail, ``scope`` = firebase.messaging, ``aud`` = token
URI, one hour) is exchanged at the token URI (``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``)
and cached until shortly before it expires.

Error mapping (``error.details[].errorCode`` of the FcmError, else ``error.status``):
UNREGISTERED, INVALID_ARGUMENT, SENDER_ID_MISMATCH → :class:`PushTokenInvalid` (Firebase's advice is to
delete the token; we validate our own payload first so INVALID_ARGUMENT means the token);
UNAVAILABLE, INTERNAL, QUOTA_EXCEEDED, HTTP 429/5xx → :class:`PushTemporaryError`; UNAUTHENTICATED →
one refresh of the access token and one retry; anything else → :class:`PushRejected`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import orjson

from integrations.common.http import INPROCESS_SCHEME, ASGIApp, build_http_client
from integrations.push.protocol import (
    PushRejected,
    PushResult,
    PushTemporaryError,
    PushTokenInvalid,
    retry_after_seconds,
)

PROVIDER = "fcm"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
ASSERTION_LIFETIME_S = 3600
TOKEN_REFRESH_MARGIN_S = 60.0

_TOKEN_INVALID = frozenset({"UNREGISTERED", "INVALID_ARGUMENT", "SENDER_ID_MISMATCH"})
_TEMPORARY = frozenset({"UNAVAILABLE", "INTERNAL", "QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED"})
_RESERVED_DATA_KEYS = frozenset({"from", "notification", "message_type"})
_RESERVED_DATA_PREFIXES = ("google", "gcm")


@dataclass(frozen=True, slots=True)
class FcmServiceAccount:
    """The fields of a Google service-account JSON key that FCM needs."""

    project_id: str
    client_email: str
    private_key: str  # PEM, RSA
    private_key_id: str
    token_uri: str = GOOGLE_TOKEN_URI

    @classmethod
    def from_json(cls, raw: str | bytes | Mapping[str, Any]) -> FcmServiceAccount:
        info = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
        try:
            return cls(
                project_id=str(info["project_id"]),
                client_email=str(info["client_email"]),
                private_key=str(info["private_key"]),
                private_key_id=str(info["private_key_id"]),
                token_uri=str(info.get("token_uri") or GOOGLE_TOKEN_URI),
            )
        except KeyError as exc:
            raise ValueError(f"service account JSON lacks {exc.args[0]!r}") from None


def validate_fcm_data(data: Mapping[str, str]) -> dict[str, str]:
    """FCM ``data`` holds strings only and must not use reserved keys; refuse locally, not at FCM."""
    result: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError(f"FCM data must map strings to strings, got {key!r}: {type(value).__name__}")
        if key in _RESERVED_DATA_KEYS or key.startswith(_RESERVED_DATA_PREFIXES):
            raise ValueError(f"FCM data key {key!r} is reserved")
        result[key] = value
    return result


def _origin_and_path(url: str) -> tuple[str, str]:
    if url.startswith(INPROCESS_SCHEME):
        host, _, path = url[len(INPROCESS_SCHEME) :].partition("/")
        return f"{INPROCESS_SCHEME}{host}", "/" + path
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"{parts.scheme}://{parts.netloc}", path + (f"?{parts.query}" if parts.query else "")


class FcmPushProvider:
    """:class:`~integrations.push.protocol.PushProvider` over FCM HTTP v1.

    ``base_url`` is ``https://fcm.googleapis.com`` or ``inprocess://fcm``; the OAuth token endpoint is the
    service account's ``token_uri`` (``inprocess://fcm/token`` for the simulator, which serves both).
    ``deadline_s`` bounds a whole send, access-token exchange included.
    """

    provider = PROVIDER

    def __init__(
        self,
        *,
        service_account: FcmServiceAccount,
        base_url: str = "https://fcm.googleapis.com",
        deadline_s: float = 10.0,
        simulator_app: Callable[[], ASGIApp] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._account = service_account
        self._deadline_s = deadline_s
        self._clock = clock
        self._api = build_http_client(base_url, simulator_app=simulator_app, timeout_s=deadline_s)
        token_origin, self._token_path = _origin_and_path(service_account.token_uri)
        self._oauth = build_http_client(token_origin, simulator_app=simulator_app, timeout_s=deadline_s)
        self._send_path = f"/v1/projects/{service_account.project_id}/messages:send"
        self._access_token: str | None = None
        self._access_expires_at = 0.0
        self._token_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._api.aclose()
        await self._oauth.aclose()

    async def send(self, token: str, title: str, body: str, data: Mapping[str, str]) -> PushResult:
        if not token:
            raise PushTokenInvalid("INVALID_ARGUMENT", "empty registration token")
        message = {
            "message": {
                "token": token,
                "notification": {"title": title, "body": body},
                "data": validate_fcm_data(data),
            }
        }
        try:
            async with asyncio.timeout(self._deadline_s):
                return await self._send(message)
        except TimeoutError:
            raise PushTemporaryError("TIMEOUT", f"FCM did not answer within {self._deadline_s}s") from None
        except httpx.HTTPError as exc:
            raise PushTemporaryError("TRANSPORT", f"FCM unreachable: {exc.__class__.__name__}") from None

    # ---

    async def _send(self, message: dict[str, Any]) -> PushResult:
        for attempt in range(2):
            access_token = await self._get_access_token(refresh=attempt > 0)
            response = await self._api.post(
                self._send_path,
                content=orjson.dumps(message),
                headers={"Authorization": f"Bearer {access_token}", "Content-Type": "application/json"},
            )
            payload = _json_object(response)
            if response.is_success:
                name = payload.get("name")
                if not isinstance(name, str) or not name:
                    raise PushTemporaryError("MALFORMED_REPLY", "FCM reply has no message name")
                return PushResult(message_id=name)
            code, text = _fcm_error(payload, response)
            if code == "UNAUTHENTICATED" and attempt == 0:
                continue  # the cached access token was revoked or expired early: get a new one, once
            raise _map_error(code, text, response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _get_access_token(self, *, refresh: bool) -> str:
        async with self._token_lock:
            fresh = self._clock() < self._access_expires_at - TOKEN_REFRESH_MARGIN_S
            if self._access_token is not None and fresh and not refresh:
                return self._access_token
            now = int(self._clock())
            assertion = jwt.encode(
                {
                    "iss": self._account.client_email,
                    "scope": FCM_SCOPE,
                    "aud": self._account.token_uri,
                    "iat": now,
                    "exp": now + ASSERTION_LIFETIME_S,
                },
                self._account.private_key,
                algorithm="RS256",
                headers={"kid": self._account.private_key_id},
            )
            response = await self._oauth.post(
                self._token_path, data={"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
            )
            payload = _json_object(response)
            if not response.is_success:
                error = str(payload.get("error") or f"http_{response.status_code}")
                text = str(payload.get("error_description") or response.reason_phrase)
                if response.status_code == 429 or response.status_code >= 500:
                    raise PushTemporaryError(f"OAUTH_{error.upper()}", text)
                raise PushRejected(f"OAUTH_{error.upper()}", text)
            access_token, expires_in = payload.get("access_token"), payload.get("expires_in")
            if not isinstance(access_token, str) or not isinstance(expires_in, int | float):
                raise PushTemporaryError("MALFORMED_REPLY", "OAuth token reply lacks access_token/expires_in")
            self._access_token = access_token
            self._access_expires_at = now + float(expires_in)
            return access_token


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict):
        if response.status_code == 429 or response.status_code >= 500:
            return {}  # a proxy's HTML error page: the status code says enough
        raise PushTemporaryError("MALFORMED_REPLY", f"HTTP {response.status_code} with a non-JSON body")
    return payload


def _fcm_error(payload: dict[str, Any], response: httpx.Response) -> tuple[str, str]:
    error = payload.get("error")
    if not isinstance(error, dict):
        return f"HTTP_{response.status_code}", response.reason_phrase
    code = str(error.get("status") or f"HTTP_{response.status_code}")
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("@type") == FCM_ERROR_TYPE and detail.get("errorCode"):
            code = str(detail["errorCode"])
    return code, str(error.get("message") or "")


def _map_error(code: str, text: str, response: httpx.Response) -> Exception:
    if code in _TOKEN_INVALID:
        return PushTokenInvalid(code, text)
    if code in _TEMPORARY or response.status_code == 429 or response.status_code >= 500:
        return PushTemporaryError(code, text, retry_after_s=retry_after_seconds(response.headers.get("Retry-After")))
    return PushRejected(code, text)
