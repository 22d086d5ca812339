"""Ambulance tracking: a call linked by phone and followed to closure (live view, ETA, SMS, history with the
prediction beside the actual arrival); the feed's faults absorbed (gaps pulled, duplicates and late positions
dropped); a lost closing push caught by the sync; the webhook's signature; a child's call seen by the guardian
only; the location consent and its validation; the survey and the staff KPI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from backend.ambulance import service
from backend.ambulance.models import AmbulanceCall, AmbulanceLocation, AmbulanceStep
from backend.demo.ambulance import ambulance_demo
from backend.runtime import Runtime
from integrations.demo_region import get_region
from integrations.smp import SIGNATURE_HEADER, sign
from integrations.smp.simulator import FeedFaults, simulator_state
from tests.support.ambulance import (
    GRANT,
    LIVE,
    MINE,
    SHARE,
    SURVEY,
    WITHDRAW,
    SmpEnv,
    key,
    parent_and_child,
    person,
    sms_events,
    start_smp,
)
from tests.support.client import app_client, gql
from tests.support.identity import auth_headers, grant_proxy, operator_token, token_for


async def _count(runtime: Runtime, model: Any) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _ref(runtime: Runtime, call_id: str) -> str:
    async with runtime.sessionmaker() as session:
        return str(await session.scalar(select(AmbulanceCall.id).where(AmbulanceCall.call_id == call_id)))


async def test_a_call_linked_by_phone_is_followed_to_closure(smp: SmpEnv) -> None:
    runtime = smp.runtime
    caller = await person(runtime)
    stranger = await person(runtime)
    call_id = smp.call_from(caller)
    await smp.until("en_route", call_id)
    await smp.advance(seconds=20)
    async with app_client(runtime) as client:
        live = (await gql(client, LIVE, {}, headers=auth_headers(token_for(runtime, caller.id))))["data"][
            "ambulanceLive"
        ]
        others = await gql(client, LIVE, {}, headers=auth_headers(token_for(runtime, stranger.id)))
        assert others["data"]["ambulanceLive"] == []
        assert len(live) == 1 and live[0]["number"] == call_id and live[0]["live"] is True
        assert live[0]["status"] == "EN_ROUTE" and live[0]["brigade"] and live[0]["station"]
        assert live[0]["position"]["lat"] and live[0]["etaMinutes"] >= 1
        await smp.until("closed", call_id)
        headers = auth_headers(token_for(runtime, caller.id))
        assert (await gql(client, LIVE, {}, headers=headers))["data"]["ambulanceLive"] == []  # gone from the live view
        mine = (await gql(client, MINE, {}, headers=headers))["data"]["myAmbulanceCalls"]
    sim_call = smp.sim.call(call_id)
    assert [s["status"] for s in mine[0]["timeline"]] == [s.status.name for s in sim_call.snapshot.history]
    assert mine[0]["arrivedAt"] and mine[0]["predictedArrivalAt"] and mine[0]["hospital"]
    assert mine[0]["etaMinutes"] is None and mine[0]["live"] is False
    sms = await sms_events(runtime, caller.id)
    assert [e for e, _ in sms] == ["ambulance.dispatched", "ambulance.arrived"]
    assert "прибудет примерно в" in sms[0][1]


async def test_the_feeds_faults_are_absorbed_and_gaps_are_pulled(runtime: Runtime) -> None:
    smp = await start_smp(runtime, feed_faults=FeedFaults(gap=0.25, duplicate=0.25, reorder=0.25, seed=5))
    caller = await person(runtime)
    call_id = smp.call_from(caller, lat=45.07, lon=42.02)
    await smp.until("arrived", call_id)
    pushed = [d.seq for d in smp.sim.deliveries if d.call_id == call_id and d.status == 200]
    assert len(pushed) > len(set(pushed)) and any(d.extra.get("fault") == "gap" for d in smp.sim.deliveries)
    async with runtime.sessionmaker() as session:
        row = await session.scalar(select(AmbulanceCall).where(AmbulanceCall.call_id == call_id))
        assert row is not None
        steps = list(await session.scalars(select(AmbulanceStep.status).where(AmbulanceStep.call_ref == row.id)))
    sim_call = smp.sim.call(call_id)
    assert sorted(steps) == sorted(s.status.value for s in sim_call.snapshot.history)  # each step once
    assert row.arrived_at == sim_call.arrived_at and row.seq_high == len(sim_call.events)
    assert row.pos_at == sim_call.snapshot.position.ts if sim_call.snapshot.position else False
    assert [e for e, _ in await sms_events(runtime, caller.id)] == ["ambulance.dispatched", "ambulance.arrived"]


async def test_a_lost_closing_push_is_caught_by_the_sync(smp: SmpEnv) -> None:
    runtime = smp.runtime
    caller = await person(runtime)
    call_id = smp.call_from(caller)
    await smp.until("arrived", call_id)
    push, smp.sim.push_to = smp.sim.push_to, None  # the dispatch side's pushes get lost from here
    await smp.until("closed", call_id)
    smp.sim.push_to = push
    smp.clock.advance(minutes=3)
    report = await service.sync(runtime)
    again = await service.sync(runtime)
    assert (report.checked, report.changed, again.checked) == (1, 1, 0)
    async with runtime.sessionmaker() as session:
        assert await session.scalar(select(AmbulanceCall.status).where(AmbulanceCall.call_id == call_id)) == "closed"


@pytest.mark.dialect
async def test_the_webhook_checks_the_signature_and_applies_once(smp: SmpEnv) -> None:
    runtime = smp.runtime
    caller = await person(runtime)
    smp.sim.push_to = None
    call_id = smp.call_from(caller)
    event = smp.sim.call(call_id).events[0]
    from integrations.smp import wire  # noqa: PLC0415 - only this test builds a raw push

    body = orjson.dumps(wire.event_json(event))
    now = int(runtime.now().timestamp())
    async with app_client(runtime) as client:
        bad = await client.post(
            "/api/v1/ambulance/feed", content=body, headers={SIGNATURE_HEADER: sign(body, "wrong", now)}
        )
        assert bad.status_code == 401 and await _count(runtime, AmbulanceCall) == 0
        good = {SIGNATURE_HEADER: sign(body, runtime.settings.smp_webhook_secret, now)}
        for _ in range(2):
            ok = await client.post("/api/v1/ambulance/feed", content=body, headers=good)
            assert ok.status_code == 200
        junk = b'{"callId": 1}'
        unreadable = await client.post(
            "/api/v1/ambulance/feed",
            content=junk,
            headers={SIGNATURE_HEADER: sign(junk, runtime.settings.smp_webhook_secret, now)},
        )
        assert unreadable.status_code == 400
    assert await _count(runtime, AmbulanceCall) == 1 and await _count(runtime, AmbulanceStep) == 1


async def test_a_childs_call_is_seen_by_the_guardian_and_nobody_else(smp: SmpEnv) -> None:
    runtime = smp.runtime
    parent, child = await parent_and_child(runtime)
    neighbour = await person(runtime)
    narrow = await person(runtime)
    await grant_proxy(runtime, child.id, narrow.id, scopes=["booking"])  # a proxy without the ambulance scope
    call_id = smp.call_from(parent, for_child=child)
    await smp.until("departed", call_id)
    async with app_client(runtime) as client:
        own = await gql(client, LIVE, {"t": str(child.id)}, headers=auth_headers(token_for(runtime, parent.id)))
        direct = await gql(client, LIVE, {}, headers=auth_headers(token_for(runtime, parent.id)))  # the caller too
        refused = [
            await gql(client, LIVE, {"t": str(child.id)}, headers=auth_headers(token_for(runtime, who.id)))
            for who in (neighbour, narrow)
        ]
    assert [c["number"] for c in own["data"]["ambulanceLive"]] == [call_id]
    assert [c["number"] for c in direct["data"]["ambulanceLive"]] == [call_id]
    assert all(r["errors"][0]["extensions"]["code"] == "ACCESS_DENIED" for r in refused)


@pytest.mark.dialect
async def test_location_needs_consent_and_is_validated(smp: SmpEnv) -> None:
    runtime = smp.runtime
    caller = await person(runtime)
    call_id = smp.call_from(caller)
    await smp.until("en_route", call_id)
    ref = await _ref(runtime, call_id)
    headers = auth_headers(token_for(runtime, caller.id))
    now = runtime.now()

    def loc(**over: Any) -> dict[str, Any]:
        return {"lat": 45.043, "lon": 41.973, "accuracyM": 15.0, "at": now.isoformat()} | over

    async with app_client(runtime) as client:
        first = await gql(client, SHARE, {"c": ref, "l": loc(), "k": key()}, headers=headers)
        assert first["data"]["shareAmbulanceLocation"]["code"] == "AMBULANCE_NO_CONSENT"
        granted = await gql(client, GRANT, {"c": ref, "p": False, "k": key()}, headers=headers)
        assert granted["data"]["grantAmbulanceLocationConsent"]["consent"]["sharing"] is True
        for bad, field in (
            (loc(lat=95.0), "lat"),
            (loc(lon=-181.0), "lon"),
            (loc(at=(now + timedelta(minutes=5)).isoformat()), "at"),
            (loc(at=(now - timedelta(hours=1)).isoformat()), "at"),
            (loc(accuracyM=-1.0), "accuracyM"),
        ):
            body = await gql(client, SHARE, {"c": ref, "l": bad, "k": key()}, headers=headers)
            assert body["data"]["shareAmbulanceLocation"]["fields"] == [{"field": field}], body
        assert await _count(runtime, AmbulanceLocation) == 0
        ok = await gql(client, SHARE, {"c": ref, "l": loc(), "k": key()}, headers=headers)
        assert ok["data"]["shareAmbulanceLocation"]["__typename"] == "AmbulanceLocationShared"
        again = await gql(client, SHARE, {"c": ref, "l": loc(lat=45.044), "k": key()}, headers=headers)
        assert again["data"]["shareAmbulanceLocation"]["code"] == "AMBULANCE_LOCATION_TOO_FREQUENT"
        await runtime.relay.drain()
        withdrawn = await gql(client, WITHDRAW, {"c": ref, "k": key()}, headers=headers)
        assert withdrawn["data"]["withdrawAmbulanceLocationConsent"]["consent"]["sharing"] is False
        smp.clock.advance(seconds=10)
        headers = auth_headers(token_for(runtime, caller.id))
        after = await gql(
            client, SHARE, {"c": ref, "l": loc(at=runtime.now().isoformat()), "k": key()}, headers=headers
        )
        assert after["data"]["shareAmbulanceLocation"]["code"] == "AMBULANCE_NO_CONSENT"
    crew = smp.sim.call(call_id).crew_locations
    assert [(c.lat, c.lon) for c in crew] == [(45.043, 41.973)] and smp.sim.call(call_id).crew_profile is None


@pytest.mark.dialect
async def test_the_survey_after_closure_and_the_staff_kpi(smp: SmpEnv) -> None:
    runtime = smp.runtime
    callers = [await person(runtime) for _ in range(3)]
    calls = [smp.call_from(c, lat=45.03 + 0.02 * i, lon=41.95 + 0.02 * i) for i, c in enumerate(callers)]
    for call_id in calls:
        await smp.until("closed", call_id)
    ref = await _ref(runtime, calls[0])
    async with app_client(runtime) as client:
        headers = auth_headers(token_for(runtime, callers[0].id))
        answered = await gql(client, SURVEY, {"c": ref, "s": 4, "k": key()}, headers=headers)
        twice = await gql(client, SURVEY, {"c": ref, "s": 5, "k": key()}, headers=headers)
        wrong = await gql(client, SURVEY, {"c": ref, "s": 7, "k": key()}, headers=headers)
        stranger = await gql(
            client, SURVEY, {"c": ref, "s": 3, "k": key()}, headers=auth_headers(token_for(runtime, callers[1].id))
        )
        now = runtime.now()  # the calls may straddle midnight: a two-day period holds them all
        start, day = (now - timedelta(days=1)).date().isoformat(), now.date().isoformat()
        kpi = await gql(
            client,
            "query($a: Date!, $b: Date!) { ambulanceArrivalKpi(dateFrom: $a, dateTo: $b) { overall { district calls"
            " medianMinutes p90Minutes within20MinutesShare etaErrorMedianMinutes } byDistrict { district calls } } }",
            {"a": start, "b": day},
            headers=auth_headers(await operator_token(runtime)),
        )
        patient_kpi = await gql(
            client,
            "query($a: Date!, $b: Date!) { ambulanceArrivalKpi(dateFrom: $a, dateTo: $b) { overall { calls } } }",
            {"a": day, "b": day},
            headers=headers,
        )
    assert answered["data"]["answerAmbulanceSurvey"] == {"__typename": "AmbulanceSurveyAnswered", "score": 4}
    assert twice["data"]["answerAmbulanceSurvey"]["code"] == "AMBULANCE_SURVEY_ANSWERED"
    assert wrong["data"]["answerAmbulanceSurvey"]["code"] == "INVALID_INPUT"
    assert stranger["data"]["answerAmbulanceSurvey"]["code"] == "AMBULANCE_CALL_NOT_FOUND"
    overall = kpi["data"]["ambulanceArrivalKpi"]["overall"]
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(select(AmbulanceCall.accepted_at, AmbulanceCall.arrived_at))).all()
    minutes = sorted((a - c).total_seconds() / 60 for c, a in rows)
    assert overall["calls"] == 3 and overall["district"] == ""
    assert overall["medianMinutes"] == round(minutes[1], 1) and overall["p90Minutes"] == round(minutes[2], 1)
    assert overall["within20MinutesShare"] == round(sum(m <= 20 for m in minutes) / 3, 3)
    assert overall["etaErrorMedianMinutes"] is not None
    assert kpi["data"]["ambulanceArrivalKpi"]["byDistrict"] == [{"district": "stavropol", "calls": 3}]
    assert patient_kpi["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"


async def test_the_demo_hook_places_a_call_that_the_callers_app_sees(runtime: Runtime) -> None:
    """``moe-zdorovye ambulance-call`` → ``POST /dev/ambulance/call``: the runtime's own in-process simulator
    places the call of a demo person and pushes it; the demo person (by their ESIA identity) sees it."""
    region_person = get_region().people[0]
    caller = await person(runtime, esia_oid=region_person.esia_oid, phone=None)
    async with app_client(runtime) as client:
        placed = await client.post("/dev/ambulance/call", json={"person": 0})
        assert placed.status_code == 201
        wrong = await client.post("/dev/ambulance/call", json={"person": "кто-то"})
        assert wrong.status_code == 400
        sim = simulator_state(runtime.adapters.smp_simulator)  # type: ignore[arg-type]
        await sim.advance()
        live = await gql(client, LIVE, {}, headers=auth_headers(token_for(runtime, caller.id)))
    assert [c["number"] for c in live["data"]["ambulanceLive"]] == [placed.json()["callId"]]
    demo = ambulance_demo(get_region())
    assert demo["caller"]["index"] == 0 and "ambulance-call --person 0" in demo["try"]
