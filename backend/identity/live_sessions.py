"""A websocket lives no longer than what authenticated it (issue 26, item 5).

After ``connection_init`` with a token, the socket is watched (:class:`SessionWatch`: one sweep per worker
for all its sockets): every :data:`CHECK_INTERVAL_S`, whether the token expired or its session ended
(logout, revocation, expiry, idle timeout); then the socket is closed, which ends every subscription on it:

* ``4401`` — the access token expired (the client refreshes it and reconnects);
* ``4403`` — the session ended (the client logs in again).

The check reads the session without sliding its idle timeout: an open socket is no activity.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import jwt
import structlog
from graphql import GraphQLError
from sqlalchemy import or_, select
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from backend.core import aio
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
    """When an access token expires; None if it cannot be read. Only for a token the same step has just
    accepted (``authenticate_token``): its ``exp`` is read without checking the signature again (an ECDSA
    verification was a sixth of a subscription's setup at issue 21's reconnect storm)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        return datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None


#: Sessions read per statement by the sweep.
SESSIONS_PER_READ = 1000


def _ended_row(row: Any, at: datetime) -> bool:
    if row.revoked_at is not None or row.expires_at <= at:
        return True
    return row.idle_timeout_s is not None and at.timestamp() > row.last_seen_at.timestamp() + row.idle_timeout_s


async def sessions_ended(runtime: Runtime, session_ids: set[uuid.UUID], at: datetime) -> set[uuid.UUID]:
    """Which of ``session_ids`` ended (revoked, expired or idle): one statement per :data:`SESSIONS_PER_READ`,
    returning only the sessions that may have ended (revoked, expired, or with an idle timeout to check), so
    a sweep of 10,000 live sessions builds no rows for them. Sessions are never deleted (they are revoked or
    expire), and a socket's session existed when it connected (``authn.check_session``)."""
    ended: set[uuid.UUID] = set()
    ids = list(session_ids)
    async with runtime.sessionmaker() as session:
        for start in range(0, len(ids), SESSIONS_PER_READ):
            chunk = ids[start : start + SESSIONS_PER_READ]
            rows = await session.execute(
                select(
                    AuthSession.id,
                    AuthSession.revoked_at,
                    AuthSession.expires_at,
                    AuthSession.idle_timeout_s,
                    AuthSession.last_seen_at,
                ).where(
                    AuthSession.id.in_(chunk),
                    or_(
                        AuthSession.revoked_at.is_not(None),
                        AuthSession.expires_at <= at,
                        AuthSession.idle_timeout_s.is_not(None),
                    ),
                )
            )
            ended.update(row.id for row in rows if _ended_row(row, at))
    return ended


class _Watched:
    __slots__ = ("expires_at", "session_id", "websocket")

    def __init__(self, websocket: Any, session_id: uuid.UUID | None, expires_at: datetime | None) -> None:
        self.websocket, self.session_id, self.expires_at = websocket, session_id, expires_at


class SessionWatch:
    """Every authenticated socket of one runtime on one event loop, checked together: every
    :data:`CHECK_INTERVAL_S` one read of all their sessions (:func:`sessions_ended`), not one per socket.

    At issue 21's scale (10,000 subscribers on a worker) a watcher per socket read the database 2,000 times a
    second for nothing; the sweep reads it twice. A socket whose token expired or whose session ended is
    closed (4401 or 4403); the sweep runs while there is a socket to watch."""

    _all: ClassVar[dict[tuple[int, asyncio.AbstractEventLoop], SessionWatch]] = {}

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.sockets: set[_Watched] = set()
        self.task: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, runtime: Runtime) -> SessionWatch:
        loop = asyncio.get_running_loop()
        key = (id(runtime), loop)
        found = cls._all.get(key)
        if found is None:
            for old in [k for k, w in cls._all.items() if k[1].is_closed() or not w.sockets]:
                del cls._all[old]
            found = cls._all[key] = SessionWatch(runtime)
        return found

    def add(self, websocket: Any, session_id: uuid.UUID | None, expires_at: datetime | None) -> _Watched:
        watched = _Watched(websocket, session_id, expires_at)
        self.sockets.add(watched)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name="ws-session-watch")
        return watched

    def discard(self, watched: _Watched | None) -> None:
        if watched is not None:
            self.sockets.discard(watched)

    async def _run(self) -> None:
        while self.sockets and not aio.cancel_requested():  # see backend/core/aio.py
            await asyncio.sleep(CHECK_INTERVAL_S)
            try:
                await self.sweep()
            except Exception:  # the database is away: check again later, the sockets stay as they are
                log.warning("identity.ws_session_check_failed", exc_info=True)

    async def sweep(self) -> None:
        at = self.runtime.now()
        sockets = list(self.sockets)
        ended = await sessions_ended(self.runtime, {w.session_id for w in sockets if w.session_id is not None}, at)
        for watched in sockets:
            code = None
            if watched.expires_at is not None and at >= watched.expires_at:
                code = TOKEN_EXPIRED
            elif watched.session_id in ended:
                code = SESSION_ENDED
            if code is not None and watched in self.sockets:
                self.sockets.discard(watched)
                log.info("identity.ws_closed", code=code)
                reason = TOKEN_EXPIRED_REASON if code == TOKEN_EXPIRED else SESSION_ENDED_REASON
                task = asyncio.create_task(_close(watched.websocket, code, reason))
                _CLOSING.add(task)
                task.add_done_callback(_CLOSING.discard)


_CLOSING: set[asyncio.Task[None]] = set()


async def _close(websocket: Any, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):  # already gone
        await websocket.close(code=code, reason=reason)


class SessionBoundTransportWSHandler(BaseGraphQLTransportWSHandler):
    """graphql-transport-ws whose connection ends with its token or session (see the module docstring)."""

    _watched: tuple[SessionWatch, _Watched] | None = None

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
        context: Any = self.context
        authenticated = getattr(context, "session_id", None) is not None or (
            getattr(context, "token_expires_at", None) is not None
        )
        if self.connection_acknowledged and authenticated and self._watched is None:
            watch = SessionWatch.of(context.runtime)
            self._watched = (watch, watch.add(self.websocket, context.session_id, context.token_expires_at))

    async def shutdown(self) -> None:
        if self._watched is not None:
            watch, watched = self._watched
            watch.discard(watched)
        await super().shutdown()
