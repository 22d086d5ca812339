"""GraphQL for the waitlist: join (the patient, a proxy, or a 122 operator for a caller), my entries with
their place in the line and live offer, accept or decline an offer, leave; offers pushed live
(``waitlistOfferUpdated``). The rules are in :mod:`backend.waitlist.service`.

Mutations take ``idempotencyKey`` (booking's idempotency records) and ``actingFor``; they wear booking's
``@booking_mutation`` outside ``@atomic``: accepting books at the hub, and a booking the hub accepted that
our transaction did not keep is cancelled there again.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncGenerator
from datetime import date, datetime
from typing import Annotated, Any, ParamSpec, TypeVar

import strawberry

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.api.problems import AccessDenied, InvalidInput, NotAuthenticated, Problem
from backend.booking import idempotency
from backend.booking.graphql_types import (
    AgeRestricted,
    AppointmentType,
    BookingServiceUnavailable,
    HoldExpired,
    HoldNotFound,
    IdempotencyKeyReused,
    OutcomeUnknown,
    PatientNotFoundAtClinic,
    ProblemMap,
    ReferralNeeded,
    SameSpecialtyActive,
    SexRestricted,
    SlotTaken,
)
from backend.booking.models import Appointment
from backend.booking.schema import booking_mutation
from backend.identity.policy import SCOPE_BOOKING, ConfirmationRequired, require_subject
from backend.waitlist import problems, service
from backend.waitlist.models import WaitlistEntry, WaitlistOffer
from integrations.fer.waiting_list import ClaimType

P = ParamSpec("P")
R = TypeVar("R")


# ---------------------------------------------------------------------------------------------- problems


@strawberry.type(description="Пациент уже в листе ожидания к этому специалисту в этой поликлинике.")
class WaitlistAlreadyWaiting(Problem):
    pass


@strawberry.type(description="На выбранные даты есть свободное время: лист ожидания не нужен.")
class WaitlistSlotsAvailable(Problem):
    pass


@strawberry.type(description="Запись в листе ожидания не найдена или закрыта.")
class WaitlistEntryNotFound(Problem):
    pass


@strawberry.type(description="Предложение времени не найдено.")
class WaitlistOfferNotFound(Problem):
    pass


@strawberry.type(description="Время на подтверждение предложения истекло.")
class WaitlistOfferExpired(Problem):
    pass


@strawberry.type(description="Предложение уже принято или отклонено.")
class WaitlistOfferClosed(Problem):
    pass


@strawberry.type(description="Сервис записи недоступен; можно повторить.")
class WaitlistServiceUnavailable(Problem):
    pass


@strawberry.type(description="Поликлиника не приняла заявку в лист ожидания.")
class WaitlistRefused(Problem):
    pass


_PROBLEMS = ProblemMap(
    {
        problems.AlreadyWaiting: WaitlistAlreadyWaiting,
        problems.SlotsAvailable: WaitlistSlotsAvailable,
        problems.EntryNotFound: WaitlistEntryNotFound,
        problems.OfferNotFound: WaitlistOfferNotFound,
        problems.OfferExpired: WaitlistOfferExpired,
        problems.OfferClosed: WaitlistOfferClosed,
        problems.WaitlistServiceUnavailable: WaitlistServiceUnavailable,
        problems.WaitlistRefused: WaitlistRefused,
    },
    transient=problems.TRANSIENT_CODES,
)
graphql_problem = _PROBLEMS.member
_problem_from_json = _PROBLEMS.from_json
domain_problems = _PROBLEMS.guard


# ---------------------------------------------------------------------------------------------- types


@strawberry.enum(name="WaitlistReason", description="Почему нужен лист ожидания (ClaimToWaitingListType хаба).")
class ReasonEnum(enum.Enum):
    NO_TICKETS = "no_tickets"
    NO_CONVENIENT_TIME = "no_convenient_time"
    NO_SPECIALIST = "no_specialist"


_CLAIM_TYPES = {
    ReasonEnum.NO_TICKETS: ClaimType.NO_TICKETS,
    ReasonEnum.NO_CONVENIENT_TIME: ClaimType.NO_CONVENIENT_TIME,
    ReasonEnum.NO_SPECIALIST: ClaimType.NO_SPECIALIST,
}
_STATUS_LABELS = {
    "waiting": "В очереди",
    "offered": "Предложено время: подтвердите",
    "booked": "Записаны",
    "left": "Вышли из очереди",
    "ended": "Период ожидания закончился",
}


@strawberry.type(name="WaitlistOffer", description="Предложенное освободившееся время: держится до expiresAt.")
class OfferType:
    id: uuid.UUID
    status: str = strawberry.field(description="offered | accepted | declined | expired | failed | passed")
    mo_id: str
    doctor_id: str
    start: datetime
    end: datetime
    expires_at: datetime

    @classmethod
    def of(cls, o: WaitlistOffer) -> OfferType:
        return cls(
            id=o.id,
            status=o.status,
            mo_id=o.mo_id,
            doctor_id=o.doctor_id,
            start=o.slot_start,
            end=o.slot_end,
            expires_at=o.expires_at,
        )


@strawberry.type(name="WaitlistEntry", description="Запись в листе ожидания.")
class EntryType:
    id: uuid.UUID
    status: str = strawberry.field(description="waiting | offered | booked | left | ended")
    status_label: str
    mo_id: str
    mo_name: str
    specialty_code: str
    specialty_name: str
    doctor_id: str | None = strawberry.field(description="Пусто: любой врач этой специальности.")
    doctor_name: str | None
    date_from: date
    date_to: date
    out_of_turn: bool = strawberry.field(description="Внеочередное право (отмечает оператор 122).")
    position: int | None = strawberry.field(description="Место в очереди (1 — следующий), пока ждёте.")
    guid_claim: str = strawberry.field(description="Номер заявки в листе ожидания поликлиники (GuidClaim).")
    channel: str
    created_at: datetime
    offer: OfferType | None = strawberry.field(description="Предложенное время, если есть.")
    appointment_id: uuid.UUID | None

    @classmethod
    def of(cls, e: WaitlistEntry, position: int | None, offer: WaitlistOffer | None) -> EntryType:
        return cls(
            id=e.id,
            status=e.status,
            status_label=_STATUS_LABELS.get(e.status, e.status),
            mo_id=e.mo_id,
            mo_name=e.mo_name,
            specialty_code=e.specialty_code,
            specialty_name=e.specialty_name,
            doctor_id=e.doctor_id,
            doctor_name=e.doctor_name,
            date_from=e.date_from,
            date_to=e.date_to,
            out_of_turn=e.priority > 0,
            position=position,
            guid_claim=e.hub_claim_guid,
            channel=e.channel,
            created_at=e.created_at,
            offer=OfferType.of(offer) if offer is not None else None,
            appointment_id=e.appointment_id,
        )


@strawberry.input(description="Что и когда ждать.")
class WaitlistInput:
    mo_id: str = strawberry.field(description="Поликлиника (идентификатор из organisations).")
    specialty_code: str
    doctor_id: str | None = strawberry.field(default=None, description="Врач; пусто — любой врач специальности.")
    date_from: date
    date_to: date
    reason: ReasonEnum = ReasonEnum.NO_TICKETS
    phone: str | None = strawberry.field(default=None, description="Телефон для связи; пусто — из профиля.")
    out_of_turn: bool = strawberry.field(
        default=False, description="Внеочередное право: только оператор 122 после проверки документов."
    )


@strawberry.type(description="Вы в листе ожидания.")
class WaitlistJoined:
    entry: EntryType


@strawberry.type(description="Вы вышли из листа ожидания.")
class WaitlistLeft:
    entry: EntryType


@strawberry.type(description="Предложенное время подтверждено: запись создана.")
class WaitlistOfferAccepted:
    offer: OfferType
    appointment: AppointmentType


@strawberry.type(description="От предложенного времени отказались: оно предложено следующему в очереди.")
class WaitlistOfferDeclined:
    offer: OfferType


@strawberry.type(description="Изменение предложения из листа ожидания.")
class WaitlistOfferUpdate:
    offer_id: uuid.UUID
    status: str
    message: str
    start: datetime


_COMMON = WaitlistServiceUnavailable | IdempotencyKeyReused | NotAuthenticated | AccessDenied | InvalidInput
JoinWaitlistResult = Annotated[
    WaitlistJoined
    | WaitlistAlreadyWaiting
    | WaitlistSlotsAvailable
    | WaitlistRefused
    | PatientNotFoundAtClinic
    | BookingServiceUnavailable
    | _COMMON,
    strawberry.union("JoinWaitlistResult"),
]
LeaveWaitlistResult = Annotated[
    WaitlistLeft | WaitlistEntryNotFound | ConfirmationRequired | _COMMON, strawberry.union("LeaveWaitlistResult")
]
AcceptOfferResult = Annotated[
    WaitlistOfferAccepted
    | WaitlistOfferNotFound
    | WaitlistOfferExpired
    | WaitlistOfferClosed
    | SlotTaken
    | HoldNotFound
    | HoldExpired
    | SameSpecialtyActive
    | AgeRestricted
    | SexRestricted
    | PatientNotFoundAtClinic
    | ReferralNeeded
    | BookingServiceUnavailable
    | OutcomeUnknown
    | _COMMON,
    strawberry.union("AcceptWaitlistOfferResult"),
]
DeclineOfferResult = Annotated[
    WaitlistOfferDeclined
    | WaitlistOfferNotFound
    | WaitlistOfferExpired
    | WaitlistOfferClosed
    | ConfirmationRequired
    | _COMMON,
    strawberry.union("DeclineWaitlistOfferResult"),
]


# ---------------------------------------------------------------------------------------------- operations


async def _begin(
    info: Info,
    operation: str,
    key: str,
    acting_for: uuid.UUID | None,
    request: dict[str, Any],
    *,
    sensitive: bool = False,
) -> tuple[uuid.UUID, dict[str, Any] | None]:
    """Who acts for whom (leaving and declining are sensitive: an operator needs the caller's SMS code, as
    for cancelling an appointment), then the idempotency key."""
    patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for, sensitive=sensitive)
    stored = await idempotency.claim(info.context.uow, operation, key, {**request, "patient_id": str(patient_id)})
    return patient_id, stored


async def _entry(info: Info, patient_id: uuid.UUID, entry_id: uuid.UUID) -> EntryType:
    views = await service.entries_of(info.context.uow.session, patient_id)
    view = next(v for v in views if v.entry.id == entry_id)
    return EntryType.of(view.entry, view.position, view.offer)


async def _offer(info: Info, offer_id: uuid.UUID) -> WaitlistOffer:
    offer = await info.context.uow.session.get(WaitlistOffer, offer_id)
    assert offer is not None  # offers are never deleted
    return offer


@strawberry.type
class Query:
    @strawberry.field(description="Мои записи в листе ожидания: место в очереди и предложенное время.")
    async def my_waitlist(self, info: Info, acting_for: uuid.UUID | None = None) -> list[EntryType]:
        patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
        async with info.context.sessionmaker() as session:
            views = await service.entries_of(session, patient_id)
        return [EntryType.of(v.entry, v.position, v.offer) for v in views]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Встать в лист ожидания к специалисту или врачу на период.")
    @booking_mutation
    @atomic
    @domain_problems
    async def join_waitlist(
        self, info: Info, input: WaitlistInput, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> JoinWaitlistResult:
        request = service.JoinRequest(
            mo_id=input.mo_id,
            specialty_code=input.specialty_code,
            doctor_id=input.doctor_id or None,
            date_from=input.date_from,
            date_to=input.date_to,
            claim_type=_CLAIM_TYPES[input.reason],
            phone=input.phone,
            out_of_turn=input.out_of_turn,
        )
        patient_id, stored = await _begin(
            info,
            "joinWaitlist",
            idempotency_key,
            acting_for,
            {**request.__dict__, "claim_type": int(request.claim_type)},
        )
        if stored is not None:
            if stored.get("type") == "problem":
                return _problem_from_json(stored)  # type: ignore[return-value]
            return WaitlistJoined(entry=await _entry(info, patient_id, uuid.UUID(stored["id"])))
        uow = info.context.uow
        entry = await service.join(uow, patient_id, request)
        idempotency.remember(uow, {"type": "joined", "id": str(entry.id)})
        return WaitlistJoined(entry=await _entry(info, patient_id, entry.id))

    @strawberry.mutation(description="Выйти из листа ожидания (предложенное время переходит следующему).")
    @booking_mutation
    @atomic
    @domain_problems
    async def leave_waitlist(
        self, info: Info, entry_id: uuid.UUID, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> LeaveWaitlistResult:
        patient_id, stored = await _begin(
            info, "leaveWaitlist", idempotency_key, acting_for, {"entry": str(entry_id)}, sensitive=True
        )
        if stored is not None:
            if stored.get("type") == "problem":
                return _problem_from_json(stored)  # type: ignore[return-value]
            return WaitlistLeft(entry=await _entry(info, patient_id, entry_id))
        uow = info.context.uow
        entry = await service.leave(uow, patient_id, entry_id)
        idempotency.remember(uow, {"type": "left", "id": str(entry.id)})
        return WaitlistLeft(entry=await _entry(info, patient_id, entry.id))

    @strawberry.mutation(description="Подтвердить предложенное время: запись на приём.")
    @booking_mutation
    @atomic
    @domain_problems
    async def accept_waitlist_offer(
        self, info: Info, offer_id: uuid.UUID, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> AcceptOfferResult:
        patient_id, stored = await _begin(
            info, "acceptWaitlistOffer", idempotency_key, acting_for, {"offer": str(offer_id)}
        )
        uow = info.context.uow
        if stored is not None:
            if stored.get("type") == "problem":
                return _problem_from_json(stored)  # type: ignore[return-value]
            offer = await _offer(info, offer_id)
            appointment = await uow.session.get(Appointment, uuid.UUID(stored["appointment_id"]))
            assert appointment is not None
            return WaitlistOfferAccepted(offer=OfferType.of(offer), appointment=AppointmentType.of(appointment))
        offer, appointment = await service.accept(uow, patient_id, offer_id)
        idempotency.remember(uow, {"type": "accepted", "id": str(offer.id), "appointment_id": str(appointment.id)})
        return WaitlistOfferAccepted(offer=OfferType.of(offer), appointment=AppointmentType.of(appointment))

    @strawberry.mutation(description="Отказаться от предложенного времени (место в очереди сохраняется).")
    @booking_mutation
    @atomic
    @domain_problems
    async def decline_waitlist_offer(
        self, info: Info, offer_id: uuid.UUID, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> DeclineOfferResult:
        patient_id, stored = await _begin(
            info, "declineWaitlistOffer", idempotency_key, acting_for, {"offer": str(offer_id)}, sensitive=True
        )
        uow = info.context.uow
        if stored is not None:
            if stored.get("type") == "problem":
                return _problem_from_json(stored)  # type: ignore[return-value]
            return WaitlistOfferDeclined(offer=OfferType.of(await _offer(info, offer_id)))
        offer = await service.decline(uow, patient_id, offer_id)
        idempotency.remember(uow, {"type": "declined", "id": str(offer.id)})
        return WaitlistOfferDeclined(offer=OfferType.of(offer))


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Предложения освободившегося времени из листа ожидания, по мере поступления.")
    async def waitlist_offer_updated(
        self, info: Info, acting_for: uuid.UUID | None = None
    ) -> AsyncGenerator[WaitlistOfferUpdate, Any]:
        patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
        async for item in service.bus(info.context.runtime).subscribe(patient_id):
            if item.patient_id == patient_id:
                yield WaitlistOfferUpdate(
                    offer_id=item.id, status=item.event, message=item.title, start=item.created_at
                )
