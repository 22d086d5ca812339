"""Booking's business errors: a stable code for the client and Russian text for the person.

Plain values with no GraphQL in them: a service raises :class:`ProblemError` carrying one (see
:func:`fail`), the unit of work rolls back, and the API layer (:mod:`backend.booking.schema`) maps it to
the GraphQL union member of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self


@dataclass(frozen=True)
class BookingProblem:
    """A business refusal: ``code`` is stable, ``message`` is what the person reads."""

    code: str
    message: str

    CODE: ClassVar[str] = ""
    MESSAGE: ClassVar[str] = ""

    @classmethod
    def default(cls, message: str | None = None) -> Self:
        """The problem with its class's code, and its default text unless a more precise one is given."""
        return cls(code=cls.CODE, message=message or cls.MESSAGE)


class ProblemError(Exception):
    """Raised by booking's services to abort the unit of work with a typed problem."""

    def __init__(self, problem: BookingProblem) -> None:
        super().__init__(f"{problem.code}: {problem.message}")
        self.problem = problem


def fail(problem: BookingProblem) -> ProblemError:
    return ProblemError(problem)


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


@dataclass(frozen=True)
class InvalidInput(BookingProblem):
    """A request field is wrong; nothing was changed."""

    fields: tuple[FieldProblem, ...] = field(default=())

    CODE: ClassVar[str] = "INVALID_INPUT"

    @classmethod
    def of(cls, field: str, message: str) -> InvalidInput:
        return cls(code=cls.CODE, message=message, fields=(FieldProblem(field=field, message=message),))


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


PROBLEM_TYPES: tuple[type[BookingProblem], ...] = (
    SlotTaken,
    HoldNotFound,
    HoldExpired,
    SameSpecialtyActive,
    AgeRestricted,
    PatientNotFoundAtClinic,
    ReferralNeeded,
    BookingServiceUnavailable,
    AppointmentMissing,
    AppointmentNotActive,
    IdempotencyKeyReused,
    InvalidInput,
)
#: Problems that say "try again", never stored as an idempotent result.
TRANSIENT_CODES = frozenset({BookingServiceUnavailable.CODE})
