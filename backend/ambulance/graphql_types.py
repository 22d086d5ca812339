"""Strawberry types of the ambulance domain: the call and its live view, consent, survey, KPI, problems."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from backend.ambulance import problems
from backend.ambulance.live import LiveUpdate
from backend.ambulance.models import FINAL, AmbulanceConsent
from backend.ambulance.service import ArrivalStats, CallView
from backend.api.problems import AccessDenied, FieldProblem, InvalidInput, NotAuthenticated, Problem
from backend.booking.graphql_types import IdempotencyKeyReused
from integrations.smp import CallStatus


@strawberry.enum(description="Состояние вызова скорой помощи.")
class AmbulanceStatus(Enum):
    ACCEPTED = "accepted"
    BRIGADE_ASSIGNED = "brigade_assigned"
    DEPARTED = "departed"
    EN_ROUTE = "en_route"
    ARRIVED = "arrived"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    CLOSED = "closed"
    CANCELLED = "cancelled"


@strawberry.enum(description="Что изменилось: текущее состояние (при подключении), статус или положение бригады.")
class AmbulanceUpdateKind(Enum):
    STATE = "state"
    STATUS = "status"
    POSITION = "position"


@strawberry.type(description="Положение бригады.")
class AmbulancePosition:
    lat: float
    lon: float
    speed_kmh: float | None
    heading: float | None
    at: datetime


@strawberry.type(description="Шаг истории вызова.")
class AmbulanceStep:
    status: AmbulanceStatus
    status_label: str
    at: datetime


def _position(
    lat: float | None, lon: float | None, speed: float | None, heading: float | None, at: datetime | None
) -> AmbulancePosition | None:
    if lat is None or lon is None or at is None:
        return None
    return AmbulancePosition(lat=lat, lon=lon, speed_kmh=speed, heading=heading, at=at)


@strawberry.type(name="AmbulanceCall", description="Вызов скорой помощи: статус, бригада, время прибытия.")
class AmbulanceCallType:
    id: uuid.UUID
    number: str = strawberry.field(description="Номер вызова в диспетчерской службе.")
    status: AmbulanceStatus
    status_label: str
    live: bool = strawberry.field(description="Вызов не завершён: его можно отслеживать.")
    address: str
    brigade: str | None = strawberry.field(description="Номер бригады.")
    station: str | None = strawberry.field(description="Подстанция скорой помощи.")
    hospital: str | None = strawberry.field(description="Больница, куда везут пациента.")
    position: AmbulancePosition | None
    eta_minutes: int | None = strawberry.field(description="Минут до прибытия (по прямой × поправочный коэффициент).")
    eta_at: datetime | None
    accepted_at: datetime
    arrived_at: datetime | None = strawberry.field(description="Фактическое время прибытия.")
    predicted_arrival_at: datetime | None = strawberry.field(description="Прибытие, предсказанное при выезде.")
    closed_at: datetime | None
    timeline: list[AmbulanceStep]
    survey_score: int | None

    @classmethod
    def of(cls, v: CallView) -> AmbulanceCallType:
        c = v.call
        return cls(
            id=c.id,
            number=c.call_id,
            status=AmbulanceStatus(c.status),
            status_label=CallStatus(c.status).label_ru,
            live=c.status not in FINAL,
            address=c.address,
            brigade=c.brigade_id,
            station=c.station_name,
            hospital=c.hospital_name,
            position=_position(c.pos_lat, c.pos_lon, c.pos_speed, c.pos_heading, c.pos_at),
            eta_minutes=c.eta_minutes,
            eta_at=c.eta_at,
            accepted_at=c.accepted_at,
            arrived_at=c.arrived_at,
            predicted_arrival_at=v.first_prediction.arrival_at if v.first_prediction else None,
            closed_at=c.closed_at,
            timeline=[
                AmbulanceStep(status=AmbulanceStatus(s.status), status_label=CallStatus(s.status).label_ru, at=s.at)
                for s in v.steps
            ],
            survey_score=v.survey_score,
        )


@strawberry.type(description="Изменение вызова скорой помощи (подписка); положение — всегда последнее известное.")
class AmbulanceCallUpdate:
    call_id: uuid.UUID
    number: str
    kind: AmbulanceUpdateKind
    status: AmbulanceStatus
    status_label: str
    live: bool
    brigade: str | None
    station: str | None
    hospital: str | None
    position: AmbulancePosition | None
    eta_minutes: int | None
    eta_at: datetime | None
    at: datetime

    @classmethod
    def of(cls, u: LiveUpdate) -> AmbulanceCallUpdate:
        return cls(
            call_id=u.call_ref,
            number=u.call_id,
            kind=AmbulanceUpdateKind(u.kind),
            status=AmbulanceStatus(u.status),
            status_label=CallStatus(u.status).label_ru,
            live=u.status not in FINAL,
            brigade=u.brigade_id,
            station=u.station_name,
            hospital=u.hospital_name,
            position=_position(u.lat, u.lon, u.speed_kmh, u.heading, u.position_at),
            eta_minutes=u.eta_minutes,
            eta_at=u.eta_at,
            at=u.at,
        )


@strawberry.type(description="Согласие передавать бригаде местоположение по этому вызову.")
class AmbulanceConsentType:
    call_id: uuid.UUID
    sharing: bool = strawberry.field(description="Местоположение передаётся.")
    share_emergency_profile: bool
    granted_at: datetime
    withdrawn_at: datetime | None
    expired_at: datetime | None

    @classmethod
    def of(cls, c: AmbulanceConsent) -> AmbulanceConsentType:
        return cls(
            call_id=c.call_ref,
            sharing=c.withdrawn_at is None and c.expired_at is None,
            share_emergency_profile=c.share_profile,
            granted_at=c.granted_at,
            withdrawn_at=c.withdrawn_at,
            expired_at=c.expired_at,
        )


@strawberry.input(description="Местоположение пациента из приложения.")
class AmbulanceLocationInput:
    lat: float
    lon: float
    at: datetime = strawberry.field(description="Когда местоположение определено (с часовым поясом).")
    accuracy_m: float | None = None


@strawberry.type(description="Согласие дано: местоположение будет передаваться бригаде.")
class AmbulanceConsentGiven:
    consent: AmbulanceConsentType


@strawberry.type(description="Согласие отозвано: местоположение больше не передаётся.")
class AmbulanceConsentWithdrawn:
    consent: AmbulanceConsentType


@strawberry.type(description="Местоположение принято и будет передано бригаде.")
class AmbulanceLocationShared:
    received_at: datetime


@strawberry.type(description="Спасибо за ответ.")
class AmbulanceSurveyAnswered:
    score: int


@strawberry.type(description="Время прибытия бригад за период (для персонала).")
class AmbulanceArrivalStats:
    district: str = strawberry.field(description="Код района; пустая строка — по всем районам.")
    calls: int
    median_minutes: float
    p90_minutes: float
    within_20_minutes_share: float
    eta_error_median_minutes: float | None = strawberry.field(
        description="Медиана расхождения фактического прибытия с прогнозом при выезде, минут."
    )

    @classmethod
    def of(cls, s: ArrivalStats) -> AmbulanceArrivalStats:
        return cls(
            district=s.district_id,
            calls=s.calls,
            median_minutes=s.median_minutes,
            p90_minutes=s.p90_minutes,
            within_20_minutes_share=s.within_20_share,
            eta_error_median_minutes=s.eta_error_median_minutes,
        )


@strawberry.type(description="Время прибытия скорой помощи: по всем районам и по каждому.")
class AmbulanceArrivalKpi:
    start: datetime
    end: datetime
    overall: AmbulanceArrivalStats | None
    by_district: list[AmbulanceArrivalStats]


# -- problems -----------------------------------------------------------------------------------------


@strawberry.type(description="Вызов скорой помощи не найден среди ваших вызовов.")
class AmbulanceCallNotFound(Problem):
    pass


@strawberry.type(description="Вызов уже завершён.")
class AmbulanceCallClosed(Problem):
    pass


@strawberry.type(description="Вызов ещё не завершён.")
class AmbulanceCallOpen(Problem):
    pass


@strawberry.type(description="Нет согласия на передачу местоположения.")
class AmbulanceNoConsent(Problem):
    pass


@strawberry.type(description="Местоположение обновляется слишком часто.")
class AmbulanceLocationTooFrequent(Problem):
    pass


@strawberry.type(description="На вопрос уже ответили.")
class AmbulanceSurveyAlreadyAnswered(Problem):
    pass


_MEMBERS: dict[type[problems.AmbulanceProblem], type[Problem]] = {
    problems.CallNotFound: AmbulanceCallNotFound,
    problems.CallClosed: AmbulanceCallClosed,
    problems.CallStillOpen: AmbulanceCallOpen,
    problems.NoConsent: AmbulanceNoConsent,
    problems.TooFrequent: AmbulanceLocationTooFrequent,
    problems.AlreadyAnswered: AmbulanceSurveyAlreadyAnswered,
}
STORED: dict[str, type[Problem]] = {
    cls.__name__: cls
    for cls in (*_MEMBERS.values(), InvalidInput, AccessDenied, NotAuthenticated, IdempotencyKeyReused)
}


def graphql_problem(problem: problems.AmbulanceProblem) -> Problem:
    if isinstance(problem, problems.InvalidInput):
        return InvalidInput(
            code=problem.code,
            message=problem.message,
            fields=[FieldProblem(field=f.field, message=f.message) for f in problem.fields],
        )
    return _MEMBERS[type(problem)](code=problem.code, message=problem.message)


_COMMON = InvalidInput | IdempotencyKeyReused | NotAuthenticated | AccessDenied
GrantConsentResult = Annotated[
    AmbulanceConsentGiven | AmbulanceCallNotFound | AmbulanceCallClosed | _COMMON,
    strawberry.union("GrantAmbulanceConsentResult"),
]
WithdrawConsentResult = Annotated[
    AmbulanceConsentWithdrawn | AmbulanceCallNotFound | AmbulanceCallClosed | AmbulanceNoConsent | _COMMON,
    strawberry.union("WithdrawAmbulanceConsentResult"),
]
ShareLocationResult = Annotated[
    AmbulanceLocationShared
    | AmbulanceNoConsent
    | AmbulanceLocationTooFrequent
    | AmbulanceCallNotFound
    | AmbulanceCallClosed
    | _COMMON,
    strawberry.union("ShareAmbulanceLocationResult"),
]
SurveyResult = Annotated[
    AmbulanceSurveyAnswered | AmbulanceCallOpen | AmbulanceSurveyAlreadyAnswered | AmbulanceCallNotFound | _COMMON,
    strawberry.union("AnswerAmbulanceSurveyResult"),
]
