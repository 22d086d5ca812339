"""Referrals (направления): the patient's referrals as the hub knows them, and booking by referral.

A referral is issued by a doctor in the clinic's MIS and lives at the hub; the patient (or the 122
operator for them) adds it by its number, which the hub checks (``CheckReferral``): it must name this patient
(surname and birth date). Booking by referral sends the number to the hub (``SetAppointment``'s
``doctorsReferral``), which checks that the referral is the patient's, for this specialty, valid, usable in
this clinic (``InspectDoctorsReferal`` is asked first, so a referral to another clinic is refused before any
slot is claimed) and not used by another live booking. The narrow specialties that refuse a direct booking
(``REFERRAL_REQUIRED``) become bookable this way.

The referral's booking options (:func:`booking_options`): the free slots of its target — the doctor it names,
else the doctors of its specialty — in its target clinic (or, when it names none, the clinics of the region
that offer the specialty, own clinic first), asked of the hub with ``GetAppointmentsDemandDoctorsReferal``
(the slots a doctor gives to booking by referral), after ``InspectDoctorsReferal`` says the referral may be
booked there and which IdPat and IdDoc it means. Slots held or booked here are left out. Each slot's id is
what ``bookByReferral`` takes.

The doctor's flow: the attending doctor, during the visit, books the specialist for the patient on a
referral they issued themselves (the referral's issuer SNILS is the doctor's), with the hub's source
"doctor" (``AppointmentSourceType`` 4); the patient is found by OMS policy and birth date.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.booking.models import Appointment, Referral, ReferralState
from backend.booking.problems import (
    BookingServiceUnavailable,
    InvalidInput,
    PatientNotFoundAtClinic,
    ReferralNotUsable,
    fail,
)
from backend.booking.service.appointments import book_now
from backend.booking.service.base import hub, local_day, now, to_utc
from backend.booking.service.search import DoctorAvailability, SearchResult, own_clinic
from backend.booking.service.slots import SlotRef, live_holds_and_bookings
from backend.core.uow import UnitOfWork
from backend.directory import service as directory
from backend.identity.service import find_patient_by_policy, get_patient
from integrations.fer import BookingChannel, FerError, HubTransportError, ReferralInvalid, ReferralNotFound, Slot
from integrations.fer.referrals import HubReferral, ReferralInspection, ReferralsHub, ReferralStatus

if TYPE_CHECKING:
    from backend.identity.service import PatientView
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

MAX_NUMBER = 64
#: A referral to no clinic in particular: at most this many clinics asked for its slots (own clinic first).
MAX_OPTION_CLINICS = 5
#: The longest range of days asked at once.
MAX_OPTION_DAYS = 31
_STATE_OF_HUB = {
    ReferralStatus.ISSUED: ReferralState.ISSUED,
    ReferralStatus.BOOKED: ReferralState.BOOKED,
    ReferralStatus.SERVED: ReferralState.SERVED,
    ReferralStatus.CANCELLED: ReferralState.CANCELLED,
}


def referrals_hub(runtime: Runtime) -> ReferralsHub:
    booking_hub = hub(runtime)
    if not isinstance(booking_hub, ReferralsHub):
        raise fail(BookingServiceUnavailable.default("Сервис записи по направлению недоступен в этом регионе."))
    return booking_hub


def _clean_number(number: str) -> str:
    value = number.strip().upper()
    if not value or len(value) > MAX_NUMBER or not all(ch.isalnum() or ch in "-/_." for ch in value):
        raise fail(InvalidInput.of("number", "Номер направления указан неверно. Проверьте его по бланку."))
    return value


def _fold(value: str | None) -> str:
    return (value or "").strip().casefold().replace("ё", "е")


async def check(runtime: Runtime, number: str) -> HubReferral:
    """CheckReferral with the hub's failures as typed problems."""
    try:
        return await referrals_hub(runtime).check_referral(_clean_number(number))
    except ReferralNotFound:
        raise fail(ReferralNotUsable.of("направление с таким номером не найдено")) from None
    except HubTransportError:
        raise fail(BookingServiceUnavailable.default()) from None
    except FerError as exc:
        raise fail(ReferralNotUsable.of(getattr(exc, "message", None))) from None


def state_of(referral: HubReferral, today: date) -> ReferralState:
    state = _STATE_OF_HUB.get(referral.status or ReferralStatus.ISSUED, ReferralState.ISSUED)
    if state is ReferralState.ISSUED and referral.valid_until is not None and referral.valid_until < today:
        return ReferralState.EXPIRED
    return state


def belongs_to(referral: HubReferral, patient: PatientView) -> bool:
    """The hub's referral names this patient (surname and birth date, as the hub's Patient carries them)."""
    return _fold(referral.patient_last_name) == _fold(patient.last_name) and (
        referral.patient_birth_date == patient.birth_date
    )


async def _specialty_name(session: AsyncSession, code: str) -> str:
    found = (await directory.specialties_by_codes(session, [code])).get(code)
    return found.name if found is not None else code


