"""Notifications end to end on the service layer: planned once, sent once, retried, reconciled, deferred.

The clock is frozen and injected (ours and the SMS simulator's); nothing sleeps on the wall clock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backend.adapters import GatewaySmsSender
from backend.identity.service import SmsSender
from integrations.common.faults import Fault
from integrations.push.simulator import fcm_state
from integrations.sms import InvalidPhone
from notifications import delivery, preferences
from notifications import service as notifications_service
from notifications.channels import FileEmailSender
from notifications.models import InboxItem, MessageStatus, NotificationMessage
from notifications.service import mark_read
from tests.support.notifications import (
    PHONE,
    UNREACHABLE,
    CrashingGateway,
    FrozenClock,
    Rig,
    attempts,
    emit,
    messages,
    notification_rig,
    swap_gateway,
    with_phone,
)

pytestmark = pytest.mark.dialect


async def test_booked_goes_to_inbox_and_sms_once_however_often_it_is_emitted(rig: Rig) -> None:
    runtime = rig.runtime
    patient = await with_phone(runtime)
    await emit(runtime, patient, key="appointment:1:booked")
    await emit(runtime, patient, key="appointment:1:booked")  # the producer retried
    [sms] = rig.sms_to(PHONE)
    assert sms.mes == "Вы записаны: Терапевт, Иванова А. П., 12.03 в 10:30."
    rows = {m.channel: m for m in await messages(runtime, patient)}
    assert set(rows) == {"inbox", "sms"}
    assert rows["sms"].status == MessageStatus.SENT
    assert rows["inbox"].status == MessageStatus.DELIVERED
    [attempt] = await attempts(runtime, rows["sms"].id)
    assert (attempt.outcome, attempt.provider, attempt.provider_id) == ("accepted", "smsc", rows["sms"].provider_id)

    # A duplicated delivery task finds the message done and sends nothing.
    assert (await delivery.deliver(runtime, rows["sms"].id)).outcome is delivery.Outcome.SKIPPED
    # The handset confirms; the next tick polls SMSC (it has no callbacks) and records it.
    await rig.advance(seconds=61)
    assert (await delivery.tick(runtime))["status_changes"] == 1
    [sms_row] = await messages(runtime, patient, "sms")
    assert sms_row.status == MessageStatus.DELIVERED
    assert len(rig.sms_to(PHONE)) == 1


async def test_rolled_back_notification_sends_nothing(rig: Rig) -> None:
    patient = await with_phone(rig.runtime)
    await emit(rig.runtime, patient, commit=False)
    assert await messages(rig.runtime, patient) == []
    assert rig.sms_to(PHONE) == []


async def test_bad_data_fails_in_the_producer_not_in_a_worker(rig: Rig) -> None:
    with pytest.raises(ValueError, match="specialty"):
        await emit(rig.runtime, uuid.uuid4(), data={"starts_at": "2026-03-12T07:30:00+00:00"})
    with pytest.raises(ValueError, match="unknown notification event"):
        await emit(rig.runtime, uuid.uuid4(), event="appointment.teleported")


async def test_quiet_hours_defer_sms_to_the_morning_but_not_urgent_ones(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    night = FrozenClock(datetime(2026, 3, 10, 20, 30, tzinfo=UTC))  # 23:30 in Moscow
    async with notification_rig(database_url, redis_url, tmp_path, clock=night) as rig:
        runtime = rig.runtime
        patient = await with_phone(runtime)
        await emit(runtime, patient, key="booked")
        await emit(runtime, patient, event="ambulance.dispatched", data={}, key="ambulance")
        # Only the ambulance went out at night.
        assert [m.mes for m in rig.sms_to(PHONE)] == [
            "Бригада скорой помощи выехала. Откройте дверь и держите телефон рядом."
        ]
        deferred = next(m for m in await messages(runtime, patient, "sms") if m.dedupe_key == "booked")
        assert deferred.status == MessageStatus.QUEUED
        assert deferred.next_attempt_at == datetime(2026, 3, 11, 5, 0, tzinfo=UTC)  # 08:00 in Moscow
        assert await attempts(runtime, deferred.id) == []  # deferred, not dropped nor failed

        night.now = datetime(2026, 3, 11, 4, 59, tzinfo=UTC)
        assert (await delivery.tick(runtime))["due"] == 0
        # A retry that happens to land at night is deferred again, not sent.
        assert (await delivery.deliver(runtime, deferred.id)).outcome is delivery.Outcome.SKIPPED
        night.now = datetime(2026, 3, 11, 5, 0, tzinfo=UTC)
        assert (await delivery.tick(runtime))["due"] == 1
        assert len(rig.sms_to(PHONE)) == 2
        [row] = [m for m in await messages(runtime, patient, "sms") if m.dedupe_key == "booked"]
        assert row.status == MessageStatus.SENT


async def test_provider_down_then_up_retries_with_backoff_and_sends_once(rig: Rig) -> None:
    runtime = rig.runtime
    patient = await with_phone(runtime)
    rig.injector.force(Fault.ERROR, Fault.ERROR)
    await emit(runtime, patient)
    [row] = await messages(runtime, patient, "sms")
    assert row.status == MessageStatus.QUEUED
    base = runtime.settings.notify_retry_base_s
    assert row.next_attempt_at == rig.clock.now + timedelta(seconds=base)

    await rig.advance(seconds=base - 1)
    assert (await delivery.tick(runtime))["due"] == 0  # backing off
    await rig.advance(seconds=1)
    await delivery.tick(runtime)  # fails again: twice the delay now
    [row] = await messages(runtime, patient, "sms")
    assert row.next_attempt_at == rig.clock.now + timedelta(seconds=2 * base)
    await rig.advance(seconds=2 * base)
    await delivery.tick(runtime)
    assert len(rig.sms_to(PHONE)) == 1
    [row] = await messages(runtime, patient, "sms")
    assert (row.status, row.attempts) == (MessageStatus.SENT, 3)
    assert [a.outcome for a in await attempts(runtime, row.id)] == ["temporary_error", "temporary_error", "accepted"]


async def test_last_failed_attempt_leaves_a_dead_letter(database_url: str, redis_url: str, tmp_path: Path) -> None:
    async with notification_rig(database_url, redis_url, tmp_path, notify_max_attempts=3) as rig:
        patient = await with_phone(rig.runtime)
        rig.injector.force(*[Fault.ERROR] * 10)
        await emit(rig.runtime, patient)
        for _ in range(5):
            await rig.advance(hours=1)
            await delivery.tick(rig.runtime)
        [row] = await messages(rig.runtime, patient, "sms")
        assert (row.status, row.attempts) == (MessageStatus.DEAD, 3)
        assert [a.outcome for a in await attempts(rig.runtime, row.id)] == ["temporary_error"] * 3
        assert rig.sms_to(PHONE) == []


async def test_worker_killed_after_smsc_accepted_is_reconciled_not_resent(rig: Rig) -> None:
    runtime = rig.runtime
    patient = await with_phone(runtime)
    swap_gateway(rig, CrashingGateway)
    await emit(runtime, patient)  # the send "crashes" after SMSC took the SMS
    [row] = await messages(runtime, patient, "sms")
    [attempt] = await attempts(runtime, row.id)
    assert (row.status, attempt.outcome) == (MessageStatus.SENDING, None)
    assert len(rig.sms_to(PHONE)) == 1

    swap_gateway(rig, lambda inner: inner)  # a healthy worker
    assert (await delivery.tick(runtime))["due"] == 0  # the dead worker's lease still holds
    # Past the lease, and past SMSC's one-minute duplicate window: only a status lookup can tell.
    await rig.advance(seconds=runtime.settings.notify_send_lease_s + 1)
    assert (await delivery.tick(runtime))["due"] == 1
    assert len(rig.sms_to(PHONE)) == 1
    [row] = await messages(runtime, patient, "sms")
    assert row.status == MessageStatus.DELIVERED  # the provider had delivered it meanwhile
    [attempt] = await attempts(runtime, row.id)
    assert (attempt.outcome, attempt.provider_id) == ("reconciled", row.provider_id)


async def test_lost_reply_is_reconciled_not_resent(rig: Rig) -> None:
    runtime = rig.runtime
    patient = await with_phone(runtime)
    rig.injector.force(Fault.MALFORMED)  # SMSC accepted, the reply was garbled
    await emit(runtime, patient)
    [row] = await messages(runtime, patient, "sms")
    assert row.status == MessageStatus.SENDING
    assert [a.outcome for a in await attempts(runtime, row.id)] == ["unknown"]
    await rig.advance(seconds=runtime.settings.notify_retry_base_s + 61)
    await delivery.tick(runtime)
    assert len(rig.sms_to(PHONE)) == 1
    [row] = await messages(runtime, patient, "sms")
    assert row.status in (MessageStatus.SENT, MessageStatus.DELIVERED)
    assert [a.outcome for a in await attempts(runtime, row.id)] == ["reconciled"]


async def test_worker_killed_before_sending_resends_once(rig: Rig) -> None:
    runtime = rig.runtime
    patient = await with_phone(runtime)
    swap_gateway(rig, lambda inner: CrashingGateway(inner, before=True))
    await emit(runtime, patient)
    assert rig.sms_to(PHONE) == []
    swap_gateway(rig, lambda inner: inner)
    await rig.advance(seconds=runtime.settings.notify_send_lease_s + 1)
    await delivery.tick(runtime)
    assert len(rig.sms_to(PHONE)) == 1
    [row] = await messages(runtime, patient, "sms")
    assert [a.outcome for a in await attempts(runtime, row.id)] == ["not_sent", "accepted"]


async def test_rejected_number_fails_for_good_without_retries(rig: Rig) -> None:
    runtime = rig.runtime
    patient = uuid.uuid4()
    async with runtime.sessionmaker() as session, session.begin():
        # A number that passed our check but that the provider refuses (e.g. ported/blocked) is failed.
        await preferences.upsert_contacts(session, patient, phone=PHONE)
    rig.state.forbidden_words = frozenset({"терапевт"})
    await emit(runtime, patient)
    [row] = await messages(runtime, patient, "sms")
    assert row.status == MessageStatus.FAILED
    assert "SMS refused" in (row.last_error or "")
    await rig.advance(hours=5)
    assert (await delivery.tick(runtime))["due"] == 0


async def test_invalid_phone_is_refused_where_it_is_typed(rig: Rig) -> None:
    patient = uuid.uuid4()
    async with rig.runtime.sessionmaker() as session:
        with pytest.raises(InvalidPhone) as caught:
            await preferences.update_preferences(session, patient, phone="8 (000) 000", sms=False)
        await session.rollback()
    assert "Неверный номер телефона" in caught.value.message
    async with rig.runtime.sessionmaker() as session:
        stored = await preferences.get_preferences(session, patient)
    assert (stored.phone, stored.sms) == (None, True)  # nothing written
    # From upstream (identity's ESIA sync) a bad number is skipped and logged; the sync goes on.
    async with rig.runtime.sessionmaker() as session, session.begin():
        contacts = await preferences.upsert_contacts(session, patient, phone="garbage", email="a@b.ru")
    assert (contacts.phone, contacts.email) == (None, "a@b.ru")


async def test_undelivered_sms_is_recorded_as_such(rig: Rig) -> None:
    patient = await with_phone(rig.runtime, UNREACHABLE)
    await emit(rig.runtime, patient)
    await rig.advance(seconds=61)
    await delivery.tick(rig.runtime)
    [row] = await messages(rig.runtime, patient, "sms")
    assert row.status == MessageStatus.UNDELIVERED


async def test_sms_preference_off_means_inbox_only(rig: Rig) -> None:
    patient = await with_phone(rig.runtime)
    async with rig.runtime.sessionmaker() as session, session.begin():
        await preferences.update_preferences(session, patient, sms=False)
    await emit(rig.runtime, patient)
    assert [m.channel for m in await messages(rig.runtime, patient)] == ["inbox"]
    assert rig.sms_to(PHONE) == []


async def test_unread_push_falls_back_to_sms_once(rig: Rig) -> None:
    runtime = rig.runtime
    patient, reader = await with_phone(runtime), await with_phone(runtime, "+79123450000")
    async with runtime.sessionmaker() as session, session.begin():
        await preferences.register_push_token(session, patient, provider="fcm", token="device-a")
        await preferences.register_push_token(session, reader, provider="fcm", token="device-b")
    await emit(runtime, patient)
    await emit(runtime, reader)
    fcm = fcm_state(runtime.adapters.push.simulators["fcm"])
    [push] = fcm.messages_to("device-a")
    assert push.notification == {
        "title": "Вы записаны на приём",
        "body": "Вы записаны: Терапевт, Иванова А. П., 12.03 в 10:30.",
    }
    assert rig.sms_to(PHONE) == []  # push first
    async with runtime.sessionmaker() as session, session.begin():
        assert await mark_read(session, reader, None, rig.clock.now) == 1  # this one opened the app

    fallback = runtime.settings.notify_push_fallback_s
    await rig.advance(seconds=fallback - 1)
    assert await delivery.scan_push_fallback(runtime) == 0
    await rig.advance(seconds=1)
    assert await delivery.scan_push_fallback(runtime) == 1
    assert await delivery.scan_push_fallback(runtime) == 0
    [sms] = rig.sms_to(PHONE)
    assert sms.mes.startswith("Вы записаны")
    assert rig.sms_to("+79123450000") == []  # read: no SMS
    [row] = await messages(runtime, patient, "sms")
    assert row.fallback_of == (await messages(runtime, patient, "push"))[0].id


async def test_dead_push_token_is_dropped_and_sms_follows(rig: Rig) -> None:
    runtime = rig.runtime
    patient = await with_phone(runtime)
    fcm = fcm_state(runtime.adapters.push.simulators["fcm"])
    fcm.invalid_tokens.add("gone")
    async with runtime.sessionmaker() as session, session.begin():
        await preferences.register_push_token(session, patient, provider="fcm", token="gone")
    await emit(runtime, patient)
    [push] = await messages(runtime, patient, "push")
    assert push.status == MessageStatus.FAILED
    async with runtime.sessionmaker() as session:
        assert await preferences.active_push_tokens(session, patient) == []
    assert await delivery.scan_push_fallback(runtime) == 1
    assert len(rig.sms_to(PHONE)) == 1


async def test_email_channel_writes_one_message(rig: Rig) -> None:
    runtime = rig.runtime
    patient = uuid.uuid4()
    async with runtime.sessionmaker() as session, session.begin():
        await preferences.update_preferences(session, patient, email=True, email_address="Anna@Example.RU", sms=False)
    await emit(runtime, patient)
    sender = runtime.adapters.email
    assert isinstance(sender, FileEmailSender)
    [eml] = sender.sent()
    content = eml.read_text()
    assert "To: Anna@example.ru" in content
    [row] = await messages(runtime, patient, "email")
    assert row.status == MessageStatus.SENT
    await emit(runtime, patient)
    assert len(sender.sent()) == 1


async def test_reminder_after_the_visit_is_not_sent(rig: Rig) -> None:
    runtime = rig.runtime
    patient = await with_phone(runtime)
    starts = rig.clock.now + timedelta(hours=2)
    data = {"specialty": "Терапевт", "starts_at": starts.isoformat()}
    rig.injector.force(Fault.ERROR)
    await emit(runtime, patient, event="appointment.reminder_2h", data=data)
    await rig.advance(hours=3)
    await delivery.tick(runtime)
    [row] = await messages(runtime, patient, "sms")
    assert row.status == MessageStatus.FAILED
    assert rig.sms_to(PHONE) == []


async def test_inbox_items_belong_to_their_person(rig: Rig) -> None:
    runtime = rig.runtime
    me, other = uuid.uuid4(), uuid.uuid4()
    await emit(runtime, me)
    await emit(runtime, other)
    async with runtime.sessionmaker() as session:
        theirs = await session.scalar(select(InboxItem.id).where(InboxItem.patient_id == other))
    async with runtime.sessionmaker() as session, session.begin():
        assert await mark_read(session, me, [theirs], rig.clock.now) == 0
    async with runtime.sessionmaker() as session:
        assert (await session.get_one(InboxItem, theirs)).read_at is None
        assert (
            await session.scalar(select(NotificationMessage.status).where(NotificationMessage.patient_id == me))
            == "delivered"
        )


async def test_identity_codes_go_through_the_same_gateway_once(rig: Rig) -> None:
    sender: SmsSender = GatewaySmsSender(rig.runtime)
    key = str(uuid.uuid4())
    await sender.send("8 912 345-67-89", "Код подтверждения: 123456", idempotency_key=key)
    await sender.send("8 912 345-67-89", "Код подтверждения: 123456", idempotency_key=key)  # outbox retry
    [sms] = rig.sms_to(PHONE)
    assert sms.mes == "Код подтверждения: 123456"


async def test_a_shape_of_data_rendered_once_is_not_rendered_again_but_a_new_shape_is(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    renders: list[str] = []
    real = notifications_service.render

    def counting(event: str, data: dict[str, Any], *, timezone: str) -> Any:
        renders.append(event)
        return real(event, data, timezone=timezone)

    monkeypatch.setattr(notifications_service, "_RENDERED_SHAPES", set())
    monkeypatch.setattr(notifications_service, "render", counting)
    patient = await with_phone(rig.runtime)
    # Rolled back, so no worker renders for sending: what is counted is notify's own check.
    await emit(rig.runtime, patient, key="first", commit=False)
    await emit(rig.runtime, patient, key="second", commit=False)  # the same keys and types: no render
    assert renders == ["appointment.booked"]
    with pytest.raises(ValueError, match="specialty"):  # a key missing is a new shape: rendered, refused
        await emit(rig.runtime, uuid.uuid4(), data={"starts_at": "2026-03-12T07:30:00+00:00"})
    assert renders == ["appointment.booked", "appointment.booked"]
