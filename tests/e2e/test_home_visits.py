"""End to end over HTTP: doctor home visits for the mobile patient (for a child through the guardian's grant),
the 122 operator for a caller, a clinic-side cancellation reaching the patient (notification and
subscription), the emergency checklist routing to 103, an upstream down during create, and a repeated
idempotency key."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import func, select

from backend.api.loaders import LoaderRegistry
from backend.api.schema import build_schema
from backend.core.context import RequestContext
from backend.home_visits.models import HomeVisit
from backend.identity import authn
from backend.runtime import Runtime
from integrations.common.faults import Fault
from integrations.homecall import HomeCallStatus
from tests.support.client import app_client, gql
from tests.support.home_visits import (
    CANCEL,
    MINE,
    REQUEST,
    WINDOWS,
    events_sent,
    key,
    start_visits,
    visit_input,
)
from tests.support.identity import auth_headers, kiosk_session_token, operator_on_behalf_token, token_for


async def _visits(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(HomeVisit)) or 0)


async def _first_window(client: Any, headers: dict[str, str], acting_for: uuid.UUID | None = None) -> dict[str, Any]:
    body = await gql(
        client,
        WINDOWS,
        {"a": {"line": "г. Ставрополь, ул. Тестовая, д. 5, кв. 12"}, "t": _s(acting_for)},
        headers=headers,
    )
    found = body["data"]["homeVisitWindows"]
    assert found["__typename"] == "HomeVisitWindows", body
    assert found["windows"], "the clinic offers windows"
    return found


def _s(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


async def test_a_mobile_patient_calls_a_doctor_for_their_child_and_follows_it_to_visited(runtime: Runtime) -> None:
    env = await start_visits(runtime)
    parent, child = await env.parent_and_child()
    headers = auth_headers(token_for(runtime, parent.id))
    async with app_client(runtime) as client:
        windows = await _first_window(client, headers, child.id)
        assert windows["moId"] == "2001" and windows["doctorName"], "the child's clinic and paediatrician"
        body = await gql(
            client,
            REQUEST,
            {"i": visit_input(windows["windows"][0]["id"]), "k": key(), "t": str(child.id)},
            headers=headers,
        )
        result = body["data"]["requestHomeVisit"]
        assert result["__typename"] == "HomeVisitRequested", body
        visit = result["visit"]
        assert visit["status"] == "NEW" and visit["onBehalf"] is True and visit["channel"] == "mobile"
        await runtime.relay.drain()  # the request's own notice is planned before the clinic's changes arrive
        # The clinic's side: a doctor assigned, on the way, the visit done — each pushed to our endpoint.
        request_id = visit["number"]
        await env.homecall.assign_doctor(request_id)
        await env.homecall.doctor_on_the_way(request_id)
        await env.homecall.mark_visited(request_id)
        assert all(d.ok for d in env.homecall.deliveries), env.homecall.deliveries
        mine = (await gql(client, MINE, {"t": str(child.id)}, headers=headers))["data"]["myHomeVisits"]
    assert mine[0]["status"] == "VISITED"
    assert mine[0]["statusLabel"] == "Врач посетил пациента"
    assert [s["status"] for s in mine[0]["timeline"]] == ["NEW", "DOCTOR_ASSIGNED", "ON_THE_WAY", "VISITED"]
    assert mine[0]["cancellable"] is False
    sent = await events_sent(runtime, child.id)
    assert sent[0] == "home_visit.scheduled" and "home_visit.status_changed" in sent
    # The hub's record names the parent as the applicant and the child as the patient.
    hub_request = env.homecall.requests[request_id]
    assert hub_request.applicant.last_name == parent.last_name and hub_request.patient.birth_date == child.birth_date


async def test_a_122_operator_calls_a_doctor_for_a_caller(runtime: Runtime) -> None:
    env = await start_visits(runtime)
    caller = await env.adult(3)
    headers = auth_headers(await operator_on_behalf_token(runtime, caller.id))
    async with app_client(runtime) as client:
        windows = await _first_window(client, headers)
        body = await gql(client, REQUEST, {"i": visit_input(windows["windows"][0]["id"]), "k": key()}, headers=headers)
    visit = body["data"]["requestHomeVisit"]["visit"]
    assert visit["channel"] == "callcentre" and visit["onBehalf"] is True
    assert env.homecall.requests[visit["number"]].status is HomeCallStatus.NEW


async def test_a_kiosk_does_not_offer_home_visits(runtime: Runtime) -> None:
    env = await start_visits(runtime)
    patient = await env.adult(4)
    headers = auth_headers(await kiosk_session_token(runtime, patient.id))
    async with app_client(runtime) as client:
        body = await gql(client, REQUEST, {"i": visit_input("any"), "k": key()}, headers=headers)
    codes = [e["extensions"]["code"] for e in body.get("errors") or []]
    codes += [body["data"]["requestHomeVisit"]["code"]] if body.get("data") and body["data"]["requestHomeVisit"] else []
    assert "ACCESS_DENIED" in codes, body
    assert await _visits(runtime) == 0


async def _subscribe(runtime: Runtime, patient_id: uuid.UUID) -> Any:
    token = token_for(runtime, patient_id)
    actor, session_id = await authn.authenticate_token(token, runtime)
    context = authn.IdentityContext(
        runtime=runtime,
        ctx=RequestContext(actor=actor, request_id=uuid.uuid4().hex),
        loaders=LoaderRegistry(),
        session_id=session_id,
    )
    schema = build_schema(runtime.settings)
    document = "subscription { homeVisitUpdated { visitId status statusLabel comment } }"
    return await schema.subscribe(document, context_value=context)


async def test_a_clinic_side_cancellation_reaches_the_patient(runtime: Runtime) -> None:
    env = await start_visits(runtime)
    patient = await env.adult(5)
    headers = auth_headers(token_for(runtime, patient.id))
    stream = await _subscribe(runtime, patient.id)
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)  # subscribed before anything happens
    async with app_client(runtime) as client:
        windows = await _first_window(client, headers)
        body = await gql(client, REQUEST, {"i": visit_input(windows["windows"][0]["id"]), "k": key()}, headers=headers)
        visit = body["data"]["requestHomeVisit"]["visit"]
        await runtime.relay.drain()
        created = await asyncio.wait_for(first, timeout=5)
        assert created.data["homeVisitUpdated"]["status"] == "NEW"
        await env.homecall.cancel_by_clinic(visit["number"], "Врач заболел, запишитесь на приём")
        await runtime.relay.drain()
        update = await asyncio.wait_for(anext(stream), timeout=5)
        await stream.aclose()
        mine = (await gql(client, MINE, {}, headers=headers))["data"]["myHomeVisits"]
    assert update.data["homeVisitUpdated"] == {
        "visitId": visit["id"],
        "status": "CANCELLED_BY_MO",
        "statusLabel": "Вызов отменён медицинской организацией",
        "comment": "Врач заболел, запишитесь на приём",
    }
    assert mine[0]["status"] == "CANCELLED_BY_MO"
    assert "home_visit.cancelled" in await events_sent(runtime, patient.id)


async def test_emergency_answers_route_to_103_and_nothing_is_created(runtime: Runtime) -> None:
    env = await start_visits(runtime)
    patient = await env.adult(6)
    headers = auth_headers(token_for(runtime, patient.id))
    async with app_client(runtime) as client:
        body = await gql(
            client,
            REQUEST,
            {"i": visit_input("any-window", symptoms=["fever", "chest_pain"]), "k": key()},
            headers=headers,
        )
    result = body["data"]["requestHomeVisit"]
    assert result["__typename"] == "HomeVisitEmergency"
    assert result["emergencyNumber"] == "103" and result["symptoms"] == ["chest_pain"]
    assert "103" in result["message"] and "112" in result["message"]
    assert await _visits(runtime) == 0
    assert env.homecall.calls["ValidateHomeCall"] == 0


async def test_upstream_down_during_create_is_a_typed_problem_and_nothing_is_written(runtime: Runtime) -> None:
    env = await start_visits(runtime)
    patient = await env.adult(7)
    headers = auth_headers(token_for(runtime, patient.id))
    async with app_client(runtime) as client:
        windows = await _first_window(client, headers)
        env.homecall.faults.force(Fault.NONE, Fault.ERROR)  # validation answers, the creation does not
        body = await gql(client, REQUEST, {"i": visit_input(windows["windows"][0]["id"]), "k": key()}, headers=headers)
    result = body["data"]["requestHomeVisit"]
    assert result["code"] == "HOME_VISIT_SERVICE_UNAVAILABLE", body
    assert "недоступен" in result["message"] and "103" in result["message"]
    assert await _visits(runtime) == 0
    assert not env.homecall.requests
    assert await events_sent(runtime, patient.id) == []


async def test_a_repeated_idempotency_key_returns_the_first_result(runtime: Runtime) -> None:
    env = await start_visits(runtime)
    patient = await env.adult(8)
    headers = auth_headers(token_for(runtime, patient.id))
    async with app_client(runtime) as client:
        windows = await _first_window(client, headers)
        variables = {"i": visit_input(windows["windows"][0]["id"]), "k": key()}
        first = await gql(client, REQUEST, variables, headers=headers)
        again = await gql(client, REQUEST, variables, headers=headers)
        # Cancelling while no doctor is assigned; the repeat of the cancellation answers the same.
        visit_id = first["data"]["requestHomeVisit"]["visit"]["id"]
        cancel = {"v": visit_id, "k": key()}
        cancelled = await gql(client, CANCEL, cancel, headers=headers)
        cancelled_again = await gql(client, CANCEL, cancel, headers=headers)
    assert again["data"]["requestHomeVisit"]["visit"]["id"] == visit_id
    assert len(env.homecall.requests) == 1 and await _visits(runtime) == 1
    assert cancelled["data"]["cancelHomeVisit"]["visit"]["status"] == "CANCELLED_BY_PATIENT"
    assert cancelled_again["data"]["cancelHomeVisit"]["visit"]["id"] == visit_id
    assert env.homecall.calls["UpdateHomeCallRequest"] == 1
