"""The survey after a visit: invited once when the hub says the visit took place, answered once from the app
or from the notification's link, and the staff KPI per clinic and period."""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from backend.booking import service as booking
from backend.outbox.models import OutboxMessage
from backend.outbox.service import REDACTED
from backend.surveys.models import SurveyAnswer, SurveyInvitation
from notifications.models import InboxItem, NotificationMessage
from tests.support.booking import TODAY, BookingEnv
from tests.support.client import app_client, gql
from tests.support.identity import auth_headers, operator_token, token_for
from tests.support.waitlist import book_slot, deliver_all

pytestmark = pytest.mark.dialect

ANSWER = (
    "mutation($i: UUID!, $a: SurveyAnswersInput!, $k: String!) { answerSurvey(invitationId: $i, answers: $a,"
    " idempotencyKey: $k) { __typename ... on SurveyAnswered { invitation { id status } }"
    " ... on Problem { code message } } }"
)
MINE = "{ mySurveys { id status specialtyName questions { id kind options { value } } } }"
KPI = (
    "query($a: Date!, $b: Date!) { satisfactionKpi(dateFrom: $a, dateTo: $b) { clinics { moId invited answered"
    " responseRate meanQuality satisfiedShare meanBookingEase futureUseShare recommendShare } } }"
)
GOOD = {"quality": 5, "bookingEase": 4, "bookingChannel": "EPGU", "futureUse": True, "recommend": True}


async def _visited(env: BookingEnv, i: int, index: int = 0) -> tuple[uuid.UUID, uuid.UUID]:
    """A patient of the region whose booked visit the clinic marks as visited, synced: (patient, appointment)."""
    patient = await env.patient(i)
    appointment_id, ref = await book_slot(env, patient.id, index)
    env.state.mark_visited(ref.slot_id)
    await booking.sync_statuses(env.runtime, min_interval=booking.SYNC_MIN_INTERVAL * 0)
    await deliver_all(env.runtime)
    return patient.id, appointment_id


async def _link(env: BookingEnv, appointment_id: uuid.UUID) -> str:
    """The link as the patient received it: in the text of the notification (its inbox item)."""
    async with env.runtime.sessionmaker() as session:
        [body] = list(
            await session.scalars(select(InboxItem.body).where(InboxItem.dedupe_key == f"survey:{appointment_id}"))
        )
    [link] = re.findall(r"https?://\S+/api/v1/surveys/\S+", body)
    return link


async def test_the_links_token_stays_in_no_payload_after_sending(env: BookingEnv) -> None:
    """The house rule (docs/house.md §3): the outbox row that carried the link keeps no token once the
    notification is planned; the messages' stored data neither (their text, as sent, has it)."""
    _, appointment = await _visited(env, 6)
    link = await _link(env, appointment)
    token = link.rsplit("/", 1)[-1]
    async with env.runtime.sessionmaker() as session:
        rows = list(
            await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "notifications.requested"))
        )
        messages = list(
            await session.scalars(
                select(NotificationMessage).where(NotificationMessage.dedupe_key == f"survey:{appointment}")
            )
        )
        items = list(await session.scalars(select(InboxItem).where(InboxItem.dedupe_key == f"survey:{appointment}")))
    [sent] = [r for r in rows if r.payload.get("dedupe_key") == f"survey:{appointment}"]
    assert sent.dispatched_at is not None
    assert sent.payload["data"]["link"] == REDACTED
    assert sent.payload["data"]["clinic"]  # the rest kept
    assert messages and items
    stored = [sent.payload, *(m.data for m in messages), *(i.data for i in items)]
    assert all(token not in json.dumps(p, ensure_ascii=False) for p in stored)
    assert all(token in m.body for m in messages)
    # Other notifications keep their data whole (nothing secret in them).
    booked = [r for r in rows if str(r.payload.get("dedupe_key", "")).endswith(":booked")]
    assert booked and all(REDACTED not in json.dumps(r.payload, ensure_ascii=False) for r in booked)


