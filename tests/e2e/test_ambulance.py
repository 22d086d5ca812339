"""End to end over HTTP and the websocket (graphql-transport-ws): a person calls 103, watches the brigade
approach on the subscription, receives the two SMS (departure with the ETA, arrival), shares their location
with consent, the crew receives it and the emergency profile, the call closes and the live view disappears."""

from __future__ import annotations

from typing import Any

from backend.app import create_app
from backend.runtime import Runtime
from integrations.smp.simulator import distance_km
from tests.support.ambulance import GRANT, LIVE, MINE, SHARE, key, person, sms_events, start_smp
from tests.support.client import AsgiWebSocket, app_client, asgi_websocket, gql
from tests.support.identity import auth_headers, token_for

PROFILE = (
    "mutation($i: EmergencyProfileInput!) { setEmergencyProfile(input: $i) { __typename } }",
    "mutation($i: ProfileEntryInput!, $k: String!) { addProfileEntry(input: $i, idempotencyKey: $k) { __typename } }",
)
WATCH = (
    "subscription($c: UUID!) { ambulanceCallUpdated(callId: $c) { callId kind status live etaMinutes"
    " position { lat lon at } } }"
)


async def _next(ws: AsgiWebSocket) -> dict[str, Any]:
    message = await ws.receive_json()
    if message["type"] == "complete":
        return {}
    assert message["type"] == "next", message
    update: dict[str, Any] = message["payload"]["data"]["ambulanceCallUpdated"]
    return update


async def test_a_person_calls_and_follows_the_brigade_until_the_call_closes(runtime: Runtime) -> None:
    smp = await start_smp(runtime)
    caller = await person(runtime)
    headers = auth_headers(token_for(runtime, caller.id, ttl_s=6 * 3600))
    # The call plays out over hours of the simulated clock: an ordinary 15-minute token would expire on the way
    # (the live session closes with 4401 once the clock passes it), so this one lasts the whole call.
    async with app_client(runtime) as client:
        assert (await gql(client, PROFILE[0], {"i": {"enabled": True}}, headers=headers))["data"]
        entry = {"i": {"kind": "ALLERGY", "text": "Пенициллин"}, "k": key()}
        assert (await gql(client, PROFILE[1], entry, headers=headers))["data"]["addProfileEntry"]["__typename"] == (
            "ProfileEntryAdded"
        )
        call_id = smp.call_from(caller)
        await smp.advance(seconds=1)
        live = (await gql(client, LIVE, {}, headers=headers))["data"]["ambulanceLive"]
        assert [c["number"] for c in live] == [call_id] and live[0]["status"] == "ACCEPTED"
        ref = live[0]["id"]
        place = smp.sim.call(call_id).snapshot.place

        app = create_app(runtime=runtime)
        async with asgi_websocket(app, "/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send_json({"type": "connection_init", "payload": headers})
            assert (await ws.receive_json())["type"] == "connection_ack"
            await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": WATCH, "variables": {"c": ref}}})
            state = await _next(ws)
            assert state["kind"] == "STATE" and state["status"] == "ACCEPTED" and state["callId"] == ref

            # The brigade sets off: the departure SMS with the ETA, then positions closing in.
            await smp.until("en_route", call_id)
            for _ in range(3):
                await smp.advance(seconds=30)
            seen: list[dict[str, Any]] = []  # each receive bounded: Redis pub/sub delivers a moment later
            while (
                len([u for u in seen if u["kind"] == "STATUS"]) < 3
                or len([u for u in seen if u["kind"] == "POSITION"]) < 2
            ):
                seen.append(await _next(ws))
            statuses = [u["status"] for u in seen if u["kind"] == "STATUS"]
            assert statuses[:3] == ["BRIGADE_ASSIGNED", "DEPARTED", "EN_ROUTE"]
            moves = [u for u in seen if u["kind"] == "POSITION"]
            assert moves and all(u["etaMinutes"] >= 1 for u in moves)
            first, last = moves[0]["position"], moves[-1]["position"]
            assert distance_km(last["lat"], last["lon"], place.lat, place.lon) < distance_km(
                first["lat"], first["lon"], place.lat, place.lon
            )

            # Location shared with consent (and the emergency profile): the crew receives both.
            granted = await gql(client, GRANT, {"c": ref, "p": True, "k": key()}, headers=headers)
            assert granted["data"]["grantAmbulanceLocationConsent"]["consent"]["shareEmergencyProfile"] is True
            here = {"lat": 45.0431, "lon": 41.9732, "accuracyM": 8.0, "at": runtime.now().isoformat()}
            shared = await gql(client, SHARE, {"c": ref, "l": here, "k": key()}, headers=headers)
            assert shared["data"]["shareAmbulanceLocation"]["__typename"] == "AmbulanceLocationShared"
            await runtime.relay.drain()
            crew = smp.sim.call(call_id)
            assert [(c.lat, c.lon) for c in crew.crew_locations] == [(45.0431, 41.9732)]
            assert crew.crew_profile is not None and any("Пенициллин" in a for a in crew.crew_profile.allergies)

            # Arrival, the hospital, closure: the subscription ends with the call.
            await smp.until("closed", call_id)
            rest: list[dict[str, Any]] = []
            while True:
                update = await _next(ws)
                if not update:
                    break
                rest.append(update)
            assert rest[-1]["status"] == "CLOSED" and rest[-1]["live"] is False
            assert {"ARRIVED", "TRANSPORTING", "AT_HOSPITAL"} <= {u["status"] for u in rest}

        headers = auth_headers(token_for(runtime, caller.id))
        assert (await gql(client, LIVE, {}, headers=headers))["data"]["ambulanceLive"] == []
        history = (await gql(client, MINE, {}, headers=headers))["data"]["myAmbulanceCalls"]
        here["at"] = runtime.now().isoformat()
        again = await gql(client, SHARE, {"c": ref, "l": here, "k": key()}, headers=headers)
    assert history[0]["status"] == "CLOSED" and history[0]["arrivedAt"] and history[0]["predictedArrivalAt"]
    assert again["data"]["shareAmbulanceLocation"]["code"] == "AMBULANCE_CALL_CLOSED"  # the consent ended
    sms = await sms_events(runtime, caller.id)
    assert [e for e, _ in sms] == ["ambulance.dispatched", "ambulance.arrived"]
    assert "прибудет примерно в" in sms[0][1]
