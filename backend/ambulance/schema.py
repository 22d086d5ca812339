"""GraphQL for ambulance tracking: my calls (live and history), the live subscription per call, the location
consent and updates, the survey, and the staff KPI. The mobile app only: a 122 operator or a kiosk has no
``SCOPE_AMBULANCE`` (the caller follows their own call; an operator has 103 for that), and a proxy sees a
principal's (a child's) calls only through a grant carrying it.

Mutations take ``idempotencyKey`` (booking's idempotency records: a repeat returns the first result).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ParamSpec, TypeVar

import strawberry

from backend.ambulance import problems, service
from backend.ambulance.graphql_types import (
    STORED,
    AmbulanceArrivalKpi,
    AmbulanceArrivalStats,
    AmbulanceCallType,
    AmbulanceCallUpdate,
    AmbulanceConsentGiven,
    AmbulanceConsentType,
    AmbulanceConsentWithdrawn,
    AmbulanceLocationInput,
    AmbulanceLocationShared,
    AmbulanceSurveyAnswered,
    GrantConsentResult,
    ShareLocationResult,
    SurveyResult,
    WithdrawConsentResult,
    graphql_problem,
)
from backend.ambulance.live import STATE, LiveUpdate
from backend.ambulance.models import FINAL, AmbulanceConsent, AmbulanceLocation, AmbulanceSurvey
from backend.api.atomic import atomic
from backend.api.context import Info, info_of
from backend.api.problems import FieldProblem, InvalidInput, Problem, ProblemError, PublicError
from backend.audit import service as audit
from backend.booking import idempotency
from backend.booking import problems as booking_problems
from backend.booking.graphql_types import IdempotencyKeyReused
from backend.core import aio
from backend.identity.policy import SCOPE_AMBULANCE, require_staff, require_subject

P = ParamSpec("P")
R = TypeVar("R")
TRANSIENT_CODES = frozenset({problems.TooFrequent.CODE})


#: ``ambulanceCallUpdated``'s output is a function of the yielded object alone, and every subscriber of a call in
#: this process is given the same object for the same update (:func:`shared_update`): a registered document's
#: ``next`` message is built once per update, not once per subscriber (backend/api/live.py).
SHARED_SUBSCRIPTIONS = ("ambulanceCallUpdated",)


@functools.lru_cache(maxsize=4096)
def shared_update(update: LiveUpdate) -> AmbulanceCallUpdate:
    """One typed object per update in this process: the bus hands the same :class:`LiveUpdate` to every
    mailbox of the call, so its subscribers yield the same object (4,096 kept: a few seconds at 1,000
    updates/s; a subscriber later than that gets an equal object of its own)."""
    return AmbulanceCallUpdate.of(update)


def call_not_visible() -> PublicError:
    """The subscription's refusal: not the person's call, or no longer live."""
    return PublicError(problems.CallNotFound.MESSAGE, code=problems.CallNotFound.CODE)


def domain_problems(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except problems.ProblemError as exc:
            raise ProblemError(graphql_problem(exc.problem)) from None
        except booking_problems.ProblemError as exc:
            p = exc.problem
            if isinstance(p, booking_problems.InvalidInput):
                fields = [FieldProblem(field=f.field, message=f.message) for f in p.fields]
                raise ProblemError(InvalidInput(code=p.code, message=p.message, fields=fields)) from None
            raise ProblemError(IdempotencyKeyReused(code=p.code, message=p.message)) from None

    return wrapper


def keyed(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Outside ``@atomic``: a business refusal is kept as the key's result (a transient one is not)."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        info = info_of(args, kwargs, "@keyed")
        token = idempotency.start_scope()
        try:
            result = await fn(*args, **kwargs)
        finally:
            claims = idempotency.end_scope(token)
        if isinstance(result, Problem) and claims and result.code not in TRANSIENT_CODES:
            await idempotency.store_problem(info.context.runtime, claims, result)
        return result

    return wrapper


async def _replay(info: Info, stored: dict[str, Any]) -> Any:
    if stored.get("type") == "problem":
        cls = STORED.get(stored.get("class", ""))
        if cls is InvalidInput:
            fields = [FieldProblem(field=f["field"], message=f["message"]) for f in stored.get("fields", [])]
            return InvalidInput(code=stored["code"], message=stored["message"], fields=fields)
        if cls is None:
            raise ValueError(f"unknown stored problem {stored.get('class')!r}")
        return cls(code=stored["code"], message=stored["message"])
    session = info.context.uow.session
    kind, ref = stored["type"], uuid.UUID(stored["id"])
    if kind in ("consent_given", "consent_withdrawn"):
        consent = await session.get(AmbulanceConsent, ref)
        assert consent is not None
        typed = AmbulanceConsentType.of(consent)
        return (
            AmbulanceConsentGiven(consent=typed)
            if kind == "consent_given"
            else AmbulanceConsentWithdrawn(consent=typed)
        )
    if kind == "location":
        location = await session.get(AmbulanceLocation, ref)
        assert location is not None
        return AmbulanceLocationShared(received_at=location.received_at)
    survey = await session.get(AmbulanceSurvey, ref)
    assert survey is not None
    return AmbulanceSurveyAnswered(score=survey.score)


async def _begin(
    info: Info, operation: str, key: str, acting_for: uuid.UUID | None, request: dict[str, Any]
) -> tuple[uuid.UUID, Any]:
    subject = await require_subject(info, SCOPE_AMBULANCE, acting_for=acting_for)
    stored = await idempotency.claim(info.context.uow, operation, key, {**request, "subject": str(subject)})
    return subject, (await _replay(info, stored) if stored is not None else None)


async def _calls(info: Info, acting_for: uuid.UUID | None, *, open_only: bool) -> list[AmbulanceCallType]:
    subject = await require_subject(info, SCOPE_AMBULANCE, acting_for=acting_for)
    async with info.context.sessionmaker() as session:
        views = await service.calls_of(session, subject, open_only=open_only)
    await audit.record_now(
        info.context.sessionmaker,
        info.context.ctx,
        "ambulance.calls_read",
        object_type="ambulance_call",
        subject_id=subject,
        details={"count": len(views), "live": open_only},
    )
    return [AmbulanceCallType.of(v) for v in views]


@strawberry.type
class Query:
    @strawberry.field(description="Мои незавершённые вызовы скорой помощи: статус, бригада, время прибытия.")
    async def ambulance_live(self, info: Info, acting_for: uuid.UUID | None = None) -> list[AmbulanceCallType]:
        return await _calls(info, acting_for, open_only=True)

    @strawberry.field(description="Все мои вызовы скорой помощи (история), новые первыми.")
    async def my_ambulance_calls(self, info: Info, acting_for: uuid.UUID | None = None) -> list[AmbulanceCallType]:
        return await _calls(info, acting_for, open_only=False)

    @strawberry.field(description="Вопрос опроса после завершения вызова скорой помощи.")
    def ambulance_survey_question(self) -> str:
        return service.QUESTION

    @strawberry.field(description="Время прибытия скорой помощи за период: медиана, p90, доля до 20 минут (персонал).")
    async def ambulance_arrival_kpi(self, info: Info, date_from: date, date_to: date) -> AmbulanceArrivalKpi:
        require_staff(info)
        start = datetime.combine(date_from, time.min, tzinfo=UTC)
        end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
        async with info.context.sessionmaker() as session:
            stats = await service.arrival_kpi(session, start, end)
        overall = next((AmbulanceArrivalStats.of(s) for s in stats if s.district_id == ""), None)
        return AmbulanceArrivalKpi(
            start=start,
            end=end,
            overall=overall,
            by_district=[AmbulanceArrivalStats.of(s) for s in stats if s.district_id],
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Согласие передавать бригаде моё местоположение (и экстренный профиль) по вызову.")
    @keyed
    @atomic
    @domain_problems
    async def grant_ambulance_location_consent(
        self,
        info: Info,
        call_id: uuid.UUID,
        share_emergency_profile: bool,
        idempotency_key: str,
        acting_for: uuid.UUID | None = None,
    ) -> GrantConsentResult:
        request = {"call": str(call_id), "profile": share_emergency_profile}
        subject, replay = await _begin(info, "grantAmbulanceLocationConsent", idempotency_key, acting_for, request)
        if replay is not None:
            return replay
        uow = info.context.uow
        consent = await service.grant(uow, subject, call_id, share_profile=share_emergency_profile)
        idempotency.remember(uow, {"type": "consent_given", "id": str(consent.id)})
        return AmbulanceConsentGiven(consent=AmbulanceConsentType.of(consent))

    @strawberry.mutation(description="Отозвать согласие на передачу местоположения бригаде.")
    @keyed
    @atomic
    @domain_problems
    async def withdraw_ambulance_location_consent(
        self, info: Info, call_id: uuid.UUID, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> WithdrawConsentResult:
        subject, replay = await _begin(
            info, "withdrawAmbulanceLocationConsent", idempotency_key, acting_for, {"call": str(call_id)}
        )
        if replay is not None:
            return replay
        uow = info.context.uow
        consent = await service.withdraw(uow, subject, call_id)
        idempotency.remember(uow, {"type": "consent_withdrawn", "id": str(consent.id)})
        return AmbulanceConsentWithdrawn(consent=AmbulanceConsentType.of(consent))

    @strawberry.mutation(description="Передать бригаде моё текущее местоположение (нужно согласие).")
    @keyed
    @atomic
    @domain_problems
    async def share_ambulance_location(
        self,
        info: Info,
        call_id: uuid.UUID,
        location: AmbulanceLocationInput,
        idempotency_key: str,
        acting_for: uuid.UUID | None = None,
    ) -> ShareLocationResult:
        request = {"call": str(call_id), "lat": location.lat, "lon": location.lon, "at": location.at.isoformat()}
        subject, replay = await _begin(info, "shareAmbulanceLocation", idempotency_key, acting_for, request)
        if replay is not None:
            return replay
        uow = info.context.uow
        row = await service.share_location(
            uow, subject, call_id, lat=location.lat, lon=location.lon, accuracy_m=location.accuracy_m, at=location.at
        )
        idempotency.remember(uow, {"type": "location", "id": str(row.id)})
        return AmbulanceLocationShared(received_at=row.received_at)

    @strawberry.mutation(description="Ответить на вопрос о завершённом вызове скорой помощи (оценка 1–5).")
    @keyed
    @atomic
    @domain_problems
    async def answer_ambulance_survey(
        self,
        info: Info,
        call_id: uuid.UUID,
        score: int,
        idempotency_key: str,
        *,
        comment: str | None = None,
        acting_for: uuid.UUID | None = None,
    ) -> SurveyResult:
        request = {"call": str(call_id), "score": score, "comment": comment}
        subject, replay = await _begin(info, "answerAmbulanceSurvey", idempotency_key, acting_for, request)
        if replay is not None:
            return replay
        uow = info.context.uow
        row = await service.answer(uow, subject, call_id, score=score, comment=comment)
        idempotency.remember(uow, {"type": "survey", "id": str(row.id)})
        return AmbulanceSurveyAnswered(score=row.score)


#: Subscription setups (the call read, the audit row) at once per worker: at most the pool's size.
_SETUPS = aio.Admission()


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Вызов скорой помощи вживую: сначала текущее состояние, затем каждое изменение; положение "
        "бригады — всегда последнее (медленный клиент не получает устаревшие точки). Завершается с вызовом."
    )
    async def ambulance_call_updated(
        self, info: Info, call_id: uuid.UUID, acting_for: uuid.UUID | None = None
    ) -> AsyncGenerator[AmbulanceCallUpdate, Any]:
        subject = await require_subject(info, SCOPE_AMBULANCE, acting_for=acting_for)
        runtime = info.context.runtime
        bus = runtime.adapters.ambulance_bus
        with bus.open_mailbox(call_id) as mailbox:  # registered before the state is read: nothing is missed
            await bus.ready()
            # A reconnect storm queues here, not in the pool (whose checkout times out).
            async with _SETUPS.gate(runtime.settings.database_pool_size):
                async with info.context.sessionmaker() as session:
                    call = await service.call_for(session, subject, call_id)
                if call is None or call.status in FINAL:
                    raise call_not_visible()
                await audit.record_now(
                    info.context.sessionmaker,
                    info.context.ctx,
                    "ambulance.live_watched",
                    object_type="ambulance_call",
                    object_id=call_id,
                    subject_id=subject,
                )
            state = service.live_update(call, STATE)
            yield AmbulanceCallUpdate.of(state)
            # Statuses come through the outbox and positions straight after their commit, so a status may
            # arrive after a newer position: each kind is checked against its own last version.
            status_seen = position_seen = state.version
            while True:
                update = await mailbox.get()
                if update.kind == "position":
                    if update.version < position_seen:
                        continue  # older than the position already sent
                    position_seen = update.version
                elif update.version <= status_seen:
                    continue  # already in the state sent
                else:
                    status_seen = update.version
                yield shared_update(update)
                if update.status in FINAL:
                    return
