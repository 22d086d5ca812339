"""The patient's side over GraphQL: what was sent and whether it arrived, the inbox, the preferences
(a bad phone is a typed problem that writes nothing), and the live inbox subscription."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.app import create_app
from backend.audit.models import AuditEvent
from backend.runtime import Runtime
from notifications import preferences
from notifications import schema as notifications_schema
from notifications.channels import InboxEvent, InProcessInboxBus, RedisInboxBus
from notifications.models import InboxItem
from notifications.service import plan
from tests.conftest import make_settings
from tests.support.client import app_client, gql, served, websocket
from tests.support.identity import auth_headers, grant_proxy, make_patient, token_for
from tests.support.notifications import PHONE, Rig, emit

pytestmark = pytest.mark.dialect

HISTORY = """query($first: Int!) { myNotifications(first: $first) {
  key event title text deliveries { channel status attempts scheduledFor } } }"""
INBOX = "{ myInbox { id title text read } unreadCount }"
PREFS = "{ notificationPreferences { sms push email phone emailAddress pushDevices quietHoursFrom quietHoursTo } }"
UPDATE = """mutation($input: NotificationPreferencesInput!) { updateNotificationPreferences(input: $input) {
  __typename ... on Problem { code message }
  ... on PreferencesUpdated { preferences { sms phone } } } }"""
MARK = """mutation($ids: [ID!]) { markInboxRead(ids: $ids) {
  __typename ... on InboxMarkedRead { updated unreadCount } ... on Problem { code } } }"""


async def _patient_with_phone(runtime: Runtime) -> uuid.UUID:
    patient = await make_patient(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        await preferences.upsert_contacts(session, patient.id, phone=PHONE)
    return patient.id


async def test_history_inbox_and_read_marks(rig: Rig) -> None:
    runtime = rig.runtime
    me = await _patient_with_phone(runtime)
    stranger = (await make_patient(runtime)).id
    await emit(runtime, me, key="appointment:1:booked")
    rig.clock.advance(minutes=1)
    await emit(runtime, me, event="document.ready", data={}, key="document:7")
    await emit(runtime, stranger, key="appointment:2:booked")
    headers = auth_headers(token_for(runtime, me))
    async with app_client(runtime, [notifications_schema]) as client:
        history = await gql(client, HISTORY, {"first": 10}, headers=headers)
        assert "errors" not in history, history
        items = history["data"]["myNotifications"]
        assert [i["key"] for i in items] == ["document:7", "appointment:1:booked"]
        booked = items[1]
        assert booked["text"] == "Вы записаны: Терапевт, Иванова А. П., 12.03 в 10:30."
        assert {(d["channel"], d["status"], d["attempts"]) for d in booked["deliveries"]} == {
            ("inbox", "delivered", 1),
            ("sms", "sent", 1),
        }

        inbox = (await gql(client, INBOX, headers=headers))["data"]
        assert inbox["unreadCount"] == 2
        assert [i["title"] for i in inbox["myInbox"]] == ["Новый медицинский документ", "Вы записаны на приём"]
        first_id = inbox["myInbox"][0]["id"]
        async with runtime.sessionmaker() as session:
            theirs = await session.scalar(select(InboxItem.id).where(InboxItem.patient_id == stranger))
        marked = await gql(client, MARK, {"ids": [first_id, str(theirs)]}, headers=headers)
        assert marked["data"]["markInboxRead"] == {"__typename": "InboxMarkedRead", "updated": 1, "unreadCount": 1}
        bad = await gql(client, MARK, {"ids": ["not-an-id"]}, headers=headers)
        assert bad["data"]["markInboxRead"] == {"__typename": "InvalidInput", "code": "INVALID_INPUT"}
        everything = await gql(client, MARK, {"ids": None}, headers=headers)
        assert everything["data"]["markInboxRead"]["unreadCount"] == 0

        anonymous = await gql(client, INBOX)
        assert anonymous["data"] is None
        assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    async with runtime.sessionmaker() as session:
        actions = set(await session.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == me)))
    assert {"notifications.history.read", "notifications.inbox.read", "notifications.inbox.mark_read"} <= actions
    # The stranger's item stayed unread.
    async with runtime.sessionmaker() as session:
        assert (await session.get_one(InboxItem, theirs)).read_at is None


async def test_invalid_phone_is_a_typed_problem_and_writes_nothing(rig: Rig) -> None:
    runtime = rig.runtime
    me = (await make_patient(runtime)).id
    headers = auth_headers(token_for(runtime, me))
    async with app_client(runtime, [notifications_schema]) as client:
        refused = await gql(client, UPDATE, {"input": {"phone": "12345", "sms": False}}, headers=headers)
        assert refused["data"]["updateNotificationPreferences"] == {
            "__typename": "InvalidPhoneNumber",
            "code": "INVALID_PHONE",
            "message": "Неверный номер телефона. Укажите номер в формате +7 912 345-67-89",
        }
        unchanged = (await gql(client, PREFS, headers=headers))["data"]["notificationPreferences"]
        assert (unchanged["sms"], unchanged["phone"]) == (True, None)

        bad_mail = await gql(client, UPDATE, {"input": {"emailAddress": "nope"}}, headers=headers)
        assert bad_mail["data"]["updateNotificationPreferences"]["code"] == "INVALID_INPUT"

        ok = await gql(client, UPDATE, {"input": {"phone": "8 (912) 345-67-89", "sms": True}}, headers=headers)
        assert ok["data"]["updateNotificationPreferences"] == {
            "__typename": "PreferencesUpdated",
            "preferences": {"sms": True, "phone": "+79123456789"},
        }
        prefs = (await gql(client, PREFS, headers=headers))["data"]["notificationPreferences"]
    assert prefs == {
        "sms": True,
        "push": True,
        "email": False,
        "phone": "+79123456789",
        "emailAddress": None,
        "pushDevices": 0,
        "quietHoursFrom": 22,
        "quietHoursTo": 8,
    }
    async with runtime.sessionmaker() as session:
        outcomes = list(
            await session.scalars(
                select(AuditEvent.outcome).where(AuditEvent.action == "updateNotificationPreferences")
            )
        )
    assert sorted(outcomes) == ["INVALID_INPUT", "INVALID_PHONE", "ok"]
    # The next notification goes to the number the person gave.
    await emit(runtime, me)
    assert len(rig.sms_to("+79123456789")) == 1


async def test_a_proxy_sees_the_principals_inbox_only_with_a_grant(rig: Rig) -> None:
    runtime = rig.runtime
    child, parent, other = (
        (await make_patient(runtime)).id,
        (await make_patient(runtime)).id,
        (await make_patient(runtime)).id,
    )
    await emit(runtime, child, event="vaccination.due", data={"vaccine": "АКДС"})
    await grant_proxy(runtime, child, parent)
    query = "query($p: UUID) { myInbox(actingFor: $p) { text } }"
    async with app_client(runtime, [notifications_schema]) as client:
        allowed = await gql(client, query, {"p": str(child)}, headers=auth_headers(token_for(runtime, parent)))
        denied = await gql(client, query, {"p": str(child)}, headers=auth_headers(token_for(runtime, other)))
    assert allowed["data"]["myInbox"] == [{"text": "Пора сделать прививку: АКДС. Записаться можно в приложении."}]
    assert denied["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"


def test_inbox_subscription_pushes_new_items(database_url: str, redis_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, redis_url, var_dir=tmp_path)

    async def setup() -> tuple[uuid.UUID, str]:
        runtime = Runtime.build(settings)
        try:
            patient = (await make_patient(runtime)).id
            return patient, token_for(runtime, patient)
        finally:
            await runtime.close()

    patient, token = asyncio.run(setup())

    async def deliver_one(n: int) -> None:
        # Another process (a worker) plans a notification; the item reaches the API process via Redis.
        runtime = Runtime.build(settings)
        try:
            await plan(
                runtime,
                patient_id=patient,
                event="policy.updated",
                data={"insurer": f"СМО {n}"},
                urgent=False,
                dedupe_key=f"policy:{n}",
            )
        finally:
            await runtime.close()

    app = create_app(settings, extra_schema_modules=[notifications_schema])
    with served(app) as client, websocket(client) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json(
            {"id": "1", "type": "subscribe", "payload": {"query": "subscription { inboxItemAdded { text read } }"}}
        )
        received = None
        for n in range(50):  # the subscription may not be listening yet: publish until it hears one
            asyncio.run(deliver_one(n))
            try:
                received = ws.receive_json(timeout=0.2)
                break
            except Exception:  # nothing yet: publish another
                continue
        assert received is not None
        assert received["type"] == "next"
        item = received["payload"]["data"]["inboxItemAdded"]
        assert item["read"] is False
        assert item["text"].startswith("Сведения о вашем полисе ОМС обновлены: страховая медицинская организация — СМО")


async def test_a_runtime_with_redis_publishes_to_others_and_one_without_keeps_its_items_to_itself(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    """The inbox bus is the runtime's: Redis-backed when it has Redis (an item planned in another process
    reaches this one, as above), in-process without Redis (another runtime's items never arrive)."""
    with_redis = Runtime.build(make_settings(database_url, redis_url, var_dir=tmp_path))
    alone, other = (Runtime.build(make_settings(database_url, var_dir=tmp_path)) for _ in range(2))
    try:
        assert isinstance(with_redis.adapters.inbox_bus, RedisInboxBus)
        bus = alone.adapters.inbox_bus
        assert isinstance(bus, InProcessInboxBus)
        assert alone.adapters.inbox_bus is bus and other.adapters.inbox_bus is not bus
        patient = uuid.uuid4()
        at = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
        theirs, mine = (
            InboxEvent(id=uuid.uuid4(), patient_id=patient, event="e", title=t, text=t, created_at=at)
            for t in ("чужой процесс", "этот процесс")
        )
        stream = bus.subscribe(patient)
        first = asyncio.ensure_future(anext(stream))
        for _ in range(100):  # the generator subscribes once it starts running
            if bus.subscriber_count(patient):
                break
            await asyncio.sleep(0)
        assert bus.subscriber_count(patient) == 1
        await other.adapters.inbox_bus.publish(theirs)  # delivered synchronously, if at all
        await bus.publish(mine)
        assert await first == mine
        await stream.aclose()
    finally:
        for runtime in (with_redis, alone, other):
            await runtime.close()
