"""The rules a booking must pass: the doctor and patient known, age, no live appointment in the way."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.attachment import service as attachment
from backend.booking.problems import (
    AgeRestricted,
    BookingProblem,
    DispensaryNotAtAttachedClinic,
    InvalidInput,
    PatientNotFoundAtClinic,
    SameSpecialtyActive,
    SexRestricted,
    SlotTaken,
    fail,
)
from backend.booking.service.base import ADULT_AGE, PEDIATRICIAN, THERAPIST, WOMEN_ONLY, now, to_utc
from backend.booking.service.no_shows import check_online_booking_allowed
from backend.booking.service.slots import SlotRef, find_slot
from backend.booking.service.statements import _LIVE_CHECK, _NO_ID
from backend.core.uow import UnitOfWork
from backend.directory.service import doctor_card
from backend.identity.service import get_patient
from integrations.fer import Slot

if TYPE_CHECKING:
    from backend.directory.service import DoctorCard
    from backend.identity.service import PatientView


async def doctor_info(uow: UnitOfWork, mo_id: str, doctor_id: str) -> DoctorCard:
    card = await doctor_card(uow.runtime, uow.session, mo_id, doctor_id)
    if card is None:
        raise fail(InvalidInput.of("slot", "Врач не найден в справочнике медицинских организаций."))
    return card


async def load_patient(session: AsyncSession, patient_id: uuid.UUID) -> PatientView:
    patient = await get_patient(session, patient_id)
    if patient is None:
        raise fail(PatientNotFoundAtClinic.default())
    return patient


def check_age(patient: PatientView, info: DoctorCard, visit_day: date) -> None:
    """Children's clinics and paediatricians see patients under 18; adults' clinics and therapists from 18."""
    age = patient.age_on(visit_day)
    kind = (info.mo_kind or "").lower()
    if kind == "children_polyclinic" and age >= ADULT_AGE:
        raise fail(
            AgeRestricted.of("Детская поликлиника принимает пациентов до 18 лет. Выберите взрослую поликлинику.")
        )
    if kind == "polyclinic" and age < ADULT_AGE:
        raise fail(
            AgeRestricted.of(
                "Взрослая поликлиника принимает пациентов с 18 лет. Для ребенка выберите детскую поликлинику."
            )
        )
    if info.specialty_code == PEDIATRICIAN and age >= ADULT_AGE:
        raise fail(AgeRestricted.of("Педиатр принимает пациентов до 18 лет. Запишитесь к терапевту."))
    if info.specialty_code == THERAPIST and age < ADULT_AGE:
        raise fail(AgeRestricted.of("Терапевт принимает пациентов с 18 лет. Запишите ребенка к педиатру."))


def check_sex(patient: PatientView, info: DoctorCard) -> None:
    """An obstetrician-gynaecologist sees women: a male patient is refused before anything is booked."""
    if info.specialty_code in WOMEN_ONLY and patient.sex == "M":
        raise fail(SexRestricted.of(info.specialty_name))


async def check_live_appointments(
    session: AsyncSession,
    patient_id: uuid.UUID,
    info: DoctorCard,
    *,
    slot: tuple[str, str] | None = None,
    except_id: uuid.UUID | None = None,
) -> None:
    """The patient has no live appointment of this specialty (but ``except_id``, the one being moved), and
    ``slot`` (mo, slot id) is not booked here: one statement, the same indexes the database guards with."""
    mo_id, slot_id = slot if slot is not None else ("", "")  # no slot: an id that never matches
    found = await _LIVE_CHECK.first(
        session,
        {
            "patient_id": patient_id,
            "specialty_code": info.specialty_code,
            "except_id": except_id or _NO_ID,
            "mo_id": mo_id,
            "slot_id": slot_id,
        },
    )
    same_specialty, slot_booked = found if found is not None else (False, False)
    if same_specialty:
        raise fail(SameSpecialtyActive.of(info.specialty_name))
    if slot_booked:
        raise fail(SlotTaken.default())


async def _flush_or(session: AsyncSession, problem: Callable[[IntegrityError], BookingProblem]) -> None:
    """Flush; a unique-index violation becomes the typed problem (the whole unit of work then rolls back,
    so no savepoint is needed: nothing after it runs in this transaction)."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise fail(problem(exc)) from None


class VisitPurpose(enum.StrEnum):
    """Why the patient books: an ordinary visit, or a dispensary (диспансерный) one, which 323-ФЗ ties to the
    clinic of attachment (issue 18)."""

    GENERAL = "GENERAL"
    DISPENSARY = "DISPENSARY"


async def check_purpose(uow: UnitOfWork, patient_id: uuid.UUID, mo_id: str, purpose: VisitPurpose) -> None:
    """A dispensary visit only at the clinic the attachment service names (unknown attachment: refused too)."""
    if purpose is not VisitPurpose.DISPENSARY:
        return
    attached = await attachment.attached_mo_id(uow.runtime, uow.session, patient_id)
    if attached is None:
        raise fail(DispensaryNotAtAttachedClinic.default(DispensaryNotAtAttachedClinic.UNKNOWN))
    if attached != mo_id:
        raise fail(DispensaryNotAtAttachedClinic.default())


async def _prepare(
    uow: UnitOfWork,
    patient_id: uuid.UUID,
    ref: SlotRef,
    *,
    except_appointment: uuid.UUID | None = None,
    checked: bool = True,
    purpose: VisitPurpose = VisitPurpose.GENERAL,
) -> tuple[Slot, DoctorCard, PatientView]:
    """The slot behind ``ref`` (still free at the hub), its doctor's card and the patient, with the rules
    checked: age, and (``checked``) no live appointment in the way. A caller whose next step is the
    appointment's claim passes ``checked=False``: the claim finds the same conflicts in its own statement."""
    session = uow.session
    await check_online_booking_allowed(uow, patient_id)  # no-show rules (service/no_shows.py)
    info = await doctor_info(uow, ref.mo_id, ref.doctor_id)
    patient = await load_patient(session, patient_id)
    check_age(patient, info, ref.day)
    check_sex(patient, info)
    await check_purpose(uow, patient_id, ref.mo_id, purpose)
    if checked:
        await check_live_appointments(
            session, patient_id, info, slot=(ref.mo_id, ref.slot_id), except_id=except_appointment
        )
    slot = await find_slot(uow.runtime, ref)
    if slot is None:
        raise fail(SlotTaken.default("Этот талон уже недоступен. Выберите другое время."))
    if to_utc(uow.runtime, slot.start) <= now(uow.runtime):
        raise fail(SlotTaken.default("Время этого талона уже прошло. Выберите другое время."))
    return slot, info, patient
