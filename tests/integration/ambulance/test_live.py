"""The live path: a slow subscriber gets the newest position, never a backlog (statuses keep their order); a
reconnecting one gets the current state first; another person cannot subscribe to the call."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from backend.ambulance.live import POSITION, STATUS, InProcessAmbulanceBus, LiveUpdate, Mailbox
from backend.api.loaders import LoaderRegistry
from backend.api.schema import build_schema
from backend.core.context import RequestContext
from backend.identity import authn
from backend.runtime import Runtime
from tests.support.ambulance import WATCH, SmpEnv, person
from tests.support.client import app_client, gql
from tests.support.identity import auth_headers, token_for


async def _subscribe(runtime: Runtime, patient_id: uuid.UUID, call_ref: str) -> Any:
    actor, session_id = await authn.authenticate_token(token_for(runtime, patient_id), runtime)
    context = authn.IdentityContext(
        runtime=runtime,
        ctx=RequestContext(actor=actor, request_id=uuid.uuid4().hex),
        loaders=LoaderRegistry(),
        session_id=session_id,
    )
    return await build_schema(runtime.settings).subscribe(WATCH, context_value=context, variable_values={"c": call_ref})


async def _ref(smp: SmpEnv, patient_id: uuid.UUID) -> str:
    async with app_client(smp.runtime) as client:
        body = await gql(client, "{ ambulanceLive { id } }", headers=auth_headers(token_for(smp.runtime, patient_id)))
    return str(body["data"]["ambulanceLive"][0]["id"])


async def _take(stream: Any) -> dict[str, Any]:
    result = await asyncio.wait_for(anext(stream), 10.0)  # bounded: a lost update fails, never hangs
    assert not result.errors, result.errors
    update: dict[str, Any] = result.data["ambulanceCallUpdated"]
    return update


async def test_a_slow_subscriber_gets_the_latest_position_and_a_reconnect_the_state_first(smp: SmpEnv) -> None:
    runtime = smp.runtime
    runtime.adapters.ambulance_bus = InProcessAmbulanceBus()  # delivery at publish: what is queued is exact
    caller = await person(runtime)
    call_id = smp.call_from(caller, lat=45.09, lon=42.05)
    await smp.advance(seconds=1)
    ref = await _ref(smp, caller.id)
    stream = await _subscribe(runtime, caller.id, ref)
    assert (await _take(stream))["kind"] == "STATE"
    await smp.until("en_route", call_id)
    for _ in range(6):  # a dozen positions or so, none read yet
        await smp.advance(seconds=30)
    sent = [e for e in smp.sim.call(call_id).events if e.kind.value == "position"]
    assert len(sent) >= 5
    got: list[dict[str, Any]] = []
    while len([u for u in got if u["kind"] == "STATUS"]) < 3 or not any(u["kind"] == "POSITION" for u in got):
        got.append(await _take(stream))
    # Statuses keep their order; a status relayed by the outbox may come after a newer position (never dropped).
    assert [u["status"] for u in got if u["kind"] == "STATUS"] == ["BRIGADE_ASSIGNED", "DEPARTED", "EN_ROUTE"]
    moves = [u for u in got if u["kind"] == "POSITION"]
    newest = smp.sim.call(call_id).snapshot.position
    assert len(moves) == 1 and newest is not None and moves[0]["position"]["lat"] == newest.lat  # the latest
    # A second client connecting now gets the current state first.
    again = await _subscribe(runtime, caller.id, ref)
    state = await _take(again)
    assert state["kind"] == "STATE" and state["status"] == "EN_ROUTE" and state["position"]["lat"] == newest.lat
    await again.aclose()
    await smp.until("arrived", call_id)
    tail = [await _take(stream)]
    while tail[-1]["status"] != "ARRIVED":
        tail.append(await _take(stream))
    assert len([u for u in tail if u["kind"] == "POSITION"]) <= 1  # the drive's rest coalesced into one
    await stream.aclose()


async def test_another_person_cannot_watch_the_call(smp: SmpEnv) -> None:
    runtime = smp.runtime
    caller, other = await person(runtime), await person(runtime)
    smp.call_from(caller)
    await smp.advance(seconds=1)
    ref = await _ref(smp, caller.id)
    stream = await _subscribe(runtime, other.id, ref)
    result = await anext(stream)
    assert result.errors and result.errors[0].extensions["code"] == "AMBULANCE_CALL_NOT_FOUND"


def _update(kind: str, version: int) -> LiveUpdate:
    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    return LiveUpdate(
        uuid.UUID(int=1), "C-1", kind, version, "en_route", None, None, None, 45.0 + version / 1000, 41.9,
        40.0, 90.0, at, 5, at, at,
    )  # fmt: skip


@pytest.mark.parametrize("positions", [1, 50])
async def test_the_mailbox_coalesces_positions_and_keeps_statuses_in_order(positions: int) -> None:
    box = Mailbox(asyncio.get_running_loop())
    box.put(_update(STATUS, 1))
    for v in range(2, 2 + positions):
        box.put(_update(POSITION, v))
    box.put(_update(STATUS, 2 + positions))
    box.put(_update(POSITION, 1))  # an older position arriving late never replaces the newer one waiting
    assert box.pending() == 3
    taken = [await box.get() for _ in range(3)]
    assert [(u.kind, u.version) for u in taken] == [(STATUS, 1), (POSITION, 1 + positions), (STATUS, 2 + positions)]
    box.put(_update(POSITION, 99))  # once taken, the next position waits in a new place
    assert (await box.get()).version == 99
    assert LiveUpdate.decode(taken[1].encode()) == taken[1]
