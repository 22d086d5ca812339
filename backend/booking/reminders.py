"""Booking's reminder source: 24 h and 2 h before every live appointment (notifications scans it).

A reminder is due at ``slot_start - lead``; the scan asks for a window of due moments, so the query is a
range on ``slot_start`` shifted by the lead, paged by (slot_start, id). The reminder's object id carries
the start time, so a rescheduled appointment (a new row anyway) or a moved one is reminded again.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.booking.models import Appointment, AppointmentState
from notifications.reminders import DueReminder, register_reminder_source

LEADS: dict[str, timedelta] = {"24h": timedelta(hours=24), "2h": timedelta(hours=2)}


class AppointmentReminders:
    """A :class:`notifications.reminders.ReminderSource` over booked appointments, one lead time each."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.lead = LEADS[kind]

    async def due_reminders(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        window_start: datetime,
        window_end: datetime,
        limit: int,
        after_cursor: str | None,
    ) -> list[DueReminder]:
        query = select(Appointment).where(
            Appointment.status == AppointmentState.BOOKED.value,
            Appointment.slot_start >= window_start + self.lead,
            Appointment.slot_start < window_end + self.lead,
        )
        if after_cursor is not None:
            start_text, id_text = after_cursor.split("|", 1)
            start, last_id = datetime.fromisoformat(start_text), uuid.UUID(id_text)
            query = query.where(
                or_(Appointment.slot_start > start, and_(Appointment.slot_start == start, Appointment.id > last_id))
            )
        query = query.order_by(Appointment.slot_start, Appointment.id).limit(limit)
        async with session_factory() as session:
            rows = list(await session.scalars(query))
        return [
            DueReminder(
                object_id=f"{row.id}@{row.slot_start.isoformat()}",
                patient_id=row.patient_id,
                kind=self.kind,
                remind_at=row.slot_start - self.lead,
                data={
                    "starts_at": row.slot_start,
                    "specialty": row.specialty_name,
                    "clinic": row.mo_name,
                    "doctor": row.doctor_name,
                    "cabinet": row.room or "",
                },
                cursor=f"{row.slot_start.isoformat()}|{row.id}",
            )
            for row in rows
        ]


def register() -> None:
    for kind in LEADS:
        register_reminder_source(f"booking.{kind}", AppointmentReminders(kind))


register()
