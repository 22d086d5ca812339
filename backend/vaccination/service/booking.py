"""Booking a vaccination through the booking core: the calendar's check first, then the vaccination room of
the patient's clinic (``integrations.fer.vaccination``), then ``booking.service.book_now``; the dose the
appointment is for is kept here (``vaccination_bookings``: SetAppointment carries no reason).

"Book the due one" in one step: with no slot given, the nearest free slot of the room of the patient's own
clinic (their attachment, else the clinic they use) on or after the day the dose may be given.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from backend.booking import service as booking
from backend.booking.models import Appointment
from backend.core.uow import UnitOfWork
from backend.vaccination.calendar import load_calendar
from backend.vaccination.engine import DoseStatus, check_next_dose
from backend.vaccination.models import VaccinationBooking
from backend.vaccination.problems import NotAVaccinationRoom, NoVaccinationSlot, TooEarlyForNextDose
from backend.vaccination.service.records import (
    engine_exemptions,
    engine_records,
    person_of,
    vaccinations_of,
)
from integrations.fer.vaccination import VACCINATION_ROOM_CODE, room_id

if TYPE_CHECKING:
    from backend.runtime import Runtime

#: How far ahead the one-step booking looks for a free slot.
SEARCH_DAYS = 14


@dataclass(frozen=True)
class VaccinationAppointment:
    appointment: Appointment
    infection: str
    dose_number: int
    label: str


def dose_label(dose: DoseStatus) -> str:
    against = load_calendar().infection(dose.infection).against
    return f"{dose.label} {against}"


async def _check(runtime: Runtime, patient_id: uuid.UUID, infection: str, day: date) -> DoseStatus:
    # Read only: inside the mutation's transaction no other write may start (the register import of a read
    # is a transaction of its own; on SQLite it would wait for this one's lock).
    data = (await vaccinations_of(runtime, [patient_id])).get(patient_id)
    if data is None:
        raise booking.fail(booking.PatientNotFoundAtClinic.default())
    return check_next_dose(
        person_of(data.patient), engine_records(data.records), engine_exemptions(data.exemptions), infection, day
    )


async def _nearest_ref(uow: UnitOfWork, patient_id: uuid.UUID, infection: str) -> booking.SlotRef:
    runtime = uow.runtime
    today = booking.local_day(runtime, booking.now(runtime))
    try:
        await _check(runtime, patient_id, infection, today)
        first_day = today
    except TooEarlyForNextDose as early:  # not yet today, but perhaps within the horizon
        if early.earliest > today + timedelta(days=SEARCH_DAYS):
            raise
        first_day = early.earliest
    mo_id = await booking.own_clinic(runtime, uow.session, patient_id)
    if mo_id is None:
        raise NoVaccinationSlot()
    room = room_id(mo_id)
    card = await booking.doctor_info(uow, mo_id, room)
    if card.specialty_code != VACCINATION_ROOM_CODE:
        raise NoVaccinationSlot()
    now = booking.now(runtime)
    slots = await booking.doctor_slots(runtime, mo_id, room, first_day, today + timedelta(days=SEARCH_DAYS))
    free = sorted(
        (s for s in slots if booking.to_utc(runtime, s.start) > now and s.start.date() >= first_day),
        key=lambda s: s.start,
    )
    if not free:
        raise NoVaccinationSlot()
    return booking.SlotRef(mo_id, room, free[0].id, free[0].start.date())


async def book_vaccination(
    uow: UnitOfWork, patient_id: uuid.UUID, infection: str, slot: booking.SlotRef | None
) -> VaccinationAppointment:
    """Book the next dose against ``infection``: at ``slot`` (a vaccination room's), or the nearest one.

    Raises the calendar's problems (``ExemptionInForce``, ``TooEarlyForNextDose`` with the earliest date,
    ``NotInCalendarForAge``, ...), :class:`NotAVaccinationRoom`, :class:`NoVaccinationSlot`, and the booking
    core's (slot taken, a live vaccination appointment already, the hub down)."""
    runtime = uow.runtime
    ref = slot or await _nearest_ref(uow, patient_id, infection)
    card = await booking.doctor_info(uow, ref.mo_id, ref.doctor_id)
    if card.specialty_code != VACCINATION_ROOM_CODE:
        raise NotAVaccinationRoom()
    dose = await _check(runtime, patient_id, infection, ref.day)
    appointment = await booking.book_now(uow, patient_id, ref)
    label = dose_label(dose)
    uow.session.add(
        VaccinationBooking(
            appointment_id=appointment.id,
            patient_id=patient_id,
            infection=infection,
            dose_number=dose.dose_number,
            label=label[:200],
            booked_at=runtime.now(),
        )
    )
    uow.audit(
        "vaccination.booked",
        object_type="appointment",
        object_id=appointment.id,
        subject_id=patient_id,
        details={"infection": infection, "dose": dose.dose_number, "mo_id": ref.mo_id},
    )
    return VaccinationAppointment(appointment, infection, dose.dose_number, label)


async def vaccination_bookings(runtime: Runtime, patient_id: uuid.UUID) -> list[tuple[VaccinationBooking, Appointment]]:
    """The patient's vaccination appointments, newest first, with the booking core's row."""
    async with runtime.sessionmaker() as session:
        rows = list(
            await session.scalars(
                select(VaccinationBooking)
                .where(VaccinationBooking.patient_id == patient_id)
                .order_by(VaccinationBooking.booked_at.desc())
            )
        )
        found = await booking.appointments_of(session, patient_id, at=booking.now(runtime))
    appointments = {a.id: a for a in found}
    return [(row, appointments[row.appointment_id]) for row in rows if row.appointment_id in appointments]
