"""GraphQL for the survey after a visit: my invitations with the questions, answering from the app, and the
staff KPI of satisfaction per clinic and period. The link in the notification answers over REST
(:mod:`backend.surveys.routes`)."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, ParamSpec, TypeVar

import strawberry

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.api.problems import AccessDenied, InvalidInput, NotAuthenticated, Problem
from backend.booking import idempotency
from backend.booking.graphql_types import IdempotencyKeyReused, ProblemMap
from backend.identity.policy import SCOPE_BOOKING, require_staff, require_subject
from backend.surveys import problems, questionnaire, service
from backend.surveys.models import SurveyInvitation

P = ParamSpec("P")
R = TypeVar("R")


@strawberry.type(description="Опрос не найден.")
class SurveyNotFound(Problem):
    pass


@strawberry.type(description="Этот приём уже оценён.")
class SurveyAlreadyAnswered(Problem):
    pass


@strawberry.type(description="Срок ответа на опрос истёк.")
class SurveyClosed(Problem):
    pass


_PROBLEMS = ProblemMap(
    {
        problems.SurveyNotFound: SurveyNotFound,
        problems.AlreadyAnswered: SurveyAlreadyAnswered,
        problems.SurveyClosed: SurveyClosed,
    },
)
graphql_problem = _PROBLEMS.member
domain_problems = _PROBLEMS.guard
keyed = _PROBLEMS.keyed


# ---------------------------------------------------------------------------------------------- types


@strawberry.type(description="Вариант ответа.")
class SurveyOption:
    value: str
    label: str


@strawberry.type(description="Вопрос опроса.")
class SurveyQuestion:
    id: str
    text: str
    kind: str = strawberry.field(description="scale (1–5) | choice | yes_no | text")
    required: bool
    options: list[SurveyOption]


def _questions() -> list[SurveyQuestion]:
    return [
        SurveyQuestion(
            id=q.id,
            text=q.text,
            kind=q.kind,
            required=q.required,
            options=[SurveyOption(value=o.value, label=o.label) for o in q.options],
        )
        for q in questionnaire.QUESTIONS
    ]


@strawberry.type(name="SurveyInvitation", description="Приглашение оценить приём.")
class InvitationType:
    id: uuid.UUID
    status: str = strawberry.field(description="pending | answered")
    mo_name: str
    specialty_name: str
    doctor_name: str
    visited_at: datetime
    answer_until: datetime
    questionnaire: str
    questions: list[SurveyQuestion]

    @classmethod
    def of(cls, i: SurveyInvitation) -> InvitationType:
        return cls(
            id=i.id,
            status=i.status,
            mo_name=i.mo_name,
            specialty_name=i.specialty_name,
            doctor_name=i.doctor_name,
            visited_at=i.visited_at,
            answer_until=i.answer_until,
            questionnaire=questionnaire.VERSION,
            questions=_questions() if i.status == "pending" else [],
        )


@strawberry.enum(name="SurveyBookingChannel")
class ChannelEnum(enum.Enum):
    EPGU = "epgu"
    CALLCENTRE = "callcentre"
    KIOSK = "kiosk"
    REGISTRY = "registry"
    DOCTOR = "doctor"


@strawberry.input(description="Ответы на опрос после приёма.")
class SurveyAnswersInput:
    quality: int = strawberry.field(description="Качество работы медицинской организации, 1–5.")
    booking_ease: int = strawberry.field(description="Простота и удобство записи, 1–5.")
    booking_channel: ChannelEnum
    future_use: bool
    recommend: bool
    comment: str | None = None


@strawberry.type(description="Спасибо: ответы сохранены.")
class SurveyAnswered:
    invitation: InvitationType


@strawberry.type(description="Удовлетворённость по поликлинике за период.")
class ClinicSatisfaction:
    mo_id: str
    mo_name: str
    invited: int
    answered: int
    response_rate: float | None
    mean_quality: float | None
    satisfied_share: float | None = strawberry.field(description="Доля оценок качества 4–5.")
    mean_booking_ease: float | None
    future_use_share: float | None
    recommend_share: float | None


@strawberry.type(description="Удовлетворённость пациентов приёмами за период (для персонала).")
class SatisfactionKpi:
    start: datetime
    end: datetime
    clinics: list[ClinicSatisfaction]


AnswerSurveyResult = Annotated[
    SurveyAnswered
    | SurveyNotFound
    | SurveyAlreadyAnswered
    | SurveyClosed
    | InvalidInput
    | IdempotencyKeyReused
    | NotAuthenticated
    | AccessDenied,
    strawberry.union("AnswerSurveyResult"),
]


def answers_of(input: SurveyAnswersInput) -> service.Answers:
    return service.Answers(
        quality=input.quality,
        booking_ease=input.booking_ease,
        booking_channel=input.booking_channel.value,
        future_use=input.future_use,
        recommend=input.recommend,
        comment=input.comment,
    )


@strawberry.type
class Query:
    @strawberry.field(description="Мои приглашения оценить приём, новые первыми (с вопросами, пока не отвечены).")
    async def my_surveys(
        self, info: Info, first: int = 10, acting_for: uuid.UUID | None = None
    ) -> list[InvitationType]:
        patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
        async with info.context.sessionmaker() as session:
            rows = await service.invitations_of(session, patient_id, limit=max(1, min(first, 50)))
        return [InvitationType.of(i) for i in rows]

    @strawberry.field(description="Удовлетворённость пациентов по поликлиникам за период (для персонала).")
    async def satisfaction_kpi(
        self, info: Info, date_from: date, date_to: date, mo_id: str | None = None
    ) -> SatisfactionKpi:
        require_staff(info)
        start = datetime.combine(date_from, time.min, tzinfo=UTC)
        end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
        async with info.context.sessionmaker() as session:
            rows = await service.satisfaction_kpi(session, start, end, mo_id=mo_id)
        return SatisfactionKpi(
            start=start,
            end=end,
            clinics=[
                ClinicSatisfaction(
                    mo_id=k.mo_id,
                    mo_name=k.mo_name,
                    invited=k.invited,
                    answered=k.answered,
                    response_rate=None if k.response_rate is None else round(k.response_rate, 4),
                    mean_quality=k.mean_quality,
                    satisfied_share=k.satisfied_share,
                    mean_booking_ease=k.mean_booking_ease,
                    future_use_share=k.future_use_share,
                    recommend_share=k.recommend_share,
                )
                for k in rows
            ],
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Оценить приём (один раз на приём).")
    @keyed
    @atomic
    @domain_problems
    async def answer_survey(
        self,
        info: Info,
        invitation_id: uuid.UUID,
        answers: SurveyAnswersInput,
        idempotency_key: str,
        acting_for: uuid.UUID | None = None,
    ) -> AnswerSurveyResult:
        patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)
        uow = info.context.uow
        given = answers_of(answers)
        stored = await idempotency.claim(
            uow,
            "answerSurvey",
            idempotency_key,
            {**given.__dict__, "invitation": str(invitation_id), "patient_id": str(patient_id)},
        )
        if stored is not None and stored.get("type") == "problem":
            return _PROBLEMS.from_json(stored)  # type: ignore[return-value]
        invitation = await service.own_invitation(uow.session, patient_id, invitation_id)
        if stored is None:
            await service.answer(uow, invitation, given, channel=uow.ctx.actor.channel.value)
            idempotency.remember(uow, {"type": "answered", "id": str(invitation.id)})
        return SurveyAnswered(invitation=InvitationType.of(invitation))
