"""Appointment reminders: booking's source feeds the notifications scan, 24 h and 2 h before, once each,
and only for appointments still booked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from backend.booking.models import Appointment, AppointmentState
from backend.booking.reminders import AppointmentReminders
from notifications.reminders import reminder_sources, scan_reminders
from tests.support.notifications import Rig, notification_rig, with_phone

pytestmark = pytest.mark.dialect


@pytest.fixture
async def rig(database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    async with notification_rig(database_url, redis_url, tmp_path) as rig:
        yield rig


def test_booking_registers_both_lead_times() -> None:
    sources = reminder_sources()
    assert isinstance(sources["booking.24h"], AppointmentReminders)
    assert isinstance(sources["booking.2h"], AppointmentReminders)


async def test_reminders_are_sent_once_when_due_and_only_for_live_appointments(rig: Rig) -> None:
    runtime = rig.runtime
    now = rig.clock.now
    booked_phone, cancelled_phone = "+79120000021", "+79120000022"
    booked_patient = await with_phone(runtime, booked_phone)
    cancelled_patient = await with_phone(runtime, cancelled_phone)

    def row(patient: uuid.UUID, starts_in: timedelta, status: str, slot: str) -> Appointment:
        start = now + starts_in
        return Appointment(
            patient_id=patient,
            mo_id="1001",
            mo_name="ГБУЗ СК «Городская поликлиника № 1»",
            doctor_id="d-1",
            doctor_name="Иванова А. П.",
            specialty_code="76",
            specialty_name="Терапевт",
            slot_id=slot,
            slot_start=start,
            slot_end=start + timedelta(minutes=15),
            room="214",
            hub_patient_id="p-1",
            status=status,
            channel="mobile",
            source_type=5,
            actor_kind="patient",
        )

    async with runtime.sessionmaker() as session, session.begin():
        session.add_all(
            [
                # due for its 24 h reminder 10 minutes ago; its 2 h reminder much later
                row(booked_patient, timedelta(hours=23, minutes=50), AppointmentState.BOOKED.value, "s-1"),
                row(
                    cancelled_patient,
                    timedelta(hours=23, minutes=40),
                    AppointmentState.CANCELLED_BY_PATIENT.value,
                    "s-2",
                ),
            ]
        )

    sources = {name: source for name, source in reminder_sources().items() if name.startswith("booking.")}
    first = await scan_reminders(runtime, sources=sources)
    await runtime.relay.drain()
    assert first.notified == 1
    [sms] = rig.sms_to(booked_phone)
    assert sms.mes.startswith("Напоминаем:")
    assert "Терапевт" in sms.mes
    assert rig.sms_to(cancelled_phone) == []

    again = await scan_reminders(runtime, sources=sources)
    await runtime.relay.drain()
    assert (again.notified, again.already) == (0, 1)
    assert len(rig.sms_to(booked_phone)) == 1

    # Two hours before the visit, the second reminder (and only it) goes out.
    rig.clock.advance(hours=21, minutes=55)
    later = await scan_reminders(runtime, sources=sources)
    await runtime.relay.drain()
    assert later.notified == 1
    assert len(rig.sms_to(booked_phone)) == 2
    assert rig.sms_to(booked_phone)[-1].mes.startswith("Через 2 часа")
