"""Reminders come from a bounded periodic scan over registered sources: each (object, kind) once, and one
person without a phone (or with broken data) never stops the rest."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications import reminders
from notifications.reminders import DueReminder, ReminderSource, StaticReminderSource, scan_reminders
from tests.support.notifications import Rig, messages, with_phone

pytestmark = pytest.mark.dialect


def _reminder(n: int, patient: uuid.UUID, starts: datetime, kind: str = "24h", **data: str) -> DueReminder:
    hours = 24 if kind == "24h" else 2
    return DueReminder(
        object_id=f"appt-{n}",
        patient_id=patient,
        kind=kind,
        remind_at=starts - timedelta(hours=hours),
        data={"specialty": "Терапевт", "starts_at": starts.isoformat(), **data},
        cursor=f"{n:06d}",
    )


async def test_each_reminder_once_and_nobody_blocks_the_rest(rig: Rig) -> None:
    runtime = rig.runtime
    now = rig.clock.now
    starts = now + timedelta(hours=23, minutes=50)  # its 24 h reminder fell due 10 minutes ago
    phones = ["+79120000001", "+79120000002", "+79120000003", "+79120000004"]
    no_phone = await with_phone(runtime, None)
    with_phones = [await with_phone(runtime, p) for p in phones]
    broken = DueReminder(
        object_id="appt-broken",
        patient_id=with_phones[0],
        kind="24h",
        remind_at=now - timedelta(minutes=5),
        data={"starts_at": starts.isoformat()},  # no specialty: the template refuses it
        cursor="000002",
    )
    due = [
        _reminder(1, no_phone, starts),
        broken,
        *[_reminder(3 + i, p, starts) for i, p in enumerate(with_phones)],
        _reminder(9, with_phones[1], now + timedelta(days=3)),  # not due yet
    ]
    source = StaticReminderSource(due)
    first = await scan_reminders(runtime, sources={"booking": source}, batch=2)
    assert (first.notified, first.failed, first.already) == (5, 1, 0)
    assert source.calls == 4  # bounded pages of 2: 2 + 2 + 2 + 0
    await runtime.relay.drain()
    for phone in phones:
        [sms] = rig.sms_to(phone)
        assert sms.mes.startswith("Напоминаем: 11.03 в 11:50 приём (Терапевт)")
    assert [m.channel for m in await messages(runtime, no_phone)] == ["inbox"]

    # The job runs again (and again, overlapping): nothing is sent twice.
    again = await scan_reminders(runtime, sources={"booking": source}, batch=2)
    await runtime.relay.drain()
    assert (again.notified, again.already) == (0, 5)
    assert all(len(rig.sms_to(p)) == 1 for p in phones)

    # Later the far one falls due; only it is sent.
    rig.clock.advance(days=2, minutes=1)
    later = await scan_reminders(runtime, sources={"booking": source}, lookback=timedelta(days=3))
    await runtime.relay.drain()
    assert later.notified == 1
    assert len(rig.sms_to(phones[1])) == 2


class _BrokenSource:
    async def due_reminders(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        window_start: datetime,
        window_end: datetime,
        limit: int,
        after_cursor: str | None,
    ) -> list[DueReminder]:
        raise ConnectionError("booking database unreachable")


async def test_a_failing_source_does_not_stop_the_others(rig: Rig) -> None:
    patient = await with_phone(rig.runtime, "+79120000009")
    ok = StaticReminderSource([_reminder(1, patient, rig.clock.now + timedelta(hours=1, minutes=55), kind="2h")])
    assert isinstance(ok, ReminderSource)
    reminders.register_reminder_source("zz-test-ok", ok)
    reminders.register_reminder_source("aa-test-broken", _BrokenSource())
    try:
        summary = await scan_reminders(rig.runtime)
        await rig.runtime.relay.drain()
    finally:
        reminders.unregister_reminder_source("zz-test-ok")
        reminders.unregister_reminder_source("aa-test-broken")
    assert (summary.notified, summary.failed) == (1, 1)
    [sms] = rig.sms_to("+79120000009")
    assert sms.mes == "Через 2 часа, в 13:55, приём (Терапевт)."
