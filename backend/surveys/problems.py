"""The survey's business errors: a stable code for the client and Russian text for the person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from backend.core.problems import DomainError, DomainProblem, InvalidInputProblem


@dataclass(frozen=True)
class SurveyProblem(DomainProblem):
    """A refusal of the survey (the base its schema maps to union members)."""


class ProblemError(DomainError):
    problem: SurveyProblem


def fail(problem: SurveyProblem) -> ProblemError:
    return ProblemError(problem)


@dataclass(frozen=True)
class InvalidInput(InvalidInputProblem, SurveyProblem):
    """An answer is missing or out of range; nothing was saved."""


@dataclass(frozen=True)
class SurveyNotFound(SurveyProblem):
    CODE: ClassVar[str] = "SURVEY_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Опрос не найден. Проверьте ссылку из сообщения."


@dataclass(frozen=True)
class AlreadyAnswered(SurveyProblem):
    CODE: ClassVar[str] = "SURVEY_ALREADY_ANSWERED"
    MESSAGE: ClassVar[str] = "Вы уже оценили этот приём. Спасибо!"


@dataclass(frozen=True)
class SurveyClosed(SurveyProblem):
    CODE: ClassVar[str] = "SURVEY_CLOSED"
    MESSAGE: ClassVar[str] = "Срок ответа на этот опрос истёк."
