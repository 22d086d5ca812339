"""Attachment: a clinic's rejection reaches the person with its reason; the sync is idempotent; the staff KPI
counts applications by status; booking falls back to its guess when the attachment is not known."""

from __future__ import annotations

from datetime import timedelta

from backend.attachment import service
from backend.runtime import Runtime
from integrations.attachment import RejectionReason
from integrations.common.faults import Fault
from tests.support.booking import OTHER_MO
from tests.support.client import app_client, gql
from tests.support.home_visits import VisitEnv, events_sent, key
from tests.support.identity import auth_headers, make_patient, operator_token, token_for

APPLY = (
    "mutation($i: AttachmentApplicationInput!, $k: String!) { applyForAttachment(input: $i, idempotencyKey: $k)"
    " { __typename ... on Problem { code } } }"
)
MINE = "query { myAttachmentApplications { status statusLabel rejectionReason rejectionMessage history { status } } }"
KPI = (
    "query($a: Date!, $b: Date!) { attachmentApplicationsKpi(dateFrom: $a, dateTo: $b)"
    " { total byStatus { status count } } }"
)


async def test_a_rejection_reaches_the_person_and_the_sync_is_idempotent(visits: VisitEnv) -> None:
    runtime = visits.runtime
    patient = await visits.adult(15)
    headers = auth_headers(token_for(runtime, patient.id))
    form = {"moId": OTHER_MO, "registrationAddress": "г. Ставрополь, ул. Тестовая, д. 5"}
    async with app_client(runtime) as client:
        applied = await gql(client, APPLY, {"i": form, "k": key()}, headers=headers)
        assert applied["data"]["applyForAttachment"]["__typename"] == "AttachmentApplied"
        visits.attachment.overload(OTHER_MO)
        visits.attachment.process(next(iter(visits.attachment.applications)))
        assert await service.sync(runtime) == 1
        assert await service.sync(runtime) == 0  # nothing left under review
        mine = (await gql(client, MINE, {}, headers=headers))["data"]["myAttachmentApplications"]
        today = visits.booking.clock().date()
        kpi = await gql(
            client,
            KPI,
            {"a": (today - timedelta(days=1)).isoformat(), "b": today.isoformat()},
            headers=auth_headers(await operator_token(runtime)),
        )
    assert mine[0]["status"] == "rejected" and mine[0]["rejectionReason"] == RejectionReason.AREA_OVERLOADED.value
    assert mine[0]["rejectionMessage"] == RejectionReason.AREA_OVERLOADED.message_ru
    assert [s["status"] for s in mine[0]["history"]] == ["submitted", "rejected"]
    assert "attachment.status_changed" in await events_sent(runtime, patient.id)
    by_status = {s["status"]: s["count"] for s in kpi["data"]["attachmentApplicationsKpi"]["byStatus"]}
    assert kpi["data"]["attachmentApplicationsKpi"]["total"] == 1 and by_status["rejected"] == 1


async def test_booking_falls_back_to_its_guess_when_the_attachment_is_not_known(
    visits: VisitEnv, runtime: Runtime
) -> None:
    known = await visits.adult(16)
    stranger = await make_patient(runtime)  # not in the register
    async with runtime.sessionmaker() as session:
        assert await service.attached_mo_id(runtime, session, known.id) == "1001"
        assert await service.attached_mo_id(runtime, session, stranger.id) is None
        visits.attachment.faults.force(Fault.ERROR)
        assert await service.attached_mo_id(runtime, session, known.id) is None
