"""The hub's calls on the booking path (CheckPatient, SetAppointment) and its errors as typed problems."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import structlog

from backend.booking.cache import booking_cache
from backend.booking.problems import (
    AppointmentNotActive,
    BookingProblem,
    BookingServiceUnavailable,
    PatientNotFoundAtClinic,
    ReferralNeeded,
    ReferralNotUsable,
    SlotTaken,
    fail,
)
from backend.booking.service.base import hub, source_of
from backend.booking.service.compensation import UpstreamBooking, after_unit, register_upstream
from backend.core.uow import UnitOfWork
from backend.directory import service as directory
from integrations.fer import (
    AppointmentNotFound,
    BookingChannel,
    BookingResult,
    FerError,
    HubTransportError,
    PatientNotFound,
    ReferralInvalid,
    ReferralNotFound,
    ReferralRequired,
    Slot,
    SlotUnavailable,
)

if TYPE_CHECKING:
    from backend.identity.service import PatientView
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)


def _hub_patient_key(patient_id: uuid.UUID, mo_id: str) -> str:
    return f"idpat:{patient_id}:{mo_id}"


async def remembered_hub_patient(runtime: Runtime, patient_id: uuid.UUID, mo_id: str) -> str | None:
    """The patient's IdPat in the MO if a CheckPatient of the last day is remembered."""
    return await booking_cache(runtime).backend.get(_hub_patient_key(patient_id, mo_id)) or None


async def identify(runtime: Runtime, patient: PatientView, mo_id: str, *, fresh: bool = False) -> str:
    """The hub's IdPat of the patient in the MO (CheckPatient; remembered for a day)."""
    cache = booking_cache(runtime).backend
    key = _hub_patient_key(patient.id, mo_id)
    if not fresh:
        known = await remembered_hub_patient(runtime, patient.id, mo_id)
        if known:
            return known
    if not patient.oms_policy:
        raise fail(PatientNotFoundAtClinic.default())
    check = await hub(runtime).check_patient(
        mo_id,
        oms_policy=patient.oms_policy,
        birth_date=patient.birth_date,
        last_name=patient.last_name,
        first_name=patient.first_name,
        middle_name=patient.middle_name,
    )
    await cache.set(key, check.patient_id, 86400)
    return check.patient_id


def _problem_of(exc: FerError) -> BookingProblem:
    if isinstance(exc, SlotUnavailable):
        return SlotTaken.default()
    if isinstance(exc, PatientNotFound):
        return PatientNotFoundAtClinic.default()
    if isinstance(exc, ReferralRequired):
        return ReferralNeeded.default()
    if isinstance(exc, ReferralInvalid | ReferralNotFound):
        return ReferralNotUsable.of(exc.message)
    if isinstance(exc, AppointmentNotFound):
        return AppointmentNotActive.default()
    return BookingServiceUnavailable.default()


async def _identify(uow: UnitOfWork, patient: PatientView, mo_id: str, *, fresh: bool = False) -> str:
    """:func:`identify` with the hub's failures as typed problems."""
    try:
        return await identify(uow.runtime, patient, mo_id, fresh=fresh)
    except HubTransportError as exc:
        log.warning("booking.hub_transport_error", mo_id=mo_id, error=type(exc).__name__)
        raise fail(BookingServiceUnavailable.default()) from None
    except FerError as exc:
        raise fail(_problem_of(exc)) from None


def _learned_direct_booking(uow: UnitOfWork, specialty_code: str | None, direct: bool) -> None:
    """The hub booked ``specialty_code`` without a referral, or refused for want of one: the directory
    records it after the unit (``directBooking``; backend/directory/service/referrals.py)."""
    runtime = uow.runtime
    if specialty_code is not None and not directory.direct_booking_known(runtime, specialty_code, direct):
        after_unit(lambda: directory.record_direct_booking(runtime, specialty_code, direct))


async def _book_upstream(
    uow: UnitOfWork,
    patient: PatientView,
    slot: Slot,
    hub_patient: str,
    *,
    referral_id: str | None = None,
    source: BookingChannel | None = None,
    specialty_code: str | None = None,
) -> tuple[str, BookingResult]:
    """SetAppointment (once more after identifying again if the hub forgot the patient's IdPat); registers
    the upstream booking for compensation. Raises typed problems. Returns the IdPat it booked with.
    ``referral_id``: the referral's number (doctorsReferral); ``source``: the channel when not the actor's
    (a doctor booking during the visit). Booked without a referral, the answer tells whether
    ``specialty_code`` needs one (``directBooking``)."""
    if referral_id is not None:
        specialty_code = None  # a booking by referral says nothing about booking without one
    booking_hub = hub(uow.runtime)
    source = source or source_of(uow.ctx.actor.channel)
    try:
        try:
            result = await booking_hub.book(slot.mo_id, hub_patient, slot.id, channel=source, referral_id=referral_id)
        except PatientNotFound:  # a remembered IdPat the hub forgot: identify once more
            hub_patient = await identify(uow.runtime, patient, slot.mo_id, fresh=True)
            result = await booking_hub.book(slot.mo_id, hub_patient, slot.id, channel=source, referral_id=referral_id)
    except HubTransportError as exc:
        # The reply is lost, not necessarily the booking: cancel it in case the hub made it.
        register_upstream(uow, UpstreamBooking(slot.mo_id, hub_patient, slot.id, uncertain=True))
        log.warning("booking.hub_transport_error", slot=slot.id, error=type(exc).__name__)
        raise fail(BookingServiceUnavailable.default()) from None
    except FerError as exc:
        if isinstance(exc, ReferralRequired):
            _learned_direct_booking(uow, specialty_code, False)
        raise fail(_problem_of(exc)) from None
    register_upstream(uow, UpstreamBooking(slot.mo_id, hub_patient, result.appointment_id))
    _learned_direct_booking(uow, specialty_code, True)
    return hub_patient, result
