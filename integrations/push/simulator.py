"""In-process simulators of FCM HTTP v1 (with its OAuth token endpoint) and of APNs.

Both keep what they accepted in an in-memory state reachable through :func:`fcm_state` /
:func:`apns_state`, refuse ``invalid_tokens`` the way the real service does (FCM: 404
``UNREGISTERED``; APNs: 410 ``Unregistered``) and take a :class:`FaultProfile` or :class:`FaultInjector`:
an *error* is the service's "unavailable" reply, a *timeout* stalls, a *malformed* reply is a body the
client cannot parse. FCM faults apply to ``messages:send`` only (the token endpoint has
``token_faults``), so a test can aim a fault at one or the other. APNs is served over HTTP/1.1.
"""

from __future__ import annotations

import hmac
import itertools
import re
import secrets
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import jwt
import orjson
from litestar import Litestar, Request, Response, post
from litestar.params import FromPath

from integrations.common.faults import Fault, FaultInjector, FaultProfile
from integrations.common.simulator import simulator_app, state_of
from integrations.push.fcm import FCM_ERROR_TYPE, FCM_SCOPE, JWT_BEARER_GRANT

Clock = Callable[[], float]

_GARBLED = b"<html><body>502 Bad Gateway</body></html>"
_HEX = re.compile(r"[0-9a-f]{64}", re.IGNORECASE)
_CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class _Refusal(Exception):
    """Raised by a handler to answer with ``response`` right away (the service's refusal shape)."""

    def __init__(self, response: Response[bytes]) -> None:
        super().__init__(response.status_code)
        self.response = response


def _refusal_handler(_: Request[Any, Any, Any], exc: _Refusal) -> Response[bytes]:
    return exc.response


_EXCEPTION_HANDLERS: Any = {_Refusal: _refusal_handler}


def _injector(faults: FaultProfile | FaultInjector | None) -> FaultInjector:
    return faults if isinstance(faults, FaultInjector) else FaultInjector(faults or FaultProfile())


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers)


# --- FCM ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FcmMessage:
    name: str
    token: str
    notification: dict[str, Any]
    data: dict[str, str]
    received_at: float


@dataclass
class FcmSimulatorState:
    project_id: str
    injector: FaultInjector
    token_injector: FaultInjector
    invalid_tokens: set[str]
    token_requests: int = 0
    assertions: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)  # (header, claims)
    access_tokens: dict[str, float] = field(default_factory=dict)  # token → expiry
    messages: list[FcmMessage] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1_500_000_000_000_000))

    def messages_to(self, token: str) -> list[FcmMessage]:
        return [m for m in self.messages if m.token == token]

    def revoke_access_tokens(self) -> None:
        self.access_tokens.clear()

    def next_name(self) -> str:
        return f"projects/{self.project_id}/messages/0:{next(self._seq)}%{secrets.token_hex(8)}"


def _fcm_error(status: int, grpc_status: str, message: str, error_code: str | None = None) -> _Refusal:
    error: dict[str, Any] = {"code": status, "message": message, "status": grpc_status}
    if error_code is not None:
        error["details"] = [{"@type": FCM_ERROR_TYPE, "errorCode": error_code}]
    return _Refusal(_json({"error": error}, status))


def _oauth_error(error: str, description: str, status: int = 400) -> _Refusal:
    return _Refusal(_json({"error": error, "error_description": description}, status))


def _check_fcm_message(body: Any) -> dict[str, Any]:
    """The ``message`` of a send request; raises the INVALID_ARGUMENT reply FCM gives for a bad one."""

    def invalid(text: str) -> _Refusal:
        return _fcm_error(400, "INVALID_ARGUMENT", text, "INVALID_ARGUMENT")

    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, dict):
        raise invalid("Invalid JSON payload received. Unknown name or missing 'message'.")
    token = message.get("token")
    if not isinstance(token, str) or not token or any(ch.isspace() for ch in token):
        raise invalid("The registration token is not a valid FCM registration token")
    data = message.get("data") or {}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise invalid("Invalid value at 'message.data' (Map), values must be strings")
    if not isinstance(message.get("notification") or {}, dict):
        raise invalid("Invalid value at 'message.notification'")
    return message