async def _upsert(uow: UnitOfWork, patient_id: uuid.UUID, referral: HubReferral) -> Referral:
    session = uow.session
    at = now(uow.runtime)
    state = state_of(referral, local_day(uow.runtime, at))
    row = await session.scalar(
        select(Referral).where(Referral.patient_id == patient_id, Referral.number == referral.number)
    )
    code = referral.target_specialty_id or ""
    values = {
        "status": state.value,
        "target_specialty_code": code,
        "target_specialty_name": await _specialty_name(session, code),
        "target_mo_id": referral.target_mo_id,
        "issued_on": referral.issued_on,
        "valid_until": referral.valid_until,
        "issuer_name": referral.issuer_name,
        "issuer_snils": referral.issuer_snils,
        "issuer_mo_id": referral.issuer_mo_id,
        "reason": referral.reason,
        "checked_at": at,
    }
    if row is None:
        row = Referral(
            id=uuid.uuid4(),
            patient_id=patient_id,
            number=referral.number,
            added_by=uow.ctx.actor.kind.value,
            created_at=at,
            **values,
        )
        session.add(row)
        uow.audit(
            "booking.referral_added",
            object_type="referral",
            object_id=row.id,
            subject_id=patient_id,
            details={"number": referral.number, "specialty": code},
        )
    else:
        for key, value in values.items():
            setattr(row, key, value)
    await session.flush()
    return row


async def add(uow: UnitOfWork, patient_id: uuid.UUID, number: str) -> Referral:
    """The patient adds a referral by its number: the hub must know it and it must name this patient."""
    patient = await get_patient(uow.session, patient_id)
    if patient is None:
        raise fail(PatientNotFoundAtClinic.default())
    referral = await check(uow.runtime, number)
    if not belongs_to(referral, patient):
        raise fail(ReferralNotUsable.of("направление выдано другому пациенту"))
    return await _upsert(uow, patient_id, referral)


async def referrals_of(session: AsyncSession, patient_id: uuid.UUID, *, limit: int = 100) -> list[Referral]:
    return list(
        await session.scalars(
            select(Referral).where(Referral.patient_id == patient_id).order_by(Referral.created_at.desc()).limit(limit)
        )
    )


async def own_referral(session: AsyncSession, patient_id: uuid.UUID, referral_id: uuid.UUID) -> Referral:
    row = await session.get(Referral, referral_id)
    if row is None or row.patient_id != patient_id:
        raise fail(ReferralNotUsable.of("направление не найдено среди ваших"))
    return row


async def _inspect(runtime: Runtime, mo_id: str, number: str) -> None:
    try:
        await referrals_hub(runtime).inspect_referral(mo_id, number)
    except (ReferralInvalid, ReferralNotFound) as exc:
        raise fail(ReferralNotUsable.of(exc.message)) from None
    except HubTransportError:
        raise fail(BookingServiceUnavailable.default()) from None


async def book(
    uow: UnitOfWork, patient_id: uuid.UUID, referral: Referral, ref: SlotRef, *, source: BookingChannel | None = None
) -> Appointment:
    """Book by referral: the slot must be of the referral's specialty (and clinic, when it names one); the hub
    is asked whether the referral may be booked there, then SetAppointment with its number."""
    if referral.status not in (ReferralState.ISSUED.value,):
        raise fail(ReferralNotUsable.of("направление уже использовано, аннулировано или истекло"))
    today = local_day(uow.runtime, now(uow.runtime))
    if referral.valid_until is not None and referral.valid_until < today:
        referral.status = ReferralState.EXPIRED.value
        raise fail(ReferralNotUsable.of(f"срок действия истек {referral.valid_until:%d.%m.%Y}"))
    if referral.target_mo_id is not None and ref.mo_id != referral.target_mo_id:
        raise fail(ReferralNotUsable.of("направление выдано в другую медицинскую организацию"))
    card = await directory.doctor_card(uow.runtime, uow.session, ref.mo_id, ref.doctor_id)
    if card is None or card.specialty_code != referral.target_specialty_code:
        raise fail(ReferralNotUsable.of(f"направление выдано к специалисту «{referral.target_specialty_name}»"))
    await _inspect(uow.runtime, ref.mo_id, referral.number)
    appointment = await book_now(uow, patient_id, ref, referral_id=referral.number, source=source)
    referral.status = ReferralState.BOOKED.value
    referral.appointment_id = appointment.id
    referral.checked_at = now(uow.runtime)
    uow.audit(
        "booking.referral_booked",
        object_type="referral",
        object_id=referral.id,
        subject_id=patient_id,
        details={"number": referral.number, "appointment_id": str(appointment.id)},
    )
    return appointment


@dataclass(frozen=True)
class DoctorBooking:
    patient_id: uuid.UUID
    referral: Referral
    appointment: Appointment


async def find_patient(session: AsyncSession, oms_policy: str, birth_date: date) -> PatientView:
    found = await find_patient_by_policy(session, oms_policy, birth_date)
    if found is None:
        raise fail(PatientNotFoundAtClinic.default("Пациент с таким полисом ОМС и датой рождения не найден."))
    return found


