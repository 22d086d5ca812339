"""The СМП feed applied: calls linked to people, their timeline, positions with our ETA, SMS, the live bus.

Pushes arrive at the webhook (:func:`handle_push`; in-process the simulator calls the same handler) and are
applied once, whatever the delivery does:

* a **status** event carries the whole call: every step of its history not yet recorded is added (a step is
  unique per call), the status moves only forward (``CallStatus.rank``), so a duplicate or an older status
  arriving late changes nothing;
* a **position** is applied only if it is newer than the one we hold (``pos_at``): a duplicate or an
  out-of-order position is dropped by one conditional ``UPDATE``;
* a **gap** (``seq`` past the highest seen + 1) queues a recovery (:data:`TOPIC_RECOVER`): after the commit
  the call's events after the highest seen are pulled and applied the same way. The periodic :func:`sync`
  asks for the state of every open call that went quiet (the last pushes of a call can be lost too).

A call is linked when first seen: the caller by ESIA identity or confirmed phone, the patient by SNILS or OMS
policy with the birth date (the caller when the dispatcher recorded nobody else). SMS (``ambulance.
dispatched`` with the ETA, ``ambulance.arrived``) go through the notifications domain to the caller. Status
changes reach the live bus through the outbox (:data:`TOPIC_LIVE`); positions are published straight after
their commit (ephemeral: a lost one is replaced by the next within seconds).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import orjson
import structlog
from sqlalchemy import Table, bindparam, func, insert, or_, select, true, update

from backend.ambulance import eta
from backend.ambulance.live import POSITION, STATUS, LiveUpdate
from backend.ambulance.models import FINAL, AmbulanceCall, AmbulancePrediction, AmbulanceStep
from backend.ambulance.service import consent
from backend.core.context import RequestContext
from backend.core.hot import HotStatement
from backend.core.uow import UnitOfWork
from backend.identity import service as identity
from backend.outbox.service import Envelope
from integrations.smp import (
    CallSnapshot,
    CallStatus,
    EventKind,
    FeedEvent,
    FeedRejected,
    Position,
    SmpCallNotFound,
    SmpError,
    parse_push,
)
from notifications import service as notifications

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

TOPIC_LIVE = "ambulance.live"
TOPIC_RECOVER = "ambulance.recover"
MOVING = (CallStatus.DEPARTED.value, CallStatus.EN_ROUTE.value)
#: A prediction row is kept at most this often per call.
PREDICTION_EVERY = timedelta(seconds=60)
#: An open call with no news for this long is asked about by the sync.
QUIET = timedelta(minutes=2)
SYNC_BATCH = 200


def live_update(row: AmbulanceCall, kind: str) -> LiveUpdate:
    return LiveUpdate(
        call_ref=row.id,
        call_id=row.call_id,
        kind=kind,
        version=row.seq_high,
        status=row.status,
        brigade_id=row.brigade_id,
        station_name=row.station_name,
        hospital_name=row.hospital_name,
        lat=row.pos_lat,
        lon=row.pos_lon,
        speed_kmh=row.pos_speed,
        heading=row.pos_heading,
        position_at=row.pos_at,
        eta_minutes=row.eta_minutes,
        eta_at=row.eta_at,
        at=row.updated_at,
    )


# -- the webhook -------------------------------------------------------------------------------------


async def handle_push(runtime: Runtime, body: bytes, signature: str | None) -> tuple[int, bytes]:
    """The webhook: (HTTP status, JSON body) for the dispatch side; non-2xx makes it deliver again."""
    try:
        events = parse_push(
            body, signature, secret=runtime.settings.smp_webhook_secret, now=int(runtime.now().timestamp())
        )
    except FeedRejected as exc:
        log.warning("ambulance.push_rejected", reason=exc.reason)
        return exc.status, orjson.dumps({"error": {"code": "rejected", "message": exc.reason}})
    try:
        await apply_events(runtime, events)
    except Exception:
        log.exception("ambulance.push_failed", events=len(events), call_id=events[0].call_id, seq=events[0].seq)
        return 500, orjson.dumps({"error": {"code": "not_stored", "message": "повторите доставку"}})
    return 200, orjson.dumps({"accepted": True, "events": len(events)})


async def apply_event(runtime: Runtime, event: FeedEvent, *, recover: bool = True) -> bool:
    """Apply one event once; True if it changed anything. ``recover``: queue a pull on a gap."""
    return await apply_events(runtime, [event], recover=recover) > 0


async def apply_events(runtime: Runtime, events: Sequence[FeedEvent], *, recover: bool = True) -> int:
    """Apply the events of one push (or of a pull) once each; how many calls they changed.

    Statuses first, in order, each in its own unit of work (they carry the whole call and create it); then
    the positions, all in one (:func:`apply_positions`: the newest per call). A gap is a sequence number
    missing both from what we hold and from this batch."""
    seen: dict[str, set[int]] = {}
    for event in events:
        seen.setdefault(event.call_id, set()).add(event.seq)
    changed = 0
    for event in events:
        if event.kind is EventKind.STATUS:
            assert event.call is not None
            changed += await apply_call(runtime, event.call, seq=event.seq, recover=recover, seen=seen[event.call_id])
    positions = [e for e in events if e.kind is EventKind.POSITION]
    if positions:
        changed += await apply_positions(runtime, positions, recover=recover, seen=seen)
    return changed


def _gap(seq_high: int, seq: int, seen: set[int] | frozenset[int]) -> bool:
    """True when a sequence number between what we hold and ``seq`` is neither held nor in this batch."""
    if seq - seq_high - 1 > len(seen):
        return True
    return any(n not in seen for n in range(seq_high + 1, seq))


# -- statuses ----------------------------------------------------------------------------------------


async def _link(uow: UnitOfWork, snap: CallSnapshot) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    session = uow.session
    caller = await identity.find_caller(session, snap.caller_phone, snap.caller_esia_oid)
    patient = None
    ref = snap.patient
    if ref is not None and ref.birth_date is not None:
        if ref.snils and (snils := identity.normalise_snils(ref.snils)):
            patient = await identity.find_patient_by_snils(session, snils, ref.birth_date)
        if patient is None and ref.oms_policy and (policy := identity.normalise_policy(ref.oms_policy)):
            patient = await identity.find_patient_by_policy(session, policy, ref.birth_date)
    caller_id = caller.id if caller else None
    patient_id = patient.id if patient else (caller_id if ref is None else None)
    return caller_id, patient_id


def _new_row(
    snap: CallSnapshot, caller_id: uuid.UUID | None, patient_id: uuid.UUID | None, at: datetime
) -> AmbulanceCall:
    return AmbulanceCall(
        id=uuid.uuid4(),
        call_id=snap.call_id,
        caller_id=caller_id,
        patient_id=patient_id,
        caller_phone=identity.normalise_phone(snap.caller_phone) or snap.caller_phone,
        status=CallStatus.ACCEPTED.value,
        district_id=snap.district_id,
        address=snap.place.address[:512],
        place_lat=snap.place.lat,
        place_lon=snap.place.lon,
        accepted_at=snap.accepted_at,
        seq_high=0,
        created_at=at,
        updated_at=at,
    )


async def _calibrated(uow: UnitOfWork, district_id: str) -> float:
    """Minutes per straight-line km from the district's recent arrivals (:mod:`backend.ambulance.eta`)."""
    rows = await uow.session.execute(
        select(AmbulanceCall.departed_at, AmbulanceCall.arrived_at, AmbulanceCall.departure_km)
        .where(
            AmbulanceCall.district_id == district_id,
            AmbulanceCall.arrived_at.is_not(None),
            AmbulanceCall.departure_km.is_not(None),
            AmbulanceCall.departed_at.is_not(None),
        )
        .order_by(AmbulanceCall.arrived_at.desc())
        .limit(eta.CALIBRATION_CALLS)
    )
    return eta.calibrate([((a - d).total_seconds() / 60, float(km)) for d, a, km in rows.all() if a and d and km])


