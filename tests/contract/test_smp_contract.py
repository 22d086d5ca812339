"""The СМП dispatch feed: our client against the simulator, every operation and refusal, the whole lifecycle,
the signed push, and what a receiver must survive: gaps, duplicates and out-of-order positions (every event
still there to pull)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from integrations.common.faults import Fault, FaultProfile
from integrations.common.http import build_http_client
from integrations.demo_region import get_region
from integrations.smp import (
    SIGNATURE_HEADER,
    CallStatus,
    CrewProfile,
    EventKind,
    FeedEvent,
    FeedRejected,
    Position,
    SharedLocation,
    SmpAccessDenied,
    SmpCallClosed,
    SmpCallNotFound,
    SmpClient,
    SmpUnavailable,
    parse_push,
    sign,
    wire,
)
from integrations.smp.protocol import MAX_BATCH
from integrations.smp.simulator import FeedFaults, SmpSimulatorState, create_smp_simulator, simulator_state

SECRET = "contract-secret"
TOKEN = "contract-token"
LIFECYCLE = [
    "accepted",
    "brigade_assigned",
    "departed",
    "en_route",
    "arrived",
    "transporting",
    "at_hospital",
    "closed",
]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Inbox:
    """The receiving end of the push: verifies each message and keeps it."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.seqs: list[tuple[str, int]] = []
        self.kinds: dict[tuple[str, int], EventKind] = {}
        self.bodies: list[int] = []  # events per pushed body

    async def __call__(self, body: bytes, headers: Mapping[str, str]) -> int:
        events = parse_push(body, headers[SIGNATURE_HEADER], secret=SECRET, now=int(self.clock().timestamp()))
        self.bodies.append(len(events))
        for event in events:
            self.seqs.append((event.call_id, event.seq))
            self.kinds[(event.call_id, event.seq)] = event.kind
        return 200


def _rig(
    *,
    feed_faults: FeedFaults | None = None,
    faults: FaultProfile | None = None,
    timeout_s: float = 2.0,
    batch_max: int = 1,
) -> tuple[SmpClient, SmpSimulatorState, Clock, Inbox]:
    clock = Clock()
    inbox = Inbox(clock)
    app = create_smp_simulator(
        get_region(),
        clock=clock,
        token=TOKEN,
        secret=SECRET,
        push_to=inbox,
        faults=faults,
        feed_faults=feed_faults,
        batch_max=batch_max,
    )
    http = build_http_client("inprocess://smp", simulator_app=lambda: app, timeout_s=timeout_s)
    return SmpClient(http, token=TOKEN, timeout_s=timeout_s), simulator_state(app), clock, inbox


async def _play(sim: SmpSimulatorState, clock: Clock, call_id: str, status: CallStatus, step_s: int = 15) -> None:
    for _ in range(2000):
        if sim.call(call_id).snapshot.status is status:
            return
        clock.now += timedelta(seconds=step_s)
        await sim.advance()
    raise AssertionError(f"never reached {status}")


