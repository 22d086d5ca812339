"""Identity's REST endpoints (mounted under /api/v1) and the JWKS (mounted at the root).

The mobile login, end to end::

    app → GET /api/v1/oauth/authorize?response_type=code&client_id&redirect_uri&code_challenge(S256)&state
        → 302 to ESIA's login page (our own ESIA ``state``)
    ESIA → GET /api/v1/auth/esia/callback?code&state
        → the patient record is created/refreshed from ESIA; 302 to the app's redirect_uri?code&state
    app → POST /api/v1/oauth/token grant_type=authorization_code&code&redirect_uri&client_id&code_verifier
        → access token (JWT, ~15 min) + refresh token (opaque, rotating)
    app → POST /api/v1/oauth/token grant_type=refresh_token&refresh_token&client_id   (rotation; reuse → family revoked)
    app → POST /api/v1/auth/logout (Bearer)  → session revoked; the ESIA logout URL to open
    kiosk → POST /api/v1/oauth/token grant_type=client_credentials&client_assertion_type=…jwt-bearer&client_assertion
"""

from __future__ import annotations

import hmac
import html
import json
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import structlog
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from litestar import Request, Response, get, post
from litestar.handlers import asgi
from litestar.types import Receive, Scope, Send
from sqlalchemy import select

from backend.api.boundary import error_response
from backend.api.problems import NotAuthenticated, PublicError
from backend.audit import service as audit
from backend.core.context import Actor, ActorKind, Channel, RequestContext
from backend.identity import kiosks, sessions, tokens
from backend.identity.authn import authenticate_scope
from backend.identity.models import OAuthLogin
from backend.identity.policy import ALL_PATIENT_SCOPES, SCOPE_KIOSK_IDENTIFY
from backend.identity.proxies import sync_esia_children
from backend.identity.service import LOGIN_TOPIC, PatientData, normalise_phone, normalise_snils, upsert_patient
from backend.middleware import request_id_of
from backend.outbox import service as outbox
from integrations.esia import EsiaError, EsiaPerson
from notifications.preferences import upsert_contacts

if TYPE_CHECKING:
    from backend.runtime import Runtime
    from backend.settings import Settings

log = structlog.get_logger(__name__)

LOGIN_TTL = timedelta(minutes=15)
CODE_TTL = timedelta(minutes=2)
KIOSK_DEVICE_SESSION_TTL_S = 12 * 3600
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


# ---------------------------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    redirect_uris: tuple[str, ...]
    channel: Channel


def oauth_clients(settings: Settings) -> dict[str, OAuthClient]:
    raw = json.loads(settings.oauth_clients or "{}")
    return {
        cid: OAuthClient(
            client_id=cid,
            redirect_uris=tuple(spec.get("redirect_uris", ())),
            channel=Channel(spec.get("channel", "mobile")),
        )
        for cid, spec in raw.items()
    }


def token_endpoint(settings: Settings) -> str:
    return f"{settings.public_url.rstrip('/')}/api/v1/oauth/token"


# ---------------------------------------------------------------------------------------------- helpers


def _runtime(request: Request[Any, Any, Any]) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _ctx(request: Request[Any, Any, Any], actor: Actor | None = None) -> RequestContext:
    return RequestContext(
        actor=actor or Actor.anonymous(),
        request_id=request_id_of(request.scope),
        client_ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


def _page(title: str, text: str, status_code: int = 400) -> Response[str]:
    body = (
        f'<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f'<body><h1>{html.escape(title)}</h1><p id="message">{html.escape(text)}</p></body></html>'
    )
    return Response(body, status_code=status_code, media_type="text/html; charset=utf-8", headers=NO_STORE)


def _oauth_error(error: str, description: str, status_code: int = 400) -> Response[dict[str, str]]:
    return Response({"error": error, "error_description": description}, status_code=status_code, headers=NO_STORE)


def _redirect(url: str, params: dict[str, str]) -> Response[str]:
    target = f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params)}"
    return Response("", status_code=302, headers={"Location": target, **NO_STORE})


def _patient_actor(patient_id: uuid.UUID, channel: Channel) -> Actor:
    return Actor(kind=ActorKind.PATIENT, channel=channel, id=str(patient_id), subject_id=patient_id)