def _set_position(row: AmbulanceCall, p: Position) -> None:
    row.pos_lat, row.pos_lon, row.pos_speed, row.pos_heading, row.pos_at = p.lat, p.lon, p.speed_kmh, p.heading, p.ts
    if row.status in MOVING and row.min_per_km is not None:
        row.eta_minutes = eta.eta_minutes(p.lat, p.lon, row.place_lat, row.place_lon, row.min_per_km)
        row.eta_at = p.ts + timedelta(minutes=row.eta_minutes)
    elif row.status not in MOVING:
        row.eta_minutes = row.eta_at = None


def _keep_prediction(uow: UnitOfWork, row: AmbulanceCall, at: datetime, dispatch_eta: int | None) -> None:
    if row.eta_minutes is None or row.eta_at is None or row.status not in MOVING:
        return
    if row.predicted_at is not None and at - row.predicted_at < PREDICTION_EVERY:
        return
    row.predicted_at = at
    uow.session.add(
        AmbulancePrediction(
            id=uuid.uuid4(),
            call_ref=row.id,
            predicted_at=at,
            eta_minutes=row.eta_minutes,
            arrival_at=row.eta_at,
            dispatch_eta_minutes=dispatch_eta,
        )
    )


def _notify(uow: UnitOfWork, row: AmbulanceCall, inserted: set[str]) -> None:
    person = row.caller_id or row.patient_id
    if person is None or row.status in FINAL:
        return
    if CallStatus.DEPARTED.value in inserted:
        data: dict[str, Any] = {"eta": row.eta_at} if row.eta_at is not None else {}
        notifications.notify(
            uow, patient_id=person, event="ambulance.dispatched", data=data, dedupe_key=f"ambulance:{row.id}:departed"
        )
    if CallStatus.ARRIVED.value in inserted:
        notifications.notify(
            uow, patient_id=person, event="ambulance.arrived", data={}, dedupe_key=f"ambulance:{row.id}:arrived"
        )


