"""Subscriptions speak graphql-transport-ws only."""

from __future__ import annotations

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from backend.app import create_app
from backend.settings import Settings


def test_heartbeat_over_graphql_transport_ws(settings: Settings) -> None:
    with (
        TestClient(create_app(settings)) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": "subscription { heartbeat(intervalSeconds: 0.05, count: 2) }"},
            }
        )
        first, second, done = ws.receive_json(), ws.receive_json(), ws.receive_json()
    assert first["type"] == second["type"] == "next"
    assert first["payload"]["data"]["heartbeat"] <= second["payload"]["data"]["heartbeat"]
    assert done == {"id": "1", "type": "complete"}


def test_legacy_graphql_ws_protocol_is_refused(settings: Settings) -> None:
    with (
        TestClient(create_app(settings)) as client,
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init"})
        ws.receive_json()
