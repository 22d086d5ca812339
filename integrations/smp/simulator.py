"""The СМП dispatch subsystem, simulated over the demo region: calls, brigades on the road, the feed.

* A call is created when a demo person "calls 103/112" (:meth:`SmpSimulatorState.place_call`: the test
  hook; ``POST /smp/v1/_sim/calls`` for the CLI and the demo). The nearest station's free brigade takes it.
* The lifecycle ``accepted → brigade_assigned → departed → en_route → arrived → transporting → at_hospital
  → closed`` (``cancelled`` on :meth:`~SmpSimulatorState.cancel`), each step timestamped, advanced on the
  simulator's clock by :meth:`~SmpSimulatorState.advance` (tests) or :meth:`~SmpSimulatorState.run` (the
  demo, in real time).
* The brigade drives from its station along a route (a street-grid "L": north–south first, then east–west)
  at 35–65 km/h, reporting a position every 5–30 s with GPS jitter; then to the nearest hospital.
* The dispatcher's ETA (remaining route / average speed) is sent with each position, and every prediction
  is kept beside the actual arrival (:attr:`SimCall.predictions`, :attr:`SimCall.arrived_at`).
* Each event is pushed, signed (:func:`~integrations.smp.protocol.sign`), to ``push_to``: one event per
  request, or with ``batch_max`` > 1 what one :meth:`~SmpSimulatorState.advance` produced in batches of at
  most ``batch_max`` events (``{"events": [...]}``, the dispatch side's batching); the feed faults
  (:class:`FeedFaults`) drop (a gap), repeat (a duplicate) or hold back (out of order) position pushes.
  Every event stays in the call's history for the pull API. The pull API answers with the usual latency
  and faults (:class:`~integrations.common.faults.FaultProfile`).
* What the crew received (the patient's location, the emergency profile) is kept per call
  (:attr:`SimCall.crew_locations`, :attr:`SimCall.crew_profile`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath

from integrations.common.faults import Fault, FaultInjector, FaultProfile
from integrations.common.simulator import simulator_app, state_of
from integrations.demo_region.model import Region
from integrations.smp import wire
from integrations.smp.protocol import (
    MAX_BATCH,
    SIGNATURE_HEADER,
    Brigade,
    CallSnapshot,
    CallStatus,
    CrewProfile,
    Delivery,
    EventKind,
    FeedEvent,
    Hospital,
    PatientRef,
    Place,
    Position,
    SharedLocation,
    StatusStep,
    sign,
)

#: ``(body, headers) -> HTTP status``: where pushes go (our webhook, in-process or over HTTP).
PushTarget = Callable[[bytes, Mapping[str, str]], Awaitable[int]]

KM_PER_DEG_LAT = 111.32
JITTER_DEG = 0.00012  # ~13 m of GPS noise


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, a)))


def heading(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    y = math.sin(math.radians(lon2 - lon1)) * math.cos(math.radians(lat2))
    x = math.cos(math.radians(lat1)) * math.sin(math.radians(lat2)) - math.sin(math.radians(lat1)) * math.cos(
        math.radians(lat2)
    ) * math.cos(math.radians(lon2 - lon1))
    return round((math.degrees(math.atan2(y, x)) + 360) % 360, 1)


@dataclass(frozen=True)
class FeedFaults:
    """Per position push: the chance it is lost (a gap), sent twice, or held back behind the next one."""

    gap: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    seed: int = 7


@dataclass
class Leg:
    """One drive: waypoints, the speed, and how far along it the brigade is."""

    points: list[tuple[float, float]]
    speed_kmh: float
    done_km: float = 0.0

    @property
    def length_km(self) -> float:
        return sum(distance_km(*a, *b) for a, b in zip(self.points, self.points[1:], strict=False))

    def at(self, km: float) -> tuple[float, float, float]:
        """(lat, lon, heading) ``km`` along the route."""
        left = km
        for a, b in zip(self.points, self.points[1:], strict=False):
            seg = distance_km(*a, *b)
            if left <= seg and seg > 0:
                f = left / seg
                return a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, heading(*a, *b)
            left -= seg
        a, b = self.points[-2], self.points[-1]
        return b[0], b[1], heading(*a, *b)


@dataclass
class SimCall:
    call_id: str
    snapshot: CallSnapshot
    sim_time: datetime
    next_at: datetime  # when the next step or position is due
    leg: Leg | None = None
    events: list[FeedEvent] = field(default_factory=list)
    predictions: list[tuple[datetime, int]] = field(default_factory=list)  # (when predicted, eta minutes)
    arrived_at: datetime | None = None
    crew_locations: list[SharedLocation] = field(default_factory=list)
    crew_profile: CrewProfile | None = None
    transport: bool = True
    pushed_seq: int = 0  # the events up to here were handed to the push


class SmpSimulatorState:
    def __init__(
        self,
        region: Region,
        *,
        clock: Callable[[], datetime] | None = None,
        token: str | None = None,
        secret: str,
        push_to: PushTarget | None = None,
        faults: FaultInjector | None = None,
        feed_faults: FeedFaults | None = None,
        seed: int = 103,
        batch_max: int = 1,
    ) -> None:
        self.region = region
        self.batch_max = max(1, min(batch_max, MAX_BATCH))
        self._outgoing: list[FeedEvent] = []
        self.clock = clock or (lambda: datetime.now(UTC))
        self.token = token
        self.secret = secret
        self.push_to = push_to
        self.faults = faults or FaultInjector(FaultProfile())
        self.feed_faults = feed_faults or FeedFaults()
        self._rng = random.Random(seed)
        self._feed_rng = random.Random(self.feed_faults.seed)
        self.calls: dict[str, SimCall] = {}
        self.deliveries: list[Delivery] = []
        self.busy: set[str] = set()
        self._held: FeedEvent | None = None
        self._counter = 0
        self._lock = asyncio.Lock()
        self._runner: asyncio.Task[None] | None = None

    # -- calls

    def place_call(
        self,
        phone: str,
        *,
        lat: float,
        lon: float,
        address: str = "",
        district_id: str = "",
        esia_oid: str | None = None,
        patient: PatientRef | None = None,
        transport: bool = True,
    ) -> str:
        """A call to 103/112 from ``phone`` for ``patient`` (None: the caller) at (lat, lon); its id."""
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError("coordinates out of range")
        self._counter += 1
        call_id = f"C-{self._counter:06d}"
        now = self.clock()
        station = min(self.region.ambulance_stations, key=lambda s: distance_km(s.latitude, s.longitude, lat, lon))
        snapshot = CallSnapshot(
            call_id=call_id,
            status=CallStatus.ACCEPTED,
            caller_phone=phone,
            caller_esia_oid=esia_oid,
            patient=patient,
            place=Place(lat, lon, address),
            district_id=district_id or station.district_id,
            accepted_at=now,
            history=(StatusStep(CallStatus.ACCEPTED, now),),
        )
        call = SimCall(call_id, snapshot, now, now + timedelta(seconds=self._rng.randint(45, 90)), transport=transport)
        self.calls[call_id] = call
        self._emit_status(call, now)
        return call_id

    def person_call(self, index: int, *, for_child: int | None = None, transport: bool = True) -> str:
        """The demo person ``index`` calls from their phone (for the child ``for_child``, if given)."""
        caller = self.region.people[index]
        who = self.region.people[for_child] if for_child is not None else None
        patient = PatientRef(who.last_name, who.first_name, who.birth_date, who.snils, who.oms_policy) if who else None
        return self.place_call(
            caller.phone,
            lat=caller.latitude,
            lon=caller.longitude,
            address=caller.address,
            district_id=caller.district_id,
            esia_oid=caller.esia_oid,
            patient=patient,
            transport=transport,
        )

    def call(self, call_id: str) -> SimCall:
        return self.calls[call_id]

    def cancel(self, call_id: str) -> None:
        call = self.calls[call_id]
        if not call.snapshot.status.is_final:
            self._set_status(call, CallStatus.CANCELLED, self.clock())
            self._free(call)

    def receive_location(self, call_id: str, location: SharedLocation) -> None:
        self._open(call_id).crew_locations.append(location)

    def receive_profile(self, call_id: str, profile: CrewProfile) -> None:
        self._open(call_id).crew_profile = profile

    def _open(self, call_id: str) -> SimCall:
        call = self.calls[call_id]  # KeyError: not found
        if call.snapshot.status.is_final:
            raise PermissionError("call closed")
        return call

    # -- time

    async def advance(self, to: datetime | None = None) -> None:
        """Play every call forward to ``to`` (default: the clock), pushing what happens, in order."""
        until = to or self.clock()
        async with self._lock:
            while True:
                due = [c for c in self.calls.values() if not c.snapshot.status.is_final and c.next_at <= until]
                if not due:
                    break
                call = min(due, key=lambda c: c.next_at)
                self._step(call)
            pending = [e for c in self.calls.values() for e in c.events if e.seq > c.pushed_seq]
            pending.sort(key=lambda e: e.sent_at)
            for call in self.calls.values():
                call.pushed_seq = len(call.events)
            for event in pending:
                await self._push(event)  # a position held back goes out after the next event
            await self._flush()

    async def run(self, interval_s: float = 2.0) -> None:
        """The demo's real-time loop: advance to the clock every ``interval_s``."""
        while True:
            try:
                await self.advance()
            except Exception:  # pragma: no cover - a demo loop keeps going
                await asyncio.sleep(interval_s)
            await asyncio.sleep(interval_s)

    def start(self, interval_s: float = 2.0) -> None:
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self.run(interval_s), name="smp-simulator")

    async def aclose(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
            self._runner = None

    def _step(self, call: SimCall) -> None:
        at = call.next_at
        call.sim_time = at
        status = call.snapshot.status
        if status is CallStatus.ACCEPTED:
            self._assign(call, at)
            call.next_at = at + timedelta(seconds=self._rng.randint(60, 120))
            return
        if status is CallStatus.BRIGADE_ASSIGNED:  # the car's terminal reports from the station as it leaves
            leg = call.leg
            assert leg is not None
            lat, lon, head = leg.at(0.0)
            eta = max(1, math.ceil(leg.length_km / leg.speed_kmh * 60))
            call.snapshot = replace(call.snapshot, position=Position(lat, lon, 0.0, head, at), eta_minutes=eta)
            call.predictions.append((at, eta))
            self._set_status(call, CallStatus.DEPARTED, at)
            call.next_at = at + timedelta(seconds=self._rng.randint(5, 30))
            return
        if status in (CallStatus.DEPARTED, CallStatus.EN_ROUTE, CallStatus.TRANSPORTING):
            if status is CallStatus.DEPARTED:
                self._set_status(call, CallStatus.EN_ROUTE, at)
            self._drive(call, at)
            return
        if status is CallStatus.ARRIVED:
            if call.transport:
                self._to_hospital(call, at)
                call.next_at = at + timedelta(seconds=self._rng.randint(5, 30))
            else:
                self._set_status(call, CallStatus.CLOSED, at)
                self._free(call)
            return
        if status is CallStatus.AT_HOSPITAL:
            self._set_status(call, CallStatus.CLOSED, at)
            self._free(call)

    def _assign(self, call: SimCall, at: datetime) -> None:
        place = call.snapshot.place
        stations = sorted(
            self.region.ambulance_stations, key=lambda s: distance_km(s.latitude, s.longitude, place.lat, place.lon)
        )
        for station in stations:
            free = [c for c in station.crews if f"{station.id}:{c}" not in self.busy]
            if free:
                break
        else:  # every brigade is out: the nearest station's first one takes it after its current call
            station, free = stations[0], list(stations[0].crews)
        crew = free[0]
        self.busy.add(f"{station.id}:{crew}")
        start = (station.latitude, station.longitude)
        corner = (place.lat, station.longitude)
        call.leg = Leg([start, corner, (place.lat, place.lon)], self._rng.uniform(35, 65))
        brigade = Brigade(f"B-{crew}", f"ПС-{station.id}", station.name)
        call.snapshot = replace(call.snapshot, brigade=brigade)
        self._set_status(call, CallStatus.BRIGADE_ASSIGNED, at)

    def _to_hospital(self, call: SimCall, at: datetime) -> None:
        place = call.snapshot.place
        hospitals = [o for o in self.region.organisations if o.kind == "hospital"] or list(self.region.organisations)
        h = min(hospitals, key=lambda o: distance_km(o.latitude, o.longitude, place.lat, place.lon))
        hospital = Hospital(h.id, h.name, h.latitude, h.longitude)
        call.leg = Leg([(place.lat, place.lon), (h.latitude, place.lon), (h.latitude, h.longitude)], 50.0)
        call.snapshot = replace(call.snapshot, hospital=hospital)
        self._set_status(call, CallStatus.TRANSPORTING, at)

    def _drive(self, call: SimCall, at: datetime) -> None:
        leg = call.leg
        assert leg is not None
        dt = (at - call.snapshot.position.ts).total_seconds() if call.snapshot.position else 0.0
        speed = max(20.0, min(90.0, leg.speed_kmh + self._rng.uniform(-8, 8)))
        leg.done_km += speed * dt / 3600
        total = leg.length_km
        if leg.done_km >= total:
            lat, lon, head = leg.at(total)
            position = Position(lat, lon, 0.0, head, at)
            call.snapshot = replace(call.snapshot, position=position, eta_minutes=0)
            arriving = call.snapshot.status is not CallStatus.TRANSPORTING
            if arriving:
                call.arrived_at = at
            self._set_status(call, CallStatus.ARRIVED if arriving else CallStatus.AT_HOSPITAL, at)
            call.next_at = at + timedelta(minutes=self._rng.randint(10, 20) if arriving else 10)
            return
        lat, lon, head = leg.at(leg.done_km)
        lat += self._rng.uniform(-JITTER_DEG, JITTER_DEG)
        lon += self._rng.uniform(-JITTER_DEG, JITTER_DEG)
        eta = max(1, math.ceil((total - leg.done_km) / leg.speed_kmh * 60))
        position = Position(round(lat, 6), round(lon, 6), round(speed, 1), head, at)
        call.snapshot = replace(call.snapshot, position=position, eta_minutes=eta)
        if call.snapshot.status is not CallStatus.TRANSPORTING:
            call.predictions.append((at, eta))
        self._emit(call, FeedEvent(call.call_id, 0, EventKind.POSITION, at, position=position, eta_minutes=eta))
        call.next_at = at + timedelta(seconds=self._rng.randint(5, 30))

    def _free(self, call: SimCall) -> None:
        b = call.snapshot.brigade
        if b is not None:
            self.busy.discard(f"{b.station_id.removeprefix('ПС-')}:{b.id.removeprefix('B-')}")

    def _set_status(self, call: SimCall, status: CallStatus, at: datetime) -> None:
        s = call.snapshot
        call.snapshot = replace(s, status=status, history=(*s.history, StatusStep(status, at)))
        self._emit_status(call, at)

    def _emit_status(self, call: SimCall, at: datetime) -> None:
        self._emit(call, FeedEvent(call.call_id, 0, EventKind.STATUS, at, call=call.snapshot))

    def _emit(self, call: SimCall, event: FeedEvent) -> None:
        seq = len(call.events) + 1
        call.snapshot = replace(call.snapshot, seq=seq)
        snapshot = call.snapshot if event.kind is EventKind.STATUS else None
        call.events.append(replace(event, seq=seq, call=snapshot))

    # -- the push

    async def _push(self, event: FeedEvent) -> None:
        f, rng = self.feed_faults, self._feed_rng
        if event.kind is EventKind.POSITION:
            roll = rng.random()
            if roll < f.gap:
                self.deliveries.append(Delivery(event.seq, event.call_id, 0, {"fault": "gap"}))
                return
            if roll < f.gap + f.reorder and self._held is None:
                self._held = event
                return
            await self._deliver(event)
            if roll < f.gap + f.reorder + f.duplicate:
                await self._deliver(event)
        else:
            await self._deliver(event)
        if self._held is not None and self._held is not event:
            held, self._held = self._held, None
            await self._deliver(held)

    async def _deliver(self, event: FeedEvent) -> None:
        self._outgoing.append(event)
        if len(self._outgoing) >= self.batch_max:
            await self._flush()

    async def _flush(self) -> None:
        """Push what is waiting: one event alone, several as a batch."""
        events, self._outgoing = self._outgoing, []
        if self.push_to is None or not events:
            return
        body = orjson.dumps(wire.event_json(events[0]) if self.batch_max == 1 else wire.batch_json(events))
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, self.secret, int(self.clock().timestamp())),
        }
        try:
            status = await self.push_to(body, headers)
        except Exception:  # the receiver failed: a gap the receiver recovers by pulling
            status = 599
        self.deliveries.extend(Delivery(e.seq, e.call_id, status) for e in events)

    def events_after(self, call_id: str, after: int) -> list[FeedEvent]:
        return [e for e in self.calls[call_id].events if e.seq > after]


