"""Issue 18: the development-only triggers of clinic-side changes (backend/dev/clinic.py) go through the
simulators as a clinic would: a home visit's doctor assigned is pushed to us; an attachment decision is
synced; our side shows both."""

from __future__ import annotations

from integrations.homecall import HomeCallStatus
from tests.support.booking import OTHER_MO
from tests.support.client import app_client, gql
from tests.support.home_visits import MINE as MY_VISITS
from tests.support.home_visits import REQUEST, WINDOWS, VisitEnv, key, visit_input
from tests.support.identity import auth_headers, token_for

APPLY = (
    "mutation($i: AttachmentApplicationInput!, $k: String!) { applyForAttachment(input: $i, idempotencyKey: $k)"
    " { __typename ... on AttachmentApplied { application { id } } ... on Problem { code } } }"
)
MY_APPLICATIONS = "query { myAttachmentApplications { id status } }"


async def test_the_dev_triggers_change_a_home_visit_and_an_application_as_a_clinic_would(visits: VisitEnv) -> None:
    runtime = visits.runtime
    patient = await visits.adult(18)
    headers = auth_headers(token_for(runtime, patient.id))
    async with app_client(runtime) as client:
        body = await gql(client, WINDOWS, {"a": {"line": "г. Ставрополь, ул. Тестовая, д. 5"}}, headers=headers)
        window = body["data"]["homeVisitWindows"]["windows"][0]["id"]
        requested = await gql(client, REQUEST, {"i": visit_input(window), "k": key()}, headers=headers)
        number = requested["data"]["requestHomeVisit"]["visit"]["number"]
        assigned = await client.post(f"/dev/home-visits/{number}/assign")
        assert assigned.status_code == 200, assigned.text
        assert assigned.json() == {"number": number, "status": HomeCallStatus.DOCTOR_ASSIGNED.value, "pushed": True}
        bad = await client.post(f"/dev/home-visits/{number}/teleport")
        assert bad.status_code == 400
        mine = (await gql(client, MY_VISITS, {}, headers=headers))["data"]["myHomeVisits"]

        form = {"moId": OTHER_MO, "registrationAddress": "г. Ставрополь, ул. Тестовая, д. 5"}
        applied = await gql(client, APPLY, {"i": form, "k": key()}, headers=headers)
        application = applied["data"]["applyForAttachment"]["application"]["id"]
        rejected = await client.post(f"/dev/attachment/{application}/reject")
        assert rejected.status_code == 200, rejected.text
        assert rejected.json()["synced"] == 1
        applications = (await gql(client, MY_APPLICATIONS, {}, headers=headers))["data"]["myAttachmentApplications"]
    assert mine[0]["statusLabel"] == HomeCallStatus.DOCTOR_ASSIGNED.label_ru, mine
    assert [a["status"] for a in applications if a["id"] == application] == ["rejected"]
