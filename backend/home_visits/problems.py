"""Home visits' business errors: a stable code for the client and Russian text for the person.

Plain values, no GraphQL: a service raises :class:`ProblemError` carrying one (see :func:`fail`); the
unit of work rolls back and :mod:`backend.home_visits.schema` maps it to the union member of the same
name. The hub's refusals (:mod:`integrations.homecall.protocol`) arrive here with their Russian text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from backend.core.problems import DomainError, DomainProblem, InvalidInputProblem


@dataclass(frozen=True)
class HomeVisitProblem(DomainProblem):
    """A refusal of home visits (the base its schema maps to union members)."""


class ProblemError(DomainError):
    """Raised by the home-visit services to abort the unit of work with one of its problems."""

    problem: HomeVisitProblem


def fail(problem: HomeVisitProblem) -> ProblemError:
    return ProblemError(problem)


@dataclass(frozen=True)
class InvalidInput(InvalidInputProblem, HomeVisitProblem):
    """A request field is wrong; nothing was changed."""


@dataclass(frozen=True)
class EmergencySymptoms(HomeVisitProblem):
    """The checklist says emergency: no visit is created; the person is told to call 103 / 112."""

    emergency_number: str = "103"
    symptoms: tuple[str, ...] = ()

    CODE: ClassVar[str] = "HOME_VISIT_EMERGENCY"
    MESSAGE: ClassVar[str] = (
        "Эти симптомы могут угрожать жизни. Вызов врача на дом не оформлен: немедленно звоните в скорую "
        "помощь — 103 (с мобильного также 112)."
    )


@dataclass(frozen=True)
class AddressMissing(HomeVisitProblem):
    CODE: ClassVar[str] = "HOME_VISIT_NO_ADDRESS"
    MESSAGE: ClassVar[str] = "Не указан адрес. Укажите адрес, по которому нужен врач: улицу, дом и квартиру."


@dataclass(frozen=True)
class AlreadyActive(HomeVisitProblem):
    CODE: ClassVar[str] = "HOME_VISIT_ALREADY_ACTIVE"
    MESSAGE: ClassVar[str] = (
        "У пациента уже есть активный вызов врача на дом. Дождитесь врача или отмените прежний вызов, "
        "чтобы оформить новый."
    )


@dataclass(frozen=True)
class WindowUnavailable(HomeVisitProblem):
    CODE: ClassVar[str] = "HOME_VISIT_WINDOW_UNAVAILABLE"
    MESSAGE: ClassVar[str] = "Выбранное время визита недоступно или уже прошло. Выберите другое время."


@dataclass(frozen=True)
class NotAttached(HomeVisitProblem):
    CODE: ClassVar[str] = "HOME_VISIT_NOT_ATTACHED"
    MESSAGE: ClassVar[str] = (
        "Пациент не прикреплён к поликлинике, которая принимает вызовы на дом. Прикрепитесь к поликлинике "
        "или позвоните по 122."
    )


@dataclass(frozen=True)
class ServiceDisabled(HomeVisitProblem):
    CODE: ClassVar[str] = "HOME_VISIT_SERVICE_DISABLED"
    MESSAGE: ClassVar[str] = (
        "Эта поликлиника не принимает вызовы врача на дом онлайн. Позвоните в регистратуру поликлиники или по 122."
    )


@dataclass(frozen=True)
class HomeVisitRefused(HomeVisitProblem):
    CODE: ClassVar[str] = "HOME_VISIT_REFUSED"
    MESSAGE: ClassVar[str] = "Поликлиника отказала в приёме вызова. Позвоните в регистратуру поликлиники."


@dataclass(frozen=True)
class HomeVisitServiceUnavailable(HomeVisitProblem):
    CODE: ClassVar[str] = "HOME_VISIT_SERVICE_UNAVAILABLE"
    MESSAGE: ClassVar[str] = (
        "Сервис вызова врача на дом сейчас недоступен, вызов не оформлен. Повторите попытку через несколько минут "
        "или позвоните в регистратуру поликлиники. При угрозе жизни звоните 103 или 112."
    )


@dataclass(frozen=True)
class HomeVisitNotFound(HomeVisitProblem):
    CODE: ClassVar[str] = "HOME_VISIT_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Вызов врача на дом не найден."


@dataclass(frozen=True)
class CannotCancel(HomeVisitProblem):
    CODE: ClassVar[str] = "HOME_VISIT_CANNOT_CANCEL"
    MESSAGE: ClassVar[str] = (
        "Вызов уже нельзя отменить онлайн: врач назначен или визит завершён. Позвоните в регистратуру поликлиники."
    )


#: Refusals a retry may not repeat: never kept as an idempotency key's result.
TRANSIENT_CODES = frozenset({HomeVisitServiceUnavailable.CODE})
