"""Strawberry types of the vaccination domain: records, exemptions, the calendar's assessment, bookings,
certificates, the coverage KPI, and the problems as union members."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any

import strawberry

from backend.api.problems import AccessDenied, FieldProblem, InvalidInput, NotAuthenticated, Problem
from backend.booking import problems as booking_problems
from backend.booking.graphql_types import (
    AgeRestricted,
    AppointmentType,
    BookingServiceUnavailable,
    IdempotencyKeyReused,
    OutcomeUnknown,
    PatientNotFoundAtClinic,
    ReferralNeeded,
    SameSpecialtyActive,
    SexRestricted,
    SlotTaken,
)
from backend.booking.graphql_types import graphql_problem as booking_graphql_problem
from backend.booking.graphql_types import problem_from_json as booking_problem_from_json
from backend.booking.models import Appointment
from backend.vaccination import problems, service
from backend.vaccination.calendar import load_calendar
from backend.vaccination.engine import DoseStatus, Status
from backend.vaccination.models import VaccinationBooking, VaccinationCertificate

# ---------------------------------------------------------------------------------------------- problems


@strawberry.type(description="Действует медицинский отвод от этой прививки.")
class VaccinationExemptionInForce(Problem):
    until: date | None = strawberry.field(default=None, description="Последний день отвода (пусто: бессрочно).")


@strawberry.type(description="Рано для следующей прививки: минимальный возраст или интервал после предыдущей.")
class VaccinationTooEarly(Problem):
    earliest: date | None = strawberry.field(default=None, description="Первый день, когда прививку можно сделать.")


@strawberry.type(description="Календарь прививок не предусматривает эту прививку в этом возрасте.")
class VaccinationNotInCalendarForAge(Problem):
    pass


@strawberry.type(description="Прививка только по эпидемическим показаниям, по назначению врача.")
class VaccinationByIndicationOnly(Problem):
    pass


@strawberry.type(description="Все прививки серии по календарю уже сделаны.")
class VaccinationSeriesComplete(Problem):
    pass


@strawberry.type(description="Такой инфекции или вакцины нет в календаре прививок.")
class VaccinationUnknownInfection(Problem):
    pass


@strawberry.type(description="Нет сведений о прививках для сертификата.")
class VaccinationNothingToCertify(Problem):
    pass


@strawberry.type(description="Слишком много прививок для одного сертификата: выберите инфекции.")
class VaccinationCertificateTooLarge(Problem):
    pass


@strawberry.type(description="Выбранный талон не в прививочный кабинет.")
class VaccinationNotAVaccinationRoom(Problem):
    pass


@strawberry.type(description="В прививочном кабинете нет свободного времени на ближайшие две недели.")
class VaccinationNoSlot(Problem):
    pass


_SIMPLE: dict[type[problems.VaccinationProblem], type[Problem]] = {
    problems.NotInCalendarForAge: VaccinationNotInCalendarForAge,
    problems.ByIndicationOnly: VaccinationByIndicationOnly,
    problems.SeriesComplete: VaccinationSeriesComplete,
    problems.UnknownInfection: VaccinationUnknownInfection,
    problems.UnknownVaccine: VaccinationUnknownInfection,
    problems.UnknownRiskGroup: VaccinationUnknownInfection,
    problems.NothingToCertify: VaccinationNothingToCertify,
    problems.NotAVaccinationRoom: VaccinationNotAVaccinationRoom,
    problems.NoVaccinationSlot: VaccinationNoSlot,
    problems.CertificateTooLarge: VaccinationCertificateTooLarge,
}
_STORED: dict[str, type[Problem]] = {
    cls.__name__: cls
    for cls in (*_SIMPLE.values(), VaccinationExemptionInForce, VaccinationTooEarly, InvalidInput, AccessDenied,
                NotAuthenticated)
}  # fmt: skip


def graphql_problem(problem: problems.VaccinationProblem) -> Problem:
    if isinstance(problem, problems.ExemptionInForce):
        return VaccinationExemptionInForce(code=problem.code, message=problem.message, until=problem.until)
    if isinstance(problem, problems.TooEarlyForNextDose):
        return VaccinationTooEarly(code=problem.code, message=problem.message, earliest=problem.earliest)
    if isinstance(problem, problems.VaccinationInvalidInput):
        return InvalidInput(code=problem.code, message=problem.message, fields=[])
    return _SIMPLE[type(problem)](code=problem.code, message=problem.message)


def from_booking(problem: booking_problems.BookingProblem) -> Problem:
    return booking_graphql_problem(problem)


def problem_from_json(data: dict[str, Any]) -> Problem:
    cls = _STORED.get(data.get("class", ""))
    if cls is None:
        return booking_problem_from_json(data)
    if cls is InvalidInput:
        return InvalidInput(
            code=data["code"],
            message=data["message"],
            fields=[FieldProblem(field=f["field"], message=f["message"]) for f in data.get("fields", [])],
        )
    return cls(code=data["code"], message=data["message"])


# ---------------------------------------------------------------------------------------------- types


@strawberry.enum(description="Состояние прививки по календарю.")
class DoseStatusEnum(Enum):
    DONE = "done"
    DUE = "due"
    OVERDUE = "overdue"
    UPCOMING = "upcoming"
    EXEMPT = "exempt"
    NOT_APPLICABLE = "not_applicable"


@strawberry.type(description="Инфекция календаря прививок.")
class InfectionType:
    code: str
    name: str

    @classmethod
    def of(cls, code: str) -> InfectionType:
        return cls(code=code, name=load_calendar().infection(code).name)


@strawberry.type(name="VaccinationRecord", description="Сделанная прививка.")
class VaccinationRecordType:
    id: str
    source: str = strawberry.field(
        description="semd — из СЭМД «Сертификат о прививках»; register — из регистра прививок."
    )
    given_on: date
    vaccine_name: str = strawberry.field(description="Торговое наименование или название вакцины.")
    vaccine_code: str | None = strawberry.field(description="Код вакцины в календаре.")
    nsi_code: str | None = strawberry.field(description="Код вакцины по НСИ 1.2.643.5.1.13.13.11.1078.")
    infections: list[InfectionType]
    dose_number: int | None
    lot: str | None = strawberry.field(description="Серия вакцины.")
    clinic: str | None
    performer: str | None = strawberry.field(description="Медицинский работник.")
    document_id: uuid.UUID | None = strawberry.field(description="Документ (СЭМД), в котором записана прививка.")

    @classmethod
    def of(cls, r: service.RecordView) -> VaccinationRecordType:
        return cls(
            id=r.id,
            source=r.source,
            given_on=r.given_on,
            vaccine_name=r.vaccine_name,
            vaccine_code=r.vaccine,
            nsi_code=r.nsi_code,
            infections=[InfectionType.of(i) for i in r.infections],
            dose_number=r.dose_number,
            lot=r.lot,
            clinic=r.clinic,
            performer=r.performer,
            document_id=r.document_id,
        )


@strawberry.type(name="VaccinationExemption", description="Медицинский отвод от прививок.")
class VaccinationExemptionType:
    id: uuid.UUID
    starts_on: date
    ends_on: date | None = strawberry.field(description="Последний день (пусто: бессрочно).")
    infections: list[InfectionType] | None = strawberry.field(description="От каких прививок (пусто: от всех).")
    reason: str | None

    @classmethod
    def of(cls, e: service.ExemptionView) -> VaccinationExemptionType:
        return cls(
            id=e.id,
            starts_on=e.starts_on,
            ends_on=e.ends_on,
            infections=[InfectionType.of(i) for i in e.infections] if e.infections is not None else None,
            reason=e.reason,
        )


@strawberry.type(description="Прививки пациента: сделанные и медицинские отводы.")
class VaccinationHistory:
    records: list[VaccinationRecordType]
    exemptions: list[VaccinationExemptionType]
    register_checked_at: datetime | None = strawberry.field(
        description="Когда регистр прививок сверялся последний раз."
    )
    warning: str | None = strawberry.field(description="Если сведения могут быть неполными — почему.")

    @classmethod
    def of(cls, data: service.PatientVaccinations) -> VaccinationHistory:
        return cls(
            records=[VaccinationRecordType.of(r) for r in reversed(data.records)],
            exemptions=[VaccinationExemptionType.of(e) for e in data.exemptions],
            register_checked_at=data.register_checked_at,
            warning=data.register_error,
        )


@strawberry.type(description="Прививка по календарю: сделана, пора, просрочена, предстоит, отложена.")
class CalendarDose:
    infection: InfectionType
    calendar: str = strawberry.field(description="national — национальный календарь; epidemic — по эпидпоказаниям.")
    dose_number: int
    label: str
    periodic: bool = strawberry.field(description="Повторная ревакцинация (например, раз в 10 лет).")
    status: DoseStatusEnum
    done_on: date | None
    earliest: date | None = strawberry.field(description="С какого дня прививку можно сделать.")
    due_until: date | None = strawberry.field(description="До какого дня включительно — вовремя.")
    catch_up: bool = strawberry.field(description="Догоняющая прививка (опоздание по графику).")
    exemption_until: date | None
    explanation: str
    reference: str = strawberry.field(description="Пункт приказа Минздрава России № 1122н.")
    bookable: bool = strawberry.field(description="Можно записаться сейчас (bookVaccination).")

    @classmethod
    def of(cls, item: DoseStatus) -> CalendarDose:
        return cls(
            infection=InfectionType(code=item.infection, name=item.infection_name),
            calendar=item.calendar,
            dose_number=item.dose_number,
            label=item.label,
            periodic=item.periodic,
            status=DoseStatusEnum(item.status.value),
            done_on=item.done_on,
            earliest=item.earliest,
            due_until=item.due_until,
            catch_up=item.catch_up,
            exemption_until=item.exemption_until,
            explanation=item.explanation,
            reference=item.reference,
            bookable=item.status in (Status.DUE, Status.OVERDUE),
        )


@strawberry.type(name="VaccinationAppointment", description="Запись в прививочный кабинет.")
class VaccinationAppointmentType:
    infection: InfectionType
    dose_number: int
    label: str
    appointment: AppointmentType

    @classmethod
    def of(cls, row: VaccinationBooking, appointment: Appointment) -> VaccinationAppointmentType:
        return cls(
            infection=InfectionType.of(row.infection),
            dose_number=row.dose_number,
            label=row.label,
            appointment=AppointmentType.of(appointment),
        )


@strawberry.type(description="Календарь прививок пациента на дату: что сделано, что пора, что просрочено.")
class VaccinationCalendar:
    on: date
    calendar_title: str = strawberry.field(description="Приказ, по которому считается календарь.")
    due: list[CalendarDose] = strawberry.field(description="Пора или просрочено: на них можно записаться.")
    items: list[CalendarDose]
    appointments: list[VaccinationAppointmentType] = strawberry.field(description="Записи на прививки.")
    warning: str | None


@strawberry.type(name="VaccinationCertificate", description="Сертификат о профилактических прививках.")
class VaccinationCertificateType:
    id: uuid.UUID
    issued_at: datetime
    infections: list[InfectionType] = strawberry.field(description="Выбранные инфекции (пусто: все прививки).")
    vaccinations: int
    pdf_url: str = strawberry.field(description="PDF с QR-кодом (нужен тот же токен доступа).")
    verify_url: str = strawberry.field(description="Адрес проверки подлинности (то, что в QR-коде).")

    @classmethod
    def of(cls, row: VaccinationCertificate, verify_url: str) -> VaccinationCertificateType:
        return cls(
            id=row.id,
            issued_at=row.issued_at,
            infections=[InfectionType.of(i) for i in row.infections],
            vaccinations=len(row.entries),
            pdf_url=f"/api/v1/vaccination/certificates/{row.id}.pdf",
            verify_url=verify_url,
        )


@strawberry.type(description="Охват прививками: возрастная группа и инфекция.")
class VaccinationCoverageRow:
    age_group: str
    infection: InfectionType
    people: int = strawberry.field(description="Людей, которым календарь предусматривает эти прививки.")
    vaccinated: int = strawberry.field(description="Из них с хотя бы одной прививкой.")
    overdue: int = strawberry.field(description="Из них с просроченной прививкой.")
    coverage: float = strawberry.field(description="Доля привитых, 0–1.")


@strawberry.type(description="Записано на прививку.")
class VaccinationBooked:
    booking: VaccinationAppointmentType


@strawberry.type(description="Сертификат выдан.")
class VaccinationCertificateIssued:
    certificate: VaccinationCertificateType


BookVaccinationResult = Annotated[
    VaccinationBooked
    | VaccinationExemptionInForce
    | VaccinationTooEarly
    | VaccinationNotInCalendarForAge
    | VaccinationByIndicationOnly
    | VaccinationSeriesComplete
    | VaccinationUnknownInfection
    | VaccinationNotAVaccinationRoom
    | VaccinationNoSlot
    | SlotTaken
    | SameSpecialtyActive
    | AgeRestricted
    | SexRestricted
    | PatientNotFoundAtClinic
    | ReferralNeeded
    | BookingServiceUnavailable
    | NotAuthenticated
    | AccessDenied
    | InvalidInput
    | IdempotencyKeyReused
    | OutcomeUnknown,
    strawberry.union("BookVaccinationResult"),
]
IssueCertificateResult = Annotated[
    VaccinationCertificateIssued
    | VaccinationNothingToCertify
    | VaccinationCertificateTooLarge
    | VaccinationUnknownInfection
    | NotAuthenticated
    | AccessDenied
    | InvalidInput
    | IdempotencyKeyReused,
    strawberry.union("IssueVaccinationCertificateResult"),
]