async def test_invited_once_and_answered_once_from_the_app(env: BookingEnv) -> None:
    patient, appointment = await _visited(env, 0)
    await booking.sync_statuses(env.runtime, min_interval=booking.SYNC_MIN_INTERVAL * 0)  # seen again: no second
    async with env.runtime.sessionmaker() as session:
        invitations = list(await session.scalars(select(SurveyInvitation)))
    assert [(i.patient_id, i.appointment_id, i.status) for i in invitations] == [(patient, appointment, "pending")]
    assert "/api/v1/surveys/" in await _link(env, appointment)
    headers = auth_headers(token_for(env.runtime, patient))
    async with app_client(env.runtime) as client:
        mine = (await gql(client, MINE, headers=headers))["data"]["mySurveys"]
        assert [q["id"] for q in mine[0]["questions"]] == [
            "quality", "booking_ease", "booking_channel", "future_use", "recommend", "comment",
        ]  # fmt: skip
        bad = await gql(client, ANSWER, {"i": mine[0]["id"], "a": {**GOOD, "quality": 9}, "k": "k0"}, headers=headers)
        assert bad["data"]["answerSurvey"]["code"] == "INVALID_INPUT"
        done = await gql(client, ANSWER, {"i": mine[0]["id"], "a": GOOD, "k": "k1"}, headers=headers)
        assert done["data"]["answerSurvey"]["invitation"]["status"] == "ANSWERED".lower()
        again = await gql(client, ANSWER, {"i": mine[0]["id"], "a": GOOD, "k": "k2"}, headers=headers)
        assert again["data"]["answerSurvey"]["code"] == "SURVEY_ALREADY_ANSWERED"
        replay = await gql(client, ANSWER, {"i": mine[0]["id"], "a": GOOD, "k": "k1"}, headers=headers)
        assert replay["data"]["answerSurvey"]["__typename"] == "SurveyAnswered"  # the key's first result
        # Someone else's invitation is not found.
        other = auth_headers(token_for(env.runtime, (await env.patient(5)).id))
        foreign = await gql(client, ANSWER, {"i": mine[0]["id"], "a": GOOD, "k": "k3"}, headers=other)
        assert foreign["data"]["answerSurvey"]["code"] == "SURVEY_NOT_FOUND"
    async with env.runtime.sessionmaker() as session:
        answers = list(await session.scalars(select(SurveyAnswer)))
    assert [(a.quality, a.booking_ease, a.booking_channel, a.recommend) for a in answers] == [(5, 4, "epgu", True)]


async def test_answered_from_the_notification_link(env: BookingEnv) -> None:
    _, appointment = await _visited(env, 1)
    path = urlsplit(await _link(env, appointment)).path
    form = "quality=2&booking_ease=3&booking_channel=callcentre&future_use=no&recommend=no&comment=Долго+ждали"
    async with app_client(env.runtime) as client:
        page = await client.get(path)
        assert page.status_code == 200 and "Оцените качество работы" in page.text
        assert (await client.get(path + "x")).status_code == 404
        incomplete = await client.post(
            path, content="quality=2", headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert incomplete.status_code == 422
        saved = await client.post(path, content=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert saved.status_code == 200 and "сохранены" in saved.text
        twice = await client.post(path, content=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert twice.status_code == 409
    async with env.runtime.sessionmaker() as session:
        [answer] = list(await session.scalars(select(SurveyAnswer)))
    assert (answer.quality, answer.channel, answer.comment, answer.future_use) == (2, "link", "Долго ждали", False)


async def test_staff_kpi_per_clinic_and_period(env: BookingEnv) -> None:
    first, _ = await _visited(env, 2, 0)
    second, _ = await _visited(env, 3, 1)
    await _visited(env, 4, 2)  # invited, never answers
    async with app_client(env.runtime) as client:
        for patient, quality, recommend in ((first, 5, True), (second, 3, False)):
            headers = auth_headers(token_for(env.runtime, patient))
            [invitation] = (await gql(client, MINE, headers=headers))["data"]["mySurveys"]
            answers = {**GOOD, "quality": quality, "recommend": recommend}
            done = await gql(client, ANSWER, {"i": invitation["id"], "a": answers, "k": "k"}, headers=headers)
            assert done["data"]["answerSurvey"]["__typename"] == "SurveyAnswered"
        staff = auth_headers(await operator_token(env.runtime))
        period = {"a": TODAY.isoformat(), "b": (TODAY.replace(day=28)).isoformat()}
        [clinic] = (await gql(client, KPI, period, headers=staff))["data"]["satisfactionKpi"]["clinics"]
        empty = await gql(client, KPI, {"a": "2024-01-01", "b": "2024-01-31"}, headers=staff)
        patient_asks = await gql(client, KPI, period, headers=auth_headers(token_for(env.runtime, first)))
    assert clinic == {
        "moId": "1001",
        "invited": 3,
        "answered": 2,
        "responseRate": 0.6667,
        "meanQuality": 4.0,
        "satisfiedShare": 0.5,
        "meanBookingEase": 4.0,
        "futureUseShare": 1.0,
        "recommendShare": 0.5,
    }
    assert empty["data"]["satisfactionKpi"]["clinics"] == []
    assert patient_asks["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
