"""Dispanserization's business errors (Russian messages), on the shared base of backend/core/problems.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from backend.core.problems import DomainError, DomainProblem, InvalidInputProblem


@dataclass(frozen=True)
class DispanserizationProblem(DomainProblem):
    pass


class ProblemError(DomainError):
    problem: DispanserizationProblem


def fail(problem: DispanserizationProblem) -> ProblemError:
    return ProblemError(problem)


@dataclass(frozen=True)
class InvalidInput(InvalidInputProblem, DispanserizationProblem):
    pass


@dataclass(frozen=True)
class NotEligible(DispanserizationProblem):
    CODE: ClassVar[str] = "NOT_ELIGIBLE"
    MESSAGE: ClassVar[str] = (
        "Профилактический осмотр и диспансеризация взрослых проводятся с 18 лет (приказ Минздрава России № 404н)."
    )


@dataclass(frozen=True)
class NotAttached(DispanserizationProblem):
    CODE: ClassVar[str] = "NOT_ATTACHED"
    MESSAGE: ClassVar[str] = (
        "Диспансеризацию проходят в поликлинике, к которой вы прикреплены, а прикрепление не найдено. "
        "Подайте заявление о прикреплении в разделе «Прикрепление»."
    )


@dataclass(frozen=True)
class NoRoomForPlan(DispanserizationProblem):
    CODE: ClassVar[str] = "NO_DAY_FOR_PLAN"
    MESSAGE: ClassVar[str] = (
        "В выбранные даты нет дня, когда свободны все нужные кабинеты. Выберите другие даты или запишитесь по "
        "телефону 122."
    )


@dataclass(frozen=True)
class PlanExamLost(DispanserizationProblem):
    """One visit of the plan could not be booked: nothing of the plan is kept."""

    CODE: ClassVar[str] = "PLAN_EXAM_LOST"
    MESSAGE: ClassVar[str] = "Не удалось записаться на одно из обследований; ни одна запись плана не сохранена."

    @classmethod
    def of(cls, exam: str, reason: str) -> PlanExamLost:
        return cls(
            cls.CODE,
            f"Не удалось записаться: «{exam}». {reason} Ни одна запись плана не сохранена — подберите день заново.",
        )


@dataclass(frozen=True)
class PlanNotFound(DispanserizationProblem):
    CODE: ClassVar[str] = "PLAN_NOT_FOUND"
    MESSAGE: ClassVar[str] = "План диспансеризации не найден или уже изменен."


@dataclass(frozen=True)
class ServiceUnavailable(DispanserizationProblem):
    CODE: ClassVar[str] = "BOOKING_SERVICE_UNAVAILABLE"
    MESSAGE: ClassVar[str] = "Сервис записи к врачу временно недоступен. Попробуйте еще раз через несколько минут."
