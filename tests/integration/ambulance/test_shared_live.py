"""The mobile app's registered ``AmbulanceCallUpdated`` over graphql-transport-ws takes the shared path
(backend/api/live.py): each update executed and encoded once for every subscriber of the call, the same
messages as Strawberry's executor gives the same selection sent as an ad-hoc document, the same refusals."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from backend.ambulance.live import InProcessAmbulanceBus
from backend.api import live
from backend.api.schema import build_schema
from backend.app import create_app
from tests.support.ambulance import LIVE, SmpEnv, person
from tests.support.client import AsgiWebSocket, app_client, asgi_websocket, gql
from tests.support.identity import auth_headers, token_for

GRAPHQL = Path(__file__).resolve().parents[3] / "graphql"
REGISTERED = (GRAPHQL / "mobile" / "AmbulanceCallUpdated.graphql").read_text(encoding="utf-8")
AD_HOC = REGISTERED + "# the same selection, not registered\n"


@contextlib.asynccontextmanager
async def _watch(app: Any, token: str, query: str, variables: dict[str, Any]) -> AsyncIterator[AsgiWebSocket]:
    async with asgi_websocket(app, "/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init", "payload": auth_headers(token)})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "w", "type": "subscribe", "payload": {"query": query, "variables": variables}})
        yield ws


async def _drain(ws: AsgiWebSocket) -> list[dict[str, Any]]:
    """Every message already sent (each receive bounded)."""
    got = []
    while ws.pending():
        got.append(await ws.receive_json())
    return got


def _updates(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert all(m["type"] == "next" and m["id"] == "w" and "errors" not in m["payload"] for m in messages), messages
    return [m["payload"]["data"]["ambulanceCallUpdated"] for m in messages]


async def test_each_update_is_executed_once_for_all_subscribers_with_the_executors_messages(
    smp: SmpEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = smp.runtime
    runtime.adapters.ambulance_bus = InProcessAmbulanceBus()  # delivery at publish: what is queued is exact
    executed: list[Any] = []
    execute = live.execute_subscription_event

    def counted(executor: Any) -> Any:
        executed.append(executor.root_value)
        return execute(executor)

    monkeypatch.setattr(live, "execute_subscription_event", counted)
    caller = await person(runtime)
    token = token_for(runtime, caller.id)
    call_id = smp.call_from(caller, lat=45.09, lon=42.05)
    await smp.advance(seconds=1)
    async with app_client(runtime) as client:
        ref = (await gql(client, LIVE, {}, headers=auth_headers(token)))["data"]["ambulanceLive"][0]["id"]
    app = create_app(runtime=runtime)
    variables = {"callId": ref}
    async with (
        _watch(app, token, REGISTERED, variables) as first,
        _watch(app, token, REGISTERED, variables) as second,
        _watch(app, token, AD_HOC, variables) as executor,
    ):
        states = [_updates([await ws.receive_json()])[0] for ws in (first, second, executor)]
        assert states[0]["kind"] == "STATE" and states[0] == states[1] == states[2]
        assert len(executed) == 2  # each subscriber's state is its own (read at its subscribe)
        await smp.until("en_route", call_id)
        for _ in range(4):
            await smp.advance(seconds=30)
        await smp.until("arrived", call_id)
        shared = _updates(await _drain(first))
        assert _updates(await _drain(second)) == shared  # the same text, sent in each subscriber's frame
        plain = _updates(await _drain(executor))
    kinds = [u["kind"] for u in shared]
    assert kinds.count("STATUS") >= 4 and kinds.count("POSITION") >= 2 and shared[-1]["status"] == "ARRIVED"
    assert len(executed) == 2 + len(shared)  # once per update, not once per subscriber
    document = live.shared_document(build_schema(runtime.settings), REGISTERED, None)
    assert document is not None and len(document.subfields) == 2  # the update's selection and its position's
    assert live.shared_document(build_schema(runtime.settings), AD_HOC, None) is None
    # Strawberry's executor on the same selection: the same statuses in order, the same payload for every
    # position both received (coalescing may differ with timing), the same last message.
    assert [u for u in plain if u["kind"] == "STATUS"] == [u for u in shared if u["kind"] == "STATUS"]
    by_moment = {u["position"]["at"]: u for u in shared if u["kind"] == "POSITION"}
    common = [u for u in plain if u["kind"] == "POSITION" and u["position"]["at"] in by_moment]
    assert common and all(by_moment[u["position"]["at"]] == u for u in common)
    assert plain[-1] == shared[-1]


async def test_refusals_are_the_same_on_both_paths(smp: SmpEnv) -> None:
    runtime = smp.runtime
    caller, other = await person(runtime), await person(runtime)
    smp.call_from(caller)
    await smp.advance(seconds=1)
    async with app_client(runtime) as client:
        headers = auth_headers(token_for(runtime, caller.id))
        ref = (await gql(client, LIVE, {}, headers=headers))["data"]["ambulanceLive"][0]["id"]
    app = create_app(runtime=runtime)
    answers: dict[str, list[list[dict[str, Any]]]] = {}
    for query in (REGISTERED, AD_HOC):
        for token, variables in (
            (token_for(runtime, other.id), {"callId": ref}),  # not their call: refused at subscribe
            (token_for(runtime, caller.id), {"callId": "not-a-uuid"}),  # the variables do not coerce
        ):
            async with _watch(app, token, query, variables) as ws:
                messages = [await ws.receive_json()]
                while messages[-1]["type"] == "next":
                    messages.append(await ws.receive_json())
            for m in messages:  # the request id differs per connection
                payload = m.get("payload")
                errors = payload if isinstance(payload, list) else (payload or {}).get("errors", [])
                for error in errors:
                    error.get("extensions", {}).pop("requestId", None)
            answers.setdefault(query, []).append(messages)
    refused, malformed = answers[REGISTERED]
    assert [m["type"] for m in refused] == ["next", "complete"]
    assert refused[0]["payload"]["errors"][0]["extensions"]["code"] == "AMBULANCE_CALL_NOT_FOUND"
    assert [m["type"] for m in malformed] == ["error"]
    assert answers[AD_HOC] == answers[REGISTERED]
