"""The ambulance rows of the authorization matrix (``tests/integration/identity/test_matrix.py``).

Every operation needs ``SCOPE_AMBULANCE``: the patient and a proxy whose grant carries it may; another
person, an operator (with or without an on-behalf session), a kiosk and a proxy without the scope may not.
Each principal's world gets T's own calls (``prepare``): an open one with the location consent given, and a
closed one, written as the feed writes them, so an allowed call succeeds.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from backend.ambulance.live import POSITION, LiveUpdate
from backend.ambulance.models import AmbulanceCall, AmbulanceConsent, AmbulanceStep
from backend.identity import policy, tokens
from backend.runtime import Runtime

#: T's calls per world: target → (open call, closed call).
CALLS: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID]] = {}
#: The world's moment per target (a location is dated by it).
NOW: dict[uuid.UUID, str] = {}


async def _calls_world(runtime: Runtime, world: Any, principal: Any) -> None:
    at = tokens.now(runtime)
    refs = []
    for status in ("en_route", "closed"):
        ref = uuid.uuid4()
        refs.append(ref)
        call = AmbulanceCall(
            id=ref, call_id=f"C-{ref.hex[:8]}", caller_id=world.target, patient_id=world.target,
            caller_phone="+79280000000", status=status, district_id="stavropol", address="г. Ставрополь",
            place_lat=45.04, place_lon=41.97, brigade_id="B-101", station_name="ПС-9001",
            accepted_at=at - timedelta(minutes=30), departed_at=at - timedelta(minutes=25),
            arrived_at=at - timedelta(minutes=10) if status == "closed" else None,
            closed_at=at - timedelta(minutes=1) if status == "closed" else None,
            pos_lat=45.03, pos_lon=41.96, pos_at=at, min_per_km=2.0, eta_minutes=3, eta_at=at + timedelta(minutes=3),
            seq_high=4, created_at=at, updated_at=at,
        )  # fmt: skip
        steps = [AmbulanceStep(id=uuid.uuid4(), call_ref=ref, status=s, at=at) for s in ("accepted", status)]
        async with runtime.sessionmaker() as session, session.begin():
            session.add(call)
            session.add_all(steps)
            if status == "en_route":
                session.add(AmbulanceConsent(id=uuid.uuid4(), call_ref=ref, patient_id=world.target, granted_at=at))
    CALLS[world.target] = (refs[0], refs[1])
    NOW[world.target] = at.isoformat()


def _open(w: Any) -> str:
    return str(CALLS[w.target][0])


def _closed(w: Any) -> str:
    return str(CALLS[w.target][1])


class LiveBus:
    """The matrix's view of the ambulance bus: subscribers and publishes of T's open call."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._bus = runtime.adapters.ambulance_bus

    def subscriber_count(self, target: uuid.UUID) -> int:
        ref = CALLS.get(target)
        return self._bus.subscriber_count(ref[0]) if ref else 0

    async def publish(self, item: Any) -> None:
        ref = CALLS[item.patient_id][0]
        at = tokens.now(self._runtime)
        update = LiveUpdate(
            ref, "C-x", POSITION, 5, "en_route", "B-101", None, None, 45.0, 41.9, 40.0, 90.0, at, 2, at, at
        )
        await self._bus.publish(update)


def ambulance_rows(
    *,
    standard: Callable[..., Any],
    only: Callable[..., Any],
    public: Callable[[str], Any],
    keyed: Callable[..., Any],
    operator: Any,
    problem: str,
) -> dict[str, Any]:
    scope = policy.SCOPE_AMBULANCE

    def t(w: Any) -> dict[str, Any]:
        return {"t": str(w.target)}

    def is_type(name: str) -> Callable[[Any, Any], bool]:
        return lambda w, data: data.get("__typename") == name

    def mutation(field: str, arguments: str, declarations: str) -> str:
        return (
            f"mutation({declarations}, $k: String!, $t: UUID) {{ {field}({arguments}, idempotencyKey: $k, "
            f"actingFor: $t) {{ {problem} }} }}"
        )

    return {
        "ambulanceSurveyQuestion": public("the survey's one question: reference text"),
        "ambulanceLive": standard(
            "query($t: UUID) { ambulanceLive(actingFor: $t) { id status etaMinutes } }",
            t,
            scope,
            lambda w, d: [c["id"] for c in d] == [_open(w)],
            prepare=_calls_world,
        ),
        "myAmbulanceCalls": standard(
            "query($t: UUID) { myAmbulanceCalls(actingFor: $t) { id status } }",
            t,
            scope,
            lambda w, d: {c["id"] for c in d} == {_open(w), _closed(w)},
            prepare=_calls_world,
        ),
        "ambulanceArrivalKpi": only(
            {operator},
            "query($a: Date!, $b: Date!) { ambulanceArrivalKpi(dateFrom: $a, dateTo: $b) { byDistrict { calls } } }",
            lambda w: {"a": "2025-03-01", "b": "2025-03-31"},
        ),
        "grantAmbulanceLocationConsent": standard(
            mutation("grantAmbulanceLocationConsent", "callId: $c, shareEmergencyProfile: false", "$c: UUID!"),
            keyed(c=_open),
            scope,
            is_type("AmbulanceConsentGiven"),
            prepare=_calls_world,
        ),
        "withdrawAmbulanceLocationConsent": standard(
            mutation("withdrawAmbulanceLocationConsent", "callId: $c", "$c: UUID!"),
            keyed(c=_open),
            scope,
            is_type("AmbulanceConsentWithdrawn"),
            prepare=_calls_world,
        ),
        "shareAmbulanceLocation": standard(
            mutation("shareAmbulanceLocation", "callId: $c, location: $l", "$c: UUID!, $l: AmbulanceLocationInput!"),
            keyed(c=_open, l=lambda w: {"lat": 45.04, "lon": 41.97, "at": NOW[w.target]}),
            scope,
            is_type("AmbulanceLocationShared"),
            prepare=_calls_world,
        ),
        "answerAmbulanceSurvey": standard(
            mutation("answerAmbulanceSurvey", "callId: $c, score: 5", "$c: UUID!"),
            keyed(c=_closed),
            scope,
            is_type("AmbulanceSurveyAnswered"),
            prepare=_calls_world,
        ),
        "ambulanceCallUpdated": standard(
            "subscription($c: UUID!, $t: UUID) { ambulanceCallUpdated(callId: $c, actingFor: $t) { kind status } }",
            lambda w: {"t": str(w.target), "c": _open(w)},
            scope,
            lambda w, d: d["kind"] in ("STATE", "POSITION"),
            prepare=_calls_world,
            bus=LiveBus,
        ),
    }