def _json(content: Any, status_code: int = 200) -> Response[Any]:
    return Response(content=content, status_code=status_code, media_type="application/json")


def _error(status: int, code: str, message: str) -> Response[Any]:
    return _json({"error": {"code": code, "message": message}}, status)


def create_smp_simulator(
    region: Region,
    *,
    clock: Callable[[], datetime] | None = None,
    token: str | None = None,
    secret: str,
    push_to: PushTarget | None = None,
    faults: FaultProfile | None = None,
    feed_faults: FeedFaults | None = None,
    seed: int = 103,
    batch_max: int = 1,
) -> Litestar:
    """The dispatch subsystem as an ASGI app (the pull API, the crew's inbound, the demo's call hook)."""
    state = SmpSimulatorState(
        region,
        clock=clock,
        token=token,
        secret=secret,
        push_to=push_to,
        faults=FaultInjector(faults or FaultProfile()),
        feed_faults=feed_faults,
        seed=seed,
        batch_max=batch_max,
    )
    base = wire.BASE_PATH

    async def guard(request: Request[Any, Any, Any]) -> Response[Any] | None:
        fault = await state.faults.before_reply()
        if fault is Fault.ERROR:
            return _error(503, "unavailable", "Сервис временно недоступен")
        if fault is Fault.MALFORMED:
            return Response(content=b'{"callId": ', media_type="application/json")
        if state.token is not None and request.headers.get("authorization") != f"Bearer {state.token}":
            return _error(401, "unauthorized", "Неверный токен доступа")
        return None

    @get(f"{base}/calls/{{call_id:str}}")
    async def get_call(request: Request[Any, Any, Any], call_id: FromPath[str]) -> Response[Any]:
        refused = await guard(request)
        if refused is not None:
            return refused
        if call_id not in state.calls:
            return _error(404, "not_found", "Вызов не найден")
        return _json(wire.call_json(state.calls[call_id].snapshot))

    @get(f"{base}/calls/{{call_id:str}}/events")
    async def get_events(request: Request[Any, Any, Any], call_id: FromPath[str]) -> Response[Any]:
        refused = await guard(request)
        if refused is not None:
            return refused
        if call_id not in state.calls:
            return _error(404, "not_found", "Вызов не найден")
        try:
            after = int(request.query_params.get("after") or 0)
        except ValueError:
            return _error(400, "bad_request", "Некорректный параметр after")
        return _json({"events": [wire.event_json(e) for e in state.events_after(call_id, after)]})

    async def inbound(
        request: Request[Any, Any, Any], call_id: str, accept: Callable[[dict[str, Any]], None]
    ) -> Response[Any]:
        refused = await guard(request)
        if refused is not None:
            return refused
        try:
            accept(orjson.loads(await request.body()))
        except KeyError:
            return _error(404, "not_found", "Вызов не найден")
        except PermissionError:
            return _error(409, "call_closed", "Вызов завершён")
        except (ValueError, TypeError, AttributeError) as exc:
            return _error(400, "bad_request", f"Некорректные данные: {exc}")
        return _json({"accepted": True})

    @post(f"{base}/calls/{{call_id:str}}/location", status_code=200)
    async def location(request: Request[Any, Any, Any], call_id: FromPath[str]) -> Response[Any]:
        return await inbound(request, call_id, lambda d: state.receive_location(call_id, wire.location_from(d)))

    @post(f"{base}/calls/{{call_id:str}}/emergency-profile", status_code=200)
    async def profile(request: Request[Any, Any, Any], call_id: FromPath[str]) -> Response[Any]:
        return await inbound(request, call_id, lambda d: state.receive_profile(call_id, wire.profile_from(d)))

    @post(f"{base}/_sim/calls", status_code=201)
    async def place(request: Request[Any, Any, Any]) -> Response[Any]:
        """The demo's "call 103/112": ``{"person": 0, "forChild": 2}`` or ``{"phone", "lat", "lon"}``."""
        data = orjson.loads(await request.body() or b"{}")
        try:
            if "person" in data:
                call_id = state.person_call(int(data["person"]), for_child=data.get("forChild"))
            else:
                call_id = state.place_call(str(data["phone"]), lat=float(data["lat"]), lon=float(data["lon"]))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            return _error(400, "bad_request", f"Некорректный вызов: {exc}")
        if data.get("realtime", True):
            state.start()
        return _json({"callId": call_id}, 201)

    return simulator_app([get_call, get_events, location, profile, place], state)


def simulator_state(app: Litestar) -> SmpSimulatorState:
    return state_of(app, SmpSimulatorState)
