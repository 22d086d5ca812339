"""GraphQL for the call record: the 122 operator opens a call, acts for the caller (the other domains'
operations, on their on-behalf session), and closes the call with its outcome; the supervisor counts calls
per hour and per outcome. All for a staff login (``require_staff``); an operator sees only their own calls.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

import strawberry

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.api.problems import (
    AccessDenied,
    InvalidInput,
    NotAuthenticated,
    Problem,
    PublicError,
)
from backend.booking.graphql_types import ProblemMap
from backend.call_record import problems, service
from backend.call_record.models import Call
from backend.identity.access_labels import action_label, outcome_label
from backend.identity.policy import require_staff

P = ParamSpec("P")
R = TypeVar("R")

MAX_RECENT = 50
MAX_KPI_DAYS = 31

CallOutcome = strawberry.enum(service.CallOutcome, name="CallOutcome", description="Итог звонка в 122.")


@strawberry.type(description="У оператора уже есть незавершённый звонок.")
class CallAlreadyOpen(Problem):
    pass


@strawberry.type(description="Звонок не найден среди звонков оператора.")
class CallNotFound(Problem):
    pass


@strawberry.type(description="Звонок уже завершён с другим итогом.")
class CallAlreadyClosed(Problem):
    pass


@strawberry.type(description="У оператора нет принятого звонка.")
class NoOpenCall(Problem):
    pass


@strawberry.type(description="Номер звонящего не определился.")
class CallerPhoneUnknown(Problem):
    pass


_PROBLEMS = ProblemMap(
    {
        problems.CallAlreadyOpen: CallAlreadyOpen,
        problems.CallNotFound: CallNotFound,
        problems.CallAlreadyClosed: CallAlreadyClosed,
        problems.NoOpenCall: NoOpenCall,
        problems.CallerPhoneUnknown: CallerPhoneUnknown,
    },
)
graphql_problem = _PROBLEMS.member
domain_problems = _PROBLEMS.guard


# ---------------------------------------------------------------------------------------------- types


@strawberry.type(description="Действие оператора во время звонка (из журнала аудита).")
class CallActionType:
    at: datetime
    action: str = strawberry.field(description="Код действия журнала аудита, например bookAppointment.")
    label: str = strawberry.field(description="Действие по-русски.")
    outcome: str = strawberry.field(description="ok или код отказа.")
    outcome_label: str
    subject_id: uuid.UUID | None = strawberry.field(description="Пациент, для которого действовал оператор.")

    @classmethod
    def of(cls, a: service.CallAction) -> CallActionType:
        return cls(
            at=a.at,
            action=a.action,
            label=action_label(a.action),
            outcome=a.outcome,
            outcome_label=outcome_label(a.outcome),
            subject_id=a.subject_id,
        )


def _distinct(actions: list[service.CallAction]) -> list[CallActionType]:
    """One line per action: a mutation is audited twice (the domain's row and the mutation's own, within the
    same second, under the same Russian name), a lookup by the call's number once per person it offered; the
    operator reads each once."""
    kept: list[CallActionType] = []
    last: service.CallAction | None = None
    for a in actions:
        typed = CallActionType.of(a)
        lookup = a.action in service.LOOKUPS
        same = bool(kept) and (kept[-1].label, kept[-1].outcome) == (typed.label, typed.outcome)
        same = same and (lookup or kept[-1].subject_id == typed.subject_id)
        if same and last is not None and abs((a.at - last.at).total_seconds()) < 2:
            continue
        kept.append(typed)
        last = a
    return kept


@strawberry.type(name="CallRecord", description="Звонок в 122: от приёма до итога.")
class CallRecordType:
    id: uuid.UUID
    caller_phone: str | None = strawberry.field(description="Номер, с которого звонили (если известен).")
    patient_id: uuid.UUID | None = strawberry.field(description="Звонивший, когда он идентифицирован.")
    opened_at: datetime
    closed_at: datetime | None
    outcome: CallOutcome | None  # type: ignore[valid-type]
    outcome_label: str | None
    note: str | None
    duration_seconds: int | None = strawberry.field(description="Длительность завершённого звонка, секунды.")
    actions: list[CallActionType]

    @classmethod
    def of(cls, call: Call, actions: list[service.CallAction]) -> CallRecordType:
        outcome = service.CallOutcome(call.outcome) if call.outcome else None
        return cls(
            id=call.id,
            caller_phone=call.caller_phone,
            patient_id=call.patient_id,
            opened_at=call.opened_at,
            closed_at=call.closed_at,
            outcome=outcome,
            outcome_label=outcome.label_ru if outcome else None,
            note=call.note,
            duration_seconds=int((call.closed_at - call.opened_at).total_seconds()) if call.closed_at else None,
            actions=_distinct(actions),
        )


@strawberry.type(description="Итог звонка и его название.")
class CallOutcomeOption:
    outcome: CallOutcome  # type: ignore[valid-type]
    label: str


@strawberry.type(description="Звонки за один час (начало часа, UTC).")
class CallHourCount:
    hour: datetime
    count: int


@strawberry.type(description="Завершённые звонки с одним итогом.")
class CallOutcomeCount:
    outcome: CallOutcome  # type: ignore[valid-type]
    label: str
    count: int


@strawberry.type(description="Звонки в 122 за период: по часам и итогам (для старшего смены).")
class CallsKpi:
    start: datetime
    end: datetime
    total: int
    open: int = strawberry.field(description="Ещё не завершённые звонки.")
    average_duration_seconds: float | None
    by_hour: list[CallHourCount]
    by_outcome: list[CallOutcomeCount]


@strawberry.type(description="Звонок принят.")
class CallOpened:
    call: CallRecordType


@strawberry.type(description="Звонок завершён с итогом.")
class CallClosed:
    call: CallRecordType


@strawberry.type(description="Человек, у которого подтверждён номер звонка (ещё не идентифицирован).")
class CallerCandidate:
    patient_id: uuid.UUID = strawberry.field(
        description="Для openOnBehalfSession(patientId:, birthDate:): дату рождения называет звонящий."
    )
    short_name: str = strawberry.field(description="«Тестова А. С.»")
    birth_year: int = strawberry.field(description="Год рождения (чтобы различить членов семьи).")


@strawberry.type(description="Кто может звонить с номера принятого звонка.")
class CallerCandidates:
    phone: str
    candidates: list[CallerCandidate]
    message: str = strawberry.field(description="Что сказать оператору: никто, один человек или несколько.")


CallerCandidatesResult = Annotated[
    CallerCandidates | NoOpenCall | CallerPhoneUnknown | NotAuthenticated | AccessDenied,
    strawberry.union("CallerCandidatesResult"),
]
OpenCallResult = Annotated[
    CallOpened | InvalidInput | CallAlreadyOpen | NotAuthenticated | AccessDenied,
    strawberry.union("OpenCallResult"),
]
CloseCallResult = Annotated[
    CallClosed | InvalidInput | CallNotFound | CallAlreadyClosed | NotAuthenticated | AccessDenied,
    strawberry.union("CloseCallResult"),
]


def _period(info: Info, date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """The days ``date_from``..``date_to`` of the region's calendar (a shift's «today»), as UTC instants."""
    if date_to < date_from or (date_to - date_from).days >= MAX_KPI_DAYS:
        raise PublicError(f"Период: от 1 до {MAX_KPI_DAYS} дней, конец не раньше начала.", code="INVALID_ARGUMENT")
    zone = ZoneInfo(info.context.runtime.settings.region_timezone)
    return (
        datetime.combine(date_from, time.min, tzinfo=zone).astimezone(UTC),
        datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC),
    )


# ---------------------------------------------------------------------------------------------- operations


@strawberry.type
class Query:
    @strawberry.field(description="Мой незавершённый звонок и действия в нём (для оператора 122).")
    async def current_call(self, info: Info) -> CallRecordType | None:
        operator_id = require_staff(info)
        async with info.context.sessionmaker() as session:
            call = await service.current(session, operator_id)
            if call is None:
                return None
            return CallRecordType.of(call, await service.actions_since(session, operator_id, call))

    @strawberry.field(
        description="Кто может звонить: люди с подтверждённым номером, с которого пришёл мой принятый звонок "
        "(поиск записывается в журнал доступа каждого из них)."
    )
    async def caller_candidates(self, info: Info) -> CallerCandidatesResult:
        operator_id = require_staff(info)
        try:
            async with info.context.sessionmaker() as session:
                found = await service.caller_candidates(
                    session, info.context.sessionmaker, info.context.ctx, operator_id
                )
        except problems.ProblemError as exc:
            return graphql_problem(exc.problem)  # type: ignore[return-value]
        return CallerCandidates(
            phone=found.call.caller_phone or "",
            candidates=[
                CallerCandidate(patient_id=p.id, short_name=p.short_name, birth_year=p.birth_date.year)
                for p in found.patients
            ],
            message=found.message,
        )

    @strawberry.field(description="Мои последние звонки, новые первыми.")
    async def recent_calls(self, info: Info, first: int = 10) -> list[CallRecordType]:
        operator_id = require_staff(info)
        limit = max(1, min(first, MAX_RECENT))
        async with info.context.sessionmaker() as session:
            calls = await service.recent(session, operator_id, limit)
        return [CallRecordType.of(c, [service.CallAction.of_json(a) for a in c.actions]) for c in calls]

    @strawberry.field(description="Итоги звонка, из которых оператор выбирает.")
    def call_outcomes(self) -> list[CallOutcomeOption]:
        return [CallOutcomeOption(outcome=o, label=o.label_ru) for o in service.CallOutcome]

    @strawberry.field(
        description="Звонки в 122 за дни периода (по календарю региона) по часам и итогам (для старшего смены)."
    )
    async def calls_kpi(self, info: Info, date_from: date, date_to: date) -> CallsKpi:
        require_staff(info)
        start, end = _period(info, date_from, date_to)
        async with info.context.sessionmaker() as session:
            found = await service.kpi(session, start, end)
        return CallsKpi(
            start=start,
            end=end,
            total=found.total,
            open=found.open,
            average_duration_seconds=found.average_duration_s,
            by_hour=[CallHourCount(hour=h, count=n) for h, n in found.by_hour],
            by_outcome=[
                CallOutcomeCount(outcome=o, label=o.label_ru, count=found.by_outcome.get(o.value, 0))
                for o in service.CallOutcome
            ],
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Принять звонок: начать запись звонка (номер звонящего — если известен).")
    @atomic
    @domain_problems
    async def open_call(self, info: Info, idempotency_key: str, caller_phone: str | None = None) -> OpenCallResult:
        operator_id = require_staff(info)
        call = await service.open_call(
            info.context.uow, operator_id, caller_phone=caller_phone, idempotency_key=idempotency_key
        )
        return CallOpened(call=CallRecordType.of(call, []))

    @strawberry.mutation(description="Завершить звонок с итогом; действия в нём берутся из журнала аудита.")
    @atomic
    @domain_problems
    async def close_call(
        self,
        info: Info,
        call_id: uuid.UUID,
        outcome: CallOutcome,  # type: ignore[valid-type]
        idempotency_key: str,
        note: str | None = None,
    ) -> CloseCallResult:
        operator_id = require_staff(info)
        view = await service.close_call(
            info.context.uow,
            operator_id,
            call_id,
            outcome=service.CallOutcome(outcome),
            note=note,
            idempotency_key=idempotency_key,
        )
        return CallClosed(call=CallRecordType.of(view.call, view.actions))
