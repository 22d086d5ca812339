"""The Strawberry types of booking's GraphQL: the appointment and slot types, the problems' union members
and the mutations' result unions (the resolvers are in :mod:`backend.booking.schema`)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, ParamSpec, TypeVar

import strawberry

from backend.api.context import Info, info_of
from backend.api.problems import (
    AccessDenied,
    FieldProblem,
    InvalidInput,
    NotAuthenticated,
    Problem,
    ProblemError,
)
from backend.booking import idempotency, problems, service
from backend.booking.models import Appointment, SlotHold
from backend.core.problems import DomainError, DomainProblem, InvalidInputProblem
from backend.identity.policy import ConfirmationRequired
from integrations.fer import Slot

P = ParamSpec("P")
R = TypeVar("R")


@strawberry.enum(description="Состояние записи на прием.")
class AppointmentStatusEnum(Enum):
    BOOKED = "booked"
    CANCEL_PENDING = "cancel_pending"
    CANCELLED_BY_PATIENT = "cancelled_by_patient"
    CANCELLED_BY_MO = "cancelled_by_mo"
    RESCHEDULED = "rescheduled"
    VISITED = "visited"
    NO_SHOW = "no_show"


# ---------------------------------------------------------------------------------------------- problems
# The union members of booking's business errors (backend.booking.problems), one per domain problem.


@strawberry.type(description="Талон уже занят или недоступен.")
class SlotTaken(Problem):
    pass


@strawberry.type(description="Бронь талона не найдена.")
class HoldNotFound(Problem):
    pass


@strawberry.type(description="Время брони истекло.")
class HoldExpired(Problem):
    pass


@strawberry.type(description="Уже есть активная запись к врачу этой специальности.")
class SameSpecialtyActive(Problem):
    pass


@strawberry.type(description="Возраст пациента не подходит этой медицинской организации или врачу.")
class AgeRestricted(Problem):
    pass


@strawberry.type(description="Врач этой специальности не принимает пациентов этого пола.")
class SexRestricted(Problem):
    pass


@strawberry.type(description="Диспансерный прием возможен только в поликлинике прикрепления.")
class DispensaryNotAtAttachedClinic(Problem):
    pass


@strawberry.enum(description="Цель записи: обычный прием или диспансерный (только в поликлинике прикрепления).")
class VisitPurposeEnum(Enum):
    GENERAL = "GENERAL"
    DISPENSARY = "DISPENSARY"


@strawberry.type(description="Пациент не найден в медицинской организации.")
class PatientNotFoundAtClinic(Problem):
    pass


@strawberry.type(description="Нужно направление врача.")
class ReferralNeeded(Problem):
    pass


@strawberry.type(description="Направление не подходит для этой записи (не найдено, истекло, использовано, другое).")
class ReferralNotUsable(Problem):
    pass


@strawberry.type(
    description="Онлайн-запись ограничена из-за неявок: в сообщении даты неявок, дата окончания и как оспорить."
)
class OnlineBookingLimited(Problem):
    pass


@strawberry.type(description="Сервис записи временно недоступен; можно повторить.")
class BookingServiceUnavailable(Problem):
    pass


@strawberry.type(description="Запись на прием не найдена.")
class AppointmentMissing(Problem):
    pass


@strawberry.type(description="Запись уже отменена, перенесена или прием состоялся.")
class AppointmentNotActive(Problem):
    pass


@strawberry.type(description="Ключ идемпотентности уже использован для другого запроса.")
class IdempotencyKeyReused(Problem):
    pass


@strawberry.type(
    description="Исход неизвестен: связь прервалась при сохранении. Повторите запрос с тем же ключом идемпотентности."
)
class OutcomeUnknown(Problem):
    pass


_GRAPHQL_PROBLEMS: dict[type[problems.BookingProblem], type[Problem]] = {
    problems.SlotTaken: SlotTaken,
    problems.HoldNotFound: HoldNotFound,
    problems.HoldExpired: HoldExpired,
    problems.SameSpecialtyActive: SameSpecialtyActive,
    problems.AgeRestricted: AgeRestricted,
    problems.SexRestricted: SexRestricted,
    problems.DispensaryNotAtAttachedClinic: DispensaryNotAtAttachedClinic,
    problems.PatientNotFoundAtClinic: PatientNotFoundAtClinic,
    problems.ReferralNeeded: ReferralNeeded,
    problems.ReferralNotUsable: ReferralNotUsable,
    problems.OnlineBookingLimited: OnlineBookingLimited,
    problems.BookingServiceUnavailable: BookingServiceUnavailable,
    problems.AppointmentMissing: AppointmentMissing,
    problems.AppointmentNotActive: AppointmentNotActive,
    problems.IdempotencyKeyReused: IdempotencyKeyReused,
    problems.OutcomeUnknown: OutcomeUnknown,
}
# A stored refusal (backend.booking.idempotency) names its class: a booking problem or the policy's.
_STORED_PROBLEMS: dict[str, type[Problem]] = {
    cls.__name__: cls for cls in (*_GRAPHQL_PROBLEMS.values(), InvalidInput, AccessDenied, NotAuthenticated)
}


def graphql_problem(problem: problems.BookingProblem) -> Problem:
    """The union member of a booking problem."""
    if isinstance(problem, problems.InvalidInput):
        return InvalidInput(
            code=problem.code,
            message=problem.message,
            fields=[FieldProblem(field=f.field, message=f.message) for f in problem.fields],
        )
    return _GRAPHQL_PROBLEMS[type(problem)](code=problem.code, message=problem.message)


def problem_from_json(data: dict[str, Any]) -> Problem:
    """A refusal stored by :func:`backend.booking.idempotency.store_problem`, as its union member again."""
    cls = _STORED_PROBLEMS.get(data.get("class", ""))
    if cls is InvalidInput:
        return InvalidInput(
            code=data["code"],
            message=data["message"],
            fields=[FieldProblem(field=f["field"], message=f["message"]) for f in data.get("fields", [])],
        )
    if cls is None:
        raise ValueError(f"unknown stored problem {data.get('class')!r}")
    return cls(code=data["code"], message=data["message"])


# ------------------------------------------------------------------------------- every domain's problems
# A domain maps its service problems to union members in one table; the rest (invalid input with its fields, the
# idempotency key's refusals, stored refusals read back, the two decorators) is the same everywhere, so it is here,
# beside the idempotency records it leans on.


def _invalid_input(problem: InvalidInputProblem) -> InvalidInput:
    return InvalidInput(
        code=problem.code,
        message=problem.message,
        fields=[FieldProblem(field=f.field, message=f.message) for f in problem.fields],
    )


class ProblemMap:
    """How one domain's problems become union members, and how a refusal stored for a key comes back.

    ``members``: the domain problem class → its union member (built from ``code`` and ``message``); ``special``:
    a problem class → a function building a member with more fields; ``restore``: a member class → a function
    reading it back from its stored JSON (the others are rebuilt from ``code`` and ``message``); ``transient``:
    the codes never kept as a key's result (the caller may retry them)."""

    def __init__(
        self,
        members: Mapping[type[DomainProblem], type[Problem]],
        *,
        special: Mapping[type[DomainProblem], Callable[[Any], Problem]] | None = None,
        restore: Mapping[type[Problem], Callable[[dict[str, Any]], Problem]] | None = None,
        transient: Collection[str] = (),
    ) -> None:
        self.members = dict(members)
        self.special = dict(special or {})
        self.restore = dict(restore or {})
        self.transient = frozenset(transient) | problems.TRANSIENT_CODES
        known = (*self.members.values(), *self.restore, InvalidInput, AccessDenied, NotAuthenticated)
        self.stored: dict[str, type[Problem]] = {cls.__name__: cls for cls in (*known, IdempotencyKeyReused)}

    def member(self, problem: DomainProblem) -> Problem:
        """The union member of a domain problem (booking's own, from the idempotency key, included)."""
        if isinstance(problem, InvalidInputProblem):
            return _invalid_input(problem)
        build = self.special.get(type(problem))
        if build is not None:
            return build(problem)
        cls = self.members.get(type(problem))
        if cls is None:
            return graphql_problem(problem)  # type: ignore[arg-type]  # the idempotency key's refusals
        return cls(code=problem.code, message=problem.message)

    def from_json(self, data: dict[str, Any]) -> Problem:
        """A refusal stored by :func:`backend.booking.idempotency.store_problem`, as its union member again."""
        cls = self.stored.get(data.get("class", ""))
        if cls is None:
            return problem_from_json(data)  # booking's own, met on the way (a slot taken while accepting)
        if cls is InvalidInput:
            return InvalidInput(
                code=data["code"],
                message=data["message"],
                fields=[FieldProblem(field=f["field"], message=f["message"]) for f in data.get("fields", [])],
            )
        read = self.restore.get(cls)
        return read(data) if read is not None else cls(code=data["code"], message=data["message"])

    def guard(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        """Inside ``@atomic``: a problem raised by the services (or by the key's records) becomes its member."""

        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await fn(*args, **kwargs)
            except DomainError as exc:
                raise ProblemError(self.member(exc.problem)) from None

        return wrapper

    def keyed(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        """Outside ``@atomic``: a business refusal is kept as the key's result (a transient one is not)."""

        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            info = info_of(args, kwargs, "@keyed")
            token = idempotency.start_scope()
            try:
                result = await fn(*args, **kwargs)
            finally:
                claims = idempotency.end_scope(token)
            if isinstance(result, Problem) and claims and result.code not in self.transient:
                await idempotency.store_problem(info.context.runtime, claims, result)
            return result

        return wrapper


# ---------------------------------------------------------------------------------------------- types


@strawberry.type(name="BookingSlot", description="Свободный талон к врачу.")
class SlotType:
    id: str = strawberry.field(description="Ссылка на талон для holdSlot / bookAppointment.")
    start: datetime
    end: datetime
    room: str | None
    address: str | None
    number: int

    @classmethod
    def of(cls, info: Info, slot: Slot, day: date | None = None) -> SlotType:
        rt = info.context.runtime
        ref = service.SlotRef(slot.mo_id, slot.doctor_id, slot.id, day or slot.start.date())
        return cls(
            id=ref.encode(),
            start=service.to_utc(rt, slot.start),
            end=service.to_utc(rt, slot.end),
            room=slot.room or None,
            address=slot.address or None,
            number=slot.num,
        )


@strawberry.type(description="Врач и его свободные талоны.")
class DoctorAvailability:
    mo_id: str
    mo_name: str
    mo_address: str | None
    doctor_id: str
    doctor_name: str
    specialty_code: str
    specialty_name: str
    own_clinic: bool = strawberry.field(description="Поликлиника пациента (показывается первой).")
    distance_km: float | None
    slots: list[SlotType]

    @classmethod
    def of(cls, info: Info, item: Any, slots: Iterable[Slot]) -> DoctorAvailability:
        """A search result's doctor (``service.search``'s or a referral's) with the ``slots`` to show."""
        return cls(
            mo_id=item.mo.upstream_id,
            mo_name=item.mo.name,
            mo_address=item.mo.address,
            doctor_id=item.doctor.upstream_id,
            doctor_name=item.doctor.full_name,
            specialty_code=item.specialty_code,
            specialty_name=item.specialty_name,
            own_clinic=item.own_clinic,
            distance_km=round(item.distance_km, 2) if item.distance_km is not None else None,
            slots=[SlotType.of(info, s) for s in slots],
        )


@strawberry.type(description="Результат поиска талонов.")
class SlotSearchResult:
    items: list[DoctorAvailability]
    partial: bool = strawberry.field(description="Часть поликлиник не ответила вовремя; повторите поиск позже.")


@strawberry.type(description="Ближайший свободный талон в поликлинике рядом.")
class NearestSlot:
    mo_id: str
    mo_name: str
    mo_address: str | None
    doctor_id: str
    doctor_name: str
    distance_km: float | None
    slot: SlotType


@strawberry.type(description="Бронь талона на время оформления записи.")
class SlotHoldType:
    id: uuid.UUID
    mo_id: str
    doctor_id: str
    specialty_code: str
    start: datetime
    end: datetime
    room: str | None
    status: str
    expires_at: datetime
    remaining_seconds: int = strawberry.field(description="Сколько секунд бронь еще действует.")

    @classmethod
    def of(cls, info: Info, hold: SlotHold) -> SlotHoldType:
        return cls(
            id=hold.id,
            mo_id=hold.mo_id,
            doctor_id=hold.doctor_id,
            specialty_code=hold.specialty_code,
            start=hold.slot_start,
            end=hold.slot_end,
            room=hold.room,
            status=hold.status,
            expires_at=hold.expires_at,
            remaining_seconds=service.remaining_seconds(info.context.runtime, hold),
        )


@strawberry.type(name="Appointment", description="Запись на прием к врачу.")
class AppointmentType:
    id: uuid.UUID
    patient_id: uuid.UUID
    status: AppointmentStatusEnum
    mo_id: str
    mo_name: str
    doctor_id: str
    doctor_name: str
    specialty_code: str
    specialty_name: str
    start: datetime
    end: datetime
    room: str | None
    address: str | None
    channel: str = strawberry.field(description="Канал записи: mobile, epgu, callcentre, kiosk.")
    actor_kind: str
    on_behalf: bool
    rescheduled_from_id: uuid.UUID | None
    replaced_by_id: uuid.UUID | None
    created_at: datetime
    ticket_url: str = strawberry.field(description="Талон для печати (PDF).")

    @classmethod
    def of(cls, a: Appointment) -> AppointmentType:
        return cls(
            id=a.id,
            patient_id=a.patient_id,
            status=AppointmentStatusEnum(a.status),
            mo_id=a.mo_id,
            mo_name=a.mo_name,
            doctor_id=a.doctor_id,
            doctor_name=a.doctor_name,
            specialty_code=a.specialty_code,
            specialty_name=a.specialty_name,
            start=a.slot_start,
            end=a.slot_end,
            room=a.room,
            address=a.address,
            channel=a.channel,
            actor_kind=a.actor_kind,
            on_behalf=a.on_behalf,
            rescheduled_from_id=a.rescheduled_from_id,
            replaced_by_id=a.replaced_by_id,
            created_at=a.created_at,
            ticket_url=f"/api/v1/booking/tickets/{a.id}.pdf",
        )


@strawberry.type(description="Записи по одному каналу.")
class ChannelShare:
    channel: str
    count: int
    remote: bool


@strawberry.type(
    description="«Доля записей на прием к врачу, совершенных гражданами дистанционно» (цель 63 % к 2024 г.)."
)
class RemoteBookingShare:
    start: datetime
    end: datetime
    total: int
    remote: int
    share: float | None = strawberry.field(description="Приложение, ЕПГУ и 122 (без визита в поликлинику).")
    share_with_kiosk: float | None = strawberry.field(description="То же, если считать и инфоматы.")
    target: float
    by_channel: list[ChannelShare]


@strawberry.type(description="Талон забронирован.")
class SlotHeld:
    hold: SlotHoldType


@strawberry.type(description="Бронь снята.")
class HoldReleased:
    hold: SlotHoldType


@strawberry.type(description="Запись создана.")
class AppointmentBooked:
    appointment: AppointmentType


@strawberry.type(description="Запись отменяется (подтверждение от медицинской организации придет позже).")
class AppointmentCancelled:
    appointment: AppointmentType


@strawberry.type(description="Запись перенесена.")
class AppointmentRescheduled:
    appointment: AppointmentType
    previous: AppointmentType


HoldSlotResult = Annotated[
    SlotHeld
    | SlotTaken
    | SameSpecialtyActive
    | AgeRestricted
    | SexRestricted
    | DispensaryNotAtAttachedClinic
    | PatientNotFoundAtClinic
    | OnlineBookingLimited
    | BookingServiceUnavailable
    | NotAuthenticated
    | AccessDenied
    | InvalidInput
    | IdempotencyKeyReused
    | OutcomeUnknown,
    strawberry.union("HoldSlotResult"),
]
ReleaseHoldResult = Annotated[
    HoldReleased
    | HoldNotFound
    | NotAuthenticated
    | AccessDenied
    | InvalidInput
    | IdempotencyKeyReused
    | OutcomeUnknown,
    strawberry.union("ReleaseHoldResult"),
]
BookResult = Annotated[
    AppointmentBooked
    | SlotTaken
    | HoldNotFound
    | HoldExpired
    | SameSpecialtyActive
    | AgeRestricted
    | SexRestricted
    | DispensaryNotAtAttachedClinic
    | PatientNotFoundAtClinic
    | OnlineBookingLimited
    | ReferralNeeded
    | BookingServiceUnavailable
    | NotAuthenticated
    | AccessDenied
    | InvalidInput
    | IdempotencyKeyReused
    | OutcomeUnknown,
    strawberry.union("BookAppointmentResult"),
]
CancelResult = Annotated[
    AppointmentCancelled
    | AppointmentMissing
    | AppointmentNotActive
    | NotAuthenticated
    | AccessDenied
    | ConfirmationRequired
    | InvalidInput
    | IdempotencyKeyReused
    | OutcomeUnknown,
    strawberry.union("CancelAppointmentResult"),
]
RescheduleResult = Annotated[
    AppointmentRescheduled
    | AppointmentMissing
    | AppointmentNotActive
    | SlotTaken
    | SameSpecialtyActive
    | AgeRestricted
    | SexRestricted
    | PatientNotFoundAtClinic
    | OnlineBookingLimited
    | ReferralNeeded
    | BookingServiceUnavailable
    | NotAuthenticated
    | AccessDenied
    | ConfirmationRequired
    | InvalidInput
    | IdempotencyKeyReused
    | OutcomeUnknown,
    strawberry.union("RescheduleAppointmentResult"),
]
