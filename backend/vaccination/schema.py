"""GraphQL for vaccination: my vaccinations and exemptions, the calendar's assessment (done, due, overdue,
upcoming), booking the due dose in one step through the booking core, certificates (all or chosen
infections, a PDF with a QR code) and the staff coverage KPI.

The mobile app uses all of it; the 122 operator reads the calendar and books (``SCOPE_VACCINATION`` in an
on-behalf session) but never issues a certificate; a kiosk session prints the certificate
(``SCOPE_VACCINATION_CERTIFICATE``). Every read of vaccination data is audited. Mutations take
``idempotencyKey`` (booking's idempotency records) and ``actingFor`` (a child through a guardian's grant).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, ParamSpec, TypeVar

import strawberry

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.api.problems import InvalidInput, ProblemError, PublicError
from backend.audit import service as audit
from backend.booking import idempotency
from backend.booking import problems as booking_problems
from backend.booking import service as booking
from backend.booking.models import Appointment
from backend.booking.schema import booking_mutation
from backend.identity.policy import SCOPE_VACCINATION, require_certificate_subject, require_staff, require_subject
from backend.vaccination import problems, service
from backend.vaccination.calendar import load_calendar
from backend.vaccination.graphql_types import (
    BookVaccinationResult,
    CalendarDose,
    InfectionType,
    IssueCertificateResult,
    VaccinationAppointmentType,
    VaccinationBooked,
    VaccinationCalendar,
    VaccinationCertificateIssued,
    VaccinationCertificateType,
    VaccinationCoverageRow,
    VaccinationHistory,
    from_booking,
    graphql_problem,
    problem_from_json,
)
from backend.vaccination.models import VaccinationBooking, VaccinationCertificate

P = ParamSpec("P")
R = TypeVar("R")

MAX_INFECTIONS = 40


def domain_problems(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Inside ``@atomic``: a vaccination or booking problem raised by the services becomes its union member."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except problems.VaccinationProblem as exc:
            raise ProblemError(graphql_problem(exc)) from None
        except booking_problems.ProblemError as exc:
            raise ProblemError(from_booking(exc.problem)) from None

    return wrapper


async def _replay(info: Info, stored: dict[str, Any]) -> Any:
    if stored.get("type") == "problem":
        return problem_from_json(stored)
    session = info.context.uow.session
    if stored.get("type") == "certificate":
        row = await session.get(VaccinationCertificate, uuid.UUID(stored["id"]))
        assert row is not None  # certificates are never deleted
        return VaccinationCertificateIssued(
            certificate=VaccinationCertificateType.of(row, service.verify_url(info.context.runtime, row.token))
        )
    booked = await session.get(VaccinationBooking, uuid.UUID(stored["id"]))
    appointment = await session.get(Appointment, uuid.UUID(stored["id"]))
    assert booked is not None and appointment is not None  # neither is ever deleted
    return VaccinationBooked(booking=VaccinationAppointmentType.of(booked, appointment))


async def _read_audit(info: Info, patient_id: uuid.UUID, action: str, details: dict[str, Any]) -> None:
    await audit.record_now(
        info.context.sessionmaker, info.context.ctx, action, object_type="vaccination", subject_id=patient_id,
        details=details,
    )  # fmt: skip


def _today(info: Info) -> date:
    runtime = info.context.runtime
    return booking.local_day(runtime, booking.now(runtime))


@strawberry.type
class Query:
    @strawberry.field(description="Мои прививки (или ребенка, доверителя) и медицинские отводы, новые первыми.")
    async def my_vaccinations(self, info: Info, acting_for: uuid.UUID | None = None) -> VaccinationHistory:
        patient_id = await require_subject(info, SCOPE_VACCINATION, acting_for=acting_for)
        data = await service.patient_vaccinations(info.context.runtime, patient_id)
        if data is None:
            raise PublicError("Пациент не найден.", code="NOT_FOUND")
        await _read_audit(info, patient_id, "vaccination.records_read", {"records": len(data.records)})
        return VaccinationHistory.of(data)

    @strawberry.field(
        description="Календарь прививок на дату (по умолчанию сегодня): что сделано, что пора, что просрочено, "
        "что предстоит; по приказу Минздрава России № 1122н."
    )
    async def vaccination_calendar(
        self, info: Info, acting_for: uuid.UUID | None = None, on: date | None = None
    ) -> VaccinationCalendar:
        patient_id = await require_subject(info, SCOPE_VACCINATION, acting_for=acting_for)
        runtime = info.context.runtime
        data = await service.patient_vaccinations(runtime, patient_id)
        if data is None:
            raise PublicError("Пациент не найден.", code="NOT_FOUND")
        day = on or _today(info)
        if day < data.patient.birth_date or abs((day - _today(info)).days) > 366 * 120:
            raise PublicError("Дата не может быть раньше даты рождения.", code="INVALID_INPUT")
        assessment = service.assess(data, day)
        bookings = await service.vaccination_bookings(runtime, patient_id)
        await _read_audit(info, patient_id, "vaccination.calendar_read", {"on": day.isoformat()})
        items = [CalendarDose.of(i) for i in assessment.items]
        return VaccinationCalendar(
            on=day,
            calendar_title=load_calendar().title,
            due=[i for i in items if i.bookable],
            items=items,
            appointments=[VaccinationAppointmentType.of(row, a) for row, a in bookings],
            warning=data.register_error,
        )

    @strawberry.field(description="Выданные сертификаты о прививках, новые первыми.")
    async def vaccination_certificates(
        self, info: Info, acting_for: uuid.UUID | None = None
    ) -> list[VaccinationCertificateType]:
        patient_id = await require_subject(info, SCOPE_VACCINATION, acting_for=acting_for)
        runtime = info.context.runtime
        rows = await service.certificates_of(runtime, patient_id)
        await _read_audit(info, patient_id, "vaccination.certificates_read", {"count": len(rows)})
        return [VaccinationCertificateType.of(r, service.verify_url(runtime, r.token)) for r in rows]

    @strawberry.field(description="Охват прививками по инфекциям и возрастным группам на дату (для персонала).")
    async def vaccination_coverage(self, info: Info, on: date | None = None) -> list[VaccinationCoverageRow]:
        require_staff(info)
        rows = await service.coverage(info.context.runtime, on or _today(info))
        return [
            VaccinationCoverageRow(
                age_group=r.age_group,
                infection=InfectionType(code=r.infection, name=r.infection_name),
                people=r.people,
                vaccinated=r.vaccinated,
                overdue=r.overdue,
                coverage=r.coverage,
            )
            for r in rows
        ]


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Записаться на прививку (следующую дозу против инфекции) в прививочный кабинет: в выбранный "
        "талон (slot) или, без него, в ближайший свободный в своей поликлинике — одним шагом."
    )
    @booking_mutation
    @atomic
    @domain_problems
    async def book_vaccination(
        self,
        info: Info,
        infection: str,
        idempotency_key: str,
        slot: str | None = None,
        acting_for: uuid.UUID | None = None,
    ) -> BookVaccinationResult:
        patient_id = await require_subject(info, SCOPE_VACCINATION, acting_for=acting_for)
        # The register's data first, in a transaction of its own, before this unit of work writes anything.
        await service.ensure_imported(info.context.runtime, [patient_id])
        request = {"infection": infection, "slot": slot, "patient_id": str(patient_id)}
        stored = await idempotency.claim(info.context.uow, "bookVaccination", idempotency_key, request)
        if stored is not None:
            return await _replay(info, stored)
        if infection not in {i.code for i in load_calendar().infections}:
            raise problems.UnknownInfection(infection)
        ref = booking.parse_ref(slot) if slot is not None else None
        uow = info.context.uow
        made = await service.book_vaccination(uow, patient_id, infection, ref)
        idempotency.remember(uow, {"type": "booked", "id": str(made.appointment.id)})
        row = await uow.session.get(VaccinationBooking, made.appointment.id)
        assert row is not None
        return VaccinationBooked(booking=VaccinationAppointmentType.of(row, made.appointment))

    @strawberry.mutation(
        description="Выдать сертификат о профилактических прививках (PDF с QR-кодом для проверки): все прививки "
        "или против выбранных инфекций. Оператор 122 сертификат не выдает."
    )
    @booking_mutation
    @atomic
    @domain_problems
    async def issue_vaccination_certificate(
        self,
        info: Info,
        idempotency_key: str,
        infections: list[str] | None = None,
        acting_for: uuid.UUID | None = None,
    ) -> IssueCertificateResult:
        patient_id = await require_certificate_subject(info, acting_for=acting_for)
        await service.ensure_imported(info.context.runtime, [patient_id])  # as in bookVaccination
        chosen = sorted(set(infections or ()))
        if len(chosen) > MAX_INFECTIONS:
            return InvalidInput.of("infections", f"Выберите не больше {MAX_INFECTIONS} инфекций.")
        request = {"infections": chosen, "patient_id": str(patient_id)}
        stored = await idempotency.claim(info.context.uow, "issueVaccinationCertificate", idempotency_key, request)
        if stored is not None:
            return await _replay(info, stored)
        uow = info.context.uow
        row = await service.issue_certificate(uow, patient_id, chosen)
        idempotency.remember(uow, {"type": "certificate", "id": str(row.id)})
        return VaccinationCertificateIssued(
            certificate=VaccinationCertificateType.of(row, service.verify_url(info.context.runtime, row.token))
        )
