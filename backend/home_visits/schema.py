"""GraphQL for home visits: the checklist, windows, request, cancel, my visits with their timeline, the
live subscription, and the staff KPI. The mobile app and the 122 operator use it; a kiosk does not (its
sessions lack ``SCOPE_HOME_VISITS``).

Mutations take ``idempotencyKey`` (booking's idempotency records: a repeat returns the first result) and
``actingFor`` (a child or a principal through a proxy grant; an operator acts for the caller of the
on-behalf session).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Annotated, Any, ParamSpec, TypeVar

import strawberry

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.api.problems import AccessDenied, InvalidInput, NotAuthenticated, Problem
from backend.audit import service as audit
from backend.booking import idempotency
from backend.booking.graphql_types import IdempotencyKeyReused, ProblemMap
from backend.home_visits import checklist, problems, service
from backend.home_visits.models import HomeVisit, HomeVisitEvent
from backend.identity.policy import SCOPE_HOME_VISITS, ConfirmationRequired, require_staff, require_subject
from integrations.homecall import HomeCallStatus

P = ParamSpec("P")
R = TypeVar("R")


@strawberry.enum(description="Состояние вызова врача на дом.")
class HomeVisitStatusEnum(Enum):
    NEW = "new"
    DOCTOR_ASSIGNED = "doctor_assigned"
    ON_THE_WAY = "on_the_way"
    VISITED = "visited"
    CANCELLED_BY_PATIENT = "cancelled_by_patient"
    CANCELLED_BY_MO = "cancelled_by_mo"


# ---------------------------------------------------------------------------------------------- problems


@strawberry.type(description="Ответы анкеты говорят об угрозе жизни: вызов не оформлен, звоните 103 или 112.")
class HomeVisitEmergency(Problem):
    emergency_number: str = strawberry.field(description="Куда звонить: 103 (с мобильного также 112).")
    symptoms: list[str] = strawberry.field(description="Коды отмеченных опасных симптомов.")


@strawberry.type(description="Не указан адрес, по которому нужен врач.")
class HomeVisitAddressMissing(Problem):
    pass


@strawberry.type(description="У пациента уже есть активный вызов врача на дом.")
class HomeVisitAlreadyActive(Problem):
    pass


@strawberry.type(description="Выбранное время визита недоступно или прошло.")
class HomeVisitWindowUnavailable(Problem):
    pass


@strawberry.type(description="Пациент не прикреплён к поликлинике, принимающей вызовы.")
class HomeVisitNotAttached(Problem):
    pass


@strawberry.type(description="Поликлиника не принимает вызовы врача на дом онлайн.")
class HomeVisitServiceDisabled(Problem):
    pass


@strawberry.type(description="Поликлиника отказала в приёме вызова.")
class HomeVisitRefused(Problem):
    pass


@strawberry.type(description="Сервис вызова врача на дом недоступен; можно повторить.")
class HomeVisitServiceUnavailable(Problem):
    pass


@strawberry.type(description="Вызов врача на дом не найден.")
class HomeVisitNotFound(Problem):
    pass


@strawberry.type(description="Вызов уже нельзя отменить онлайн.")
class HomeVisitCannotCancel(Problem):
    pass


def _emergency(problem: problems.EmergencySymptoms) -> Problem:
    return HomeVisitEmergency(
        code=problem.code,
        message=problem.message,
        emergency_number=problem.emergency_number,
        symptoms=list(problem.symptoms),
    )


def _emergency_from_json(data: dict[str, Any]) -> Problem:
    return HomeVisitEmergency(
        code=data["code"], message=data["message"], emergency_number="103", symptoms=data.get("symptoms", [])
    )


_PROBLEMS = ProblemMap(
    {
        problems.AddressMissing: HomeVisitAddressMissing,
        problems.AlreadyActive: HomeVisitAlreadyActive,
        problems.WindowUnavailable: HomeVisitWindowUnavailable,
        problems.NotAttached: HomeVisitNotAttached,
        problems.ServiceDisabled: HomeVisitServiceDisabled,
        problems.HomeVisitRefused: HomeVisitRefused,
        problems.HomeVisitServiceUnavailable: HomeVisitServiceUnavailable,
        problems.HomeVisitNotFound: HomeVisitNotFound,
        problems.CannotCancel: HomeVisitCannotCancel,
    },
    special={problems.EmergencySymptoms: _emergency},
    restore={HomeVisitEmergency: _emergency_from_json},
    transient=problems.TRANSIENT_CODES,
)
graphql_problem = _PROBLEMS.member
_problem_from_json = _PROBLEMS.from_json
domain_problems = _PROBLEMS.guard
keyed = _PROBLEMS.keyed


# ---------------------------------------------------------------------------------------------- types


@strawberry.type(description="Причина вызова врача на дом.")
class HomeVisitReason:
    code: str
    label: str


@strawberry.type(description="Вопрос анкеты симптомов; emergency — признак угрозы жизни (звонить 103/112).")
class HomeVisitSymptom:
    code: str
    label: str
    emergency: bool


@strawberry.type(description="Причины вызова и анкета симптомов.")
class HomeVisitChecklist:
    reasons: list[HomeVisitReason]
    symptoms: list[HomeVisitSymptom]
    emergency_number: str
    emergency_warning: str


@strawberry.input(description="Адрес, по которому нужен врач (структурированный или одной строкой).")
class HomeVisitAddressInput:
    region: str | None = None
    city: str | None = None
    place: str | None = strawberry.field(default=None, description="Населённый пункт.")
    street: str | None = None
    house: str | None = None
    housing: str | None = strawberry.field(default=None, description="Корпус.")
    building: str | None = strawberry.field(default=None, description="Строение.")
    apartment: str | None = None
    postcode: str | None = None
    fias_code: str | None = strawberry.field(default=None, description="GUID ФИАС или код КЛАДР, если известен.")
    line: str | None = strawberry.field(default=None, description="Адрес одной строкой.")
    entrance_comment: str | None = strawberry.field(default=None, description="Подъезд, этаж, домофон.")

    def to_service(self) -> service.AddressInput:
        return service.AddressInput(
            region=self.region,
            city=self.city,
            place=self.place,
            street=self.street,
            house=self.house,
            housing=self.housing,
            building=self.building,
            apartment=self.apartment,
            postcode=self.postcode,
            fias_code=self.fias_code,
            line=self.line,
            entrance_comment=self.entrance_comment,
        )


@strawberry.input(description="Вызов врача на дом.")
class HomeVisitInput:
    reason: str = strawberry.field(description="Код причины из homeVisitChecklist.")
    window_id: str = strawberry.field(description="Окно визита из homeVisitWindows.")
    phone: str = strawberry.field(description="Контактный телефон, +7 и 10 цифр.")
    symptoms: list[str] = strawberry.field(default_factory=list, description="Коды отмеченных симптомов.")
    reason_text: str | None = None
    address: HomeVisitAddressInput | None = strawberry.field(
        default=None, description="Не указан: адрес прошлого вызова."
    )


@strawberry.type(description="Окно, в которое придёт врач.")
class HomeVisitWindow:
    id: str
    start: datetime
    end: datetime


@strawberry.type(description="Окна визита, которые предлагает поликлиника прикрепления.")
class HomeVisitWindows:
    mo_id: str
    mo_name: str
    doctor_name: str | None
    windows: list[HomeVisitWindow]
    address_line: str = strawberry.field(
        description="Адрес, для которого подобраны окна: если адрес не указан — адрес проживания или регистрации "
        "из Госуслуг, иначе адрес прошлого вызова."
    )
    address_source: str | None = strawberry.field(
        description="Откуда адрес: GIVEN (указан), RESIDENCE (проживания, Госуслуги), REGISTRATION (регистрации, "
        "Госуслуги), LAST_VISIT (прошлого вызова)."
    )


@strawberry.type(description="Шаг истории вызова.")
class HomeVisitStep:
    status: HomeVisitStatusEnum
    status_label: str
    at: datetime
    comment: str | None

    @classmethod
    def of(cls, e: HomeVisitEvent) -> HomeVisitStep:
        status = HomeCallStatus(e.status)
        return cls(status=HomeVisitStatusEnum(e.status), status_label=status.label_ru, at=e.at, comment=e.comment)


@strawberry.type(name="HomeVisit", description="Вызов врача на дом.")
class HomeVisitType:
    id: uuid.UUID
    number: str = strawberry.field(description="Номер вызова в поликлинике.")
    patient_id: uuid.UUID
    status: HomeVisitStatusEnum
    status_label: str
    mo_id: str
    mo_name: str
    reason: str
    reason_text: str | None
    address_line: str
    phone: str
    window_start: datetime
    window_end: datetime
    doctor_name: str | None
    channel: str
    on_behalf: bool
    created_at: datetime
    cancellable: bool = strawberry.field(description="Можно отменить онлайн (врач ещё не назначен).")
    timeline: list[HomeVisitStep]

    @classmethod
    def of(cls, v: HomeVisit, events: list[HomeVisitEvent]) -> HomeVisitType:
        return cls(
            id=v.id,
            number=v.request_id,
            patient_id=v.patient_id,
            status=HomeVisitStatusEnum(v.status),
            status_label=HomeCallStatus(v.status).label_ru,
            mo_id=v.mo_id,
            mo_name=v.mo_name,
            reason=checklist.REASON_LABELS.get(v.reason_code, v.reason_code),
            reason_text=v.reason_text,
            address_line=v.address_line,
            phone=v.phone,
            window_start=v.window_start,
            window_end=v.window_end,
            doctor_name=v.doctor_name,
            channel=v.channel,
            on_behalf=v.on_behalf,
            created_at=v.created_at,
            cancellable=v.status == HomeCallStatus.NEW.value,
            timeline=[HomeVisitStep.of(e) for e in events],
        )


@strawberry.type(description="Изменение вызова врача на дом (подписка).")
class HomeVisitUpdate:
    visit_id: uuid.UUID
    status: HomeVisitStatusEnum
    status_label: str
    at: datetime
    comment: str | None


@strawberry.type(description="Вызовы по одному каналу.")
class HomeVisitChannelCount:
    channel: str
    count: int


@strawberry.type(description="Вызовы врача на дом за период по каналам (для персонала).")
class HomeVisitRequestsKpi:
    start: datetime
    end: datetime
    total: int
    by_channel: list[HomeVisitChannelCount]


@strawberry.type(description="Вызов врача на дом оформлен.")
class HomeVisitRequested:
    visit: HomeVisitType


@strawberry.type(description="Вызов врача на дом отменён.")
class HomeVisitCancelled:
    visit: HomeVisitType


HomeVisitWindowsResult = Annotated[
    HomeVisitWindows
    | InvalidInput
    | HomeVisitAddressMissing
    | HomeVisitAlreadyActive
    | HomeVisitNotAttached
    | HomeVisitServiceDisabled
    | HomeVisitRefused
    | HomeVisitServiceUnavailable,
    strawberry.union("HomeVisitWindowsResult"),
]
RequestHomeVisitResult = Annotated[
    HomeVisitRequested
    | HomeVisitEmergency
    | InvalidInput
    | HomeVisitAddressMissing
    | HomeVisitAlreadyActive
    | HomeVisitWindowUnavailable
    | HomeVisitNotAttached
    | HomeVisitServiceDisabled
    | HomeVisitRefused
    | HomeVisitServiceUnavailable
    | IdempotencyKeyReused
    | NotAuthenticated
    | AccessDenied,
    strawberry.union("RequestHomeVisitResult"),
]
CancelHomeVisitResult = Annotated[
    HomeVisitCancelled
    | HomeVisitNotFound
    | HomeVisitCannotCancel
    | HomeVisitRefused
    | HomeVisitServiceUnavailable
    | InvalidInput
    | IdempotencyKeyReused
    | NotAuthenticated
    | AccessDenied
    | ConfirmationRequired,
    strawberry.union("CancelHomeVisitResult"),
]


# ---------------------------------------------------------------------------------------------- plumbing


async def _replay(info: Info, stored: dict[str, Any]) -> Any:
    if stored.get("type") == "problem":
        return _problem_from_json(stored)
    session = info.context.uow.session
    visit = await session.get(HomeVisit, uuid.UUID(stored["id"]))
    if visit is None:  # pragma: no cover - visits are never deleted
        return graphql_problem(problems.HomeVisitNotFound.default())
    rows = await service.visits_of(session, visit.patient_id, visit_id=visit.id)
    typed = HomeVisitType.of(*rows[0])
    return HomeVisitRequested(visit=typed) if stored["type"] == "requested" else HomeVisitCancelled(visit=typed)


async def _begin(
    info: Info,
    operation: str,
    key: str,
    acting_for: uuid.UUID | None,
    request: dict[str, Any],
    *,
    sensitive: bool = False,
) -> tuple[uuid.UUID, Any]:
    patient_id = await require_subject(info, SCOPE_HOME_VISITS, acting_for=acting_for, sensitive=sensitive)
    stored = await idempotency.claim(info.context.uow, operation, key, {**request, "patient_id": str(patient_id)})
    return patient_id, (await _replay(info, stored) if stored is not None else None)


async def _typed(info: Info, visit: HomeVisit) -> HomeVisitType:
    rows = await service.visits_of(info.context.uow.session, visit.patient_id, visit_id=visit.id)
    return HomeVisitType.of(*rows[0])


# ---------------------------------------------------------------------------------------------- operations


@strawberry.type
class Query:
    @strawberry.field(description="Причины вызова врача на дом и анкета симптомов (справочник).")
    def home_visit_checklist(self) -> HomeVisitChecklist:
        return HomeVisitChecklist(
            reasons=[HomeVisitReason(code=r.code, label=r.label) for r in checklist.REASONS],
            symptoms=[HomeVisitSymptom(code=s.code, label=s.label, emergency=s.emergency) for s in checklist.SYMPTOMS],
            emergency_number="103",
            emergency_warning=problems.EmergencySymptoms.MESSAGE,
        )

    @strawberry.field(description="Окна визита врача на дом в поликлинике прикрепления для этого адреса.")
    async def home_visit_windows(
        self,
        info: Info,
        address: HomeVisitAddressInput | None = None,
        phone: str | None = None,
        acting_for: uuid.UUID | None = None,
    ) -> HomeVisitWindowsResult:
        patient_id = await require_subject(info, SCOPE_HOME_VISITS, acting_for=acting_for)
        try:
            found = await service.windows(
                info.context.runtime,
                info.context.ctx,
                patient_id,
                address.to_service() if address is not None else None,
                phone,
            )
        except problems.ProblemError as exc:
            return graphql_problem(exc.problem)  # type: ignore[return-value]
        rt = info.context.runtime
        return HomeVisitWindows(
            mo_id=found.mo_id,
            mo_name=found.mo_name,
            doctor_name=found.doctor_name,
            address_line=found.address_line,
            address_source=found.address_source.value if found.address_source else None,
            windows=[
                HomeVisitWindow(id=s.id, start=service.to_utc(rt, s.visit_time), end=service.to_utc(rt, s.end))
                for s in found.slots
            ],
        )

    @strawberry.field(description="Мои вызовы врача на дом с историей состояний, новые первыми.")
    async def my_home_visits(self, info: Info, acting_for: uuid.UUID | None = None) -> list[HomeVisitType]:
        patient_id = await require_subject(info, SCOPE_HOME_VISITS, acting_for=acting_for)
        async with info.context.sessionmaker() as session:
            rows = await service.visits_of(session, patient_id)
        await audit.record_now(
            info.context.sessionmaker,
            info.context.ctx,
            "home_visit.visits_read",
            object_type="home_visit",
            subject_id=patient_id,
            details={"count": len(rows)},
        )
        return [HomeVisitType.of(v, events) for v, events in rows]

    @strawberry.field(description="Вызовы врача на дом за период по каналам (для персонала).")
    async def home_visit_requests_kpi(self, info: Info, date_from: date, date_to: date) -> HomeVisitRequestsKpi:
        require_staff(info)
        start = datetime.combine(date_from, time.min, tzinfo=UTC)
        end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
        async with info.context.sessionmaker() as session:
            counts = await service.requests_by_channel(session, start, end)
        return HomeVisitRequestsKpi(
            start=start,
            end=end,
            total=sum(counts.values()),
            by_channel=[HomeVisitChannelCount(channel=c, count=n) for c, n in sorted(counts.items())],
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Вызвать врача на дом (себе, ребёнку или доверителю).")
    @keyed
    @atomic
    @domain_problems
    async def request_home_visit(
        self, info: Info, input: HomeVisitInput, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> RequestHomeVisitResult:
        address = input.address.to_service() if input.address is not None else None
        request = service.VisitRequest(
            reason=input.reason,
            window_id=input.window_id,
            phone=input.phone,
            symptoms=tuple(input.symptoms),
            reason_text=input.reason_text,
            address=address,
        )
        patient_id, replay = await _begin(
            info,
            "requestHomeVisit",
            idempotency_key,
            acting_for,
            {
                "reason": request.reason,
                "window": request.window_id,
                "phone": request.phone,
                "symptoms": list(request.symptoms),
                "text": request.reason_text,
                "address": address.as_json() if address else None,
            },
        )
        if replay is not None:
            return replay
        uow = info.context.uow
        visit = await service.request_visit(uow, patient_id, request)
        idempotency.remember(uow, {"type": "requested", "id": str(visit.id)})
        return HomeVisitRequested(visit=await _typed(info, visit))

    @strawberry.mutation(description="Отменить вызов, пока врач не назначен. Оператору 122 нужен код из СМС звонящего.")
    @keyed
    @atomic
    @domain_problems
    async def cancel_home_visit(
        self, info: Info, visit_id: uuid.UUID, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> CancelHomeVisitResult:
        patient_id, replay = await _begin(
            info, "cancelHomeVisit", idempotency_key, acting_for, {"visit": str(visit_id)}, sensitive=True
        )
        if replay is not None:
            return replay
        uow = info.context.uow
        visit = await service.cancel_visit(uow, patient_id, visit_id)
        idempotency.remember(uow, {"type": "cancelled", "id": str(visit.id)})
        return HomeVisitCancelled(visit=await _typed(info, visit))


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Изменения моих вызовов врача на дом, по мере поступления.")
    async def home_visit_updated(
        self, info: Info, acting_for: uuid.UUID | None = None
    ) -> AsyncGenerator[HomeVisitUpdate, Any]:
        patient_id = await require_subject(info, SCOPE_HOME_VISITS, acting_for=acting_for)
        async for item in service.bus(info.context.runtime).subscribe(patient_id):
            if item.patient_id == patient_id:
                yield HomeVisitUpdate(
                    visit_id=item.id,
                    status=HomeVisitStatusEnum(item.event),
                    status_label=item.title,
                    at=item.created_at,
                    comment=item.text or None,
                )