# ---------------------------------------------------------------------------------------------- authorize


@get(["/oauth/authorize", "/auth/esia/start"])
async def authorize(request: Request[Any, Any, Any]) -> Response[Any]:
    """Start a login: check our client and PKCE, remember them, send the browser to ESIA."""
    runtime = _runtime(request)
    params = request.query_params
    client = oauth_clients(runtime.settings).get(params.get("client_id", ""))
    redirect_uri = params.get("redirect_uri", "")
    if client is None or redirect_uri not in client.redirect_uris:
        # Never redirect to an address we do not know.
        return _page("Ошибка входа", "Приложение не зарегистрировано или адрес возврата неверен.")
    app_state = params.get("state")
    if params.get("response_type") != "code":
        return _redirect(
            redirect_uri, _err("unsupported_response_type", "Поддерживается только response_type=code.", app_state)
        )
    challenge, method = params.get("code_challenge", ""), params.get("code_challenge_method", "")
    if method != "S256" or not _CHALLENGE.match(challenge):
        return _redirect(redirect_uri, _err("invalid_request", "Нужен PKCE: code_challenge_method=S256.", app_state))
    if app_state is not None and len(app_state) > 512:
        return _redirect(redirect_uri, _err("invalid_request", "Слишком длинный state.", None))
    at = tokens.now(runtime)
    esia = runtime.adapters.esia
    try:
        auth = await esia.build_authorization_url(access_type="online")
    except EsiaError as exc:
        log.warning("identity.esia_unavailable", error=str(exc))
        return _redirect(
            redirect_uri, _err("temporarily_unavailable", "Госуслуги недоступны. Повторите позже.", app_state)
        )
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            OAuthLogin(
                id=uuid.uuid4(),
                client_id=client.client_id,
                redirect_uri=redirect_uri,
                app_state=app_state,
                code_challenge=challenge,
                esia_state=auth.state,
                created_at=at,
                expires_at=at + LOGIN_TTL,
            )
        )
    return Response("", status_code=302, headers={"Location": auth.url, **NO_STORE})


def _err(error: str, description: str, state: str | None) -> dict[str, str]:
    params = {"error": error, "error_description": description}
    if state:
        params["state"] = state
    return params


# ---------------------------------------------------------------------------------------------- ESIA callback


def esia_address(person: EsiaPerson, kind: str) -> dict[str, Any] | None:
    """ESIA's address of ``kind`` (``PRG`` registration, ``PLV`` residence) as the patient keeps it."""
    found = next((a for a in person.addresses if a.type == kind and a.text.strip()), None)
    if found is None:
        return None
    return {"line": found.text.strip(), "fias_code": found.fias_code, "postcode": found.zip_code}


def patient_data(person: EsiaPerson) -> PatientData | None:
    if not (person.last_name and person.first_name and person.birth_date):
        return None
    policy = person.oms_policy
    return PatientData(
        esia_oid=person.oid,
        last_name=person.last_name,
        first_name=person.first_name,
        middle_name=person.middle_name,
        birth_date=person.birth_date,
        sex=person.sex or "U",
        snils=normalise_snils(person.snils) if person.snils else None,
        oms_policy=policy.number if policy is not None else None,
        phone=normalise_phone(person.verified_phone),
        email=person.verified_email,
        registration_address=esia_address(person, "PRG"),
        residence_address=esia_address(person, "PLV"),
    )


