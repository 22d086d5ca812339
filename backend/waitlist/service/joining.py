"""Joining and leaving the line (rules: the package docstring)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.booking import service as booking
from backend.booking.problems import ProblemError as BookingProblemError
from backend.core.context import ActorKind, RequestContext
from backend.core.uow import UnitOfWork
from backend.directory import service as directory
from backend.identity.service import normalise_phone
from backend.waitlist.models import (
    ACTIVE_ENTRY,
    EntryStatus,
    OfferStatus,
    Priority,
    WaitlistCounter,
    WaitlistEntry,
    WaitlistOffer,
)
from backend.waitlist.problems import (
    AlreadyWaiting,
    EntryNotFound,
    InvalidInput,
    SlotsAvailable,
    WaitlistRefused,
    WaitlistServiceUnavailable,
    fail,
)
from backend.waitlist.service.base import MAX_RANGE_DAYS
from backend.waitlist.service.offers import _after_close, _swap
from integrations.fer import FerError, HubTransportError, PatientNotFound
from integrations.fer.waiting_list import ClaimType, WaitingListClaim, waiting_list_hub

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class JoinRequest:
    mo_id: str
    specialty_code: str
    doctor_id: str | None
    date_from: date
    date_to: date
    claim_type: ClaimType
    phone: str | None
    out_of_turn: bool = False


# ---------------------------------------------------------------------------------------------- joining


async def _what(
    runtime: Runtime, session: AsyncSession, request: JoinRequest
) -> tuple[str, str, list[tuple[str, str]]]:
    """The clinic's name, the specialty's name and the doctors (IdDoc, name) the entry waits for."""
    offer = await directory.offering(runtime, session, request.specialty_code)
    clinic = next((o for o in offer.organisations if o.upstream_id == request.mo_id), None)
    if offer.specialty is None or clinic is None:
        raise fail(InvalidInput.of("specialtyCode", "В этой поликлинике нет приёма по этой специальности."))
    doctors = [(d.upstream_id, d.full_name) for d in offer.doctors.get(clinic.id, [])]
    if request.doctor_id is not None:
        doctors = [d for d in doctors if d[0] == request.doctor_id]
        if not doctors:
            raise fail(InvalidInput.of("doctorId", "Этот врач не ведёт приём по выбранной специальности здесь."))
    return clinic.name, offer.specialty.name, doctors


def _check_request(runtime: Runtime, ctx: RequestContext, request: JoinRequest) -> None:
    today = booking.local_day(runtime, booking.now(runtime))
    if request.date_to < request.date_from:
        raise fail(InvalidInput.of("dateTo", "Дата окончания периода раньше даты начала."))
    if request.date_from < today:
        raise fail(InvalidInput.of("dateFrom", "Период ожидания не может начинаться в прошлом."))
    if (request.date_to - request.date_from).days > MAX_RANGE_DAYS:
        raise fail(InvalidInput.of("dateTo", f"Период ожидания — не больше {MAX_RANGE_DAYS} дней."))
    if request.out_of_turn and ctx.actor.kind is not ActorKind.OPERATOR:
        raise fail(
            InvalidInput.of(
                "outOfTurn",
                "Право на внеочередной приём отмечает оператор 122 или регистратура после проверки документов.",
            )
        )


def _phone(request: JoinRequest, profile_phone: str | None) -> str:
    """The phone for the clinic's call: the one given, else the profile's."""
    phone = normalise_phone(request.phone or profile_phone)
    if not phone:
        raise fail(InvalidInput.of("phone", "Укажите номер мобильного телефона для связи, например +7 900 123-45-67."))
    return phone


async def _free_in_range(runtime: Runtime, session: AsyncSession, request: JoinRequest, doctors: list[str]) -> bool:
    at = booking.now(runtime)
    for doctor_id in doctors:
        try:
            slots = await booking.doctor_slots(runtime, request.mo_id, doctor_id, request.date_from, request.date_to)
        except HubTransportError:
            raise fail(WaitlistServiceUnavailable.default()) from None
        except FerError:
            continue
        upcoming = [s for s in slots if booking.to_utc(runtime, s.start) > at]
        if not upcoming:
            continue
        taken = await booking.live_holds_and_bookings(session, runtime, at, upcoming)
        if any((s.mo_id, s.id) not in taken for s in upcoming):
            return True
    return False


_NEXT_SEQ = (
    pg_insert(WaitlistCounter)
    .values(name="entries", value=1)
    .on_conflict_do_update(index_elements=["name"], set_={"value": WaitlistCounter.value + 1})
    .returning(WaitlistCounter.value)
)


async def _insert_entry(session: AsyncSession, values: dict[str, Any]) -> WaitlistEntry:
    """Insert with the next place in the line (:class:`WaitlistCounter`); the active-entry index refuses a
    second active entry of the same patient, clinic and specialty (a concurrent twin of this join)."""
    values["seq"] = int((await session.execute(_NEXT_SEQ)).scalar_one())
    entry = WaitlistEntry(**values)
    try:
        async with session.begin_nested():
            session.add(entry)
    except IntegrityError:
        raise fail(AlreadyWaiting.default()) from None
    return entry


async def join(uow: UnitOfWork, patient_id: uuid.UUID, request: JoinRequest) -> WaitlistEntry:
    """Join the line (see the module docstring); the hub's ``GuidClaim`` is kept on the entry."""
    runtime, session = uow.runtime, uow.session
    _check_request(runtime, uow.ctx, request)
    patient = await booking.load_patient(session, patient_id)
    phone = _phone(request, patient.phone)
    active = await session.scalar(
        select(WaitlistEntry.id).where(
            WaitlistEntry.patient_id == patient_id,
            WaitlistEntry.mo_id == request.mo_id,
            WaitlistEntry.specialty_code == request.specialty_code,
            WaitlistEntry.status.in_(ACTIVE_ENTRY),
        )
    )
    if active is not None:
        raise fail(AlreadyWaiting.default())
    mo_name, specialty_name, doctors = await _what(runtime, session, request)
    if request.claim_type is ClaimType.NO_TICKETS and await _free_in_range(
        runtime, session, request, [d for d, _ in doctors]
    ):
        raise fail(SlotsAvailable.default())
    try:
        hub_patient = await booking.identify(runtime, patient, request.mo_id)
        guid = await waiting_list_hub(booking.hub(runtime)).set_waiting_list(
            WaitingListClaim(
                mo_id=request.mo_id,
                patient_id=hub_patient,
                specialty_id=request.specialty_code,
                doctor_id=request.doctor_id,
                start=request.date_from,
                end=request.date_to,
                claim_type=request.claim_type,
                phone=phone,
            )
        )
    except HubTransportError:
        raise fail(WaitlistServiceUnavailable.default()) from None
    except (PatientNotFound, BookingProblemError):
        raise fail(
            WaitlistRefused.default("Поликлиника не нашла вас по полису ОМС. Проверьте полис в профиле.")
        ) from None
    except FerError:
        raise fail(WaitlistRefused.default()) from None
    at = booking.now(runtime)
    actor = uow.ctx.actor
    entry = await _insert_entry(
        session,
        {
            "id": uuid.uuid4(),
            "patient_id": patient_id,
            "priority": int(Priority.OUT_OF_TURN if request.out_of_turn else Priority.REGULAR),
            "mo_id": request.mo_id,
            "mo_name": mo_name,
            "specialty_code": request.specialty_code,
            "specialty_name": specialty_name,
            "doctor_id": request.doctor_id,
            "doctor_name": doctors[0][1] if request.doctor_id is not None else None,
            "date_from": request.date_from,
            "date_to": request.date_to,
            "claim_type": int(request.claim_type),
            "phone": phone,
            "hub_claim_guid": guid,
            "status": EntryStatus.WAITING.value,
            "appointment_id": None,
            "channel": actor.channel.value,
            "actor_kind": actor.kind.value,
            "actor_id": actor.id,
            "created_at": at,
            "updated_at": at,
        },
    )
    uow.audit(
        "waitlist.joined",
        object_type="waitlist_entry",
        object_id=entry.id,
        subject_id=patient_id,
        details={"mo_id": request.mo_id, "specialty": request.specialty_code, "guid_claim": guid},
    )
    return entry


