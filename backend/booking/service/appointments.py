"""Appointments: claim, confirm a hold, book in one step, cancel, reschedule; the patient told of each."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from backend.booking.cache import booking_cache
from backend.booking.models import LIVE_STATES, Appointment, AppointmentState, HoldStatus, SlotHold
from backend.booking.problems import (
    AppointmentMissing,
    AppointmentNotActive,
    HoldExpired,
    HoldNotFound,
    InvalidInput,
    ProblemError,
    SlotTaken,
    fail,
)
from backend.booking.service.base import (
    HOLD_TTL,
    SLOT_MARKER_TTL_S,
    TOPIC_CANCEL_UPSTREAM,
    Acting,
    hub,
    now,
    source_of,
    to_utc,
)
from backend.booking.service.compensation import after_rollback
from backend.booking.service.holds import _close_hold_now, _insert_hold, _slot_of_hold, bridge_hold
from backend.booking.service.hooks import keeps_freed_slots, slot_freed
from backend.booking.service.rules import (
    VisitPurpose,
    _flush_or,
    _prepare,
    check_live_appointments,
    doctor_info,
    load_patient,
)
from backend.booking.service.slots import SlotRef, marker_key, release_slot_marker
from backend.booking.service.statements import _CLAIM_APPOINTMENT, _CONFIRM_HOLD, _NO_ID, _SET_HUB_IDS
from backend.booking.service.upstream import _book_upstream, _hub_patient_key, _identify, remembered_hub_patient
from backend.core.db import detached
from backend.core.uow import UnitOfWork
from backend.outbox.service import Envelope
from integrations.fer import AppointmentNotFound, BookingChannel, BookingResult, Slot
from notifications import service as notifications

if TYPE_CHECKING:
    from backend.directory.service import DoctorCard
    from backend.runtime import Runtime


def _appointment_values(
    uow: UnitOfWork,
    patient_id: uuid.UUID,
    slot: Slot,
    info: DoctorCard,
    *,
    hub_patient: str,
    hold_id: uuid.UUID | None = None,
    rescheduled_from: uuid.UUID | None = None,
) -> dict[str, Any]:
    runtime = uow.runtime
    at = now(runtime)
    acting = Acting.of(uow.ctx, patient_id)
    return {
        "id": uuid.uuid4(),
        "patient_id": patient_id,
        "mo_id": slot.mo_id,
        "mo_name": info.mo_name,
        "doctor_id": slot.doctor_id,
        "doctor_name": info.doctor_name,
        "specialty_code": info.specialty_code,
        "specialty_name": info.specialty_name,
        "slot_id": slot.id,  # the hub's IdAppointment: the slot's id is the appointment's
        "slot_start": to_utc(runtime, slot.start),
        "slot_end": to_utc(runtime, slot.end),
        "room": slot.room or None,
        "address": slot.address or info.mo_address,
        "hub_patient_id": hub_patient,
        "status": AppointmentState.BOOKED.value,
        "channel": acting.channel.value,
        "source_type": int(source_of(acting.channel)),
        "actor_kind": acting.actor_kind,
        "actor_id": acting.actor_id,
        "on_behalf": acting.on_behalf,
        "hold_id": hold_id,
        "rescheduled_from_id": rescheduled_from,
        "replaced_by_id": None,
        "created_at": at,
        "updated_at": at,
        "cancelled_at": None,
        "status_synced_at": None,
    }


async def _claim_appointment(
    uow: UnitOfWork,
    values: dict[str, Any],
    info: DoctorCard,
    *,
    except_appointment: uuid.UUID | None = None,
    previous: Appointment | None = None,
) -> Appointment:
    """Insert the appointment (one statement, see ``_CLAIM_APPOINTMENT``) with its audit row and the
    patient's notification, which are written only with it (:meth:`UnitOfWork.claim`: on PostgreSQL the
    three are one round trip), or raise what stood in the way: a live appointment of the same specialty,
    or the slot booked or held by someone else (SlotTaken). ``previous``: the appointment this one
    replaces (a reschedule: the patient is told of the move, not of a new booking)."""
    session = uow.session
    if session.dirty:
        await session.flush()  # pending ORM changes first (a rescheduled appointment leaving the live set)
    appointment = detached(Appointment, values)
    uow.audit(
        "booking.appointment_booked",
        object_type="appointment",
        object_id=appointment.id,
        subject_id=appointment.patient_id,
        details={"slot_id": appointment.slot_id, "mo_id": appointment.mo_id, "channel": appointment.channel},
    )
    if previous is None:
        emit_event(uow, "appointment.booked", appointment)
    else:
        emit_event(uow, "appointment.rescheduled", appointment, previous=previous)
    hold_id = values["hold_id"]
    if await uow.claim(_CLAIM_APPOINTMENT, {**values, "except_hold": hold_id or _NO_ID}) is None:
        await check_live_appointments(
            session,
            values["patient_id"],
            info,
            slot=(values["mo_id"], values["slot_id"]),
            except_id=except_appointment,
        )
        raise fail(SlotTaken.default())
    if hold_id is not None:
        await _CONFIRM_HOLD.rows(session, {"hold_id": hold_id, "at": values["created_at"]})
    return appointment


async def _booked(uow: UnitOfWork, appointment: Appointment, hub_patient: str, result: BookingResult) -> Appointment:
    """The claimed appointment as the hub booked it: the ids the hub answered with, if they differ from
    those it was claimed with, on record (and a hub id of another slot in the audit log)."""
    if (result.appointment_id, hub_patient) != (appointment.slot_id, appointment.hub_patient_id):
        await _SET_HUB_IDS.rows(
            uow.session,
            {"appointment_id": appointment.id, "hub_slot_id": result.appointment_id, "hub_patient": hub_patient},
        )
        if result.appointment_id != appointment.slot_id:
            uow.audit(
                "booking.appointment_renumbered",
                object_type="appointment",
                object_id=appointment.id,
                subject_id=appointment.patient_id,
                details={"slot_id": result.appointment_id, "claimed_slot_id": appointment.slot_id},
            )
        set_committed_value(appointment, "slot_id", result.appointment_id)
        set_committed_value(appointment, "hub_patient_id", hub_patient)
    return appointment


async def confirm_hold(uow: UnitOfWork, patient_id: uuid.UUID, hold_id: uuid.UUID) -> Appointment:
    """Book the held slot at the hub; on a refusal the hold is released (and stays released)."""
    runtime = uow.runtime
    session = uow.session
    hold = await session.get(SlotHold, hold_id)
    if hold is None or hold.patient_id != patient_id or hold.status != HoldStatus.HELD.value:
        raise fail(HoldNotFound.default())
    if hold.expires_at <= now(runtime):
        after_rollback(uow, lambda: _close_hold_now(runtime, hold_id, HoldStatus.EXPIRED))
        raise fail(HoldExpired.default())
    try:
        info = await doctor_info(uow, hold.mo_id, hold.doctor_id)
        patient = await load_patient(session, patient_id)
        await check_live_appointments(session, patient_id, info, except_id=hold.reschedule_of_id)
        slot = _slot_of_hold(runtime, hold)
        hub_patient = await _identify(uow, patient, slot.mo_id)
        hub_patient, result = await _book_upstream(uow, patient, slot, hub_patient, specialty_code=info.specialty_code)
    except ProblemError:
        after_rollback(uow, lambda: _close_hold_now(runtime, hold_id, HoldStatus.RELEASED))
        raise
    values = _appointment_values(uow, patient_id, slot, info, hub_patient=hub_patient, hold_id=hold.id)
    appointment = await _claim_appointment(uow, values, info, except_appointment=hold.reschedule_of_id)
    set_committed_value(hold, "status", HoldStatus.CONFIRMED.value)
    set_committed_value(hold, "closed_at", values["created_at"])
    return await _booked(uow, appointment, hub_patient, result)


@contextlib.asynccontextmanager
async def slot_marker(
    runtime: Runtime, mo_id: str, slot_id: str, *, patient_id: uuid.UUID | None = None
) -> AsyncIterator[str | None]:
    """Fail fast while another request books this slot (never the guard: the database is). Yields the
    patient's remembered IdPat in the MO (:func:`remembered_hub_patient`), read in the same round trip.

    A failed attempt lets the marker go at once; a booking keeps it until it expires
    (:data:`SLOT_MARKER_TTL_S`): the slot is taken, so the attempts it turns away meanwhile would be
    refused anyway, and they are turned away before our transaction has even committed. The process
    keeps its own view of its markers (:class:`~backend.booking.cache.LocalMarkers`) in front of Redis."""
    cache = booking_cache(runtime)
    backend, mine = cache.backend, cache.markers
    key = marker_key(mo_id, slot_id)
    if mine.busy(key):  # held or refused in this process a moment ago: no need to ask Redis
        raise fail(SlotTaken.default())
    mine.hold(key, SLOT_MARKER_TTL_S)
    try:
        if patient_id is None:
            token, hub_patient = await backend.acquire(key, SLOT_MARKER_TTL_S), None
        else:
            token, hub_patient = await backend.acquire_and_get(
                key, SLOT_MARKER_TTL_S, _hub_patient_key(patient_id, mo_id)
            )
    except BaseException:
        mine.forget(key)
        raise
    if token is None:
        mine.hold(key, mine.REFUSED_MEMORY_S)
        raise fail(SlotTaken.default())
    try:
        yield hub_patient or None
    except BaseException:
        mine.forget(key)
        await backend.release(key, token)
        raise


@contextlib.asynccontextmanager
async def _remembered(runtime: Runtime, patient_id: uuid.UUID, mo_id: str) -> AsyncIterator[str | None]:
    yield await remembered_hub_patient(runtime, patient_id, mo_id)


async def book_now(
    uow: UnitOfWork,
    patient_id: uuid.UUID,
    ref: SlotRef,
    *,
    use_marker: bool = True,
    referral_id: str | None = None,
    source: BookingChannel | None = None,
    purpose: VisitPurpose = VisitPurpose.GENERAL,
) -> Appointment:
    """One step (operator, kiosk): the appointment row claims the slot before the hub is asked (concurrent
    attempts serialise on its unique index), then SetAppointment; a refusal rolls the claim back.
    ``referral_id`` books by referral (the hub checks it); ``source`` names the hub's AppointmentSourceType when
    it is not the actor's channel's (a doctor during the visit)."""
    if use_marker:
        marker = slot_marker(uow.runtime, ref.mo_id, ref.slot_id, patient_id=patient_id)
    else:
        marker = _remembered(uow.runtime, patient_id, ref.mo_id)
    async with marker as remembered:
        slot, info, patient = await _prepare(uow, patient_id, ref, checked=False, purpose=purpose)
        # A patient the hub does not know yet is identified (CheckPatient, a read) before the claim: the
        # claim then finds every conflict in its own statement. A refused claim makes no SetAppointment.
        known = remembered or await _identify(uow, patient, slot.mo_id, fresh=True)
        values = _appointment_values(uow, patient_id, slot, info, hub_patient=known)
        if source is not None:
            values["source_type"] = int(source)
        appointment = await _claim_appointment(uow, values, info)
        hub_patient, result = await _book_upstream(
            uow, patient, slot, known, referral_id=referral_id, source=source, specialty_code=info.specialty_code
        )
        return await _booked(uow, appointment, hub_patient, result)


async def _own_appointment(session: AsyncSession, patient_id: uuid.UUID, appointment_id: uuid.UUID) -> Appointment:
    appointment = await session.get(Appointment, appointment_id)
    if appointment is None or appointment.patient_id != patient_id:
        raise fail(AppointmentMissing.default())
    return appointment


async def cancel(uow: UnitOfWork, patient_id: uuid.UUID, appointment_id: uuid.UUID) -> Appointment:
    """Cancel: ``cancel_pending`` now; the refusal reaches the hub through the outbox."""
    appointment = await _own_appointment(uow.session, patient_id, appointment_id)
    if appointment.status == AppointmentState.CANCEL_PENDING.value:
        return appointment
    if appointment.status != AppointmentState.BOOKED.value or appointment.slot_start <= now(uow.runtime):
        raise fail(AppointmentNotActive.default())
    appointment.status = AppointmentState.CANCEL_PENDING.value
    appointment.updated_at = now(uow.runtime)
    uow.emit(TOPIC_CANCEL_UPSTREAM, {"appointment_id": str(appointment.id)})
    emit_event(uow, "appointment.cancelled", appointment)
    uow.audit("booking.appointment_cancel", object_type="appointment", object_id=appointment.id, subject_id=patient_id)
    return appointment


async def reschedule(uow: UnitOfWork, patient_id: uuid.UUID, appointment_id: uuid.UUID, ref: SlotRef) -> Appointment:
    """Move an appointment: the new slot is booked at the hub first; only then is the old one replaced
    (and cancelled at the hub through the outbox). A failure at any step leaves the old one as it was."""
    session = uow.session
    old = await _own_appointment(session, patient_id, appointment_id)
    if old.status != AppointmentState.BOOKED.value or old.slot_start <= now(uow.runtime):
        raise fail(AppointmentNotActive.default())
    if (old.mo_id, old.slot_id) == (ref.mo_id, ref.slot_id):
        raise fail(InvalidInput.of("slot", "Выберите другое время: это время уже ваше."))
    async with slot_marker(uow.runtime, ref.mo_id, ref.slot_id):
        slot, info, patient = await _prepare(uow, patient_id, ref, except_appointment=old.id)
        hold = await _insert_hold(uow, patient_id, slot, info, ttl=HOLD_TTL, reschedule_of=old.id)
        hub_patient = await _identify(uow, patient, slot.mo_id)
        hub_patient, result = await _book_upstream(uow, patient, slot, hub_patient, specialty_code=info.specialty_code)
        # The old appointment leaves the live set first, so the specialty index admits the new one.
        at = now(uow.runtime)
        old.status = AppointmentState.RESCHEDULED.value
        old.updated_at = at
        await _flush_or(session, lambda _exc: AppointmentNotActive.default())
        values = _appointment_values(
            uow, patient_id, slot, info, hub_patient=hub_patient, hold_id=hold.id, rescheduled_from=old.id
        )
        claimed = await _claim_appointment(uow, values, info, except_appointment=old.id, previous=old)
        new = await _booked(uow, claimed, hub_patient, result)
        old.replaced_by_id = new.id
        uow.emit(TOPIC_CANCEL_UPSTREAM, {"appointment_id": str(old.id), "final": AppointmentState.RESCHEDULED.value})
        uow.audit(
            "booking.appointment_rescheduled",
            object_type="appointment",
            object_id=old.id,
            subject_id=patient_id,
            details={"new_appointment_id": str(new.id)},
        )
        return new


def emit_event(
    uow: UnitOfWork,
    event: str,
    appointment: Appointment,
    *,
    urgent: bool = False,
    previous: Appointment | None = None,
) -> None:
    """Tell the patient through notifications (events ``appointment.booked``, ``appointment.rescheduled``
    from ``previous``, ``appointment.cancelled``), in the caller's unit of work: nothing is sent unless it
    commits."""
    data: dict[str, Any] = {
        "specialty": appointment.specialty_name,
        "doctor": appointment.doctor_name,
        "clinic": appointment.mo_name,
        "starts_at": appointment.slot_start,
        "cabinet": appointment.room or "",
    }
    if previous is not None:
        data["old_starts_at"] = previous.slot_start
    if event == "appointment.cancelled":
        data = {
            "specialty": appointment.specialty_name,
            "starts_at": appointment.slot_start,
            "by_clinic": appointment.status == AppointmentState.CANCELLED_BY_MO.value,
        }
    dedupe_key = f"appointment:{appointment.id}:{event.rsplit('.', 1)[-1]}"
    notifications.notify(
        uow, patient_id=appointment.patient_id, event=event, data=data, urgent=urgent, dedupe_key=dedupe_key
    )


async def on_cancel_upstream(envelope: Envelope, runtime: Runtime) -> None:
    """CreateClaimForRefusal, then the final status, then the slot's marker let go (the slot is free here and
    at the hub: bookable at once); a transport error is raised (the outbox retries)."""
    appointment_id = uuid.UUID(envelope.payload["appointment_id"])
    final = envelope.payload.get("final", AppointmentState.CANCELLED_BY_PATIENT.value)
    async with runtime.sessionmaker() as session:
        appointment = await session.get(Appointment, appointment_id)
    if appointment is None:
        return
    if keeps_freed_slots() and appointment.status == AppointmentState.CANCEL_PENDING.value:
        # The bridge hold commits before the appointment leaves the live set, in a transaction of its own: a
        # concurrent claim reads the holds with the snapshot of its statement, so a hold committed together
        # with the cancellation could be missed by a claim that waited on the appointment's row.
        async with runtime.sessionmaker() as session, session.begin():
            await bridge_hold(session, runtime, appointment)
    # AppointmentNotFound: already cancelled there (a repeat after a lost reply, or the clinic cancelled it).
    with contextlib.suppress(AppointmentNotFound):
        await hub(runtime).cancel(appointment.mo_id, appointment.hub_patient_id, appointment.slot_id)
    at = now(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(Appointment)
            .where(Appointment.id == appointment_id, Appointment.status == AppointmentState.CANCEL_PENDING.value)
            .values(status=final, cancelled_at=at, updated_at=at)
            .execution_options(synchronize_session=False)
        )
        if final == AppointmentState.RESCHEDULED.value:
            await session.execute(
                update(Appointment)
                .where(Appointment.id == appointment_id, Appointment.cancelled_at.is_(None))
                .values(cancelled_at=at)
                .execution_options(synchronize_session=False)
            )
    await release_slot_marker(runtime, appointment.mo_id, appointment.slot_id)
    await slot_freed(runtime, appointment)


async def appointments_of(
    session: AsyncSession,
    patient_id: uuid.UUID,
    *,
    at: datetime,
    upcoming: bool | None = None,
    limit: int = 100,
) -> list[Appointment]:
    """The patient's appointments: upcoming (live, not yet started) by time, or past/closed newest first."""
    query = select(Appointment).where(Appointment.patient_id == patient_id)
    if upcoming is True:
        query = query.where(Appointment.status.in_(LIVE_STATES), Appointment.slot_end > at).order_by(
            Appointment.slot_start
        )
    elif upcoming is False:
        query = query.where((Appointment.slot_end <= at) | Appointment.status.not_in(LIVE_STATES)).order_by(
            Appointment.slot_start.desc()
        )
    else:
        query = query.order_by(Appointment.slot_start.desc())
    return list(await session.scalars(query.limit(limit)))