def _record_steps(uow: UnitOfWork, row: AmbulanceCall, snap: CallSnapshot, known: set[str]) -> set[str]:
    """Add the history's steps not yet recorded (and the moments they mark); the statuses added."""
    inserted: set[str] = set()
    for step in snap.history:
        if step.status.value in known or step.status.value in inserted:
            continue
        inserted.add(step.status.value)
        uow.session.add(AmbulanceStep(id=uuid.uuid4(), call_ref=row.id, status=step.status.value, at=step.at))
        if step.status is CallStatus.DEPARTED:
            row.departed_at = step.at
        elif step.status is CallStatus.ARRIVED:
            row.arrived_at = step.at  # the actual arrival, kept beside the predictions
        elif step.status.is_final:
            row.closed_at = step.at
    return inserted


async def _absorb(uow: UnitOfWork, row: AmbulanceCall, snap: CallSnapshot) -> tuple[bool, bool]:
    """The snapshot's status (forward only), brigade, hospital and position; (status advanced, position moved)."""
    advanced = CallStatus(row.status).rank < snap.status.rank
    if advanced:
        row.status = snap.status.value
    if snap.brigade is not None:
        row.brigade_id, row.station_name = snap.brigade.id, snap.brigade.station_name
    if snap.hospital is not None:
        row.hospital_name = snap.hospital.name
    if row.min_per_km is None and row.status in MOVING:
        row.min_per_km = await _calibrated(uow, row.district_id)
    moved = snap.position is not None and (row.pos_at is None or snap.position.ts > row.pos_at)
    if snap.position is not None and moved:
        _set_position(row, snap.position)
        if row.departure_km is None and row.status in MOVING:
            row.departure_km = eta.distance_km(snap.position.lat, snap.position.lon, row.place_lat, row.place_lon)
        _keep_prediction(uow, row, snap.position.ts, snap.eta_minutes)
    if row.status not in MOVING:
        row.eta_minutes = row.eta_at = None
    return advanced, moved


