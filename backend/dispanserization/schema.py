"""GraphQL for dispanserization and preventive exams: what is due, the questionnaire, days that fit the
whole first stage, and the plan booked, moved or cancelled as a whole (kiosk and 122 too).

Mutations take ``idempotencyKey`` and ``actingFor`` and wear booking's ``@booking_mutation`` outside
``@atomic``: a plan whose visits the hub accepted but whose unit of work did not commit is cancelled at the
hub through the outbox (compensation), and a refusal is kept as the key's answer.
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
from backend.api.problems import (
    AccessDenied,
    FieldProblem,
    InvalidInput,
    NotAuthenticated,
    Problem,
    ProblemError,
    PublicError,
)
from backend.audit import service as audit
from backend.booking import idempotency
from backend.booking import problems as booking_problems
from backend.booking.graphql_types import (
    AppointmentType,
    BookingServiceUnavailable,
    IdempotencyKeyReused,
    OutcomeUnknown,
    SlotType,
    graphql_problem,
    problem_from_json,
)
from backend.booking.schema import booking_mutation
from backend.dispanserization import problems, rules, service
from backend.dispanserization.models import Plan, Questionnaire
from backend.identity.policy import SCOPE_BOOKING, ConfirmationRequired, require_subject

P = ParamSpec("P")
R = TypeVar("R")


# -- problems -------------------------------------------------------------------------------------


@strawberry.type(description="Профилактический осмотр и диспансеризация взрослых — с 18 лет.")
class NotEligibleForDispanserization(Problem):
    pass


@strawberry.type(description="Прикрепление к поликлинике не найдено: диспансеризацию проходят по прикреплению.")
class NotAttachedToClinic(Problem):
    pass


@strawberry.type(description="В выбранные даты нет дня, когда свободны все нужные кабинеты.")
class NoDayForPlan(Problem):
    pass


@strawberry.type(description="Одно из обследований плана не удалось записать; ни одна запись плана не сохранена.")
class PlanExamLost(Problem):
    pass


@strawberry.type(description="План диспансеризации не найден или уже изменен.")
class PlanNotFound(Problem):
    pass


_PROBLEMS: dict[type[problems.DispanserizationProblem], type[Problem]] = {
    problems.NotEligible: NotEligibleForDispanserization,
    problems.NotAttached: NotAttachedToClinic,
    problems.NoRoomForPlan: NoDayForPlan,
    problems.PlanExamLost: PlanExamLost,
    problems.PlanNotFound: PlanNotFound,
    problems.ServiceUnavailable: BookingServiceUnavailable,
}
_STORED: dict[str, type[Problem]] = {cls.__name__: cls for cls in _PROBLEMS.values()}


def _graphql(problem: problems.DispanserizationProblem) -> Problem:
    if isinstance(problem, problems.InvalidInput):
        return InvalidInput(
            code=problem.code,
            message=problem.message,
            fields=[FieldProblem(field=f.field, message=f.message) for f in problem.fields],
        )
    return _PROBLEMS[type(problem)](code=problem.code, message=problem.message)


def _problems(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Inside ``@atomic``: this domain's and booking's problems become union members."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except problems.ProblemError as exc:
            raise ProblemError(_graphql(exc.problem)) from None
        except booking_problems.ProblemError as exc:
            raise ProblemError(graphql_problem(exc.problem)) from None

    return wrapper


def _stored_problem(stored: dict[str, Any]) -> Problem:
    cls = _STORED.get(stored.get("class", ""))
    if cls is not None:
        return cls(code=stored["code"], message=stored["message"])
    return problem_from_json(stored)


# -- types ----------------------------------------------------------------------------------------------


@strawberry.type(name="DispanserizationExam", description="Обследование первого этапа, со ссылкой на пункт приказа.")
class ExamType:
    code: str
    name: str
    citation: str = strawberry.field(description="Пункт Порядка (приказ Минздрава России № 404н).")
    booked: bool = strawberry.field(
        description="Записываться ли на него (false: в ходе другого визита или по направлению)."
    )

    @classmethod
    def of(cls, exam: rules.Exam) -> ExamType:
        return cls(code=exam.code, name=exam.name, citation=exam.citation, booked=exam.resource is not None)


@strawberry.type(name="DispanserizationQuestion", description="Вопрос анкеты (Порядок, п. 16 пп. 1).")
class QuestionType:
    code: str
    text: str
    answer_type: str = strawberry.field(description="yes_no или year.")
    topic: str


@strawberry.type(name="DispanserizationPlanItem", description="Визит плана: кабинет или врач, обследования, запись.")
class PlanItemType:
    position: int
    exams: list[ExamType]
    appointment: AppointmentType | None


@strawberry.type(
    name="DispanserizationPlan", description="План диспансеризации: маршрут одного дня в своей поликлинике."
)
class PlanType:
    id: uuid.UUID
    day: date
    mo_id: str
    kind: str
    status: str = strawberry.field(description="booked, replaced (перенесен) или cancelled.")
    rules_version: str
    replaced_by_id: uuid.UUID | None
    created_at: datetime
    items: list[PlanItemType]

    @classmethod
    def of(cls, view: service.PlanView) -> PlanType:
        p = view.plan
        return cls(
            id=p.id,
            day=p.day,
            mo_id=p.mo_id,
            kind=p.kind,
            status=p.status,
            rules_version=p.rules_version,
            replaced_by_id=p.replaced_by_id,
            created_at=p.created_at,
            items=[
                PlanItemType(
                    position=item.position,
                    exams=[ExamType.of(rules.EXAMS[c]) for c in item.exams.get("codes", []) if c in rules.EXAMS],
                    appointment=AppointmentType.of(a) if a is not None else None,
                )
                for item, a in view.items
            ],
        )


@strawberry.type(name="Dispanserization", description="Что положено в этом году, анкета и первый этап.")
class OverviewType:
    year: int
    age: int
    kind: str | None = strawberry.field(description="dispanserization, preventive или null (до 18 лет).")
    next_dispanserization_year: int | None
    order: str = strawberry.field(description="Приказ, по которому определены сроки и перечень.")
    rules_version: str
    questions: list[QuestionType]
    answered_at: datetime | None
    exams: list[ExamType] = strawberry.field(description="Первый этап по возрасту, полу и ответам анкеты.")
    flags: list[str] = strawberry.field(description="Что увидит терапевт по ответам анкеты.")
    plan_id: uuid.UUID | None


@strawberry.type(name="DispanserizationStep", description="Визит маршрута: талон и обследования.")
class StepType:
    resource_name: str
    exams: list[ExamType]
    slot: SlotType


@strawberry.type(name="DispanserizationDay", description="День, когда все визиты первого этапа помещаются подряд.")
class ItineraryType:
    day: date
    mo_id: str
    steps: list[StepType]
    slots: list[str] = strawberry.field(description="Талоны для bookDispanserizationPlan, по порядку.")


@strawberry.input(description="Ответ на вопрос анкеты: yes для вопросов да/нет, year для вопросов о годе.")
class AnswerInput:
    code: str
    yes: bool | None = None
    year: int | None = None


@strawberry.type(description="Анкета сохранена; перечень первого этапа пересчитан.")
class QuestionnaireAnswered:
    exams: list[ExamType]
    flags: list[str]


@strawberry.type(description="План записан: все визиты.")
class PlanBooked:
    plan: PlanType


@strawberry.type(description="План перенесен целиком.")
class PlanRescheduled:
    plan: PlanType
    previous_id: uuid.UUID


@strawberry.type(description="План отменен: все записи отменяются.")
class PlanCancelled:
    plan: PlanType


_COMMON = NotAuthenticated | AccessDenied | InvalidInput | IdempotencyKeyReused | OutcomeUnknown
AnswerResult = Annotated[
    QuestionnaireAnswered | NotEligibleForDispanserization | _COMMON,
    strawberry.union("AnswerDispanserizationQuestionnaireResult"),
]
BookPlanResult = Annotated[
    PlanBooked
    | PlanExamLost
    | NotAttachedToClinic
    | NotEligibleForDispanserization
    | BookingServiceUnavailable
    | _COMMON,
    strawberry.union("BookDispanserizationPlanResult"),
]
ReschedulePlanResult = Annotated[
    PlanRescheduled
    | PlanExamLost
    | PlanNotFound
    | NotAttachedToClinic
    | NotEligibleForDispanserization
    | BookingServiceUnavailable
    | ConfirmationRequired
    | _COMMON,
    strawberry.union("RescheduleDispanserizationPlanResult"),
]
CancelPlanResult = Annotated[
    PlanCancelled | PlanNotFound | ConfirmationRequired | _COMMON,
    strawberry.union("CancelDispanserizationPlanResult"),
]


def _answers(items: list[AnswerInput]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for item in items:
        question = rules.QUESTIONS_BY_CODE.get(item.code)
        is_year = question is not None and question.answer_type is rules.AnswerType.YEAR
        raw[item.code] = item.year if is_year else item.yes
    return raw


async def _replay(info: Info, stored: dict[str, Any]) -> Any:
    if stored.get("type") == "problem":
        return _stored_problem(stored)
    session = info.context.uow.session
    if stored.get("type") == "answered":
        row = await session.get(Questionnaire, uuid.UUID(stored["id"]))
        assert row is not None
        return QuestionnaireAnswered(
            exams=[ExamType.of(rules.EXAMS[c]) for c in row.result.get("exams", [])], flags=row.result.get("flags", [])
        )
    plan = await session.get(Plan, uuid.UUID(stored["id"]))
    assert plan is not None
    typed = PlanType.of(await service.plan_view(session, plan))
    if stored["type"] == "rescheduled":
        return PlanRescheduled(plan=typed, previous_id=uuid.UUID(stored["previous_id"]))
    if stored["type"] == "cancelled":
        return PlanCancelled(plan=typed)
    return PlanBooked(plan=typed)


async def _begin(
    info: Info,
    operation: str,
    key: str,
    acting_for: uuid.UUID | None,
    request: dict[str, Any],
    *,
    sensitive: bool = False,
) -> tuple[uuid.UUID, Any]:
    patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for, sensitive=sensitive)
    stored = await idempotency.claim(info.context.uow, operation, key, {**request, "patient_id": str(patient_id)})
    return patient_id, (await _replay(info, stored) if stored is not None else None)


def _itinerary(info: Info, it: service.Itinerary) -> ItineraryType:
    return ItineraryType(
        day=it.day,
        mo_id=it.mo_id,
        steps=[
            StepType(
                resource_name=s.resource_name, exams=[ExamType.of(e) for e in s.exams], slot=SlotType.of(info, s.slot)
            )
            for s in it.steps
        ],
        slots=[s.ref for s in it.steps],
    )


@strawberry.type
class Query:
    @strawberry.field(description="Диспансеризация и профилактический осмотр: что положено, анкета, первый этап.")
    async def dispanserization(
        self, info: Info, year: int | None = None, acting_for: uuid.UUID | None = None
    ) -> OverviewType:
        patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
        async with info.context.sessionmaker() as session:
            o = await service.overview(info.context.runtime, session, patient_id, year)
        await audit.record_now(
            info.context.sessionmaker,
            info.context.ctx,
            "dispanserization.read",
            object_type="questionnaire",
            subject_id=patient_id,
            details={"year": o.year},
        )
        return OverviewType(
            year=o.year,
            age=o.age,
            kind=o.kind.value if o.kind else None,
            next_dispanserization_year=o.next_dispanserization_year,
            order=rules.ORDER_CITATION,
            rules_version=rules.RULES_VERSION,
            questions=[
                QuestionType(code=q.code, text=q.text, answer_type=q.answer_type.value, topic=q.topic)
                for q in o.questions
            ],
            answered_at=o.questionnaire.updated_at if o.questionnaire else None,
            exams=[ExamType.of(e) for e in o.stage.exams] if o.stage else [],
            flags=o.stage.flags if o.stage else [],
            plan_id=o.plan.id if o.plan else None,
        )

    @strawberry.field(
        description="Дни, когда все визиты первого этапа помещаются подряд в поликлинике прикрепления (до 31 дня)."
    )
    async def dispanserization_days(
        self,
        info: Info,
        date_from: date,
        date_to: date | None = None,
        acting_for: uuid.UUID | None = None,
        limit: Annotated[int, strawberry.argument(description="Не больше стольких дней (1–5).")] = 5,
    ) -> list[ItineraryType]:
        patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
        end = date_to or date_from + timedelta(days=13)
        async with info.context.sessionmaker() as session:
            try:
                found = await service.find_days(
                    info.context.runtime, session, patient_id, date_from, end, limit=max(1, min(limit, 5))
                )
            except problems.ProblemError as exc:
                raise PublicError(exc.problem.message, code=exc.problem.code) from None
        return [_itinerary(info, it) for it in found]

    @strawberry.field(description="Мои планы диспансеризации (маршруты), новые первыми.")
    async def my_dispanserization_plans(
        self,
        info: Info,
        acting_for: uuid.UUID | None = None,
        limit: Annotated[int, strawberry.argument(description="Не больше стольких планов (1–20).")] = 10,
    ) -> list[PlanType]:
        patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
        async with info.context.sessionmaker() as session:
            views = await service.plans_of(session, patient_id, limit=max(1, min(limit, 20)))
        await audit.record_now(
            info.context.sessionmaker,
            info.context.ctx,
            "dispanserization.plans_read",
            object_type="dispanserization_plan",
            subject_id=patient_id,
            details={"count": len(views)},
        )
        return [PlanType.of(v) for v in views]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Ответить на анкету (анкетирование): перечень первого этапа пересчитывается.")
    @booking_mutation
    @atomic
    @_problems
    async def answer_dispanserization_questionnaire(
        self, info: Info, answers: list[AnswerInput], idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> AnswerResult:
        raw = _answers(answers)
        patient_id, replay = await _begin(
            info, "answerDispanserizationQuestionnaire", idempotency_key, acting_for, {"answers": raw}
        )
        if replay is not None:
            return replay
        uow = info.context.uow
        row = await service.answer(uow, patient_id, raw)
        idempotency.remember(uow, {"type": "answered", "id": str(row.id)})
        return QuestionnaireAnswered(
            exams=[ExamType.of(rules.EXAMS[c]) for c in row.result["exams"]], flags=row.result["flags"]
        )

    @strawberry.mutation(description="Записаться на весь первый этап в один день: все визиты или ни одного.")
    @booking_mutation
    @atomic
    @_problems
    async def book_dispanserization_plan(
        self, info: Info, slots: list[str], idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> BookPlanResult:
        patient_id, replay = await _begin(
            info, "bookDispanserizationPlan", idempotency_key, acting_for, {"slots": slots}
        )
        if replay is not None:
            return replay
        uow = info.context.uow
        plan = await service.book_plan(uow, patient_id, slots)
        idempotency.remember(uow, {"type": "booked", "id": str(plan.id)})
        return PlanBooked(plan=PlanType.of(await service.plan_view(uow.session, plan)))

    @strawberry.mutation(
        description="Перенести план целиком на новые талоны: все визиты или ни одного. Оператору 122 нужен код из СМС."
    )
    @booking_mutation
    @atomic
    @_problems
    async def reschedule_dispanserization_plan(
        self,
        info: Info,
        plan_id: uuid.UUID,
        slots: list[str],
        idempotency_key: str,
        acting_for: uuid.UUID | None = None,
    ) -> ReschedulePlanResult:
        patient_id, replay = await _begin(
            info,
            "rescheduleDispanserizationPlan",
            idempotency_key,
            acting_for,
            {"plan_id": str(plan_id), "slots": slots},
            sensitive=True,
        )
        if replay is not None:
            return replay
        uow = info.context.uow
        plan = await service.reschedule_plan(uow, patient_id, plan_id, slots)
        idempotency.remember(uow, {"type": "rescheduled", "id": str(plan.id), "previous_id": str(plan_id)})
        return PlanRescheduled(plan=PlanType.of(await service.plan_view(uow.session, plan)), previous_id=plan_id)

    @strawberry.mutation(description="Отменить план целиком. Оператору 122 нужен код из СМС звонящего.")
    @booking_mutation
    @atomic
    @_problems
    async def cancel_dispanserization_plan(
        self, info: Info, plan_id: uuid.UUID, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> CancelPlanResult:
        patient_id, replay = await _begin(
            info, "cancelDispanserizationPlan", idempotency_key, acting_for, {"plan_id": str(plan_id)}, sensitive=True
        )
        if replay is not None:
            return replay
        uow = info.context.uow
        plan = await service.cancel_plan(uow, patient_id, plan_id)
        idempotency.remember(uow, {"type": "cancelled", "id": str(plan.id)})
        return PlanCancelled(plan=PlanType.of(await service.plan_view(uow.session, plan)))
