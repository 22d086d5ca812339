"""Subscriptions speak graphql-transport-ws only."""

from __future__ import annotations

import pytest
from litestar.exceptions import WebSocketDisconnect

from backend.app import create_app
from backend.settings import Settings
from tests.support import testschema
from tests.support.client import served, websocket


def test_heartbeat_over_graphql_transport_ws(settings: Settings) -> None:
    with (
        served(create_app(settings)) as client,
        websocket(client) as ws,
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
        served(create_app(settings)) as client,
        pytest.raises(WebSocketDisconnect),
        websocket(client, subprotocols=["graphql-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init"})
        ws.receive_json()


def test_an_internal_error_in_a_streamed_result_is_masked_before_it_is_sent(settings: Settings) -> None:
    with (
        served(create_app(settings, extra_schema_modules=[testschema])) as client,
        websocket(client) as ws,
    ):
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "subscription { boomLater }"}})
        first, second = ws.receive_json(), ws.receive_json()
    assert first == {"id": "1", "type": "next", "payload": {"data": {"boomLater": 1}}}
    [error] = second["payload"]["errors"]
    assert "hunter2" not in str(second)
    assert error["extensions"]["code"] == "INTERNAL_ERROR"
    assert error["message"].startswith("Внутренняя ошибка сервера")
    assert error["extensions"]["requestId"] in error["message"]


def test_the_inbox_subscription_refuses_an_anonymous_connection_with_a_coded_error(settings: Settings) -> None:
    with (
        served(create_app(settings)) as client,
        websocket(client) as ws,
    ):
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "subscription { inboxItemAdded { id } }"}})
        refused = ws.receive_json()
    assert refused["type"] == "next"
    assert refused["payload"]["data"] is None
    assert [e["extensions"]["code"] for e in refused["payload"]["errors"]] == ["NOT_AUTHENTICATED"]