async def apply_call(
    runtime: Runtime,
    snap: CallSnapshot,
    *,
    seq: int,
    recover: bool = True,
    seen: set[int] | frozenset[int] = frozenset(),
) -> bool:
    """Apply a call's snapshot (a status event or the pulled state) once; True if anything changed. ``seen``:
    the call's sequence numbers in the same push (not a gap)."""
    async with UnitOfWork(runtime, RequestContext.for_system("ambulance.feed")) as uow:
        session = uow.session
        now = runtime.now()
        row = await session.scalar(select(AmbulanceCall).where(AmbulanceCall.call_id == snap.call_id).with_for_update())
        created = row is None
        known: set[str] = set()
        if row is None:
            caller_id, patient_id = await _link(uow, snap)
            row = _new_row(snap, caller_id, patient_id, now)
            session.add(row)
            if caller_id or patient_id:
                uow.audit(
                    "ambulance.call_linked",
                    object_type="ambulance_call",
                    object_id=row.id,
                    subject_id=patient_id or caller_id,
                    details={"call_id": snap.call_id, "by": "esia" if snap.caller_esia_oid else "phone"},
                )
        else:
            known = set(await session.scalars(select(AmbulanceStep.status).where(AmbulanceStep.call_ref == row.id)))
        seq_before = row.seq_high
        row.seq_high = max(seq_before, seq)
        if recover and not created and _gap(seq_before, seq, seen):
            uow.emit(TOPIC_RECOVER, {"call_id": row.call_id, "after": seq_before})
        inserted = _record_steps(uow, row, snap, known)
        advanced, moved = await _absorb(uow, row, snap)
        if not (created or advanced or moved or inserted):
            return False  # a duplicate, or older news than what we hold
        row.updated_at = now
        if created:
            await session.flush()
        _notify(uow, row, inserted)
        if row.status in FINAL and (advanced or created):
            await consent.expire(uow, row.id)
        uow.emit(TOPIC_LIVE, {"update": orjson.loads(live_update(row, STATUS).encode())})
        if advanced or created:
            uow.audit(
                "ambulance.status_changed",
                object_type="ambulance_call",
                object_id=row.id,
                subject_id=row.patient_id or row.caller_id,
                details={"status": row.status, "call_id": row.call_id},
            )
    return True


# -- positions ---------------------------------------------------------------------------------------


_CALLS = cast("Table", AmbulanceCall.__table__)
_PREDICTIONS = cast("Table", AmbulancePrediction.__table__)
#: A push's positions are applied in one transaction: the calls' state read (and locked, in one order: two
#: pushes of the same calls wait for each other rather than deadlock), then every move in one pipelined
#: ``executemany`` on the driver (``HotStatement.many``) and the predictions likewise: four round trips per
#: push whatever its size (the batch figures: ``backend/ambulance/README.md``).
_POSITION_STATE = (
    select(
        _CALLS.c.id,
        _CALLS.c.call_id,
        _CALLS.c.status,
        _CALLS.c.place_lat,
        _CALLS.c.place_lon,
        _CALLS.c.pos_at,
        _CALLS.c.seq_high,
        _CALLS.c.min_per_km,
        _CALLS.c.predicted_at,
        _CALLS.c.brigade_id,
        _CALLS.c.station_name,
        _CALLS.c.hospital_name,
    )
    .order_by(_CALLS.c.id)
    .with_for_update()
)
_MOVE = HotStatement(
    update(_CALLS)
    .where(
        _CALLS.c.id == bindparam("ref", type_=_CALLS.c.id.type),
        or_(_CALLS.c.pos_at.is_(None), _CALLS.c.pos_at < bindparam("ts", type_=_CALLS.c.pos_at.type)),
    )
    .values(
        pos_lat=bindparam("lat"),
        pos_lon=bindparam("lon"),
        pos_speed=bindparam("speed"),
        pos_heading=bindparam("heading"),
        pos_at=bindparam("ts", type_=_CALLS.c.pos_at.type),
        eta_minutes=bindparam("eta_minutes"),
        eta_at=bindparam("eta_at"),
        dispatch_eta_minutes=bindparam("dispatch_eta"),
        seq_high=bindparam("seq"),
        updated_at=bindparam("now"),
        predicted_at=func.coalesce(bindparam("keep_at", type_=_CALLS.c.predicted_at.type), _CALLS.c.predicted_at),
    )
)
#: The same UPDATE on PostgreSQL turning this transaction's commit asynchronous (``set_config`` evaluated for
#: an updated row, no extra round trip): the webhook no longer waits for the WAL flush, which on a busy disk
#: was most of a position's time to the subscriber (``backend/ambulance/README.md``, "Live path figures").
_MOVE_ASYNC_COMMIT = HotStatement(
    _MOVE.statement.returning(func.set_config("synchronous_commit", "off", true()))  # type: ignore[attr-defined]
)
_PREDICT = HotStatement(insert(_PREDICTIONS))


