"""The insurance domain's business errors: a stable code for the client and Russian text for the person.

Plain values, no GraphQL: a service raises :class:`ProblemError` carrying one (see :func:`fail`), the unit of
work rolls back, and :mod:`backend.insurance.schema` maps it to the union member of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from backend.core.problems import DomainError, DomainProblem, InvalidInputProblem


@dataclass(frozen=True)
class InsuranceProblem(DomainProblem):
    """A refusal of the insurance domain (the base its schema maps to union members)."""


class ProblemError(DomainError):
    problem: InsuranceProblem


def fail(problem: InsuranceProblem) -> ProblemError:
    return ProblemError(problem)


@dataclass(frozen=True)
class InvalidInput(InvalidInputProblem, InsuranceProblem):
    """A request field is wrong; nothing was changed."""


@dataclass(frozen=True)
class PolicyNotFound(InsuranceProblem):
    CODE: ClassVar[str] = "INSURANCE_POLICY_NOT_FOUND"
    MESSAGE: ClassVar[str] = (
        "Полис ОМС не найден в едином регистре застрахованных лиц. Обратитесь в страховую медицинскую организацию "
        "или в ТФОМС с паспортом и СНИЛС."
    )


@dataclass(frozen=True)
class PolicyNotReady(InsuranceProblem):
    """The register accepted the search but has no answer yet (the "not found yet" state)."""

    CODE: ClassVar[str] = "INSURANCE_POLICY_NOT_READY"
    MESSAGE: ClassVar[str] = "Сведения о полисе ОМС ещё не получены из регистра застрахованных лиц."


@dataclass(frozen=True)
class ConsentRequired(InsuranceProblem):
    CODE: ClassVar[str] = "INSURANCE_CONSENT_REQUIRED"
    MESSAGE: ClassVar[str] = (
        "Нет согласия на получение сведений о полисе ОМС: войдите через Госуслуги и подтвердите согласие на обмен "
        "сведениями с ФОМС."
    )


@dataclass(frozen=True)
class CaseNotFound(InsuranceProblem):
    CODE: ClassVar[str] = "INSURANCE_CASE_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Такой случай оказания медицинской помощи не найден в ваших сведениях об услугах."


@dataclass(frozen=True)
class DisputeExists(InsuranceProblem):
    CODE: ClassVar[str] = "INSURANCE_DISPUTE_EXISTS"
    MESSAGE: ClassVar[str] = "По этой услуге уже есть обращение на рассмотрении. Дождитесь ответа."


@dataclass(frozen=True)
class TicketNotFound(InsuranceProblem):
    CODE: ClassVar[str] = "INSURANCE_TICKET_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Обращение не найдено."


@dataclass(frozen=True)
class ReopenNotAllowed(InsuranceProblem):
    CODE: ClassVar[str] = "INSURANCE_REOPEN_NOT_ALLOWED"
    MESSAGE: ClassVar[str] = (
        "Обращение можно возобновить один раз и только после ответа. Если вы не согласны с повторным ответом, "
        "обратитесь в ТФОМС или в суд."
    )


@dataclass(frozen=True)
class AttachmentNotFound(InsuranceProblem):
    CODE: ClassVar[str] = "INSURANCE_ATTACHMENT_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Документ для приложения к обращению не найден в вашем хранилище."


@dataclass(frozen=True)
class InsurerNotFound(InsuranceProblem):
    CODE: ClassVar[str] = "INSURANCE_INSURER_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Страховая компания не найдена в реестре страховых медицинских организаций региона."


@dataclass(frozen=True)
class SameInsurer(InsuranceProblem):
    CODE: ClassVar[str] = "INSURANCE_SAME_INSURER"
    MESSAGE: ClassVar[str] = "Вы уже застрахованы в этой страховой компании."


@dataclass(frozen=True)
class ChangeNotAllowedYet(InsuranceProblem):
    """326-ФЗ art. 16: the message names the date the change becomes possible."""

    CODE: ClassVar[str] = "INSURANCE_CHANGE_NOT_ALLOWED_YET"
    MESSAGE: ClassVar[str] = (
        "Заменить страховую компанию можно раз в календарный год не позднее 1 ноября, чаще — при смене места "
        "жительства (ст. 16 Федерального закона № 326-ФЗ)."
    )


@dataclass(frozen=True)
class ChangePending(InsuranceProblem):
    CODE: ClassVar[str] = "INSURANCE_CHANGE_PENDING"
    MESSAGE: ClassVar[str] = "Заявление о замене страховой компании уже рассматривается. Дождитесь решения."


@dataclass(frozen=True)
class InsuranceRefused(InsuranceProblem):
    CODE: ClassVar[str] = "INSURANCE_REFUSED"
    MESSAGE: ClassVar[str] = "Система ОМС не приняла запрос."


@dataclass(frozen=True)
class MessageNotFound(InsuranceProblem):
    CODE: ClassVar[str] = "INSURANCE_MESSAGE_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Сообщение страхового представителя не найдено."


@dataclass(frozen=True)
class InsuranceServiceUnavailable(InsuranceProblem):
    CODE: ClassVar[str] = "INSURANCE_SERVICE_UNAVAILABLE"
    MESSAGE: ClassVar[str] = "Сервис ОМС сейчас недоступен, ничего не отправлено. Повторите попытку позже."


#: Refusals a retry may not repeat: never kept as an idempotency key's result.
TRANSIENT_CODES = frozenset({InsuranceServiceUnavailable.CODE, PolicyNotReady.CODE})