@get("/auth/esia/callback")
async def esia_callback(request: Request[Any, Any, Any]) -> Response[Any]:
    """ESIA sends the browser back here: refresh the patient from ESIA, hand the app our one-time code."""
    runtime = _runtime(request)
    params = dict(request.query_params)
    at = tokens.now(runtime)
    state = params.get("state", "")
    async with runtime.sessionmaker() as session:
        login = await session.scalar(select(OAuthLogin).where(OAuthLogin.esia_state == state)) if state else None
    if login is None or login.expires_at <= at or login.patient_id is not None:
        await audit.record_now(runtime.sessionmaker, _ctx(request), "identity.login", outcome="STATE_MISMATCH")
        return _page("Ошибка входа", "Сеанс входа не найден или устарел. Вернитесь в приложение и начните вход заново.")
    esia = runtime.adapters.esia
    try:
        code = esia.parse_callback(params, expected_state=login.esia_state)
        esia_tokens = await esia.exchange_code(code)
        person = await esia.fetch_person(esia_tokens, include_children=True)
    except EsiaError as exc:
        log.info("identity.esia_login_failed", error=type(exc).__name__, code=exc.code)
        await audit.record_now(
            runtime.sessionmaker, _ctx(request), "identity.login", outcome=f"ESIA:{exc.code or type(exc).__name__}"[:64]
        )
        denied = exc.error == "access_denied"
        return _redirect(
            login.redirect_uri,
            _err(
                "access_denied" if denied else "temporarily_unavailable",
                "Вход через Госуслуги отменен." if denied else "Не удалось войти через Госуслуги. Повторите позже.",
                login.app_state,
            ),
        )
    data = patient_data(person)
    if data is None:
        return _redirect(
            login.redirect_uri,
            _err("access_denied", "В учетной записи Госуслуг нет ФИО или даты рождения.", login.app_state),
        )
    secret = tokens.new_secret()
    client = oauth_clients(runtime.settings).get(login.client_id)
    channel = client.channel if client else Channel.MOBILE
    async with runtime.sessionmaker() as session, session.begin():
        row = await session.get_one(OAuthLogin, login.id, with_for_update=True)
        if row.patient_id is not None:
            return _page("Ошибка входа", "Этот вход уже завершен. Начните вход заново.")
        patient = await upsert_patient(session, data, at=at)
        # ESIA's verified phone and e-mail are the notifications domain's contact points.
        await upsert_contacts(session, patient.id, phone=data.phone, email=data.email)
        await sync_esia_children(session, patient.id, person.children, at=at)
        row.patient_id = patient.id
        row.esia_session_id = esia_tokens.session_id
        row.code_hash = tokens.digest(secret)
        row.code_expires_at = at + CODE_TTL
        audit.record(
            session,
            _ctx(request, _patient_actor(patient.id, channel)),
            "identity.login",
            subject_id=patient.id,
            details={"client_id": login.client_id, "children": len(person.children)},
        )
        outbox.add(session, LOGIN_TOPIC, {"patient_id": str(patient.id)}, request_id=request_id_of(request.scope))
    await runtime.relay.enqueue(outbox.take_pending_ids(session))
    params_out = {"code": secret}
    if login.app_state:
        params_out["state"] = login.app_state
    return _redirect(login.redirect_uri, params_out)


# ---------------------------------------------------------------------------------------------- token


@post("/oauth/token", status_code=200)
async def token(request: Request[Any, Any, Any]) -> Response[Any]:
    """The token endpoint: authorization_code (+PKCE), refresh_token (rotation), client_credentials (kiosks)."""
    runtime = _runtime(request)
    form = await request.form()
    values = {k: str(v) for k, v in form.items()}
    grant_type = values.get("grant_type", "")
    if grant_type == "authorization_code":
        return await _exchange_code(request, runtime, values)
    if grant_type == "refresh_token":
        return await _refresh(request, runtime, values)
    if grant_type == "client_credentials":
        return await _client_credentials(request, runtime, values)
    return _oauth_error("unsupported_grant_type", "Неподдерживаемый grant_type.")


INVALID_CODE = "Код авторизации недействителен, устарел или уже использован. Войдите заново."


