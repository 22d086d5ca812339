"""The drugs domain's business errors: a stable code for the client and Russian text for the person.

Plain values, no GraphQL: a service raises :class:`ProblemError` carrying one (see :func:`fail`); the unit
of work rolls back and :mod:`backend.drugs.schema` maps it to the union member of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from backend.core.problems import DomainError, DomainProblem, InvalidInputProblem


@dataclass(frozen=True)
class DrugsProblem(DomainProblem):
    """A refusal of the drugs domain (the base its schema maps to union members)."""


class ProblemError(DomainError):
    problem: DrugsProblem


def fail(problem: DrugsProblem) -> ProblemError:
    return ProblemError(problem)


@dataclass(frozen=True)
class InvalidInput(InvalidInputProblem, DrugsProblem):
    """A request field is wrong; nothing was changed."""


@dataclass(frozen=True)
class NoSnils(DrugsProblem):
    CODE: ClassVar[str] = "DRUGS_NO_SNILS"
    MESSAGE: ClassVar[str] = (
        "В профиле нет СНИЛС: по нему регистр льготников и аптеки находят ваши рецепты. Войдите через Госуслуги "
        "с подтверждённой учётной записью или обратитесь в регистратуру."
    )


@dataclass(frozen=True)
class PrescriptionNotFound(DrugsProblem):
    CODE: ClassVar[str] = "PRESCRIPTION_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Рецепт не найден."


@dataclass(frozen=True)
class PrescriptionExpired(DrugsProblem):
    CODE: ClassVar[str] = "PRESCRIPTION_EXPIRED"
    MESSAGE: ClassVar[str] = (
        "Срок действия рецепта истёк. Запросите продление у лечащего врача или запишитесь на приём."
    )


@dataclass(frozen=True)
class AlreadyDispensed(DrugsProblem):
    CODE: ClassVar[str] = "PRESCRIPTION_ALREADY_DISPENSED"
    MESSAGE: ClassVar[str] = "Лекарство по этому рецепту уже отпущено полностью."


@dataclass(frozen=True)
class NoEntitlement(DrugsProblem):
    CODE: ClassVar[str] = "DRUGS_NO_ENTITLEMENT"
    MESSAGE: ClassVar[str] = (
        "На это лекарство нет права льготного обеспечения: рецепт выписан не по льготе. Отсроченное "
        "обслуживание доступно только по льготным рецептам."
    )


@dataclass(frozen=True)
class PharmacyUnavailable(DrugsProblem):
    CODE: ClassVar[str] = "PHARMACY_UNAVAILABLE"
    MESSAGE: ClassVar[str] = "Эта аптека не отпускает льготные лекарства. Выберите аптеку из списка."


@dataclass(frozen=True)
class DrugInStock(DrugsProblem):
    CODE: ClassVar[str] = "DRUG_IN_STOCK"
    MESSAGE: ClassVar[str] = (
        "В этой аптеке лекарство есть в наличии: отсроченное обслуживание не нужно. Возьмите рецепт и приходите."
    )


@dataclass(frozen=True)
class AlreadyDeferred(DrugsProblem):
    CODE: ClassVar[str] = "PRESCRIPTION_ALREADY_DEFERRED"
    MESSAGE: ClassVar[str] = "Рецепт уже поставлен на отсроченное обслуживание. Мы сообщим, когда лекарство поступит."


@dataclass(frozen=True)
class RenewalNotAllowed(DrugsProblem):
    CODE: ClassVar[str] = "RENEWAL_NOT_ALLOWED"
    MESSAGE: ClassVar[str] = (
        "Этот рецепт нельзя продлить без приёма: наркотические и психотропные препараты Списка II назначаются "
        "только на очном приёме врача. Запишитесь к лечащему врачу."
    )


@dataclass(frozen=True)
class RequestPending(DrugsProblem):
    CODE: ClassVar[str] = "DRUG_REQUEST_PENDING"
    MESSAGE: ClassVar[str] = "Такая заявка уже отправлена и рассматривается врачом. Дождитесь ответа."


@dataclass(frozen=True)
class RequestNotFound(DrugsProblem):
    CODE: ClassVar[str] = "DRUG_REQUEST_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Заявка не найдена."


@dataclass(frozen=True)
class DrugsServiceUnavailable(DrugsProblem):
    CODE: ClassVar[str] = "DRUGS_SERVICE_UNAVAILABLE"
    MESSAGE: ClassVar[str] = (
        "Сервис льготного лекарственного обеспечения сейчас недоступен, ничего не изменено. Повторите попытку "
        "через несколько минут или позвоните по 122."
    )


#: Refusals a retry may not repeat: never kept as an idempotency key's result.
TRANSIENT_CODES = frozenset({DrugsServiceUnavailable.CODE})