async def doctor_books(
    uow: UnitOfWork,
    *,
    doctor_snils: str | None,
    oms_policy: str,
    birth_date: date,
    number: str,
    ref: SlotRef,
) -> DoctorBooking:
    """The attending doctor books the specialist during the visit, on a referral they issued to this patient."""
    patient = await find_patient(uow.session, oms_policy, birth_date)
    referral = await check(uow.runtime, number)
    if not belongs_to(referral, patient):
        raise fail(ReferralNotUsable.of("направление выдано другому пациенту"))
    if not doctor_snils or _digits(referral.issuer_snils) != _digits(doctor_snils):
        raise fail(ReferralNotUsable.of("врач может записать пациента только по направлению, которое выдал сам"))
    row = await _upsert(uow, patient.id, referral)
    appointment = await book(uow, patient.id, row, ref, source=BookingChannel.DOCTOR)
    return DoctorBooking(patient.id, row, appointment)


def _digits(value: str | None) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())


async def _inspect_at(runtime: Runtime, mo_id: str, number: str) -> ReferralInspection | None:
    """InspectDoctorsReferal in ``mo_id``: ``None`` if the referral cannot be booked there."""
    try:
        return await referrals_hub(runtime).inspect_referral(mo_id, number)
    except (ReferralInvalid, ReferralNotFound):
        return None
    except HubTransportError:
        raise fail(BookingServiceUnavailable.default()) from None


async def booking_options(
    runtime: Runtime, session: AsyncSession, patient_id: uuid.UUID, referral: Referral, *, start: date, end: date
) -> SearchResult:
    """The free slots the referral may be booked into (the module docstring), by clinic and doctor, own clinic
    first. ``partial``: a clinic's hub did not answer (the rest is shown)."""
    if referral.status != ReferralState.ISSUED.value:
        raise fail(ReferralNotUsable.of("направление уже использовано, аннулировано или истекло"))
    if referral.valid_until is not None and referral.valid_until < local_day(runtime, now(runtime)):
        raise fail(ReferralNotUsable.of(f"срок действия истек {referral.valid_until:%d.%m.%Y}"))
    if end < start or (end - start).days >= MAX_OPTION_DAYS:
        raise fail(InvalidInput.of("dateTo", f"Период — не длиннее {MAX_OPTION_DAYS} дней."))
    if referral.valid_until is not None:
        end = min(end, referral.valid_until)
    offer = await directory.offering(runtime, session, referral.target_specialty_code)
    own = await own_clinic(runtime, session, patient_id)
    clinics = [o for o in offer.organisations if referral.target_mo_id in (None, o.upstream_id)]
    clinics.sort(key=lambda o: o.upstream_id != own)
    clinics = clinics[:MAX_OPTION_CLINICS]
    if not clinics:
        raise fail(
            ReferralNotUsable.of(f"в этой медицинской организации нет приема «{referral.target_specialty_name}»")
        )
    hub_ = referrals_hub(runtime)
    inspections = await asyncio.gather(*(_inspect_at(runtime, o.upstream_id, referral.number) for o in clinics))
    asks = []
    for clinic, inspection in zip(clinics, inspections, strict=True):
        if inspection is None:
            continue
        doctors = offer.doctors.get(clinic.id, [])
        if inspection.doctor_id is not None:
            doctors = [d for d in doctors if d.upstream_id == inspection.doctor_id]
        asks += [(clinic, doctor, inspection) for doctor in doctors]
    if not any(i is not None for i in inspections):
        raise fail(ReferralNotUsable.of("сервис записи не принимает это направление в этих медицинских организациях"))

    async def ask(mo_id: str, doctor_id: str, inspection: ReferralInspection) -> list[Slot] | None:
        try:
            return await hub_.get_referral_slots(
                mo_id, doctor_id, inspection.patient_id, start, end, kind=inspection.kind
            )
        except FerError:
            log.warning("booking.referral_slots_failed", mo_id=mo_id, doctor_id=doctor_id, exc_info=True)
            return None

    answers = await asyncio.gather(*(ask(c.upstream_id, d.upstream_id, i) for c, d, i in asks))
    found = [s for a in answers if a for s in a]
    taken = await live_holds_and_bookings(session, runtime, now(runtime), found)
    at = now(runtime)
    items = []
    for (clinic, doctor, _), slots in zip(asks, answers, strict=True):
        free = [s for s in slots or [] if (s.mo_id, s.id) not in taken and to_utc(runtime, s.start) > at]
        if free:
            items.append(
                DoctorAvailability(
                    mo=clinic,
                    doctor=doctor,
                    specialty_code=referral.target_specialty_code,
                    specialty_name=referral.target_specialty_name,
                    slots=sorted(free, key=lambda s: s.start),
                    own_clinic=clinic.upstream_id == own,
                    distance_km=None,
                )
            )
    return SearchResult(items=items, partial=any(a is None for a in answers))
