"""Who is calling: the bearer token → an :class:`Actor`, for GraphQL over HTTP and over websockets.

* no ``Authorization`` header → ``Actor.anonymous()``;
* a token we did not issue, expired, for another audience, of a revoked or idle session → a
  :class:`PublicError` ``INVALID_TOKEN`` with a Russian message: over HTTP the caller is anonymous for
  fields that need no authentication, and an operation that needs it answers 401 with that message; a
  websocket's ``connection_init`` is refused (close 4403).

Websocket clients may also send ``{"Authorization": "Bearer …"}`` in the ``connection_init`` payload
(browsers cannot set headers on a websocket).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import structlog
from litestar.types import Scope
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import aliased
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET

from backend.api.context import GraphQLContext
from backend.api.loaders import LoaderRegistry
from backend.api.problems import PublicError
from backend.core.context import Actor, Channel, RequestContext
from backend.core.db import HotStatement
from backend.identity import live_sessions, tokens
from backend.identity.models import AuthSession
from backend.middleware import request_id_of

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

INVALID_TOKEN = "INVALID_TOKEN"
REVOKED_MESSAGE = "Сеанс завершен. Войдите заново."
IDLE_MESSAGE = "Сеанс завершен из-за бездействия. Начните заново."
_CHANNEL_HEADER = b"x-client-channel"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _anonymous_channel(scope: Scope) -> Channel:
    raw = _header(scope, _CHANNEL_HEADER)
    try:
        channel = Channel(raw) if raw else Channel.MOBILE
    except ValueError:
        return Channel.MOBILE
    return Channel.MOBILE if channel is Channel.SYSTEM else channel


def _bearer(value: str) -> str:
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PublicError(tokens.INVALID_MESSAGE, code=INVALID_TOKEN)
    return token.strip()


async def actor_from_token(token: str, runtime: Runtime) -> Actor:
    """The actor of a bearer token (signature, claims, then its session); PublicError if refused."""
    actor, _ = await authenticate_token(token, runtime)
    return actor


async def authenticate_token(token: str, runtime: Runtime) -> tuple[Actor, uuid.UUID | None]:
    """The actor and session id of a bearer token; PublicError if refused."""
    try:
        claims = tokens.verify_access_token(runtime, token)
        actor = tokens.actor_from_claims(claims)
        session_id = tokens.session_id_of(claims)
    except tokens.InvalidTokenError as exc:
        log.info("identity.token_refused", reason=exc.reason)
        raise PublicError(exc.message, code=INVALID_TOKEN) from None
    if session_id is not None:
        await check_session(runtime, session_id)
    return actor, session_id


_PARENT = aliased(AuthSession, name="parent")
#: What a request needs to know of its session (and of the staff session an on-behalf session was opened
#: from): one statement, on its own (autocommit on PostgreSQL).
_SESSION_STATE = HotStatement(
    select(
        AuthSession.revoked_at,
        AuthSession.expires_at,
        AuthSession.idle_timeout_s,
        AuthSession.last_seen_at,
        _PARENT.revoked_at,
        _PARENT.expires_at,
    )
    .outerjoin(_PARENT, _PARENT.id == AuthSession.parent_session_id)
    .where(AuthSession.id == bindparam("session_id"))
)


async def check_session(runtime: Runtime, session_id: uuid.UUID) -> None:
    """Refuse a revoked, expired or idle session, or one opened from a staff session that ended (an
    operator's on-behalf session ends with the operator's logout); slide an idle-timed session's
    ``last_seen_at``.

    The read and each write run in transactions of their own, writes first in theirs: on SQLite a
    transaction that reads and then writes fails at once if another connection wrote in between.
    """
    moment = tokens.now(runtime)
    found = await _SESSION_STATE.alone(runtime.sessionmaker, {"session_id": session_id})
    if not found:
        raise PublicError(REVOKED_MESSAGE, code=INVALID_TOKEN)
    revoked_at, expires_at, idle_timeout_s, last_seen_at, parent_revoked_at, parent_expires_at = found[0]
    if revoked_at is not None or expires_at <= moment:
        raise PublicError(REVOKED_MESSAGE, code=INVALID_TOKEN)
    if parent_revoked_at is not None or (parent_expires_at is not None and parent_expires_at <= moment):
        raise PublicError(REVOKED_MESSAGE, code=INVALID_TOKEN)
    if idle_timeout_s is None:
        return
    if moment.timestamp() > last_seen_at.timestamp() + idle_timeout_s:
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(AuthSession)
                .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
                .values(revoked_at=moment, revoke_reason="idle")
            )
        raise PublicError(IDLE_MESSAGE, code=INVALID_TOKEN)
    # Slide, but not on every request of a burst (at most every tenth of the timeout, 15 s at most).
    if (moment - last_seen_at).total_seconds() >= min(15.0, idle_timeout_s / 10):
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(AuthSession)
                .where(AuthSession.id == session_id, AuthSession.last_seen_at < moment)
                .values(last_seen_at=moment)
            )


async def actor_from_scope(scope: Scope, runtime: Runtime) -> Actor:
    """The actor of an HTTP or websocket request (``Authorization: Bearer <our JWT>``)."""
    actor, _ = await authenticate_scope(scope, runtime)
    return actor


async def authenticate_scope(scope: Scope, runtime: Runtime) -> tuple[Actor, uuid.UUID | None]:
    value = _header(scope, b"authorization")
    if value is None:
        return Actor.anonymous(_anonymous_channel(scope)), None
    return await authenticate_token(_bearer(value), runtime)


class IdentityContext(GraphQLContext, kw_only=True):
    """The GraphQL context with what a websocket connection needs for authentication."""

    connection_params: Any = None  # the connection_init payload (strawberry fills it)
    auth_error: Any = None  # a PublicError found at the websocket upgrade, reported at connection_init
    session_id: Any = None  # the token's ``sid`` (uuid.UUID) when it has one
    token_expires_at: Any = None  # a websocket's token expiry (datetime): the socket closes then


async def graphql_context(scope: Scope, runtime: Runtime) -> GraphQLContext:
    """The context getter's body. A bad token makes the caller anonymous and is kept as ``auth_error``:
    over HTTP, fields that need no authentication still answer, and an operation refused for want of
    authentication answers 401 with the token's error (backend/api/transport.py); a websocket is refused
    at connection_init."""
    request_id = request_id_of(scope)
    session_id: uuid.UUID | None = None
    try:
        actor, session_id = await authenticate_scope(scope, runtime)
        error = None
    except PublicError as exc:
        actor, error = Actor.anonymous(_anonymous_channel(scope)), exc
    header = _header(scope, b"authorization") if scope["type"] == "websocket" and error is None else None
    return IdentityContext(
        runtime=runtime,
        ctx=RequestContext(actor=actor, request_id=request_id),
        loaders=LoaderRegistry(),
        auth_error=error,
        session_id=session_id,
        token_expires_at=live_sessions.token_expiry(runtime, _bearer(header)) if header is not None else None,
    )


async def on_ws_connect(context: Any) -> None:
    """At ``connection_init``: refuse a bad upgrade token or a bad payload token; adopt a good one."""
    error = getattr(context, "auth_error", None)
    if error is not None:
        raise ConnectionRejectionError({"code": INVALID_TOKEN, "message": str(error)})
    params = getattr(context, "connection_params", None) or {}
    raw = next((params[k] for k in ("Authorization", "authorization", "token") if k in params), None)
    if raw is None:
        return
    try:
        text = str(raw)
        token = _bearer(text) if " " in text.strip() else text.strip()
        actor, session_id = await authenticate_token(token, context.runtime)
    except PublicError as exc:
        raise ConnectionRejectionError({"code": INVALID_TOKEN, "message": str(exc)}) from None
    context.ctx = RequestContext(actor=actor, request_id=context.ctx.request_id)
    context.session_id = session_id
    context.token_expires_at = live_sessions.token_expiry(context.runtime, token)


def with_websocket_auth(
    controller: type, handler: type[live_sessions.SessionBoundTransportWSHandler] | None = None
) -> type:
    """The GraphQL controller class with :func:`on_ws_connect` wired in; its graphql-transport-ws handler is
    ``handler`` (a subclass of the session-bound one: the app's serves shared subscriptions) or the
    session-bound one."""

    class _Controller(controller):
        graphql_transport_ws_handler_class = handler or live_sessions.SessionBoundTransportWSHandler

        async def on_ws_connect(self, context: Any) -> Any:
            await on_ws_connect(context)
            return UNSET

    _Controller.__name__ = controller.__name__
    return _Controller
