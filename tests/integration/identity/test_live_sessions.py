"""Issue 26, item 5: a websocket's subscriptions end when its session is revoked (logout) or its token
expires: the socket closes with 4403 or 4401.

Each test waits until the subscription listens before it ends the session or moves the clock, so the close
meets a settled subscription (not one still subscribing), and every wait is bounded (tests/support/client.py)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from backend.app import create_app
from backend.core import aio
from backend.core.context import Channel
from backend.identity import live_sessions, sessions, tokens
from backend.identity.policy import ALL_PATIENT_SCOPES
from backend.runtime import Runtime
from backend.settings import Settings
from notifications import schema as notifications_schema
from tests.support.client import served, websocket
from tests.support.identity import make_patient
from tests.support.statements import counting_statements

INBOX = {"query": "subscription { inboxItemAdded { text } }"}


def _open_session(settings: Settings) -> tuple[uuid.UUID, uuid.UUID, str]:
    async def run() -> tuple[uuid.UUID, uuid.UUID, str]:
        runtime = Runtime.build(settings)
        try:
            patient = await make_patient(runtime)
            async with runtime.sessionmaker() as session, session.begin():
                row = await sessions.open_session(
                    session,
                    kind=sessions.SessionKind.MOBILE,
                    channel=Channel.MOBILE,
                    at=tokens.now(runtime),
                    ttl_s=3600,
                    scopes=ALL_PATIENT_SCOPES,
                    patient_id=patient.id,
                )
            token, _ = sessions.access_token(runtime, row)
            return row.id, patient.id, token
        finally:
            await runtime.close()

    return asyncio.run(run())


def _revoke(settings: Settings, session_id: uuid.UUID) -> None:
    async def run() -> None:
        runtime = Runtime.build(settings)
        try:
            async with runtime.sessionmaker() as session, session.begin():
                assert await sessions.revoke(session, session_id, reason="logout", at=tokens.now(runtime))
        finally:
            await runtime.close()

    asyncio.run(run())


def _listening(client: TestClient[Any], patient_id: uuid.UUID) -> None:
    """Wait (bounded) until the socket's inbox subscription is registered on the app's bus."""
    runtime: Runtime = client.app.state.runtime
    for _ in range(200):
        if runtime.adapters.inbox_bus.subscriber_count(patient_id):
            return
        time.sleep(0.05)
    raise AssertionError("the inbox subscription did not start within 10 s")


@pytest.fixture(autouse=True)
def _check_often(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_sessions, "CHECK_INTERVAL_S", 0.05)


def test_logout_closes_the_socket_with_4403(settings: Settings) -> None:
    session_id, patient_id, token = _open_session(settings)
    app = create_app(settings, extra_schema_modules=[notifications_schema])
    with served(app) as client, websocket(client) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"id": "1", "type": "subscribe", "payload": INBOX})
        _listening(client, patient_id)
        _revoke(settings, session_id)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=30)  # a bound on the wait, not a timing assertion
    assert closed.value.code == live_sessions.SESSION_ENDED == 4403


def test_an_expired_token_closes_the_socket_with_4401(settings: Settings) -> None:
    _, patient_id, token = _open_session(settings)
    app = create_app(settings, extra_schema_modules=[notifications_schema])
    with served(app) as client, websocket(client) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"id": "1", "type": "subscribe", "payload": INBOX})
        _listening(client, patient_id)
        runtime: Runtime = client.app.state.runtime
        later = tokens.now(runtime) + timedelta(seconds=settings.jwt_access_ttl_s + 1)
        runtime.adapters.clock = lambda: later
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=30)  # a bound on the wait, not a timing assertion
    assert closed.value.code == live_sessions.TOKEN_EXPIRED == 4401


def test_an_anonymous_socket_is_not_watched(settings: Settings) -> None:
    with served(create_app(settings)) as client, websocket(client) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "subscription { heartbeat(count: 1) }"}})
        assert ws.receive_json()["type"] == "next"
        assert ws.receive_json() == {"id": "1", "type": "complete"}


class _Socket:
    def __init__(self, closed: list[tuple[_Socket, int]]) -> None:
        self.closed = closed

    async def close(self, *, code: int, reason: str) -> None:
        assert reason
        self.closed.append((self, code))


async def test_one_sweep_reads_every_watched_session_together(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10,000 sockets cost a read per 1,000 sessions per sweep, not one per socket (issue 21's scale)."""
    monkeypatch.setattr(live_sessions, "SESSIONS_PER_READ", 2)
    at = tokens.now(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        rows = [
            await sessions.open_session(
                session, kind=sessions.SessionKind.MOBILE, channel=Channel.MOBILE, at=at, ttl_s=3600,
                scopes=ALL_PATIENT_SCOPES, patient_id=(await make_patient(runtime)).id,
            )
            for _ in range(5)
        ]  # fmt: skip
    async with runtime.sessionmaker() as session, session.begin():
        for row in (rows[1], rows[3]):
            assert await sessions.revoke(session, row.id, reason="logout", at=at)
    closed: list[tuple[_Socket, int]] = []
    watch = live_sessions.SessionWatch(runtime)
    sockets = [_Socket(closed) for _ in rows]
    watched = [watch.add(s, row.id, at + timedelta(hours=1)) for s, row in zip(sockets, rows, strict=True)]
    expired = _Socket(closed)
    watch.add(expired, None, at - timedelta(seconds=1))
    with counting_statements(runtime) as statements:
        await watch.sweep()
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(statements) == 3  # five sessions, two per read
    assert sorted((sockets.index(s) if s in sockets else -1, code) for s, code in closed) == [
        (-1, live_sessions.TOKEN_EXPIRED),
        (1, live_sessions.SESSION_ENDED),
        (3, live_sessions.SESSION_ENDED),
    ]
    assert watch.sockets == {watched[0], watched[2], watched[4]}
    for w in list(watch.sockets):
        watch.discard(w)
    await aio.cancel_and_wait(watch.task)
