"""Booking's business errors: a stable code for the client and Russian text for the person.

Plain values with no GraphQL in them: a service raises :class:`ProblemError` carrying one (see
:func:`fail`), the unit of work rolls back, and the API layer (:mod:`backend.booking.schema`) maps it to
the GraphQL union member of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from backend.core.problems import DomainError, DomainProblem, InvalidInputProblem


@dataclass(frozen=True)
class BookingProblem(DomainProblem):
    """A refusal of booking (the base its schema maps to union members)."""


class ProblemError(DomainError):
    """Raised by booking's services to abort the unit of work with one of its problems."""

    problem: BookingProblem


def fail(problem: BookingProblem) -> ProblemError:
    return ProblemError(problem)


@dataclass(frozen=True)
class InvalidInput(InvalidInputProblem, BookingProblem):
    """A request field is wrong; nothing was changed."""


@dataclass(frozen=True)
class SlotTaken(BookingProblem):
    CODE: ClassVar[str] = "SLOT_TAKEN"
    MESSAGE: ClassVar[str] = "Этот талон уже занят. Выберите другое время."


@dataclass(frozen=True)
class HoldNotFound(BookingProblem):
    CODE: ClassVar[str] = "HOLD_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Бронь талона не найдена. Выберите талон заново."


@dataclass(frozen=True)
class HoldExpired(BookingProblem):
    CODE: ClassVar[str] = "HOLD_EXPIRED"
    MESSAGE: ClassVar[str] = "Время брони талона истекло. Выберите талон заново."


@dataclass(frozen=True)
class SameSpecialtyActive(BookingProblem):
    CODE: ClassVar[str] = "SAME_SPECIALTY_ACTIVE"

    @classmethod
    def of(cls, specialty_name: str) -> SameSpecialtyActive:
        return cls(
            code=cls.CODE,
            message=(
                f"У вас уже есть активная запись к врачу этой специальности ({specialty_name}). "
                "Отмените или перенесите её, чтобы записаться снова."
            ),
        )


@dataclass(frozen=True)
class AgeRestricted(BookingProblem):
    CODE: ClassVar[str] = "AGE_RESTRICTED"

    @classmethod
    def of(cls, message: str) -> AgeRestricted:
        return cls(code=cls.CODE, message=message)


@dataclass(frozen=True)
class SexRestricted(BookingProblem):
    CODE: ClassVar[str] = "SEX_RESTRICTED"

    @classmethod
    def of(cls, specialty_name: str) -> SexRestricted:
        return cls(
            code=cls.CODE,
            message=f"К врачу специальности «{specialty_name}» записываются только женщины. Выберите другого врача.",
        )


@dataclass(frozen=True)
class DispensaryNotAtAttachedClinic(BookingProblem):
    """Issue 18: a dispensary (диспансерный) visit is booked only at the clinic the patient is attached to."""

    CODE: ClassVar[str] = "DISPENSARY_NOT_AT_ATTACHED_CLINIC"
    MESSAGE: ClassVar[str] = (
        "Диспансерный прием возможен только в поликлинике, к которой вы прикреплены. Выберите талон в ней."
    )
    UNKNOWN: ClassVar[str] = (
        "Диспансерный прием возможен только в поликлинике прикрепления, а проверить прикрепление сейчас не удалось. "
        "Попробуйте позже."
    )


class PatientNotFoundAtClinic(BookingProblem):
    CODE: ClassVar[str] = "PATIENT_NOT_FOUND_AT_CLINIC"
    MESSAGE: ClassVar[str] = (
        "Не удалось найти вас в медицинской организации по полису ОМС и дате рождения. "
        "Проверьте данные полиса в профиле или обратитесь в регистратуру."
    )


@dataclass(frozen=True)
class ReferralNeeded(BookingProblem):
    CODE: ClassVar[str] = "REFERRAL_REQUIRED"
    MESSAGE: ClassVar[str] = "Запись к этому специалисту возможна только по направлению лечащего врача."


