"""The waitlist's business errors: a stable code for the client and Russian text for the person.

Plain values, no GraphQL: a service raises :class:`ProblemError` carrying one (see :func:`fail`), the unit
of work rolls back, and :mod:`backend.waitlist.schema` maps it to the union member of the same name.
Booking's own refusals met while accepting an offer (the hub refused, the slot is gone) are booking's
problems and are mapped as booking maps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from backend.core.problems import DomainError, DomainProblem, InvalidInputProblem


@dataclass(frozen=True)
class WaitlistProblem(DomainProblem):
    """A refusal of the waitlist (the base its schema maps to union members)."""


class ProblemError(DomainError):
    problem: WaitlistProblem


def fail(problem: WaitlistProblem) -> ProblemError:
    return ProblemError(problem)


@dataclass(frozen=True)
class InvalidInput(InvalidInputProblem, WaitlistProblem):
    """A request field is wrong; nothing was changed."""


@dataclass(frozen=True)
class AlreadyWaiting(WaitlistProblem):
    CODE: ClassVar[str] = "WAITLIST_ALREADY_WAITING"
    MESSAGE: ClassVar[str] = (
        "Вы уже в листе ожидания к этому специалисту в этой поликлинике. Мы сообщим, когда освободится время."
    )


@dataclass(frozen=True)
class SlotsAvailable(WaitlistProblem):
    CODE: ClassVar[str] = "WAITLIST_SLOTS_AVAILABLE"
    MESSAGE: ClassVar[str] = (
        "На выбранные даты есть свободное время: запишитесь на приём сейчас. Лист ожидания — когда талонов нет."
    )


@dataclass(frozen=True)
class EntryNotFound(WaitlistProblem):
    CODE: ClassVar[str] = "WAITLIST_ENTRY_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Запись в листе ожидания не найдена или уже закрыта."


@dataclass(frozen=True)
class OfferNotFound(WaitlistProblem):
    CODE: ClassVar[str] = "WAITLIST_OFFER_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Предложение времени не найдено."


@dataclass(frozen=True)
class OfferExpired(WaitlistProblem):
    CODE: ClassVar[str] = "WAITLIST_OFFER_EXPIRED"
    MESSAGE: ClassVar[str] = (
        "Время на подтверждение истекло, и талон предложен следующему в очереди. Вы остаётесь в листе ожидания."
    )


@dataclass(frozen=True)
class OfferClosed(WaitlistProblem):
    CODE: ClassVar[str] = "WAITLIST_OFFER_CLOSED"
    MESSAGE: ClassVar[str] = "Это предложение уже принято или отклонено."


@dataclass(frozen=True)
class WaitlistServiceUnavailable(WaitlistProblem):
    CODE: ClassVar[str] = "WAITLIST_SERVICE_UNAVAILABLE"
    MESSAGE: ClassVar[str] = (
        "Сервис записи сейчас недоступен, и в лист ожидания вас не поставили. Повторите попытку позже."
    )


@dataclass(frozen=True)
class WaitlistRefused(WaitlistProblem):
    CODE: ClassVar[str] = "WAITLIST_REFUSED"
    MESSAGE: ClassVar[str] = (
        "Поликлиника не приняла заявку в лист ожидания. Проверьте выбранного врача и даты или позвоните в регистратуру."
    )


#: Refusals a retry may not repeat: never kept as an idempotency key's result.
TRANSIENT_CODES = frozenset({WaitlistServiceUnavailable.CODE})