def _newest(events: Sequence[FeedEvent]) -> dict[str, FeedEvent]:
    """The newest position of each call among ``events`` (by the fix's time, then the sequence number)."""
    newest: dict[str, FeedEvent] = {}
    for event in events:
        p = event.position
        assert p is not None
        held = newest.get(event.call_id)
        if held is None or (p.ts, event.seq) > (held.position.ts, held.seq):  # type: ignore[union-attr]
            newest[event.call_id] = event
    return newest


async def apply_position(runtime: Runtime, event: FeedEvent, *, recover: bool = True) -> bool:
    """One brigade's position (:func:`apply_positions` of one)."""
    return await apply_positions(runtime, [event], recover=recover) > 0


async def apply_positions(
    runtime: Runtime,
    events: Sequence[FeedEvent],
    *,
    recover: bool = True,
    seen: dict[str, set[int]] | None = None,
) -> int:
    """Brigades' positions: for each call the newest, applied if newer than ours, all in one transaction,
    then published live together. A position of a call we have not seen queues a pull of its state; a gap
    queues a pull of what is missing. Returns how many calls moved."""
    newest = _newest(events)
    if seen is None:
        seen = {}
        for event in events:
            seen.setdefault(event.call_id, set()).add(event.seq)
    published: list[LiveUpdate] = []
    async with UnitOfWork(runtime, RequestContext.for_system("ambulance.feed")) as uow:
        session = uow.session
        rows = (await session.execute(_POSITION_STATE.where(_CALLS.c.call_id.in_(list(newest))))).all()
        found = {row.call_id: row for row in rows}
        now = runtime.now()
        moves: list[dict[str, Any]] = []
        predictions: list[dict[str, Any]] = []
        recovering = False
        for call_id, event in newest.items():
            row = found.get(call_id)
            if row is None:  # a position of a call we have not seen yet: its state is pulled
                if recover:
                    uow.emit(TOPIC_RECOVER, {"call_id": call_id, "after": 0})
                    recovering = True
                continue
            seq = max(seen[call_id])
            if recover and _gap(row.seq_high, seq, seen[call_id]):
                uow.emit(TOPIC_RECOVER, {"call_id": call_id, "after": row.seq_high})
                recovering = True
            p = event.position
            assert p is not None
            if row.status in FINAL or (row.pos_at is not None and p.ts <= row.pos_at):
                continue  # a duplicate, an older position arriving late, or a closed call
            ref = uuid.UUID(str(row.id))
            minutes = at = None
            if row.status in MOVING and row.min_per_km is not None:
                minutes = eta.eta_minutes(p.lat, p.lon, row.place_lat, row.place_lon, row.min_per_km)
                at = p.ts + timedelta(minutes=minutes)
            keep = minutes is not None and (row.predicted_at is None or p.ts - row.predicted_at >= PREDICTION_EVERY)
            version = max(row.seq_high, seq)
            moves.append({
                "ref": ref, "ts": p.ts, "lat": p.lat, "lon": p.lon, "speed": p.speed_kmh, "heading": p.heading,
                "eta_minutes": minutes, "eta_at": at, "dispatch_eta": event.eta_minutes, "seq": version,
                "now": now, "keep_at": p.ts if keep else None,
            })  # fmt: skip
            if keep and at is not None:
                predictions.append({
                    "id": uuid.uuid4(), "call_ref": ref, "predicted_at": p.ts, "eta_minutes": minutes,
                    "arrival_at": at, "dispatch_eta_minutes": event.eta_minutes,
                })  # fmt: skip
            update_ = LiveUpdate(
                call_ref=ref, call_id=call_id, kind=POSITION, version=version, status=row.status,
                brigade_id=row.brigade_id, station_name=row.station_name, hospital_name=row.hospital_name,
                lat=p.lat, lon=p.lon, speed_kmh=p.speed_kmh, heading=p.heading, position_at=p.ts,
                eta_minutes=minutes, eta_at=at, at=now,
            )  # fmt: skip
            published.append(update_)
        # Durable when the transaction also asks for a recovery (an outbox row): only positions may be lost.
        durable = (
            recovering
            or not runtime.settings.ambulance_position_async_commit
            or runtime.engine.dialect.name != "postgresql"
        )
        await (_MOVE if durable else _MOVE_ASYNC_COMMIT).many(session, moves)
        await _PREDICT.many(session, predictions)
    if published:
        await runtime.adapters.ambulance_bus.publish_many(published)
    return len(published)


