"""The СМП feed in batches (``{"events": [...]}``): one push carries many calls' events; each is applied once,
the newest position of each call wins, a gap is what neither we nor the batch hold, a call we do not know
is pulled, a closed call does not move; a push of N positions costs the same few statements as a push of
one; a batched feed with faults ends where the dispatch side is, as the single-event feed does."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from backend.ambulance.live import InProcessAmbulanceBus, LiveUpdate
from backend.ambulance.models import AmbulanceCall, AmbulanceStep
from backend.ambulance.service import feed
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from integrations.smp import SIGNATURE_HEADER, EventKind, FeedEvent, sign, wire
from integrations.smp.protocol import MAX_BATCH
from integrations.smp.simulator import FeedFaults
from tests.support.ambulance import SmpEnv, person, sms_events, start_smp
from tests.support.client import app_client
from tests.support.statements import counting_statements


class Published:
    """The bus, recording what each publish call carried."""

    def __init__(self) -> None:
        self.inner = InProcessAmbulanceBus()
        self.calls: list[list[LiveUpdate]] = []

    async def publish(self, update: LiveUpdate) -> None:
        self.calls.append([update])

    async def publish_many(self, updates: list[LiveUpdate]) -> None:
        self.calls.append(list(updates))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def _en_route(smp: SmpEnv, count: int) -> list[str]:
    """``count`` calls of different people, each en route with a position applied."""
    call_ids = []
    for n in range(count):
        caller = await person(smp.runtime)
        call_ids.append(smp.call_from(caller, lat=45.03 + n / 100, lon=41.95 + n / 100))
    for call_id in call_ids:
        await smp.until("en_route", call_id)
    await smp.advance(seconds=30)
    return call_ids


def _last_position(smp: SmpEnv, call_id: str) -> FeedEvent:
    return next(e for e in reversed(smp.sim.call(call_id).events) if e.kind is EventKind.POSITION)


def _moved(event: FeedEvent, *, seq: int, seconds: float, lat: float = 0.0) -> FeedEvent:
    p = event.position
    assert p is not None
    return replace(event, seq=seq, position=replace(p, ts=p.ts + timedelta(seconds=seconds), lat=p.lat + lat))


async def _state(runtime: Runtime, call_id: str) -> AmbulanceCall:
    async with runtime.sessionmaker() as session:
        row = await session.scalar(select(AmbulanceCall).where(AmbulanceCall.call_id == call_id))
        assert row is not None
        return row


async def _recoveries(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.sessionmaker() as session:
        rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == feed.TOPIC_RECOVER))
        return [dict(r.payload) for r in rows]


@pytest.mark.dialect
async def test_one_push_applies_the_newest_position_of_each_call_once(smp: SmpEnv) -> None:
    runtime = smp.runtime
    a, b, closed = await _en_route(smp, 3)
    smp.sim.cancel(closed)
    await smp.advance(seconds=1)
    smp.sim.push_to = None  # from here the test pushes by hand
    bus = Published()
    runtime.adapters.ambulance_bus = bus  # type: ignore[assignment]
    last_a, last_b, last_closed = (_last_position(smp, c) for c in (a, b, closed))
    before_b = await _state(runtime, b)
    a1 = _moved(last_a, seq=last_a.seq + 1, seconds=5, lat=0.001)
    a2 = _moved(last_a, seq=last_a.seq + 2, seconds=10, lat=0.002)
    b_old = _moved(last_b, seq=before_b.seq_high + 1, seconds=-60)  # older than what we hold: dropped
    b_gap = _moved(last_b, seq=before_b.seq_high + 3, seconds=5)  # seq + 2 is nowhere: a gap
    unknown = replace(a1, call_id="C-NOT-SEEN", seq=4)
    batch = [a2, b_old, a1, a1, b_gap, unknown, _moved(last_closed, seq=last_closed.seq + 9, seconds=5)]
    changed = await feed.apply_events(runtime, batch)

    assert changed == 2
    assert len(bus.calls) == 1  # one publish for the push
    updates = {u.call_id: u for u in bus.calls[0]}
    assert set(updates) == {a, b}
    assert updates[a].lat == a2.position.lat and updates[a].version == a2.seq  # type: ignore[union-attr]
    row_a, row_b, row_closed = [await _state(runtime, c) for c in (a, b, closed)]
    assert (row_a.pos_at, row_a.pos_lat, row_a.seq_high) == (a2.position.ts, a2.position.lat, a2.seq)  # type: ignore[union-attr]
    assert row_a.eta_minutes is not None and row_a.eta_minutes >= 1
    assert row_b.pos_at == b_gap.position.ts and row_b.seq_high == b_gap.seq  # type: ignore[union-attr]
    assert row_closed.status == "cancelled" and row_closed.pos_at != batch[-1].position.ts  # type: ignore[union-attr]
    recoveries = await _recoveries(runtime)
    assert {"call_id": "C-NOT-SEEN", "after": 0} in recoveries
    assert {"call_id": b, "after": before_b.seq_high} in recoveries
    assert not any(r["call_id"] == a for r in recoveries)  # a's two numbers are both in the push: no gap

    again = await feed.apply_events(runtime, batch)  # delivered again, whole
    assert again == 0 and len(bus.calls) == 1
    assert (await _state(runtime, a)).pos_at == row_a.pos_at


async def test_a_push_of_many_positions_costs_what_a_push_of_one_does(smp: SmpEnv) -> None:
    runtime = smp.runtime
    call_ids = await _en_route(smp, 4)
    smp.sim.push_to = None
    last = [_last_position(smp, c) for c in call_ids]
    with counting_statements(runtime) as one:
        assert await feed.apply_events(runtime, [_moved(last[0], seq=last[0].seq + 1, seconds=5)]) == 1
    many = [_moved(e, seq=e.seq + (2 if n == 0 else 1), seconds=10 + n) for n, e in enumerate(last)]
    with counting_statements(runtime) as four:
        assert await feed.apply_events(runtime, many) == 4

    def kinds(statements: list[str]) -> list[str]:
        return [" ".join(sql.split()[:3]) for sql in statements]

    # The state read, the moves, and the predictions when one is due: no more for four calls than for one.
    for counted in (one, four):
        assert [k for k in kinds(counted) if "ambulance_predictions" not in k] == [
            "SELECT ambulance_calls.id, ambulance_calls.call_id,",
            "UPDATE ambulance_calls SET",
        ], counted
        assert len(counted) <= 3, counted


@pytest.mark.dialect
async def test_the_webhook_takes_a_signed_batch_and_refuses_a_bad_one_whole(smp: SmpEnv) -> None:
    runtime = smp.runtime
    a, b = await _en_route(smp, 2)
    smp.sim.push_to = None
    last_a, last_b = _last_position(smp, a), _last_position(smp, b)
    moves = [_moved(last_a, seq=last_a.seq + 1, seconds=5), _moved(last_b, seq=last_b.seq + 1, seconds=5)]
    secret, now = runtime.settings.smp_webhook_secret, int(runtime.now().timestamp())
    body = orjson.dumps(wire.batch_json(moves))
    broken = orjson.dumps({"events": [wire.event_json(moves[0]), {"callId": b, "kind": "position", "seq": 9}]})
    too_many = orjson.dumps({"events": [wire.event_json(moves[0])] * (MAX_BATCH + 1)})
    async with app_client(runtime) as client:
        for bad in (broken, too_many, orjson.dumps({"events": []})):
            refused = await client.post(
                "/api/v1/ambulance/feed", content=bad, headers={SIGNATURE_HEADER: sign(bad, secret, now)}
            )
            assert refused.status_code == 400, refused.text
        assert (await _state(runtime, a)).pos_at == last_a.position.ts  # type: ignore[union-attr]
        signed = {SIGNATURE_HEADER: sign(body, secret, now)}
        ok = await client.post("/api/v1/ambulance/feed", content=body, headers=signed)
        assert ok.status_code == 200 and ok.json() == {"accepted": True, "events": 2}
    assert (await _state(runtime, a)).pos_at == moves[0].position.ts  # type: ignore[union-attr]
    assert (await _state(runtime, b)).pos_at == moves[1].position.ts  # type: ignore[union-attr]


@pytest.mark.dialect
async def test_a_batched_feed_with_faults_ends_where_the_dispatch_side_is(runtime: Runtime) -> None:
    smp = await start_smp(runtime, feed_faults=FeedFaults(gap=0.2, duplicate=0.2, reorder=0.2, seed=7), batch_max=25)
    sizes: list[int] = []
    push = smp.sim.push_to
    assert push is not None

    async def counting(body: bytes, headers: Any) -> int:
        sizes.append(len(orjson.loads(body).get("events", [None])))
        return await push(body, headers)

    smp.sim.push_to = counting
    callers = [await person(runtime) for _ in range(3)]
    call_ids = [smp.call_from(c, lat=45.03 + n / 50, lon=41.95) for n, c in enumerate(callers)]
    for call_id in call_ids:
        await smp.until("arrived", call_id)
    await runtime.relay.drain()
    assert max(sizes) > 1  # the events went in batches
    for caller, call_id in zip(callers, call_ids, strict=True):
        row = await _state(runtime, call_id)
        sim_call = smp.sim.call(call_id)
        async with runtime.sessionmaker() as session:
            steps = list(await session.scalars(select(AmbulanceStep.status).where(AmbulanceStep.call_ref == row.id)))
        assert sorted(steps) == sorted(s.status.value for s in sim_call.snapshot.history)  # each step once
        assert row.seq_high == len(sim_call.events) and row.arrived_at == sim_call.arrived_at
        assert [e for e, _ in await sms_events(runtime, caller.id)] == ["ambulance.dispatched", "ambulance.arrived"]
    await runtime.relay.drain()