async def test_a_call_goes_through_the_whole_lifecycle_with_positions_and_the_actual_arrival_kept() -> None:
    client, sim, clock, inbox = _rig()
    region = get_region()
    call_id = sim.person_call(0)
    await _play(sim, clock, call_id, CallStatus.CLOSED)
    snap = await client.get_call(call_id)
    assert [s.status.value for s in snap.history] == LIFECYCLE
    assert snap.status is CallStatus.CLOSED and snap.brigade is not None and snap.hospital is not None
    assert snap.caller_phone == region.people[0].phone and snap.caller_esia_oid == region.people[0].esia_oid
    assert all(a.at <= b.at for a, b in zip(snap.history, snap.history[1:], strict=False))
    events = await client.events(call_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    positions = [e.position for e in events if e.kind is EventKind.POSITION and e.position is not None]
    assert len(positions) > 5
    gaps = [(b.ts - a.ts).total_seconds() for a, b in itertools.pairwise(positions)]
    # Every 5–30 s while driving (the stop at the scene between the two drives aside).
    assert sum(5 <= g <= 30 for g in gaps) >= len(gaps) - 1
    assert all(0 < p.speed_kmh <= 90 and 44.0 <= p.lat <= 46.2 and 40.9 <= p.lon <= 45.6 for p in positions)
    # The actual arrival is kept beside every prediction made before it.
    call = sim.call(call_id)
    assert call.arrived_at is not None and call.predictions
    assert all(at <= call.arrived_at for at, _ in call.predictions)
    assert call.arrived_at == next(s.at for s in snap.history if s.status is CallStatus.ARRIVED)
    # Every event was pushed once, in order, without faults.
    assert inbox.seqs == [(call_id, e.seq) for e in events]
    # After `after`, only the later ones.
    assert [e.seq for e in await client.events(call_id, after_seq=len(events) - 2)] == [len(events) - 1, len(events)]


async def test_gaps_duplicates_and_out_of_order_positions_are_pushed_and_everything_can_be_pulled() -> None:
    client, sim, clock, inbox = _rig(feed_faults=FeedFaults(gap=0.2, duplicate=0.2, reorder=0.2, seed=11))
    call_id = sim.person_call(1, transport=False)
    await _play(sim, clock, call_id, CallStatus.CLOSED)
    events = await client.events(call_id)
    all_seqs = [e.seq for e in events]
    delivered = [s for c, s in inbox.seqs if c == call_id]
    missing = set(all_seqs) - set(delivered)
    assert missing and all(inbox.kinds.get((call_id, s)) is None for s in missing)  # gaps
    assert len(delivered) > len(set(delivered))  # duplicates
    assert any(b < a for a, b in itertools.pairwise(delivered))  # out of order
    statuses = [e.seq for e in events if e.kind is EventKind.STATUS]
    assert set(statuses) <= set(delivered)  # statuses are never lost by the feed faults
    assert all_seqs == list(range(1, len(all_seqs) + 1))  # the pull has every event once
    assert all(sim.call(call_id).snapshot.status is not s for s in (CallStatus.TRANSPORTING, CallStatus.AT_HOSPITAL))


async def test_in_batch_mode_the_same_events_go_in_order_several_to_a_push() -> None:
    _, sim, clock, inbox = _rig(batch_max=20)
    calls = [sim.person_call(0), sim.person_call(1, transport=False)]
    for call_id in calls:
        await _play(sim, clock, call_id, CallStatus.CLOSED, step_s=60)
    assert max(inbox.bodies) > 1 and max(inbox.bodies) <= 20  # batches, none past the limit
    assert sum(inbox.bodies) == len(inbox.seqs)
    for call_id in calls:  # every event once, each call's in order
        assert [s for c, s in inbox.seqs if c == call_id] == [e.seq for e in sim.call(call_id).events]


def test_a_batch_is_one_to_max_batch_events_and_a_single_event_is_a_batch_of_one() -> None:
    event = FeedEvent(
        "C-1", 1, EventKind.POSITION, datetime(2026, 3, 10, 9, 0, tzinfo=UTC),
        position=Position(45.0, 41.9, 40.0, 90.0, datetime(2026, 3, 10, 9, 0, tzinfo=UTC)),
    )  # fmt: skip
    one = wire.event_json(event)
    assert wire.events_from(one) == [event]
    assert wire.events_from(wire.batch_json([event, replace(event, seq=2)])) == [event, replace(event, seq=2)]
    for bad in ({"events": []}, {"events": [one] * (MAX_BATCH + 1)}, {"events": one}, {"events": [one, {"x": 1}]}):
        with pytest.raises(wire.WireError):
            wire.events_from(bad)


async def test_the_push_signature_is_checked() -> None:
    body = orjson.dumps({"callId": "C-1", "seq": 1, "kind": "position", "sentAt": "2026-03-10T09:00:00+00:00"})
    now = int(datetime(2026, 3, 10, 9, 0, tzinfo=UTC).timestamp())
    good = sign(body, SECRET, now)
    with pytest.raises(FeedRejected) as tampered:
        parse_push(body + b" ", good, secret=SECRET, now=now)
    assert tampered.value.status == 401
    with pytest.raises(FeedRejected) as stale:
        parse_push(body, sign(body, SECRET, now - 3600), secret=SECRET, now=now)
    assert stale.value.status == 401
    with pytest.raises(FeedRejected) as unsigned:
        parse_push(body, None, secret=SECRET, now=now)
    assert unsigned.value.status == 401
    with pytest.raises(FeedRejected) as unreadable:  # signed, but a position event without a position
        parse_push(body, good, secret=SECRET, now=now)
    assert unreadable.value.status == 400


async def test_the_crew_receives_location_and_profile_while_the_call_is_open() -> None:
    client, sim, clock, _ = _rig()
    call_id = sim.person_call(0, transport=False)
    at = clock()
    await client.share_location(call_id, SharedLocation(45.04, 41.97, 12.0, at))
    await client.share_profile(call_id, CrewProfile("A(II) Rh+", ("Пенициллин",), ("Сахарный диабет 2 типа (E11)",)))
    call = sim.call(call_id)
    assert call.crew_locations == [SharedLocation(45.04, 41.97, 12.0, at)]
    assert call.crew_profile is not None and call.crew_profile.allergies == ("Пенициллин",)
    with pytest.raises(SmpCallNotFound):
        await client.share_location("C-999999", SharedLocation(45.0, 41.9, None, at))
    sim.cancel(call_id)
    assert sim.call(call_id).snapshot.status is CallStatus.CANCELLED
    with pytest.raises(SmpCallClosed):
        await client.share_location(call_id, SharedLocation(45.0, 41.9, None, at))
    with pytest.raises(SmpCallNotFound):
        await client.get_call("C-999999")


async def test_refusals_and_faults_are_typed() -> None:
    client, sim, _, _ = _rig(faults=FaultProfile(timeout_stall_s=1.0), timeout_s=0.3)
    call_id = sim.person_call(0)
    sim.faults.force(Fault.ERROR)
    with pytest.raises(SmpUnavailable):
        await client.get_call(call_id)
    sim.faults.force(Fault.MALFORMED)
    with pytest.raises(SmpUnavailable):
        await client.get_call(call_id)
    sim.faults.force(Fault.TIMEOUT)
    with pytest.raises(SmpUnavailable):
        await client.events(call_id)
    sim.token = "another"
    with pytest.raises(SmpAccessDenied):
        await client.get_call(call_id)
    await client.aclose()


def test_the_wire_refuses_nonsense() -> None:
    with pytest.raises(wire.WireError):
        wire.event_from({"callId": "C-1", "seq": 0, "kind": "status", "sentAt": "2026-03-10T09:00:00+00:00"})
    with pytest.raises(wire.WireError):
        wire.event_from({"callId": "C-1", "seq": 1, "kind": "teleport", "sentAt": "2026-03-10T09:00:00+00:00"})
    with pytest.raises(wire.WireError):
        wire.call_from({"callId": "C-1", "status": "accepted", "acceptedAt": "2026-03-10T09:00:00"})
