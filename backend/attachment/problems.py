"""Attachment's business errors: a stable code for the client and Russian text for the person.

Plain values, no GraphQL: a service raises :class:`ProblemError` carrying one (see :func:`fail`), the unit
of work rolls back, and :mod:`backend.attachment.schema` maps it to the union member of the same name.
Each 323-ФЗ art. 21 rule checked before sending has its own problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from backend.core.problems import DomainError, DomainProblem, InvalidInputProblem


@dataclass(frozen=True)
class AttachmentProblem(DomainProblem):
    """A refusal of attachment (the base its schema maps to union members)."""


class ProblemError(DomainError):
    """Raised by attachment's services to abort the unit of work with one of its problems."""

    problem: AttachmentProblem


def fail(problem: AttachmentProblem) -> ProblemError:
    return ProblemError(problem)


@dataclass(frozen=True)
class InvalidInput(InvalidInputProblem, AttachmentProblem):
    """A request field is wrong; nothing was changed."""


@dataclass(frozen=True)
class ClinicNotFound(AttachmentProblem):
    CODE: ClassVar[str] = "ATTACHMENT_CLINIC_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Медицинская организация не найдена. Выберите поликлинику из списка."


@dataclass(frozen=True)
class AlreadyAttached(AttachmentProblem):
    CODE: ClassVar[str] = "ATTACHMENT_ALREADY_ATTACHED"
    MESSAGE: ClassVar[str] = "Вы уже прикреплены к этой поликлинике."


@dataclass(frozen=True)
class OnceAYear(AttachmentProblem):
    CODE: ClassVar[str] = "ATTACHMENT_ONCE_A_YEAR"
    MESSAGE: ClassVar[str] = (
        "Поликлинику можно выбирать не чаще одного раза в год, кроме случая смены места жительства "
        "(ст. 21 Федерального закона № 323-ФЗ)."
    )


@dataclass(frozen=True)
class AgeGroupNotServed(AttachmentProblem):
    CODE: ClassVar[str] = "ATTACHMENT_AGE_GROUP_NOT_SERVED"
    MESSAGE: ClassVar[str] = (
        "Эта медицинская организация не оказывает первичную медико-санитарную помощь пациентам этого возраста. "
        "Выберите другую поликлинику."
    )


@dataclass(frozen=True)
class RepresentativeRequired(AttachmentProblem):
    CODE: ClassVar[str] = "ATTACHMENT_REPRESENTATIVE_REQUIRED"
    MESSAGE: ClassVar[str] = (
        "Заявление о прикреплении ребёнка до 15 лет подаёт его законный представитель (родитель или опекун) "
        "из своего личного кабинета."
    )


@dataclass(frozen=True)
class ApplicationPending(AttachmentProblem):
    CODE: ClassVar[str] = "ATTACHMENT_APPLICATION_PENDING"
    MESSAGE: ClassVar[str] = "У вас уже есть заявление о прикреплении на рассмотрении. Дождитесь ответа поликлиники."


@dataclass(frozen=True)
class NotInsured(AttachmentProblem):
    CODE: ClassVar[str] = "ATTACHMENT_NOT_INSURED"
    MESSAGE: ClassVar[str] = (
        "Полис ОМС не найден в регистре застрахованных лиц. Проверьте номер полиса в профиле или обратитесь "
        "в страховую медицинскую организацию."
    )


@dataclass(frozen=True)
class AttachmentRefused(AttachmentProblem):
    CODE: ClassVar[str] = "ATTACHMENT_REFUSED"
    MESSAGE: ClassVar[str] = "Заявление о прикреплении не принято. Обратитесь в регистратуру выбранной поликлиники."


@dataclass(frozen=True)
class AttachmentServiceUnavailable(AttachmentProblem):
    CODE: ClassVar[str] = "ATTACHMENT_SERVICE_UNAVAILABLE"
    MESSAGE: ClassVar[str] = (
        "Сервис прикрепления к поликлинике сейчас недоступен, заявление не отправлено. Повторите попытку позже."
    )


#: Refusals a retry may not repeat: never kept as an idempotency key's result.
TRANSIENT_CODES = frozenset({AttachmentServiceUnavailable.CODE})
