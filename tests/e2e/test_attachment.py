"""End to end over HTTP: attachment — view (with the clinic's hours), apply, the clinic accepts and completes
(the sync tells the patient), a second application within a year refused before sending, accepted a year
later; booking search puts the attached clinic first afterwards; the child rule; the upstream down."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.attachment import service as attachment
from backend.attachment.models import AttachmentApplication
from backend.runtime import Runtime
from integrations.common.faults import Fault
from tests.support.booking import ADULT_MO, CHILDREN_MO, OTHER_MO, TOMORROW
from tests.support.client import app_client, gql
from tests.support.home_visits import PROBLEM, events_sent, key, start_visits
from tests.support.identity import auth_headers, token_for

VIEW = (
    "query($t: UUID) { myAttachment(actingFor: $t) { __typename ... on Attachment { moId moName moAddress areaNumber"
    " areaType doctorName doctorRole attachedOn byApplication moWorkTime moHours { summary openNow todayLabel"
    f" days {{ label }} }} }} ... on NoAttachment {{ message }} {PROBLEM} }} }}"
)
APPLY = (
    "mutation($i: AttachmentApplicationInput!, $k: String!, $t: UUID) { applyForAttachment(input: $i,"
    " idempotencyKey: $k, actingFor: $t) { __typename ... on AttachmentApplied { application { id status moId"
    f" history {{ status }} }} }} {PROBLEM} }} }}"
)
APPLICATIONS = "query { myAttachmentApplications { id status statusLabel attachedOn history { status statusLabel } } }"
SEARCH = (
    'query($a: Date!, $b: Date!) { searchSlots(specialtyCode: "76", dateFrom: $a, dateTo: $b) '
    "{ items { moId ownClinic } } }"
)


def _form(mo_id: str, **more: object) -> dict[str, object]:
    return {"moId": mo_id, "registrationAddress": "г. Ставрополь, ул. Тестовая, д. 5"} | more


async def _applications(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(AttachmentApplication)) or 0)


async def test_view_apply_refused_within_a_year_accepted_later_and_booking_puts_it_first(runtime: Runtime) -> None:
    env = await start_visits(runtime)
    patient = await env.adult(9)
    headers = auth_headers(token_for(runtime, patient.id))
    day = {"a": TOMORROW.isoformat(), "b": TOMORROW.isoformat()}
    async with app_client(runtime) as client:
        view = (await gql(client, VIEW, {}, headers=headers))["data"]["myAttachment"]
        assert view["__typename"] == "Attachment" and view["moId"] == ADULT_MO
        assert view["areaType"] == "терапевтический участок" and view["doctorRole"] == "участковый терапевт"
        assert view["doctorName"] and view["moAddress"] and view["byApplication"] is False
        # My clinic's hours (the hub's GetLPUInfo, synced into the directory), read at 07:30 on a Monday.
        assert view["moWorkTime"] == "Пн-Пт 08:00-20:00; Сб 09:00-15:00; Вс выходной"
        assert view["moHours"]["summary"] == "Пн–Пт 08:00–20:00; Сб 09:00–15:00; Вс выходной"
        assert (view["moHours"]["openNow"], view["moHours"]["todayLabel"]) == (False, "Откроется сегодня в 08:00")
        assert [d["label"] for d in view["moHours"]["days"]][4:] == ["08:00–20:00", "09:00–15:00", "выходной"]
        before = (await gql(client, SEARCH, day, headers=headers))["data"]["searchSlots"]["items"]
        assert before[0]["moId"] == ADULT_MO and before[0]["ownClinic"] is True

        applied = (await gql(client, APPLY, {"i": _form(OTHER_MO), "k": key()}, headers=headers))["data"]
        application = applied["applyForAttachment"]["application"]
        assert application["status"] == "submitted" and application["moId"] == OTHER_MO
        # The clinic accepts and completes; the sync brings both steps and tells the patient.
        env.attachment.process(next(iter(env.attachment.applications)))
        env.attachment.complete(next(iter(env.attachment.applications)))
        assert await attachment.sync(runtime) == 1
        mine = (await gql(client, APPLICATIONS, {}, headers=headers))["data"]["myAttachmentApplications"]
        assert mine[0]["status"] == "completed"
        assert [s["status"] for s in mine[0]["history"]] == ["submitted", "accepted", "completed"]
        assert "attachment.status_changed" in await events_sent(runtime, patient.id)
        # Booking's own clinic is now the attached one.
        after = (await gql(client, SEARCH, day, headers=headers))["data"]["searchSlots"]["items"]
        assert after[0]["moId"] == OTHER_MO and after[0]["ownClinic"] is True
        assert not any(i["ownClinic"] for i in after if i["moId"] == ADULT_MO)

        # Within a year: refused before anything is sent.
        sent = len(env.attachment.applications)
        refused = (await gql(client, APPLY, {"i": _form(ADULT_MO), "k": key()}, headers=headers))["data"]
        assert refused["applyForAttachment"]["code"] == "ATTACHMENT_ONCE_A_YEAR"
        assert "323-ФЗ" in refused["applyForAttachment"]["message"]
        assert len(env.attachment.applications) == sent and await _applications(runtime) == 1
        # A change of residence lifts the limit; so does a year.
        env.booking.clock.advance(days=366)
        headers = auth_headers(token_for(runtime, patient.id))  # a year on: a new login
        later = (await gql(client, APPLY, {"i": _form(ADULT_MO), "k": key()}, headers=headers))["data"]
        assert later["applyForAttachment"]["__typename"] == "AttachmentApplied", later
        env.attachment.process(list(env.attachment.applications)[-1])
        assert await attachment.sync(runtime) == 1
        mine = (await gql(client, APPLICATIONS, {}, headers=headers))["data"]["myAttachmentApplications"]
    assert mine[0]["status"] == "accepted" and mine[1]["status"] == "completed"


async def test_rules_checked_before_sending(runtime: Runtime) -> None:
    env = await start_visits(runtime)
    parent, child = await env.parent_and_child()
    adult = await env.adult(10)
    async with app_client(runtime) as client:
        adult_headers = auth_headers(token_for(runtime, adult.id))
        same = await gql(client, APPLY, {"i": _form(ADULT_MO), "k": key()}, headers=adult_headers)
        assert same["data"]["applyForAttachment"]["code"] == "ATTACHMENT_ALREADY_ATTACHED"
        children = await gql(client, APPLY, {"i": _form(CHILDREN_MO), "k": key()}, headers=adult_headers)
        assert children["data"]["applyForAttachment"]["code"] == "ATTACHMENT_AGE_GROUP_NOT_SERVED"
        bad = await gql(
            client, APPLY, {"i": _form(OTHER_MO, registrationAddress=" "), "k": key()}, headers=adult_headers
        )
        assert bad["data"]["applyForAttachment"]["code"] == "INVALID_INPUT"
        # A child under 15: only the legal representative applies (the child's own session may not).
        own = await gql(
            client, APPLY, {"i": _form(OTHER_MO), "k": key()}, headers=auth_headers(token_for(runtime, child.id))
        )
        assert own["data"]["applyForAttachment"]["code"] == "ATTACHMENT_REPRESENTATIVE_REQUIRED"
        parent_headers = auth_headers(token_for(runtime, parent.id))
        for_child = await gql(
            client, APPLY, {"i": _form(OTHER_MO), "k": key(), "t": str(child.id)}, headers=parent_headers
        )
        assert for_child["data"]["applyForAttachment"]["code"] == "ATTACHMENT_AGE_GROUP_NOT_SERVED"
        view = await gql(client, VIEW, {"t": str(child.id)}, headers=auth_headers(token_for(runtime, parent.id)))
        assert view["data"]["myAttachment"]["moId"] == CHILDREN_MO
        assert view["data"]["myAttachment"]["doctorRole"] == "участковый педиатр"
        # The upstream down: a typed problem, nothing written; the same key really retries afterwards.
        env.attachment.faults.force(Fault.ERROR)
        k = key()
        down = await gql(client, APPLY, {"i": _form(OTHER_MO), "k": k}, headers=adult_headers)
        assert down["data"]["applyForAttachment"]["code"] == "ATTACHMENT_SERVICE_UNAVAILABLE"
        assert await _applications(runtime) == 0
        retried = await gql(client, APPLY, {"i": _form(OTHER_MO), "k": k}, headers=adult_headers)
        repeated = await gql(client, APPLY, {"i": _form(OTHER_MO), "k": k}, headers=adult_headers)
    first = retried["data"]["applyForAttachment"]["application"]
    assert repeated["data"]["applyForAttachment"]["application"]["id"] == first["id"]
    assert await _applications(runtime) == 1 and len(env.attachment.applications) == 1