async def _exchange_code(  # noqa: PLR0911 - one early answer per OAuth error
    request: Request[Any, Any, Any], runtime: Runtime, values: dict[str, str]
) -> Response[Any]:
    code, verifier = values.get("code", ""), values.get("code_verifier", "")
    client_id, redirect_uri = values.get("client_id", ""), values.get("redirect_uri", "")
    client = oauth_clients(runtime.settings).get(client_id)
    if client is None:
        return _oauth_error("invalid_client", "Неизвестное приложение.", 401)
    if not code or not _VERIFIER.match(verifier):
        return _oauth_error("invalid_request", "Нужны code и code_verifier (PKCE).")
    at = tokens.now(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        login = await session.scalar(
            select(OAuthLogin).where(OAuthLogin.code_hash == tokens.digest(code)).with_for_update()
        )
        if login is None or login.patient_id is None:
            return _oauth_error("invalid_grant", INVALID_CODE)
        if login.code_used_at is not None:
            # A replayed code: whatever it produced is revoked (RFC 6749 4.1.2).
            if login.session_id is not None:
                await sessions.revoke(session, login.session_id, reason="code_replay", at=at)
            audit.record(  # whoever replays a code is not known to be the patient
                session,
                _ctx(request, Actor.anonymous(client.channel)),
                "identity.code_exchange",
                outcome="CODE_REPLAY",
                subject_id=login.patient_id,
            )
            return _oauth_error("invalid_grant", INVALID_CODE)
        if login.client_id != client_id or login.redirect_uri != redirect_uri:
            return _oauth_error("invalid_grant", INVALID_CODE)
        if login.code_expires_at is None or login.code_expires_at <= at:
            return _oauth_error("invalid_grant", INVALID_CODE)
        if not hmac.compare_digest(create_s256_code_challenge(verifier), login.code_challenge):
            return _oauth_error("invalid_grant", "code_verifier не соответствует code_challenge.")
        row = await sessions.open_session(
            session,
            kind=sessions.SessionKind.MOBILE,
            channel=client.channel,
            at=at,
            ttl_s=runtime.settings.refresh_ttl_s,
            scopes=ALL_PATIENT_SCOPES,
            patient_id=login.patient_id,
            client_id=client_id,
            esia_session_id=login.esia_session_id,
        )
        pair = await sessions.token_pair(session, runtime, row, at=at, with_refresh=True)
        login.code_used_at, login.session_id = at, row.id
        audit.record(
            session,
            _ctx(request, _patient_actor(login.patient_id, client.channel)),
            "identity.token_issued",
            subject_id=login.patient_id,
            object_type="session",
            object_id=row.id,
        )
    return Response(pair.as_oauth(), headers=NO_STORE)


_REFRESH_MESSAGES = {
    sessions.RefreshOutcome.UNKNOWN: "Маркер обновления недействителен. Войдите заново.",
    sessions.RefreshOutcome.EXPIRED: "Срок действия входа истек. Войдите заново.",
    sessions.RefreshOutcome.REVOKED: "Сеанс завершен. Войдите заново.",
    sessions.RefreshOutcome.REUSED: (
        "Маркер обновления уже использовался: сеанс завершен для безопасности. Войдите заново."
    ),
    sessions.RefreshOutcome.WRONG_CLIENT: "Маркер обновления выдан другому приложению.",
}


async def _refresh(request: Request[Any, Any, Any], runtime: Runtime, values: dict[str, str]) -> Response[Any]:
    client = oauth_clients(runtime.settings).get(values.get("client_id", ""))
    if client is None:
        return _oauth_error("invalid_client", "Неизвестное приложение.", 401)
    secret = values.get("refresh_token", "")
    if not secret:
        return _oauth_error("invalid_request", "Нужен refresh_token.")
    async with runtime.sessionmaker() as session, session.begin():
        result = await sessions.rotate(session, runtime, secret, client_id=client.client_id)
        actor = _patient_actor(result.patient_id, client.channel) if result.patient_id else None
        if result.outcome is not sessions.RefreshOutcome.UNKNOWN:
            audit.record(
                session,
                _ctx(request, actor),
                "identity.token_refresh",
                outcome=result.outcome.value if result.pair else result.outcome.name,
                subject_id=result.patient_id,
                object_type="session",
                object_id=result.session_id,
            )
    if result.pair is None:
        return _oauth_error("invalid_grant", _REFRESH_MESSAGES[result.outcome])
    return Response(result.pair.as_oauth(), headers=NO_STORE)


async def _client_credentials(
    request: Request[Any, Any, Any], runtime: Runtime, values: dict[str, str]
) -> Response[Any]:
    if values.get("client_assertion_type") != kiosks.CLIENT_ASSERTION_TYPE or not values.get("client_assertion"):
        return _oauth_error("invalid_client", "Нужна подписанная client_assertion (private_key_jwt).", 401)
    at = tokens.now(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        try:
            kiosk = await kiosks.verify_client_assertion(
                session, values["client_assertion"], audience=token_endpoint(runtime.settings), at=at
            )
        except kiosks.ClientAssertionError as exc:
            log.info("identity.client_assertion_refused", reason=exc.reason)
            refused = True
            reason = exc.reason
        else:
            refused, reason = False, ""
            row = await sessions.open_session(
                session,
                kind=sessions.SessionKind.KIOSK_DEVICE,
                channel=Channel.KIOSK,
                at=at,
                ttl_s=KIOSK_DEVICE_SESSION_TTL_S,
                scopes={SCOPE_KIOSK_IDENTIFY},
                actor_id=kiosk.client_id,
                client_id=kiosk.client_id,
            )
            pair = await sessions.token_pair(session, runtime, row, at=at, with_refresh=False)
            audit.record(
                session,
                _ctx(request, Actor(kind=ActorKind.KIOSK, channel=Channel.KIOSK, id=kiosk.client_id)),
                "identity.kiosk_login",
                object_type="kiosk",
                object_id=kiosk.id,
            )
    if refused:
        await audit.record_now(
            runtime.sessionmaker, _ctx(request), "identity.kiosk_login", outcome=f"REFUSED:{reason}"[:64]
        )
        return _oauth_error("invalid_client", "Подпись устройства не принята.", 401)
    return Response(pair.as_oauth(), headers=NO_STORE)


# ---------------------------------------------------------------------------------------------- revoke, logout


@post("/oauth/revoke", status_code=200)
async def revoke(request: Request[Any, Any, Any]) -> Response[Any]:
    """RFC 7009: revoke a refresh token's family. Answers 200 whether or not the token was known."""
    runtime = _runtime(request)
    form = await request.form()
    secret, client_id = str(form.get("token", "")), str(form.get("client_id", ""))
    at = tokens.now(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        row = await sessions.find_by_refresh_token(session, secret) if secret else None
        if row is not None and row.client_id == client_id:
            await sessions.revoke(session, row.id, reason="revoked", at=at)
            actor = _patient_actor(row.patient_id, Channel(row.channel)) if row.patient_id else None
            audit.record(session, _ctx(request, actor), "identity.logout", subject_id=row.patient_id, object_id=row.id)
    return Response({}, headers=NO_STORE)


@post("/auth/logout", status_code=200)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    """End the session of the bearer token and give the ESIA logout URL to open in the browser."""
    runtime = _runtime(request)
    try:
        actor, session_id = await authenticate_scope(request.scope, runtime)
    except PublicError as exc:
        return error_response(401, exc.code, str(exc), request_id_of(request.scope), NO_STORE)
    if not actor.is_authenticated:
        return error_response(
            401, NotAuthenticated.CODE, NotAuthenticated.MESSAGE, request_id_of(request.scope), NO_STORE
        )
    at = tokens.now(runtime)
    if session_id is not None:
        async with runtime.sessionmaker() as session, session.begin():
            await sessions.revoke(session, session_id, reason="logout", at=at)
            audit.record(
                session, _ctx(request, actor), "identity.logout", subject_id=actor.subject_id, object_id=session_id
            )
    url = runtime.adapters.esia.logout_url() if actor.kind is ActorKind.PATIENT else None
    return Response({"esia_logout_url": url}, headers=NO_STORE)


# ---------------------------------------------------------------------------------------------- JWKS, simulator mount


@get("/.well-known/jwks.json")
async def jwks(request: Request[Any, Any, Any]) -> Response[Any]:
    """Our token-signing public keys (mount at the root)."""
    keys = tokens.signing_keys(_runtime(request)).jwks()
    return Response(keys, headers={"Cache-Control": "public, max-age=300"})


@asgi("/esia-sim", is_mount=True, include_in_schema=False)
async def esia_simulator_mount(scope: Scope, receive: Receive, send: Send) -> None:
    """The in-process ESIA's pages for a real browser (embedded/test only; 404 for a real ESIA)."""
    runtime: Runtime = scope["app"].state.runtime
    app = None if runtime.settings.is_production else runtime.adapters.esia_simulator
    if app is None:
        start: Any = {"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]}
        await send(start)
        body: Any = {"type": "http.response.body", "body": b"not found"}
        await send(body)
        return
    inner = dict(scope)
    inner.pop("app", None)
    inner.pop("router", None)
    inner.pop("route_handler", None)
    await app(inner, receive, send)


ROUTES = [authorize, esia_callback, token, revoke, logout, esia_simulator_mount]
