"""Referrals (направления): the patient's referrals as the hub knows them, and booking by referral.

A referral is issued by a doctor in the clinic's MIS and lives at the hub; the patient (or the 122
operator for them) adds it by its number, which the hub checks (``CheckReferral``): it must name this patient
(surname and birth date). Booking by referral sends the number to the hub (``SetAppointment``'s
``doctorsReferral``), which checks that the referral is the patient's, for this specialty, valid, usable in
this clinic (``InspectDoctorsReferal`` is asked first, so a referral to another clinic is refused before any
slot is claimed) and not used by another live booking. The narrow specialties that refuse a direct booking
(``REFERRAL_REQUIRED``) become bookable this way.

The doctor's flow: the attending doctor, during the visit, books the specialist for the patient on a
referral they issued themselves (the referral's issuer SNILS is the doctor's), with the hub's source
"doctor" (``AppointmentSourceType`` 4); the patient is found by OMS policy and birth date.
"""

from __future__ import annotations

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
from backend.booking.service.base import hub, local_day, now
from backend.booking.service.slots import SlotRef
from backend.core.uow import UnitOfWork
from backend.directory import service as directory
from backend.identity.service import find_patient_by_policy, get_patient
from integrations.fer import BookingChannel, FerError, HubTransportError, ReferralInvalid, ReferralNotFound
from integrations.fer.referrals import HubReferral, ReferralsHub, ReferralStatus

if TYPE_CHECKING:
    from backend.identity.service import PatientView
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

MAX_NUMBER = 64
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
