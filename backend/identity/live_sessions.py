"""A websocket lives no longer than what authenticated it (issue 26, item 5).

After ``connection_init`` with a token, a watcher checks, every :data:`CHECK_INTERVAL_S` (and when the
token's ``exp`` comes), whether the token expired or its session ended (logout, revocation, expiry, idle
timeout) and then closes the socket, which ends every subscription on it:

* ``4401`` — the access token expired (the client refreshes it and reconnects);
* ``4403`` — the session ended (the client logs in again).

The check reads the session without sliding its idle timeout: an open socket is no activity.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from graphql import GraphQLError
from sqlalchemy import select
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from backend.core import aio
from backend.identity import tokens
from backend.identity.models import AuthSession

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

CHECK_INTERVAL_S = 5.0
TOKEN_EXPIRED = 4401
SESSION_ENDED = 4403
TOKEN_EXPIRED_REASON = "Срок действия токена истек"
SESSION_ENDED_REASON = "Сеанс завершен"
# Strawberry answers the subscription past ``max_subscriptions_per_connection`` in English with no code;
# the handler below answers this instead (issue 26, item 10).
SUBSCRIPTION_LIMIT_CODE = "SUBSCRIPTION_LIMIT_REACHED"
SUBSCRIPTION_LIMIT_MESSAGE = (
    "На одном соединении открыто наибольшее число подписок ({limit}): завершите одну из них, чтобы открыть новую."
)


def token_expiry(runtime: Runtime, token: str) -> datetime | None:
    """When an access token (already accepted) expires; None if it cannot be read."""
    try:
        claims = tokens.verify_access_token(runtime, token)
    except tokens.InvalidTokenError:
        return None
    return datetime.fromtimestamp(int(claims["exp"]), UTC)


async def session_ended(runtime: Runtime, session_id: uuid.UUID, at: datetime) -> bool:
    async with runtime.sessionmaker() as session:
        row = (
            await session.execute(
                select(
                    AuthSession.revoked_at, AuthSession.expires_at, AuthSession.idle_timeout_s, AuthSession.last_seen_at
                ).where(AuthSession.id == session_id)
            )
        ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= at:
        return True
    return row.idle_timeout_s is not None and at.timestamp() > row.last_seen_at.timestamp() + row.idle_timeout_s


async def ended(runtime: Runtime, session_id: uuid.UUID | None, expires_at: datetime | None) -> int | None:
    """The close code if the socket's authentication no longer holds, else None."""
    at = runtime.now()
    if expires_at is not None and at >= expires_at:
        return TOKEN_EXPIRED
    if session_id is not None and await session_ended(runtime, session_id, at):
        return SESSION_ENDED
    return None


async def watch(websocket: Any, context: Any) -> None:
    runtime: Runtime = context.runtime
    session_id, expires_at = context.session_id, context.token_expires_at
    while not aio.cancel_requested():  # see backend/core/aio.py
        try:
            code = await ended(runtime, session_id, expires_at)
        except Exception:  # the database is away: check again later, the socket stays as it is
            log.warning("identity.ws_session_check_failed", exc_info=True)
            code = None
        if code is not None:
            reason = TOKEN_EXPIRED_REASON if code == TOKEN_EXPIRED else SESSION_ENDED_REASON
            log.info("identity.ws_closed", code=code)
            await websocket.close(code=code, reason=reason)
            return
        delay = CHECK_INTERVAL_S
        if expires_at is not None:
            delay = min(delay, max(0.0, (expires_at - runtime.now()).total_seconds()))
        await asyncio.sleep(delay)


class SessionBoundTransportWSHandler(BaseGraphQLTransportWSHandler):
    """graphql-transport-ws whose connection ends with its token or session (see the module docstring)."""

    _watcher: asyncio.Task[None] | None = None

    async def handle_subscribe(self, message: Any) -> None:
        limit = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and limit is not None
            and message.get("id") not in self.operations
            and len(self.operations) >= limit
        ):
            error = GraphQLError(
                SUBSCRIPTION_LIMIT_MESSAGE.format(limit=limit), extensions={"code": SUBSCRIPTION_LIMIT_CODE}
            )
            await self.send_message({"id": message["id"], "type": "error", "payload": [error.formatted]})
            return
        await super().handle_subscribe(message)

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        context = self.context
        authenticated = getattr(context, "session_id", None) is not None or (
            getattr(context, "token_expires_at", None) is not None
        )
        if self.connection_acknowledged and authenticated and self._watcher is None:
            self._watcher = asyncio.create_task(watch(self.websocket, context))

    async def shutdown(self) -> None:
        await aio.cancel_and_wait(self._watcher)
        await super().shutdown()