def create_fcm_simulator(
    project_id: str,
    *,
    service_account_email: str,
    service_account_public_key: str | bytes,
    token_audience: str | None = None,
    faults: FaultProfile | FaultInjector | None = None,
    token_faults: FaultProfile | FaultInjector | None = None,
    invalid_tokens: Collection[str] = (),
    access_token_ttl_s: int = 3600,
    clock: Clock = time.time,
) -> Litestar:
    """FCM HTTP v1 ``messages:send`` plus the Google OAuth ``/token`` endpoint (JWT-bearer grant).

    The assertion must be RS256-signed by the key whose public half is ``service_account_public_key``,
    issued by ``service_account_email``, carry the FCM scope, and (if ``token_audience`` is given)
    be addressed to it. Access tokens live ``access_token_ttl_s`` on ``clock``.
    """
    state = FcmSimulatorState(
        project_id=project_id,
        injector=_injector(faults),
        token_injector=_injector(token_faults),
        invalid_tokens=set(invalid_tokens),
    )

    @post("/token", status_code=200)
    async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
        if await state.token_injector.before_reply() is not Fault.NONE:
            raise _oauth_error("internal_failure", "Backend Error", 503)
        state.token_requests += 1
        form = await request.form()
        if form.get("grant_type") != JWT_BEARER_GRANT:
            raise _oauth_error("unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type')}")
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                service_account_public_key,
                algorithms=["RS256"],
                audience=token_audience,
                options={"verify_exp": False, "verify_iat": False, "verify_aud": token_audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise _oauth_error("invalid_grant", f"Invalid JWT Signature. ({exc.__class__.__name__})") from None
        state.assertions.append((jwt.get_unverified_header(form.get("assertion", "")), claims))
        now = clock()
        iat, exp = claims.get("iat"), claims.get("exp")
        if claims.get("iss") != service_account_email:
            raise _oauth_error("invalid_grant", "Invalid JWT: iss does not name a known service account")
        if not isinstance(iat, int) or not isinstance(exp, int) or not iat - 300 <= now < exp or exp - iat > 3600:
            raise _oauth_error(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
            )
        scopes = str(claims.get("scope", "")).split()
        if FCM_SCOPE not in scopes and _CLOUD_PLATFORM_SCOPE not in scopes:
            raise _oauth_error("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        access_token = "ya29.sim-" + secrets.token_urlsafe(24)
        state.access_tokens[access_token] = now + access_token_ttl_s
        return _json({"access_token": access_token, "expires_in": access_token_ttl_s, "token_type": "Bearer"})

    @post("/v1/projects/{project:str}/messages:send", status_code=200)
    async def send(request: Request[Any, Any, Any], project: FromPath[str]) -> Response[bytes]:
        fault = await state.injector.before_reply()
        if fault is Fault.ERROR:
            raise _fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE")
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        expiry = state.access_tokens.get(given)
        if expiry is None or expiry <= clock():
            raise _fcm_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
                "or other valid authentication credential.",
            )
        if project != project_id:
            raise _fcm_error(
                403, "PERMISSION_DENIED", f"Permission 'cloudmessaging.messages.create' denied on resource '{project}'"
            )
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            body = None
        message = _check_fcm_message(body)
        if message["token"] in state.invalid_tokens:
            raise _fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        if fault is Fault.MALFORMED:
            return Response(_GARBLED, status_code=200, media_type="text/html")
        if isinstance(body, dict) and body.get("validate_only"):
            return _json({"name": f"projects/{project_id}/messages/fake_message_id"})
        name = state.next_name()
        state.messages.append(
            FcmMessage(
                name,
                message["token"],
                dict(message.get("notification") or {}),
                dict(message.get("data") or {}),
                clock(),
            )
        )
        return _json({"name": name})

    return simulator_app([token, send], state, exception_handlers=_EXCEPTION_HANDLERS)


def fcm_state(app: Litestar) -> FcmSimulatorState:
    return state_of(app, FcmSimulatorState)


# --- APNs --------------------------------------------------------------------------------------------

APNS_MAX_PAYLOAD = 4096
APNS_PUSH_TYPES = frozenset({"alert", "background", "voip", "complication", "fileprovider", "mdm", "liveactivity"})
PROVIDER_TOKEN_MAX_AGE_S = 3600


@dataclass(frozen=True)
class ApnsNotification:
    apns_id: str
    token: str
    topic: str
    push_type: str
    priority: str | None
    payload: dict[str, Any]
    received_at: float


@dataclass
class ApnsSimulatorState:
    team_id: str
    key_id: str
    topics: frozenset[str]
    injector: FaultInjector
    invalid_tokens: set[str]
    notifications: list[ApnsNotification] = field(default_factory=list)
    provider_tokens_seen: set[str] = field(default_factory=set)

    def notifications_to(self, token: str) -> list[ApnsNotification]:
        return [n for n in self.notifications if n.token == token]


def _apns_error(status: int, reason: str, *, apns_id: str | None = None, timestamp_ms: int | None = None) -> _Refusal:
    body: dict[str, Any] = {"reason": reason}
    if timestamp_ms is not None:
        body["timestamp"] = timestamp_ms
    return _Refusal(_json(body, status, headers={"apns-id": apns_id} if apns_id else None))


def _apns_check_headers(request: Request[Any, Any, Any], topics: Collection[str], apns_id: str) -> tuple[str, str]:
    try:
        uuid.UUID(apns_id)
    except ValueError:
        raise _apns_error(400, "BadMessageId") from None
    topic, push_type = request.headers.get("apns-topic"), request.headers.get("apns-push-type", "alert")
    if not topic:
        raise _apns_error(400, "MissingTopic", apns_id=apns_id)
    if topic not in topics:
        raise _apns_error(400, "TopicDisallowed", apns_id=apns_id)
    if push_type not in APNS_PUSH_TYPES:
        raise _apns_error(400, "InvalidPushType", apns_id=apns_id)
    return topic, push_type


def _apns_payload(raw: bytes, apns_id: str) -> dict[str, Any]:
    if not raw:
        raise _apns_error(400, "PayloadEmpty", apns_id=apns_id)
    if len(raw) > APNS_MAX_PAYLOAD:
        raise _apns_error(413, "PayloadTooLarge", apns_id=apns_id)
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
        raise _apns_error(400, "BadPayload", apns_id=apns_id)  # reason name unconfirmed
    return payload


def create_apns_simulator(
    *,
    team_id: str,
    key_id: str,
    public_key: str | bytes,
    topics: Collection[str],
    faults: FaultProfile | FaultInjector | None = None,
    invalid_tokens: Collection[str] = (),
    clock: Clock = time.time,
) -> Litestar:
    """APNs ``POST /3/device/{token}`` with provider-token auth (ES256, ``kid`` = ``key_id``, ``iss`` =
    ``team_id``, ``iat`` under an hour old on ``clock``), topic and push-type checks, the 4 KB payload
    limit, and ``invalid_tokens`` answered 410 ``Unregistered``."""
    state = ApnsSimulatorState(
        team_id=team_id,
        key_id=key_id,
        topics=frozenset(topics),
        injector=_injector(faults),
        invalid_tokens={t.lower() for t in invalid_tokens},
    )

    def check_provider_token(header: str) -> str | None:
        """The 403 reason for this authorization header, or None when it is good."""
        if not header.lower().startswith("bearer "):
            return "MissingProviderToken"
        provider_token = header[len("bearer ") :]
        try:
            if jwt.get_unverified_header(provider_token).get("kid") != key_id:
                return "InvalidProviderToken"
            claims = jwt.decode(
                provider_token,
                public_key,
                algorithms=["ES256"],
                options={"verify_iat": False, "require": ["iss", "iat"]},
            )
        except jwt.PyJWTError:
            return "InvalidProviderToken"
        if not hmac.compare_digest(str(claims["iss"]), team_id):
            return "InvalidProviderToken"
        if not isinstance(claims["iat"], int) or clock() - claims["iat"] > PROVIDER_TOKEN_MAX_AGE_S:
            return "ExpiredProviderToken"
        state.provider_tokens_seen.add(provider_token)
        return None

    @post("/3/device/{token:str}", status_code=200)
    async def push(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[bytes]:
        fault = await state.injector.before_reply()
        apns_id = request.headers.get("apns-id") or str(uuid.uuid4()).upper()
        if fault is Fault.ERROR:
            raise _apns_error(503, "ServiceUnavailable", apns_id=apns_id)
        if fault is Fault.MALFORMED:
            return Response(_GARBLED, status_code=400, media_type="text/html")
        reason = check_provider_token(request.headers.get("authorization", ""))
        if reason is not None:
            raise _apns_error(403, reason, apns_id=apns_id)
        topic, push_type = _apns_check_headers(request, state.topics, apns_id)
        if not _HEX.fullmatch(token):
            raise _apns_error(400, "BadDeviceToken", apns_id=apns_id)
        payload = _apns_payload(await request.body(), apns_id)
        if token.lower() in state.invalid_tokens:
            raise _apns_error(410, "Unregistered", apns_id=apns_id, timestamp_ms=int(clock() * 1000))
        state.notifications.append(
            ApnsNotification(
                apns_id, token.lower(), topic, push_type, request.headers.get("apns-priority"), payload, clock()
            )
        )
        return Response(b"", status_code=200, headers={"apns-id": apns_id})

    return simulator_app([push], state, exception_handlers=_EXCEPTION_HANDLERS)


def apns_state(app: Litestar) -> ApnsSimulatorState:
    return state_of(app, ApnsSimulatorState)
