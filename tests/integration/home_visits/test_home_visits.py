"""Home visits: bad input refused with its typed problem and nothing written; the MIS push over REST
(authenticated by its guid, applied once however often delivered); the periodic sync catching a change
that was not pushed; cancelling only while unassigned; the staff KPI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from backend.home_visits import service
from backend.home_visits.models import HomeVisit, HomeVisitEvent
from backend.runtime import Runtime
from integrations.homecall import HomeCallStatus, build_push
from integrations.homecall import soap as hc_soap
from integrations.homecall.push import PUSH_METHOD, read_push_reply
from tests.support.client import app_client, gql
from tests.support.home_visits import (
    CANCEL,
    MINE,
    REQUEST,
    WINDOWS,
    VisitEnv,
    events_sent,
    key,
    visit_input,
)
from tests.support.identity import auth_headers, operator_token, token_for


async def _count(runtime: Runtime, model: Any) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _request(client: Any, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = await gql(client, WINDOWS, {"a": {"line": "г. Ставрополь, ул. Тестовая, д. 5"}}, headers=headers)
    window = body["data"]["homeVisitWindows"]["windows"][0]["id"]
    variables = {"i": visit_input(window) | overrides, "k": key()}
    result: dict[str, Any] = (await gql(client, REQUEST, variables, headers=headers))["data"]["requestHomeVisit"]
    return result


async def test_bad_input_gets_its_typed_problem_and_writes_nothing(visits: VisitEnv) -> None:
    runtime = visits.runtime
    patient = await visits.adult(11)
    headers = auth_headers(token_for(runtime, patient.id))
    async with app_client(runtime) as client:
        phone = await _request(client, headers, phone="12-34")
        assert phone["code"] == "INVALID_INPUT" and phone["fields"] == [{"field": "phone"}]
        no_address = await _request(client, headers, address={"entranceComment": "подъезд 2"})
        assert no_address["code"] == "HOME_VISIT_NO_ADDRESS" and "адрес" in no_address["message"]
        bad_fias = await _request(client, headers, address={"line": "ул. Ленина, 1", "fiasCode": "не код"})
        assert bad_fias["code"] == "INVALID_INPUT"
        other = await _request(client, headers, reason="other")
        assert other["code"] == "INVALID_INPUT" and other["fields"] == [{"field": "reasonText"}]
        unknown = await _request(client, headers, symptoms=["itch"])
        assert unknown["code"] == "INVALID_INPUT"
        assert await _count(runtime, HomeVisit) == 0 and not visits.homecall.requests
        # A window in the past: offered this morning, chosen after it ended.
        body = await gql(client, WINDOWS, {"a": {"line": "г. Ставрополь, ул. Тестовая, д. 5"}}, headers=headers)
        window = body["data"]["homeVisitWindows"]["windows"][0]
        visits.booking.clock.advance(hours=12)
        headers = auth_headers(token_for(runtime, patient.id))
        late = await gql(client, REQUEST, {"i": visit_input(window["id"]), "k": key()}, headers=headers)
        assert late["data"]["requestHomeVisit"]["code"] == "HOME_VISIT_WINDOW_UNAVAILABLE"
        # A second active request.
        first = await _request(client, headers)
        assert first["__typename"] == "HomeVisitRequested"
        windows = await gql(client, WINDOWS, {"a": {"line": "г. Ставрополь, ул. Тестовая, д. 5"}}, headers=headers)
        assert windows["data"]["homeVisitWindows"]["code"] == "HOME_VISIT_ALREADY_ACTIVE"  # the hub says so too
        second = await gql(client, REQUEST, {"i": visit_input(window["id"]), "k": key()}, headers=headers)
        problem = second["data"]["requestHomeVisit"]
        assert problem["code"] == "HOME_VISIT_ALREADY_ACTIVE" and "активный вызов" in problem["message"]
    assert await _count(runtime, HomeVisit) == 1 and len(visits.homecall.requests) == 1


def _push_body(visits: VisitEnv, request_id: str, guid: str | None) -> bytes:
    return build_push(visits.homecall.info(visits.homecall.requests[request_id]), guid=guid)


async def test_the_mis_push_over_rest_is_authenticated_and_applied_once(visits: VisitEnv) -> None:
    runtime = visits.runtime
    patient = await visits.adult(12)
    headers = auth_headers(token_for(runtime, patient.id))
    soap_headers = {"Content-Type": hc_soap.CONTENT_TYPE, "SOAPAction": hc_soap.soap_action(PUSH_METHOD)}
    async with app_client(runtime) as client:
        visit = (await _request(client, headers))["visit"]
        visits.homecall.change_by_mis(visit["number"], HomeCallStatus.DOCTOR_ASSIGNED)  # the clinic's side, not pushed
        wrong = await client.post(
            "/api/v1/home-visits/push", content=_push_body(visits, visit["number"], "wrong"), headers=soap_headers
        )
        assert wrong.status_code == 200 and read_push_reply(wrong.content)[0][0] == 5403
        body = _push_body(visits, visit["number"], runtime.settings.homecall_guid)
        for _ in range(2):  # delivered twice
            ok = await client.post("/api/v1/home-visits/push", content=body, headers=soap_headers)
            assert ok.status_code == 200 and read_push_reply(ok.content) == []
        mine = (await gql(client, MINE, {}, headers=headers))["data"]["myHomeVisits"]
    assert mine[0]["status"] == "DOCTOR_ASSIGNED" and mine[0]["doctorName"]
    assert [s["status"] for s in mine[0]["timeline"]] == ["NEW", "DOCTOR_ASSIGNED"]
    report = await service.sync(runtime)  # the sync sees the same change: nothing new
    assert (report.checked, report.changed) == (1, 0)
    assert await _count(runtime, HomeVisitEvent) == 2


async def test_the_sync_catches_a_change_that_was_not_pushed(visits: VisitEnv) -> None:
    runtime = visits.runtime
    patient = await visits.adult(13)
    headers = auth_headers(token_for(runtime, patient.id))
    async with app_client(runtime) as client:
        visit = (await _request(client, headers))["visit"]
        visits.homecall.change_by_mis(visit["number"], HomeCallStatus.ON_THE_WAY)
        visits.booking.clock.advance(minutes=5)
        report = await service.sync(runtime)
        again = await service.sync(runtime)
        mine = (await gql(client, MINE, {}, headers=headers))["data"]["myHomeVisits"]
        # No cancelling once the doctor is on the way.
        cancel = await gql(client, CANCEL, {"v": visit["id"], "k": key()}, headers=headers)
    assert (report.changed, again.changed) == (1, 0)
    assert mine[0]["status"] == "ON_THE_WAY" and mine[0]["statusLabel"] == "Врач выехал к пациенту"
    assert cancel["data"]["cancelHomeVisit"]["code"] == "HOME_VISIT_CANNOT_CANCEL"
    assert "home_visit.status_changed" in await events_sent(runtime, patient.id)


async def test_the_staff_kpi_counts_requests_by_channel(visits: VisitEnv) -> None:
    runtime = visits.runtime
    patient = await visits.adult(14)
    async with app_client(runtime) as client:
        await _request(client, auth_headers(token_for(runtime, patient.id)))
        today = visits.booking.clock().date()
        body = await gql(
            client,
            "query($a: Date!, $b: Date!) { homeVisitRequestsKpi(dateFrom: $a, dateTo: $b)"
            " { total byChannel { channel count } } }",
            {"a": (today - timedelta(days=1)).isoformat(), "b": today.isoformat()},
            headers=auth_headers(await operator_token(runtime)),
        )
    assert body["data"]["homeVisitRequestsKpi"] == {"total": 1, "byChannel": [{"channel": "mobile", "count": 1}]}
