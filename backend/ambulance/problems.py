"""The ambulance domain's business errors: a stable code for the client and Russian text for the person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from backend.core.problems import DomainError, DomainProblem, InvalidInputProblem


@dataclass(frozen=True)
class AmbulanceProblem(DomainProblem):
    """A refusal of the ambulance domain (the base its schema maps to union members)."""


class ProblemError(DomainError):
    problem: AmbulanceProblem


def fail(problem: AmbulanceProblem) -> ProblemError:
    return ProblemError(problem)


@dataclass(frozen=True)
class InvalidInput(InvalidInputProblem, AmbulanceProblem):
    """A request field is wrong; nothing was changed."""


@dataclass(frozen=True)
class CallNotFound(AmbulanceProblem):
    CODE: ClassVar[str] = "AMBULANCE_CALL_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Вызов скорой помощи не найден среди ваших вызовов."


@dataclass(frozen=True)
class CallClosed(AmbulanceProblem):
    CODE: ClassVar[str] = "AMBULANCE_CALL_CLOSED"
    MESSAGE: ClassVar[str] = "Вызов уже завершён: бригаде больше ничего не передаётся."


@dataclass(frozen=True)
class CallStillOpen(AmbulanceProblem):
    CODE: ClassVar[str] = "AMBULANCE_CALL_OPEN"
    MESSAGE: ClassVar[str] = "Оценить вызов можно после его завершения."


@dataclass(frozen=True)
class NoConsent(AmbulanceProblem):
    CODE: ClassVar[str] = "AMBULANCE_NO_CONSENT"
    MESSAGE: ClassVar[str] = (
        "Нет согласия на передачу местоположения бригаде по этому вызову. Дайте согласие, чтобы передавать его."
    )


@dataclass(frozen=True)
class TooFrequent(AmbulanceProblem):
    CODE: ClassVar[str] = "AMBULANCE_LOCATION_TOO_FREQUENT"
    MESSAGE: ClassVar[str] = "Местоположение обновляется не чаще раза в 5 секунд: это обновление пропущено."


@dataclass(frozen=True)
class AlreadyAnswered(AmbulanceProblem):
    CODE: ClassVar[str] = "AMBULANCE_SURVEY_ANSWERED"
    MESSAGE: ClassVar[str] = "Вы уже ответили на вопрос об этом вызове. Спасибо!"
