"""GraphQL for booking: search, holds, appointments, the remote-booking share.

Every mutation takes ``idempotencyKey`` and ``actingFor`` (a child or a principal through a proxy grant;
operators and kiosks act for the session's patient). Mutations wear ``@booking_mutation`` outside
``@atomic``: it cancels upstream, through the outbox, a booking the hub accepted that our transaction did
not keep, and stores business refusals as the idempotent result.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, ParamSpec, TypeVar, cast

import strawberry
import structlog
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError

from backend.api.atomic import atomic
from backend.api.context import Info, info_of
from backend.api.problems import (
    Problem,
    ProblemError,
    PublicError,
)
from backend.audit import service as audit
from backend.booking import idempotency, problems, service
from backend.booking.graphql_types import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentRescheduled,
    AppointmentStatusEnum,
    AppointmentType,
    BookResult,
    CancelResult,
    ChannelShare,
    DoctorAvailability,
    HoldReleased,
    HoldSlotResult,
    NearestSlot,
    ReleaseHoldResult,
    RemoteBookingShare,
    RescheduleResult,
    SlotHeld,
    SlotHoldType,
    SlotSearchResult,
    SlotType,
    VisitPurposeEnum,
    graphql_problem,
    problem_from_json,
)
from backend.booking.models import Appointment, SlotHold
from backend.identity.policy import SCOPE_BOOKING, require_staff, require_subject
from integrations.fer import Slot

log = structlog.get_logger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


# ---------------------------------------------------------------------------------------------- mutation plumbing


def domain_problems(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Inside ``@atomic``: a booking problem raised by the services becomes its union member."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except problems.ProblemError as exc:
            raise ProblemError(graphql_problem(exc.problem)) from None

    return wrapper


def _commit_answer_lost(exc: Exception) -> bool:
    """An error of the connection (not of the data): the commit may have been made, its answer lost."""
    if isinstance(exc, DBAPIError):
        return not isinstance(exc, IntegrityError | ProgrammingError | DataError)
    return isinstance(exc, OSError | TimeoutError)


def booking_mutation(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Outside ``@atomic``: compensation for upstream bookings not kept, stored business refusals, and
    :class:`OutcomeUnknown` when the mutation succeeded but its commit failed on the connection.

    Such a commit may have been made: compensation then reads again whether the booking is ours before
    it cancels anything at the hub, and a repeat with the same idempotency key answers what was kept."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        info = info_of(args, kwargs, "@booking_mutation")
        runtime = info.context.runtime
        token = idempotency.start_scope()
        claims: list[idempotency.Claim] = []
        try:
            try:
                async with service.compensation_scope(runtime):
                    result = await fn(*args, **kwargs)
            finally:
                claims = idempotency.end_scope(token)
        except Exception as exc:
            if not (idempotency.reached_commit(claims) and _commit_answer_lost(exc)):
                raise
            log.warning("booking.outcome_unknown", operation=info.field_name, error=type(exc).__name__)
            unknown: Any = graphql_problem(problems.OutcomeUnknown.default())
            return cast("R", unknown)
        if isinstance(result, Problem) and claims:
            await idempotency.store_problem(runtime, claims, result)
        return result

    return wrapper


async def _replay(info: Info, stored: dict[str, Any]) -> Any:  # noqa: PLR0911 - one return per stored kind
    kind = stored.get("type")
    if kind == "problem":
        return problem_from_json(stored)
    session = info.context.uow.session
    if kind in ("held", "released"):
        hold = await session.get(SlotHold, uuid.UUID(stored["id"]))
        if hold is None:  # pragma: no cover - holds are never deleted
            return graphql_problem(problems.HoldNotFound.default())
        typed = SlotHoldType.of(info, hold)
        return SlotHeld(hold=typed) if kind == "held" else HoldReleased(hold=typed)
    appointment = await session.get(Appointment, uuid.UUID(stored["id"]))
    if appointment is None:  # pragma: no cover - appointments are never deleted
        return graphql_problem(problems.AppointmentMissing.default())
    typed_appointment = AppointmentType.of(appointment)
    if kind == "booked":
        return AppointmentBooked(appointment=typed_appointment)
    if kind == "cancelled":
        return AppointmentCancelled(appointment=typed_appointment)
    previous = await session.get(Appointment, uuid.UUID(stored["previous_id"]))
    assert previous is not None
    return AppointmentRescheduled(appointment=typed_appointment, previous=AppointmentType.of(previous))


async def _begin(
    info: Info,
    operation: str,
    key: str,
    acting_for: uuid.UUID | None,
    request: dict[str, Any],
    *,
    sensitive: bool = False,
) -> tuple[uuid.UUID, Any]:
    """(patient id, a replayed result or None): the policy first, then the idempotency key.

    ``sensitive``: cancelling or rescheduling (an operator needs the caller's SMS code, see
    :mod:`backend.identity.policy`). A refusal by the policy claims no key: the same key works once allowed.
    """
    patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for, sensitive=sensitive)
    stored = await idempotency.claim(info.context.uow, operation, key, {**request, "patient_id": str(patient_id)})
    return patient_id, (await _replay(info, stored) if stored is not None else None)


# ---------------------------------------------------------------------------------------------- queries


def _today(info: Info) -> date:
    rt = info.context.runtime
    return service.local_day(rt, service.now(rt))


MAX_RANGE_DAYS = 31


def _check_range(date_from: date, date_to: date) -> None:
    if date_to < date_from or (date_to - date_from).days >= MAX_RANGE_DAYS:
        raise PublicError(
            "Период поиска: от одного дня до месяца, дата окончания не раньше начала.", code="INVALID_INPUT"
        )


MAX_SLOTS_PER_DOCTOR = 500


def _check_slots_per_doctor(value: int | None) -> None:
    if value is not None and not 1 <= value <= MAX_SLOTS_PER_DOCTOR:
        raise PublicError(f"Число талонов на врача: от 1 до {MAX_SLOTS_PER_DOCTOR}.", code="INVALID_INPUT")


def first_slots(slots: list[Slot], limit: int | None) -> list[Slot]:
    """The ``limit`` earliest of a doctor's free slots; all of them, in the hub's order, without a limit."""
    return slots if limit is None else sorted(slots, key=lambda s: s.start)[:limit]


@strawberry.type
class Query:
    @strawberry.field(
        description="Свободные талоны по специальности: своя поликлиника, затем другие поликлиники региона."
    )
    async def search_slots(
        self,
        info: Info,
        *,
        specialty_code: str,
        date_from: date | None = None,
        date_to: date | None = None,
        mo_id: str | None = None,
        doctor_id: str | None = None,
        own_mo_id: str | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
        radius_km: float | None = None,
        acting_for: uuid.UUID | None = None,
        slots_per_doctor: Annotated[
            int | None,
            strawberry.argument(description="Не больше стольких ближайших талонов каждого врача (1–500)."),
        ] = None,
    ) -> SlotSearchResult:
        start = date_from or _today(info)
        end = date_to or start + timedelta(days=13)
        _check_range(start, end)
        _check_slots_per_doctor(slots_per_doctor)
        actor = info.context.actor
        async with info.context.sessionmaker() as session:
            if own_mo_id is None and actor.is_authenticated and SCOPE_BOOKING in actor.scopes and actor.subject_id:
                patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
                own_mo_id = await service.own_clinic(info.context.runtime, session, patient_id)
            near = (latitude, longitude) if latitude is not None and longitude is not None else None
            result = await service.search(
                info.context.runtime,
                session,
                specialty_code=specialty_code,
                date_from=start,
                date_to=end,
                own_mo_id=own_mo_id,
                mo_id=mo_id,
                doctor_id=doctor_id,
                near=near,
                radius_km=radius_km,
            )
        items = [DoctorAvailability.of(info, i, first_slots(i.slots, slots_per_doctor)) for i in result.items]
        return SlotSearchResult(items=items, partial=result.partial)

    @strawberry.field(description="Ближайшие свободные талоны в поликлиниках рядом со мной.")
    async def nearest_free_slots(
        self,
        info: Info,
        *,
        specialty_code: str,
        latitude: float,
        longitude: float,
        radius_km: float = 25.0,
        days: int = 14,
        limit: int = 10,
    ) -> list[NearestSlot]:
        try:
            async with info.context.sessionmaker() as session:
                found, _ = await service.nearest_free_slots(
                    info.context.runtime,
                    session,
                    specialty_code=specialty_code,
                    lat=latitude,
                    lon=longitude,
                    radius_km=radius_km,
                    days=days,
                    limit=limit,
                )
        except problems.ProblemError as exc:  # a query answers a refusal as a public GraphQL error
            raise PublicError(exc.problem.message, code=exc.problem.code) from None
        return [
            NearestSlot(
                mo_id=n.mo.upstream_id,
                mo_name=n.mo.name,
                mo_address=n.mo.address,
                doctor_id=n.doctor.upstream_id,
                doctor_name=n.doctor.full_name,
                distance_km=round(n.distance_km, 2) if n.distance_km is not None else None,
                slot=SlotType.of(info, n.slot),
            )
            for n in found
        ]

    @strawberry.field(description="Мои записи к врачу: предстоящие (upcoming: true), прошедшие (false) или все.")
    async def my_appointments(
        self, info: Info, upcoming: bool | None = None, acting_for: uuid.UUID | None = None
    ) -> list[AppointmentType]:
        patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
        rt = info.context.runtime
        async with info.context.sessionmaker() as session:
            rows = await service.appointments_of(session, patient_id, at=service.now(rt), upcoming=upcoming)
        await audit.record_now(
            info.context.sessionmaker,
            info.context.ctx,
            "booking.appointments_read",
            object_type="appointment",
            subject_id=patient_id,
            details={"count": len(rows)},
        )
        return [AppointmentType.of(a) for a in rows]

    @strawberry.field(description="Бронь талона.")
    async def slot_hold(self, info: Info, id: uuid.UUID, acting_for: uuid.UUID | None = None) -> SlotHoldType | None:
        patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
        async with info.context.sessionmaker() as session:
            hold = await session.get(SlotHold, id)
        if hold is None or hold.patient_id != patient_id:
            return None
        return SlotHoldType.of(info, hold)

    @strawberry.field(
        description="Доля записей на прием, совершенных дистанционно, по каналам за период (для персонала)."
    )
    async def remote_booking_share(self, info: Info, date_from: date, date_to: date) -> RemoteBookingShare:
        require_staff(info)
        start = datetime.combine(date_from, time.min, tzinfo=UTC)
        end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
        async with info.context.sessionmaker() as session:
            kpi = await service.remote_booking_share(session, start, end)
        return RemoteBookingShare(
            start=kpi.start,
            end=kpi.end,
            total=kpi.total,
            remote=kpi.remote,
            share=kpi.share,
            share_with_kiosk=kpi.share_with_kiosk,
            target=kpi.target,
            by_channel=[ChannelShare(channel=c.channel, count=c.count, remote=c.remote) for c in kpi.by_channel],
        )


def _request(slot: str, purpose: VisitPurposeEnum) -> dict[str, str]:
    """What an idempotency key stands for (an ordinary visit's as before the purpose existed)."""
    return {"slot": slot} if purpose is VisitPurposeEnum.GENERAL else {"slot": slot, "purpose": purpose.value}


# ---------------------------------------------------------------------------------------------- mutations


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Забронировать талон на 5 минут, чтобы оформить запись.")
    @booking_mutation
    @atomic
    @domain_problems
    async def hold_slot(
        self,
        info: Info,
        slot: str,
        idempotency_key: str,
        acting_for: uuid.UUID | None = None,
        purpose: VisitPurposeEnum = VisitPurposeEnum.GENERAL,
    ) -> HoldSlotResult:
        patient_id, replay = await _begin(info, "holdSlot", idempotency_key, acting_for, _request(slot, purpose))
        if replay is not None:
            return replay
        uow = info.context.uow
        hold = await service.hold_slot(
            uow, patient_id, service.parse_ref(slot), purpose=service.VisitPurpose(purpose.value)
        )
        idempotency.remember(uow, {"type": "held", "id": str(hold.id)})
        return SlotHeld(hold=SlotHoldType.of(info, hold))

    @strawberry.mutation(description="Снять бронь талона.")
    @booking_mutation
    @atomic
    @domain_problems
    async def release_hold(
        self, info: Info, hold_id: uuid.UUID, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> ReleaseHoldResult:
        patient_id, replay = await _begin(info, "releaseHold", idempotency_key, acting_for, {"hold": str(hold_id)})
        if replay is not None:
            return replay
        uow = info.context.uow
        hold = await service.release_hold(uow, patient_id, hold_id)
        idempotency.remember(uow, {"type": "released", "id": str(hold.id)})
        return HoldReleased(hold=SlotHoldType.of(info, hold))

    @strawberry.mutation(description="Подтвердить запись по брони талона.")
    @booking_mutation
    @atomic
    @domain_problems
    async def confirm_appointment(
        self, info: Info, hold_id: uuid.UUID, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> BookResult:
        patient_id, replay = await _begin(
            info, "confirmAppointment", idempotency_key, acting_for, {"hold": str(hold_id)}
        )
        if replay is not None:
            return replay
        uow = info.context.uow
        appointment = await service.confirm_hold(uow, patient_id, hold_id)
        idempotency.remember(uow, {"type": "booked", "id": str(appointment.id)})
        return AppointmentBooked(appointment=AppointmentType.of(appointment))

    @strawberry.mutation(description="Записаться за один шаг (оператор 122, инфомат).")
    @booking_mutation
    @atomic
    @domain_problems
    async def book_appointment(
        self,
        info: Info,
        slot: str,
        idempotency_key: str,
        acting_for: uuid.UUID | None = None,
        purpose: VisitPurposeEnum = VisitPurposeEnum.GENERAL,
    ) -> BookResult:
        patient_id, replay = await _begin(info, "bookAppointment", idempotency_key, acting_for, _request(slot, purpose))
        if replay is not None:
            return replay
        uow = info.context.uow
        appointment = await service.book_now(
            uow, patient_id, service.parse_ref(slot), purpose=service.VisitPurpose(purpose.value)
        )
        idempotency.remember(uow, {"type": "booked", "id": str(appointment.id)})
        return AppointmentBooked(appointment=AppointmentType.of(appointment))

    @strawberry.mutation(description="Отменить запись. Оператору 122 нужен код из СМС звонящего (confirmOnBehalfCode).")
    @booking_mutation
    @atomic
    @domain_problems
    async def cancel_appointment(
        self, info: Info, appointment_id: uuid.UUID, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> CancelResult:
        patient_id, replay = await _begin(
            info, "cancelAppointment", idempotency_key, acting_for, {"appointment": str(appointment_id)}, sensitive=True
        )
        if replay is not None:
            return replay
        uow = info.context.uow
        appointment = await service.cancel(uow, patient_id, appointment_id)
        idempotency.remember(uow, {"type": "cancelled", "id": str(appointment.id)})
        return AppointmentCancelled(appointment=AppointmentType.of(appointment))

    @strawberry.mutation(
        description="Перенести запись на другое время; старая запись сохраняется, пока новая не подтверждена. "
        "Оператору 122 нужен код из СМС звонящего (confirmOnBehalfCode)."
    )
    @booking_mutation
    @atomic
    @domain_problems
    async def reschedule_appointment(
        self,
        info: Info,
        appointment_id: uuid.UUID,
        slot: str,
        idempotency_key: str,
        acting_for: uuid.UUID | None = None,
    ) -> RescheduleResult:
        patient_id, replay = await _begin(
            info,
            "rescheduleAppointment",
            idempotency_key,
            acting_for,
            {"appointment": str(appointment_id), "slot": slot},
            sensitive=True,
        )
        if replay is not None:
            return replay
        uow = info.context.uow
        new = await service.reschedule(uow, patient_id, appointment_id, service.parse_ref(slot))
        previous = await uow.session.get(Appointment, appointment_id)
        assert previous is not None
        idempotency.remember(uow, {"type": "rescheduled", "id": str(new.id), "previous_id": str(previous.id)})
        return AppointmentRescheduled(appointment=AppointmentType.of(new), previous=AppointmentType.of(previous))


TYPES: tuple[type, ...] = (AppointmentStatusEnum,)