@dataclass(frozen=True)
class ReferralNotUsable(BookingProblem):
    """The hub refused the referral: unknown, expired, cancelled, used, another patient's or specialty's."""

    CODE: ClassVar[str] = "REFERRAL_INVALID"
    MESSAGE: ClassVar[str] = "Направление не подходит для этой записи. Проверьте номер, срок действия и специальность."

    @classmethod
    def of(cls, hub_message: str | None = None) -> ReferralNotUsable:
        if not hub_message:
            return cls.default()
        return cls(cls.CODE, f"Направление не подходит для этой записи: {hub_message}.")


@dataclass(frozen=True)
class OnlineBookingLimited(BookingProblem):
    """Online booking is limited by the no-show rule; the message names the dates, the end and how to contest."""

    CODE: ClassVar[str] = "ONLINE_BOOKING_LIMITED"
    MESSAGE: ClassVar[str] = "Онлайн-запись временно ограничена из-за неявок на прием."

    @classmethod
    def of(cls, no_show_days: list[str], until: str) -> OnlineBookingLimited:
        return cls(
            cls.CODE,
            f"Онлайн-запись ограничена до {until} включительно: неявки на прием {', '.join(no_show_days)}. "
            "Записаться можно по телефону 122 или в регистратуре. Если вы были на приеме или отменяли запись, "
            "оспорьте неявку в разделе «Мои записи» — после подтверждения поликлиникой ограничение снимется.",
        )


@dataclass(frozen=True)
class BookingServiceUnavailable(BookingProblem):
    CODE: ClassVar[str] = "BOOKING_SERVICE_UNAVAILABLE"
    MESSAGE: ClassVar[str] = "Сервис записи к врачу временно недоступен. Попробуйте еще раз через несколько минут."


@dataclass(frozen=True)
class AppointmentMissing(BookingProblem):
    CODE: ClassVar[str] = "APPOINTMENT_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Запись на прием не найдена."


@dataclass(frozen=True)
class AppointmentNotActive(BookingProblem):
    CODE: ClassVar[str] = "APPOINTMENT_NOT_ACTIVE"
    MESSAGE: ClassVar[str] = "Эту запись уже нельзя изменить: она отменена, перенесена или прием уже прошел."


@dataclass(frozen=True)
class IdempotencyKeyReused(BookingProblem):
    CODE: ClassVar[str] = "IDEMPOTENCY_KEY_REUSED"
    MESSAGE: ClassVar[str] = (
        "Этот ключ запроса уже использован для другого действия. Повторите действие с новым ключом."
    )


@dataclass(frozen=True)
class OutcomeUnknown(BookingProblem):
    """The commit's answer was lost: the change may or may not be saved; the same key tells which."""

    CODE: ClassVar[str] = "OUTCOME_UNKNOWN"
    MESSAGE: ClassVar[str] = (
        "Исход неизвестен, проверяем: связь прервалась в момент сохранения. Повторите запрос с тем же "
        "ключом через несколько секунд — ответ покажет, сохранена ли запись."
    )


PROBLEM_TYPES: tuple[type[BookingProblem], ...] = (
    SlotTaken,
    HoldNotFound,
    HoldExpired,
    SameSpecialtyActive,
    AgeRestricted,
    SexRestricted,
    PatientNotFoundAtClinic,
    ReferralNeeded,
    ReferralNotUsable,
    OnlineBookingLimited,
    BookingServiceUnavailable,
    DispensaryNotAtAttachedClinic,
    AppointmentMissing,
    AppointmentNotActive,
    IdempotencyKeyReused,
    OutcomeUnknown,
    InvalidInput,
)
#: Problems that say "try again", never stored as an idempotent result.
TRANSIENT_CODES = frozenset({BookingServiceUnavailable.CODE, OutcomeUnknown.CODE})