async def _own_entry(session: AsyncSession, patient_id: uuid.UUID, entry_id: uuid.UUID) -> WaitlistEntry:
    entry = await session.get(WaitlistEntry, entry_id)
    if entry is None or entry.patient_id != patient_id:
        raise fail(EntryNotFound.default())
    return entry


async def leave(uow: UnitOfWork, patient_id: uuid.UUID, entry_id: uuid.UUID) -> WaitlistEntry:
    """Leave the line; a live offer is declined with it (its slot goes on down the line)."""
    session = uow.session
    entry = await _own_entry(session, patient_id, entry_id)
    if entry.status not in ACTIVE_ENTRY:
        raise fail(EntryNotFound.default())
    live = await session.scalar(
        select(WaitlistOffer).where(
            WaitlistOffer.entry_id == entry.id, WaitlistOffer.status == OfferStatus.OFFERED.value
        )
    )
    if live is not None and await _swap(uow, live.id, OfferStatus.DECLINED) is not None:
        await _after_close(uow, live, OfferStatus.DECLINED)
    entry.status = EntryStatus.LEFT.value
    entry.updated_at = booking.now(uow.runtime)
    uow.audit("waitlist.left", object_type="waitlist_entry", object_id=entry.id, subject_id=patient_id)
    return entry
