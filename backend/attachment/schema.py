"""GraphQL for attachment: my clinic, area and doctor; applying to another clinic; my applications over
time; the staff KPI. The mobile app and the 122 operator use it.

``applyForAttachment`` takes ``idempotencyKey`` (booking's idempotency records) and ``actingFor`` (a
child through the parent's grant).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, ParamSpec, TypeVar

import strawberry

from backend.api.atomic import atomic
from backend.api.context import Info, info_of
from backend.api.problems import AccessDenied, FieldProblem, InvalidInput, NotAuthenticated, Problem, ProblemError
from backend.attachment import problems, service
from backend.attachment.models import AttachmentApplication, AttachmentApplicationEvent
from backend.audit import service as audit
from backend.booking import idempotency
from backend.booking import problems as booking_problems
from backend.booking.graphql_types import IdempotencyKeyReused
from backend.directory.schema import OpeningHours
from backend.identity.policy import SCOPE_ATTACHMENT, require_staff, require_subject
from integrations.attachment import ApplicationStatus

P = ParamSpec("P")
R = TypeVar("R")


# ---------------------------------------------------------------------------------------------- problems


@strawberry.type(description="Медицинская организация не найдена.")
class AttachmentClinicNotFound(Problem):
    pass


@strawberry.type(description="Пациент уже прикреплён к этой поликлинике.")
class AttachmentAlreadyAttached(Problem):
    pass


@strawberry.type(description="Поликлинику можно выбирать не чаще раза в год (кроме смены места жительства).")
class AttachmentOnceAYear(Problem):
    pass


@strawberry.type(description="Поликлиника не обслуживает пациентов этого возраста.")
class AttachmentAgeGroupNotServed(Problem):
    pass


@strawberry.type(description="За ребёнка до 15 лет заявление подаёт законный представитель.")
class AttachmentRepresentativeRequired(Problem):
    pass


@strawberry.type(description="Заявление о прикреплении уже на рассмотрении.")
class AttachmentApplicationPending(Problem):
    pass


@strawberry.type(description="Полис ОМС не найден в регистре застрахованных лиц.")
class AttachmentNotInsured(Problem):
    pass


@strawberry.type(description="Заявление о прикреплении не принято.")
class AttachmentRefused(Problem):
    pass


@strawberry.type(description="Сервис прикрепления недоступен; можно повторить.")
class AttachmentServiceUnavailable(Problem):
    pass


_GRAPHQL_PROBLEMS: dict[type[problems.AttachmentProblem], type[Problem]] = {
    problems.ClinicNotFound: AttachmentClinicNotFound,
    problems.AlreadyAttached: AttachmentAlreadyAttached,
    problems.OnceAYear: AttachmentOnceAYear,
    problems.AgeGroupNotServed: AttachmentAgeGroupNotServed,
    problems.RepresentativeRequired: AttachmentRepresentativeRequired,
    problems.ApplicationPending: AttachmentApplicationPending,
    problems.NotInsured: AttachmentNotInsured,
    problems.AttachmentRefused: AttachmentRefused,
    problems.AttachmentServiceUnavailable: AttachmentServiceUnavailable,
}
_STORED: dict[str, type[Problem]] = {
    cls.__name__: cls
    for cls in (*_GRAPHQL_PROBLEMS.values(), InvalidInput, AccessDenied, NotAuthenticated, IdempotencyKeyReused)
}


def graphql_problem(problem: problems.AttachmentProblem) -> Problem:
    if isinstance(problem, problems.InvalidInput):
        return InvalidInput(
            code=problem.code,
            message=problem.message,
            fields=[FieldProblem(field=f.field, message=f.message) for f in problem.fields],
        )
    return _GRAPHQL_PROBLEMS[type(problem)](code=problem.code, message=problem.message)


def _problem_from_json(data: dict[str, Any]) -> Problem:
    cls = _STORED.get(data.get("class", ""))
    if cls is InvalidInput:
        return InvalidInput(
            code=data["code"],
            message=data["message"],
            fields=[FieldProblem(field=f["field"], message=f["message"]) for f in data.get("fields", [])],
        )
    if cls is None:
        raise ValueError(f"unknown stored problem {data.get('class')!r}")
    return cls(code=data["code"], message=data["message"])


# ---------------------------------------------------------------------------------------------- types


@strawberry.type(name="Attachment", description="Прикрепление к поликлинике: поликлиника, участок, врач.")
class AttachmentType:
    mo_id: str
    mo_name: str
    mo_address: str | None
    mo_phone: str | None
    mo_work_time: str | None = strawberry.field(
        description="Часы работы поликлиники так, как их передал хаб записи; null, если не сообщает."
    )
    mo_hours: OpeningHours | None = strawberry.field(
        description="Часы работы поликлиники по дням и «сегодня открыто до …»; null, если их не прочесть."
    )
    area_number: str | None = strawberry.field(description="Номер участка.")
    area_type: str | None = strawberry.field(description="Тип участка: терапевтический, педиатрический…")
    doctor_id: str | None
    doctor_name: str | None
    doctor_role: str | None = strawberry.field(description="Участковый терапевт, педиатр или врач общей практики.")
    attached_on: date
    by_application: bool = strawberry.field(description="Прикреплён по заявлению (а не по месту регистрации).")


@strawberry.type(description="Пациент не прикреплён ни к одной поликлинике.")
class NoAttachment:
    message: str


@strawberry.type(description="Шаг рассмотрения заявления.")
class AttachmentApplicationStep:
    status: str
    status_label: str
    at: datetime
    comment: str | None


@strawberry.type(name="AttachmentApplication", description="Заявление о прикреплении к поликлинике.")
class AttachmentApplicationType:
    id: uuid.UUID
    mo_id: str
    mo_name: str
    status: str = strawberry.field(description="submitted | accepted | completed | rejected")
    status_label: str
    rejection_reason: str | None
    rejection_message: str | None
    change_of_residence: bool
    attached_on: date | None
    channel: str
    created_at: datetime
    history: list[AttachmentApplicationStep]

    @classmethod
    def of(cls, a: AttachmentApplication, events: list[AttachmentApplicationEvent]) -> AttachmentApplicationType:
        return cls(
            id=a.id,
            mo_id=a.mo_id,
            mo_name=a.mo_name,
            status=a.status,
            status_label=ApplicationStatus(a.status).label_ru,
            rejection_reason=a.rejection_reason,
            rejection_message=a.rejection_message,
            change_of_residence=a.change_of_residence,
            attached_on=a.attached_on,
            channel=a.channel,
            created_at=a.created_at,
            history=[
                AttachmentApplicationStep(
                    status=e.status, status_label=ApplicationStatus(e.status).label_ru, at=e.at, comment=e.comment
                )
                for e in events
            ],
        )


@strawberry.input(description="Заявление о прикреплении к поликлинике.")
class AttachmentApplicationInput:
    mo_id: str = strawberry.field(description="Выбранная поликлиника (идентификатор из organisations).")
    registration_address: str = strawberry.field(description="Адрес регистрации (по паспорту).")
    change_of_residence: bool = strawberry.field(
        default=False, description="Смена места жительства: снимает ограничение «раз в год»."
    )
    residence_address: str | None = None
    doctor_id: str | None = strawberry.field(default=None, description="Выбранный участковый врач, если есть.")


@strawberry.type(description="Заявление о прикреплении отправлено.")
class AttachmentApplied:
    application: AttachmentApplicationType


@strawberry.type(description="Заявления по одному состоянию.")
class AttachmentStatusCount:
    status: str
    status_label: str
    count: int


@strawberry.type(description="Заявления о прикреплении за период по состояниям (для персонала).")
class AttachmentApplicationsKpi:
    start: datetime
    end: datetime
    total: int
    by_status: list[AttachmentStatusCount]


MyAttachmentResult = Annotated[
    AttachmentType | NoAttachment | AttachmentNotInsured | AttachmentRefused | AttachmentServiceUnavailable,
    strawberry.union("MyAttachmentResult"),
]
ApplyForAttachmentResult = Annotated[
    AttachmentApplied
    | InvalidInput
    | AttachmentClinicNotFound
    | AttachmentAlreadyAttached
    | AttachmentOnceAYear
    | AttachmentAgeGroupNotServed
    | AttachmentRepresentativeRequired
    | AttachmentApplicationPending
    | AttachmentNotInsured
    | AttachmentRefused
    | AttachmentServiceUnavailable
    | IdempotencyKeyReused
    | NotAuthenticated
    | AccessDenied,
    strawberry.union("ApplyForAttachmentResult"),
]


# ---------------------------------------------------------------------------------------------- plumbing


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
                raise ProblemError(InvalidInput.of(p.fields[0].field if p.fields else "input", p.message)) from None
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
        if isinstance(result, Problem) and claims and result.code not in problems.TRANSIENT_CODES:
            await idempotency.store_problem(info.context.runtime, claims, result)
        return result

    return wrapper


async def _typed(session: Any, patient_id: uuid.UUID, application_id: uuid.UUID) -> AttachmentApplicationType:
    rows = await service.applications_of(session, patient_id)
    application, events = next((a, e) for a, e in rows if a.id == application_id)
    return AttachmentApplicationType.of(application, events)


# ---------------------------------------------------------------------------------------------- operations


@strawberry.type
class Query:
    @strawberry.field(description="Моя поликлиника прикрепления, участок и участковый врач.")
    async def my_attachment(self, info: Info, acting_for: uuid.UUID | None = None) -> MyAttachmentResult:
        patient_id = await require_subject(info, SCOPE_ATTACHMENT, acting_for=acting_for)
        try:
            found = await service.view(info.context.runtime, patient_id)
        except problems.ProblemError as exc:
            return graphql_problem(exc.problem)  # type: ignore[return-value]
        await audit.record_now(
            info.context.sessionmaker,
            info.context.ctx,
            "attachment.read",
            object_type="attachment",
            subject_id=patient_id,
            details={"attached": found is not None},
        )
        if found is None:
            return NoAttachment(
                message="Вы не прикреплены ни к одной поликлинике. Подайте заявление о прикреплении к выбранной."
            )
        fields = dict(found.__dict__)
        hours = OpeningHours.from_stored(fields.pop("mo_opening_hours"))
        return AttachmentType(**fields, mo_hours=hours)

    @strawberry.field(description="Мои заявления о прикреплении и их рассмотрение, новые первыми.")
    async def my_attachment_applications(
        self, info: Info, acting_for: uuid.UUID | None = None
    ) -> list[AttachmentApplicationType]:
        patient_id = await require_subject(info, SCOPE_ATTACHMENT, acting_for=acting_for)
        async with info.context.sessionmaker() as session:
            rows = await service.applications_of(session, patient_id)
        return [AttachmentApplicationType.of(a, e) for a, e in rows]

    @strawberry.field(description="Заявления о прикреплении за период по состояниям (для персонала).")
    async def attachment_applications_kpi(
        self, info: Info, date_from: date, date_to: date
    ) -> AttachmentApplicationsKpi:
        require_staff(info)
        start = datetime.combine(date_from, time.min, tzinfo=UTC)
        end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
        async with info.context.sessionmaker() as session:
            counts = await service.applications_by_status(session, start, end)
        return AttachmentApplicationsKpi(
            start=start,
            end=end,
            total=sum(counts.values()),
            by_status=[
                AttachmentStatusCount(status=s.value, status_label=s.label_ru, count=counts.get(s.value, 0))
                for s in ApplicationStatus
            ],
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Подать заявление о прикреплении к поликлинике (себя или ребёнка).")
    @keyed
    @atomic
    @domain_problems
    async def apply_for_attachment(
        self,
        info: Info,
        input: AttachmentApplicationInput,
        idempotency_key: str,
        acting_for: uuid.UUID | None = None,
    ) -> ApplyForAttachmentResult:
        patient_id = await require_subject(info, SCOPE_ATTACHMENT, acting_for=acting_for)
        uow = info.context.uow
        request = service.ApplicationRequest(
            mo_id=input.mo_id,
            registration_address=input.registration_address,
            change_of_residence=input.change_of_residence,
            residence_address=input.residence_address,
            doctor_id=input.doctor_id,
        )
        stored = await idempotency.claim(
            uow, "applyForAttachment", idempotency_key, {**request.__dict__, "patient_id": str(patient_id)}
        )
        if stored is not None:
            if stored.get("type") == "problem":
                return _problem_from_json(stored)  # type: ignore[return-value]
            return AttachmentApplied(application=await _typed(uow.session, patient_id, uuid.UUID(stored["id"])))
        application = await service.apply(uow, patient_id, request, idempotency_key=idempotency_key)
        idempotency.remember(uow, {"type": "applied", "id": str(application.id)})
        return AttachmentApplied(application=await _typed(uow.session, patient_id, application.id))
