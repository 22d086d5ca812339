"""The call record's business errors: a stable code for the console and Russian text for the operator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from backend.core.problems import DomainError, DomainProblem, InvalidInputProblem


@dataclass(frozen=True)
class CallProblem(DomainProblem):
    """A refusal of the call record (the base its schema maps to union members)."""


class ProblemError(DomainError):
    problem: CallProblem


def fail(problem: CallProblem) -> ProblemError:
    return ProblemError(problem)


@dataclass(frozen=True)
class InvalidInput(InvalidInputProblem, CallProblem):
    """A request field is wrong; nothing was changed."""


@dataclass(frozen=True)
class CallAlreadyOpen(CallProblem):
    CODE: ClassVar[str] = "CALL_ALREADY_OPEN"
    MESSAGE: ClassVar[str] = "У вас уже есть незавершённый звонок. Завершите его с итогом, прежде чем принять новый."


@dataclass(frozen=True)
class CallNotFound(CallProblem):
    CODE: ClassVar[str] = "CALL_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Звонок не найден среди ваших звонков."


@dataclass(frozen=True)
class CallAlreadyClosed(CallProblem):
    CODE: ClassVar[str] = "CALL_ALREADY_CLOSED"
    MESSAGE: ClassVar[str] = "Звонок уже завершён с другим итогом."


@dataclass(frozen=True)
class NoOpenCall(CallProblem):
    CODE: ClassVar[str] = "NO_OPEN_CALL"
    MESSAGE: ClassVar[str] = "Сначала примите звонок: звонящего ищут по номеру принятого звонка."


@dataclass(frozen=True)
class CallerPhoneUnknown(CallProblem):
    CODE: ClassVar[str] = "CALLER_PHONE_UNKNOWN"
    MESSAGE: ClassVar[str] = (
        "Номер звонящего не определился: найдите звонящего по полису ОМС или СНИЛС и дате рождения."
    )
