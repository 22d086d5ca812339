"""GraphQL for referrals: the patient's referrals (added by number, checked at the hub), booking by referral,
and the attending doctor booking the specialist for the patient during the visit.

Mutations wear booking's ``@booking_mutation`` (compensation of a hub booking not kept, stored refusals)
outside ``@atomic``; booking's problems are their union members.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ParamSpec, TypeVar

import strawberry

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.api.problems import AccessDenied, NotAuthenticated, ProblemError, PublicError
from backend.audit import service as audit
from backend.booking import idempotency
from backend.booking import problems as booking_problems
from backend.booking import service as booking
from backend.booking.graphql_types import (
    AgeRestricted,
    AppointmentType,
    BookingServiceUnavailable,
    DoctorAvailability,
    IdempotencyKeyReused,
    InvalidInput,
    OnlineBookingLimited,
    OutcomeUnknown,
    PatientNotFoundAtClinic,
    ReferralNeeded,
    ReferralNotUsable,
    SameSpecialtyActive,
    SexRestricted,
    SlotSearchResult,
    SlotTaken,
    graphql_problem,
    problem_from_json,
)
from backend.booking.models import Appointment, Referral
from backend.booking.schema import booking_mutation
from backend.identity.policy import SCOPE_BOOKING, require_doctor, require_subject
from backend.identity.staff import staff_members

P = ParamSpec("P")
R = TypeVar("R")


def _problems(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except booking_problems.ProblemError as exc:
            raise ProblemError(graphql_problem(exc.problem)) from None

    return wrapper


@strawberry.type(name="Referral", description="Направление к специалисту (из сервиса записи региона).")
class ReferralType:
    id: uuid.UUID
    number: str
    status: str = strawberry.field(description="issued (можно записаться), booked, served, cancelled, expired.")
    target_specialty_code: str
    target_specialty_name: str
    target_mo_id: str | None = strawberry.field(description="Куда направлен; null — в любую МО региона.")
    issued_on: date | None
    valid_until: date | None
    issuer_name: str | None = strawberry.field(description="Врач, выдавший направление.")
    issuer_mo_id: str | None
    reason: str | None
    appointment_id: uuid.UUID | None
    checked_at: datetime

    @classmethod
    def of(cls, r: Referral) -> ReferralType:
        return cls(
            id=r.id,
            number=r.number,
            status=r.status,
            target_specialty_code=r.target_specialty_code,
            target_specialty_name=r.target_specialty_name,
            target_mo_id=r.target_mo_id,
            issued_on=r.issued_on,
            valid_until=r.valid_until,
            issuer_name=r.issuer_name,
            issuer_mo_id=r.issuer_mo_id,
            reason=r.reason,
            appointment_id=r.appointment_id,
            checked_at=r.checked_at,
        )


@strawberry.type(description="Направление добавлено (проверено в сервисе записи).")
class ReferralAdded:
    referral: ReferralType


@strawberry.type(description="Записан по направлению.")
class BookedByReferral:
    referral: ReferralType
    appointment: AppointmentType


_COMMON = NotAuthenticated | AccessDenied | InvalidInput | IdempotencyKeyReused | OutcomeUnknown
_BOOKING = (
    SlotTaken
    | SameSpecialtyActive
    | AgeRestricted
    | SexRestricted
    | PatientNotFoundAtClinic
    | ReferralNeeded
    | ReferralNotUsable
    | OnlineBookingLimited
    | BookingServiceUnavailable
)
AddReferralResult = Annotated[
    ReferralAdded | ReferralNotUsable | PatientNotFoundAtClinic | BookingServiceUnavailable | _COMMON,
    strawberry.union("AddReferralResult"),
]
BookByReferralResult = Annotated[BookedByReferral | _BOOKING | _COMMON, strawberry.union("BookByReferralResult")]


async def _replay(info: Info, stored: dict[str, Any]) -> Any:
    if stored.get("type") == "problem":
        return problem_from_json(stored)
    session = info.context.uow.session
    referral = await session.get(Referral, uuid.UUID(stored["id"]))
    assert referral is not None
    if stored["type"] == "added":
        return ReferralAdded(referral=ReferralType.of(referral))
    appointment = await session.get(Appointment, uuid.UUID(stored["appointment_id"]))
    assert appointment is not None
    return BookedByReferral(referral=ReferralType.of(referral), appointment=AppointmentType.of(appointment))


async def _my_referrals(info: Info, acting_for: uuid.UUID | None) -> list[ReferralType]:
    patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
    async with info.context.sessionmaker() as session:
        rows = await booking.referrals.referrals_of(session, patient_id)
    await audit.record_now(
        info.context.sessionmaker,
        info.context.ctx,
        "booking.referrals_read",
        object_type="referral",
        subject_id=patient_id,
        details={"count": len(rows)},
    )
    return [ReferralType.of(r) for r in rows]


#: The days shown by default from today (the hub's usual booking horizon).
OPTION_DAYS = 14


@strawberry.type
class Query:
    @strawberry.field(description="Мои направления, новые первыми.")
    async def my_referrals(self, info: Info, acting_for: uuid.UUID | None = None) -> list[ReferralType]:
        return await _my_referrals(info, acting_for)

    @strawberry.field(
        description=(
            "Свободное время для записи по направлению: талоны врачей, к которым оно выдано, в медицинской "
            "организации направления (или, если она не указана, в поликлиниках региона, своя первой). "
            "Талон передается в bookByReferral."
        )
    )
    async def referral_slots(
        self,
        info: Info,
        referral_id: uuid.UUID,
        date_from: date | None = None,
        date_to: date | None = None,
        acting_for: uuid.UUID | None = None,
    ) -> SlotSearchResult:
        patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
        runtime = info.context.runtime
        start = date_from or booking.local_day(runtime, booking.now(runtime))
        end = date_to or start + timedelta(days=OPTION_DAYS - 1)
        async with info.context.sessionmaker() as session:
            try:
                referral = await booking.referrals.own_referral(session, patient_id, referral_id)
                result = await booking.referrals.booking_options(
                    runtime, session, patient_id, referral, start=start, end=end
                )
            except booking_problems.ProblemError as exc:
                raise PublicError(exc.problem.message, code=exc.problem.code) from None
        items = [DoctorAvailability.of(info, i, i.slots) for i in result.items]
        return SlotSearchResult(items=items, partial=result.partial)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Добавить направление по номеру с бланка: сервис записи проверяет, что оно ваше.")
    @booking_mutation
    @atomic
    @_problems
    async def add_referral(
        self, info: Info, number: str, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> AddReferralResult:
        patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
        uow = info.context.uow
        stored = await idempotency.claim(
            uow, "addReferral", idempotency_key, {"number": number, "patient_id": str(patient_id)}
        )
        if stored is not None:
            return await _replay(info, stored)
        row = await booking.referrals.add(uow, patient_id, number)
        idempotency.remember(uow, {"type": "added", "id": str(row.id)})
        return ReferralAdded(referral=ReferralType.of(row))

    @strawberry.mutation(
        description="Записаться по направлению: номер направления уходит в сервис записи, который его проверяет."
    )
    @booking_mutation
    @atomic
    @_problems
    async def book_by_referral(
        self, info: Info, referral_id: uuid.UUID, slot: str, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> BookByReferralResult:
        patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
        uow = info.context.uow
        request = {"referral_id": str(referral_id), "slot": slot, "patient_id": str(patient_id)}
        stored = await idempotency.claim(uow, "bookByReferral", idempotency_key, request)
        if stored is not None:
            return await _replay(info, stored)
        referral = await booking.referrals.own_referral(uow.session, patient_id, referral_id)
        appointment = await booking.referrals.book(uow, patient_id, referral, booking.parse_ref(slot))
        idempotency.remember(uow, {"type": "booked", "id": str(referral.id), "appointment_id": str(appointment.id)})
        return BookedByReferral(referral=ReferralType.of(referral), appointment=AppointmentType.of(appointment))

    @strawberry.mutation(
        description=(
            "Врач на приеме записывает пациента к специалисту по направлению, которое выдал сам "
            "(пациент — по полису ОМС и дате рождения)."
        )
    )
    @booking_mutation
    @atomic
    @_problems
    async def book_specialist_for_patient(
        self,
        info: Info,
        *,
        oms_policy: str,
        birth_date: date,
        referral_number: str,
        slot: str,
        idempotency_key: str,
    ) -> BookByReferralResult:
        staff_id = require_doctor(info)
        uow = info.context.uow
        request = {"oms_policy": oms_policy, "birth_date": birth_date, "number": referral_number, "slot": slot}
        stored = await idempotency.claim(uow, "bookSpecialistForPatient", idempotency_key, request)
        if stored is not None:
            return await _replay(info, stored)
        doctor = (await staff_members(uow.session, {staff_id})).get(staff_id)
        result = await booking.referrals.doctor_books(
            uow,
            doctor_snils=doctor.snils if doctor else None,
            oms_policy=oms_policy,
            birth_date=birth_date,
            number=referral_number,
            ref=booking.parse_ref(slot),
        )
        idempotency.remember(
            uow, {"type": "booked", "id": str(result.referral.id), "appointment_id": str(result.appointment.id)}
        )
        return BookedByReferral(
            referral=ReferralType.of(result.referral), appointment=AppointmentType.of(result.appointment)
        )
