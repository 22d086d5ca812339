"""GraphQL for the no-show rules: the patient sees the rule, their no-shows, the limit in force (why and
until when) and contests a no-show; the clinic's staff decide contests (an upheld one lifts the limit)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any, ParamSpec, TypeVar

import strawberry

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.api.problems import AccessDenied, NotAuthenticated, ProblemError
from backend.audit import service as audit
from backend.booking import idempotency
from backend.booking import problems as booking_problems
from backend.booking import service as booking
from backend.booking.graphql_types import (
    AppointmentMissing,
    IdempotencyKeyReused,
    InvalidInput,
    OutcomeUnknown,
    graphql_problem,
    problem_from_json,
)
from backend.booking.models import NoShowContest
from backend.booking.schema import booking_mutation
from backend.identity.policy import SCOPE_BOOKING, require_staff, require_subject

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


@strawberry.type(name="NoShowContest", description="Обращение в поликлинику: неявка оспорена.")
class ContestType:
    id: uuid.UUID
    appointment_id: uuid.UUID
    mo_id: str
    reason: str
    status: str = strawberry.field(description="pending (на рассмотрении), upheld (неявка снята), rejected.")
    created_at: datetime
    decided_at: datetime | None
    decision_note: str | None

    @classmethod
    def of(cls, c: NoShowContest) -> ContestType:
        return cls(
            id=c.id,
            appointment_id=c.appointment_id,
            mo_id=c.mo_id,
            reason=c.reason,
            status=c.status,
            created_at=c.created_at,
            decided_at=c.decided_at,
            decision_note=c.decision_note,
        )


@strawberry.type(name="NoShow", description="Неявка на прием, отмеченная поликлиникой.")
class NoShowType:
    appointment_id: uuid.UUID
    day: date
    specialty_name: str
    doctor_name: str
    mo_name: str
    counts: bool = strawberry.field(description="Учитывается ли в правиле (false: неявка снята по обращению).")
    contest: ContestType | None


@strawberry.type(name="NoShowRule", description="Правило о неявках.")
class RuleType:
    version: str
    count: int
    window_days: int
    limit_days: int
    text: str


@strawberry.type(name="NoShowStatus", description="Мои неявки, правило и ограничение онлайн-записи, если оно есть.")
class StatusType:
    rule: RuleType
    limited: bool
    limited_until: date | None = strawberry.field(description="Последний день ограничения онлайн-записи.")
    triggered_by: list[date] = strawberry.field(description="Даты неявок, из-за которых введено ограничение.")
    no_shows: list[NoShowType]


@strawberry.type(description="Неявка оспорена: обращение отправлено в поликлинику.")
class NoShowContested:
    contest: ContestType


@strawberry.type(description="Решение по обращению принято.")
class NoShowContestDecided:
    contest: ContestType


_COMMON = NotAuthenticated | AccessDenied | InvalidInput | IdempotencyKeyReused | OutcomeUnknown
ContestResult = Annotated[NoShowContested | AppointmentMissing | _COMMON, strawberry.union("ContestNoShowResult")]
DecideResult = Annotated[NoShowContestDecided | _COMMON, strawberry.union("DecideNoShowContestResult")]


def _status(s: booking.no_shows.NoShowStatus) -> StatusType:
    rule = s.rule
    return StatusType(
        rule=RuleType(
            version=rule.version,
            count=rule.count,
            window_days=rule.window_days,
            limit_days=rule.limit_days,
            text=rule.describe(),
        ),
        limited=s.limited,
        limited_until=s.until,
        triggered_by=[n.day for n in s.triggering],
        no_shows=[
            NoShowType(
                appointment_id=n.appointment.id,
                day=n.day,
                specialty_name=n.appointment.specialty_name,
                doctor_name=n.appointment.doctor_name,
                mo_name=n.appointment.mo_name,
                counts=n.counts,
                contest=ContestType.of(n.contest) if n.contest is not None else None,
            )
            for n in s.no_shows
        ],
    )


async def _replay(info: Info, stored: dict[str, Any], success: Callable[[ContestType], Any]) -> Any:
    if stored.get("type") == "problem":
        return problem_from_json(stored)
    row = await info.context.uow.session.get(NoShowContest, uuid.UUID(stored["id"]))
    assert row is not None
    return success(ContestType.of(row))


@strawberry.type
class Query:
    @strawberry.field(description="Мои неявки и правило: ограничена ли онлайн-запись, почему и до какого дня.")
    async def my_no_show_status(self, info: Info, acting_for: uuid.UUID | None = None) -> StatusType:
        patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
        async with info.context.sessionmaker() as session:
            status = await booking.no_shows.no_show_status(info.context.runtime, session, patient_id)
        await audit.record_now(
            info.context.sessionmaker,
            info.context.ctx,
            "booking.no_shows_read",
            object_type="appointment",
            subject_id=patient_id,
            details={"count": len(status.no_shows), "limited": status.limited},
        )
        return _status(status)

    @strawberry.field(description="Обращения об оспаривании неявок, ожидающие решения (для персонала поликлиники).")
    async def no_show_contests(self, info: Info, mo_id: str | None = None) -> list[ContestType]:
        require_staff(info)
        async with info.context.sessionmaker() as session:
            rows = await booking.no_shows.pending_contests(session, mo_id=mo_id)
        return [ContestType.of(r) for r in rows]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Оспорить неявку: обращение уходит в поликлинику; при согласии неявка снимается.")
    @booking_mutation
    @atomic
    @_problems
    async def contest_no_show(
        self,
        info: Info,
        appointment_id: uuid.UUID,
        reason: str,
        idempotency_key: str,
        acting_for: uuid.UUID | None = None,
    ) -> ContestResult:
        patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
        uow = info.context.uow
        request = {"appointment_id": str(appointment_id), "reason": reason, "patient_id": str(patient_id)}
        stored = await idempotency.claim(uow, "contestNoShow", idempotency_key, request)
        if stored is not None:
            return await _replay(info, stored, lambda c: NoShowContested(contest=c))
        row = await booking.no_shows.contest(uow, patient_id, appointment_id, reason)
        idempotency.remember(uow, {"type": "contested", "id": str(row.id)})
        return NoShowContested(contest=ContestType.of(row))

    @strawberry.mutation(description="Решение поликлиники по обращению о неявке (для персонала).")
    @booking_mutation
    @atomic
    @_problems
    async def decide_no_show_contest(
        self, info: Info, contest_id: uuid.UUID, upheld: bool, idempotency_key: str, note: str | None = None
    ) -> DecideResult:
        staff_id = require_staff(info)
        uow = info.context.uow
        request = {"contest_id": str(contest_id), "upheld": upheld, "note": note}
        stored = await idempotency.claim(uow, "decideNoShowContest", idempotency_key, request)
        if stored is not None:
            return await _replay(info, stored, lambda c: NoShowContestDecided(contest=c))
        row = await booking.no_shows.decide(uow, staff_id, contest_id, upheld=upheld, note=note)
        idempotency.remember(uow, {"type": "decided", "id": str(row.id)})
        return NoShowContestDecided(contest=ContestType.of(row))
