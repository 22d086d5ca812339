"""Issue 26, item 10: one socket holds a bounded number of subscriptions, and a heartbeat beats at most
once a second."""

from __future__ import annotations

from backend.app import MAX_SUBSCRIPTIONS_PER_CONNECTION, create_app
from backend.settings import Settings
from backend.system.schema import heartbeat_interval
from tests.support.client import served, websocket


def test_one_socket_holds_at_most_ten_subscriptions(settings: Settings) -> None:
    assert MAX_SUBSCRIPTIONS_PER_CONNECTION == 10
    query = "subscription { heartbeat(intervalSeconds: 300) }"
    with (
        served(create_app(settings)) as client,
        websocket(client) as ws,
    ):
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json() == {"type": "connection_ack"}
        for n in range(10):
            ws.send_json({"id": str(n), "type": "subscribe", "payload": {"query": query}})
            assert ws.receive_json()["type"] == "next"  # each beats once at once, then every 300 s
        ws.send_json({"id": "10", "type": "subscribe", "payload": {"query": query}})
        refused = ws.receive_json()
    assert refused["id"] == "10"
    assert refused["type"] == "error"
    [error] = refused["payload"]
    assert error["extensions"]["code"] == "SUBSCRIPTION_LIMIT_REACHED"
    assert error["message"].startswith("На одном соединении открыто наибольшее число подписок (10)")


def test_a_heartbeat_beats_at_most_once_a_second() -> None:
    assert heartbeat_interval(0.05) == 1.0
    assert heartbeat_interval(0.0) == 1.0
    assert heartbeat_interval(10.0) == 10.0
    assert heartbeat_interval(10_000.0) == 300.0
