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
from backend.core.context import Channel
from backend.identity import live_sessions, sessions, tokens
from backend.identity.policy import ALL_PATIENT_SCOPES
from backend.runtime import Runtime
from backend.settings import Settings
from notifications import schema as notifications_schema
from tests.support.client import served, websocket
from tests.support.identity import make_patient

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