# -- outbox handlers, recovery, the sync ---------------------------------------------------------------


async def on_live(envelope: Envelope, runtime: Runtime) -> None:
    """Outbox: a status change on the live bus (best effort: the state is in the database)."""
    await runtime.adapters.ambulance_bus.publish(LiveUpdate.decode(orjson.dumps(envelope.payload["update"])))


async def on_recover(envelope: Envelope, runtime: Runtime) -> None:
    """Outbox: pull a call's events after a gap and apply them (each once). Raises to be retried, except for a
    call the dispatch subsystem does not know (nothing to pull: that will not change)."""
    try:
        await recover_call(runtime, envelope.payload["call_id"], int(envelope.payload.get("after") or 0))
    except SmpCallNotFound:
        log.warning("ambulance.recover_unknown_call", call_id=envelope.payload["call_id"])


async def recover_call(runtime: Runtime, call_id: str, after: int = 0) -> int:
    """Apply the pulled events of ``call_id`` after ``after`` as one push (statuses first, then the newest
    position). Returns how many changed something."""
    events = await runtime.adapters.smp.events(call_id, after)
    return await apply_events(runtime, sorted(events, key=lambda e: e.seq), recover=False)


@dataclass
class SyncReport:
    checked: int = 0
    changed: int = 0
    failures: int = 0


async def sync(runtime: Runtime, *, batch: int = SYNC_BATCH) -> SyncReport:
    """The safety net: ask the dispatch subsystem about every open call with no news for :data:`QUIET`."""
    report = SyncReport()
    quiet_since = runtime.now() - QUIET
    async with runtime.sessionmaker() as session:
        rows = (
            await session.execute(
                select(AmbulanceCall.call_id)
                .where(AmbulanceCall.status.not_in(FINAL), AmbulanceCall.updated_at < quiet_since)
                .order_by(AmbulanceCall.updated_at)
                .limit(batch)
            )
        ).all()
    for (call_id,) in rows:
        report.checked += 1
        try:
            snap = await runtime.adapters.smp.get_call(call_id)
        except SmpError:
            report.failures += 1
            log.warning("ambulance.sync_failed", call_id=call_id, exc_info=True)
            continue
        report.changed += await apply_call(runtime, snap, seq=snap.seq, recover=False)
    return report
