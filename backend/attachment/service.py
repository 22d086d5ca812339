"""Attachment (прикрепление к МО): the patient's clinic, area and doctor, and applications to change it.

The attachment itself is the upstream's (the ЕРЗЛ record behind :class:`AttachmentRegistry`); this
domain reads it, checks the rules of 323-ФЗ art. 21 (and order 406н) before an application is sent —
once a year except on a change of residence, the clinic must serve the patient's age group, a child
under 15 through the legal representative's grant — and keeps each application's status over time
(the periodic sync), telling the person when it changes (``attachment.status_changed``).

Booking asks :func:`attached_mo_id` for "the own clinic first" of its search.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.attachment.models import AttachmentApplication, AttachmentApplicationEvent
from backend.attachment.problems import (
    AgeGroupNotServed,
    AlreadyAttached,
    ApplicationPending,
    AttachmentRefused,
    AttachmentServiceUnavailable,
    ClinicNotFound,
    InvalidInput,
    NotInsured,
    OnceAYear,
    RepresentativeRequired,
    fail,
)
from backend.core.context import ActorKind, RequestContext
from backend.core.uow import UnitOfWork
from backend.directory import service as directory
from backend.identity import proxies as identity_proxies
from backend.identity import service as identity
from backend.identity.service import PatientView
from integrations.attachment import (
    ApplicationForm,
    ApplicationInfo,
    ApplicationStatus,
    AttachmentError,
    AttachmentMethod,
    AttachmentRecord,
    AttachmentRefusal,
    AttachmentTransportError,
    PersonData,
    Representative,
)
from integrations.attachment import ApplicationPending as UpstreamPending
from integrations.attachment import PersonNotInsured as UpstreamNotInsured
from notifications import service as notifications

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

YEAR = timedelta(days=365)
ADULT_AGE = 18
REPRESENTATIVE_UNTIL = 15  # 323-ФЗ art. 54: from 15 a minor consents (and applies) themself
GUARDIAN_KINDS = frozenset({"guardian_esia", "guardian_declared"})
# V021 codes of the area doctors: district therapist, paediatrician, general practitioner.
THERAPIST, PAEDIATRICIAN, GENERAL_PRACTITIONER = "76", "49", "39"
ADULT_CARE = frozenset({THERAPIST, GENERAL_PRACTITIONER})
CHILD_CARE = frozenset({PAEDIATRICIAN, GENERAL_PRACTITIONER})
#: How long booking waits for the attachment before it falls back to its own guess.
BOOKING_DEADLINE_S = 1.5
STATUS_EVENT = "attachment.status_changed"
DOCTOR_ROLE = {
    THERAPIST: "участковый терапевт",
    PAEDIATRICIAN: "участковый педиатр",
    GENERAL_PRACTITIONER: "врач общей практики",
}


def today(runtime: Runtime) -> date:
    return runtime.adapters.clock().date()


@dataclass(frozen=True)
class AttachmentView:
    """What the patient sees: the clinic, its address and phone, the area and its doctor."""

    mo_id: str
    mo_name: str
    mo_address: str | None
    mo_phone: str | None
    mo_work_time: str | None  # the hub's text (GetLPUInfo WorkTime)
    mo_opening_hours: list[dict[str, Any]] | None  # the week read from it (backend.directory.hours)
    area_number: str | None
    area_type: str | None  # «терапевтический участок» …
    doctor_id: str | None
    doctor_name: str | None
    doctor_role: str | None  # «участковый терапевт» …
    attached_on: date
    by_application: bool


def _unavailable(exc: AttachmentError) -> AttachmentServiceUnavailable:
    return AttachmentServiceUnavailable.default(exc.user_message)


async def record_of(runtime: Runtime, patient: PatientView) -> AttachmentRecord | None:
    """The patient's ЕРЗЛ record (None: attached nowhere); typed problems for an unknown policy or no answer."""
    if not patient.oms_policy:
        raise fail(NotInsured.default("В профиле нет полиса ОМС: прикрепление по полису не найти."))
    try:
        return await runtime.adapters.attachment.get_attachment(patient.oms_policy)
    except UpstreamNotInsured:
        raise fail(NotInsured.default()) from None
    except AttachmentTransportError as exc:
        raise fail(_unavailable(exc)) from None
    except AttachmentRefusal as exc:
        raise fail(AttachmentRefused.default(exc.user_message)) from None


async def _patient(session: AsyncSession, patient_id: uuid.UUID) -> PatientView:
    patient = await identity.get_patient(session, patient_id)
    if patient is None:  # pragma: no cover - the policy let an actor act for a patient that exists
        raise fail(InvalidInput.of("actingFor", "Пациент не найден."))
    return patient


async def view(runtime: Runtime, patient_id: uuid.UUID) -> AttachmentView | None:
    """The patient's attachment with the clinic's card from the directory (None: attached nowhere)."""
    async with runtime.sessionmaker() as session:
        patient = await _patient(session, patient_id)
        record = await record_of(runtime, patient)
        if record is None:
            return None
        clinic = (await directory.organisations_by_upstream_ids(session, [record.mo_id])).get(record.mo_id)
        card = (
            await directory.doctor_card(runtime, session, record.mo_id, record.doctor_id) if record.doctor_id else None
        )
    return AttachmentView(
        mo_id=record.mo_id,
        mo_name=clinic.name if clinic else record.mo_name or record.mo_id,
        mo_address=clinic.address if clinic else None,
        mo_phone=clinic.phone if clinic else None,
        mo_work_time=clinic.work_time if clinic else None,
        mo_opening_hours=clinic.opening_hours if clinic else None,
        area_number=record.area_number,
        area_type=record.area_type.label_ru if record.area_type else None,
        doctor_id=record.doctor_id,
        doctor_name=card.doctor_name if card else record.doctor_name,
        doctor_role=DOCTOR_ROLE.get(card.specialty_code) if card else None,
        attached_on=record.attached_on,
        by_application=record.method is AttachmentMethod.APPLICATION,
    )


async def attached_mo_id(runtime: Runtime, session: AsyncSession, patient_id: uuid.UUID) -> str | None:
    """The clinic the patient is attached to, for booking's "own clinic first"; None when it is not known
    within :data:`BOOKING_DEADLINE_S` (no policy, not in the register, the upstream slow or down)."""
    patient = await identity.get_patient(session, patient_id)
    if patient is None or not patient.oms_policy:
        return None
    try:
        async with asyncio.timeout(BOOKING_DEADLINE_S):
            record = await runtime.adapters.attachment.get_attachment(patient.oms_policy)
    except (AttachmentError, TimeoutError):
        return None
    return record.mo_id if record is not None else None


# -- applying ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationRequest:
    mo_id: str
    registration_address: str
    change_of_residence: bool = False
    residence_address: str | None = None
    doctor_id: str | None = None


async def _last_change(session: AsyncSession, patient_id: uuid.UUID, record: AttachmentRecord | None) -> date | None:
    """When the patient last chose a clinic by application (the register's record, or ours)."""
    ours = await session.scalar(
        select(func.max(AttachmentApplication.attached_on)).where(
            AttachmentApplication.patient_id == patient_id,
            AttachmentApplication.status == ApplicationStatus.COMPLETED.value,
        )
    )
    upstream = record.attached_on if record is not None and record.method is AttachmentMethod.APPLICATION else None
    dates = [d for d in (ours, upstream) if d is not None]
    return max(dates) if dates else None


async def _representative(
    session: AsyncSession, ctx: RequestContext, patient: PatientView, on: date
) -> Representative | None:
    """The legal representative applying for a child under 15 (refused if the actor is not one)."""
    if patient.age_on(on) >= REPRESENTATIVE_UNTIL:
        return None
    actor = ctx.actor
    if actor.kind is not ActorKind.PATIENT or actor.id is None or actor.id == str(patient.id):
        raise fail(RepresentativeRequired.default())
    proxy_id = uuid.UUID(actor.id)
    grants = await identity_proxies.grants_of_principal(session, patient.id)
    if not any(g.proxy_id == proxy_id and g.kind in GUARDIAN_KINDS and g.status == "active" for g in grants):
        raise fail(RepresentativeRequired.default())
    parent = await identity.get_patient(session, proxy_id)
    if parent is None or not parent.snils:
        raise fail(RepresentativeRequired.default("В профиле законного представителя нет СНИЛС."))
    return Representative(
        last_name=parent.last_name,
        first_name=parent.first_name,
        middle_name=parent.middle_name,
        snils=parent.snils,
        relation="parent" if any(g.kind == "guardian_esia" for g in grants) else "guardian",
    )


async def apply(
    uow: UnitOfWork, patient_id: uuid.UUID, request: ApplicationRequest, *, idempotency_key: str
) -> AttachmentApplication:
    """Check the rules, send the application, keep it; a typed problem (nothing written) otherwise."""
    runtime, session = uow.runtime, uow.session
    address = request.registration_address.strip()
    if len(address) < 5:
        raise fail(InvalidInput.of("registrationAddress", "Укажите адрес регистрации: город, улицу и дом."))
    on = today(runtime)
    patient = await _patient(session, patient_id)
    clinic = (await directory.organisations_by_upstream_ids(session, [request.mo_id])).get(request.mo_id)
    if clinic is None or not clinic.active:
        raise fail(ClinicNotFound.default())
    pending = await session.scalar(
        select(AttachmentApplication.id).where(
            AttachmentApplication.patient_id == patient_id,
            AttachmentApplication.status.in_((ApplicationStatus.SUBMITTED.value, ApplicationStatus.ACCEPTED.value)),
        )
    )
    if pending is not None:
        raise fail(ApplicationPending.default())
    representative = await _representative(session, uow.ctx, patient, on)
    care = CHILD_CARE if patient.age_on(on) < ADULT_AGE else ADULT_CARE
    doctors = (await directory.doctors_by_organisation(session, [clinic.id])).get(clinic.id, [])
    specialty_ids = {d.specialty_id for d in doctors}
    codes = {s.code for s in (await directory.specialties_by_ids(session, list(specialty_ids))).values()}
    if not codes & care:
        raise fail(AgeGroupNotServed.default())
    record = await record_of(runtime, patient)
    if record is not None and record.mo_id == request.mo_id:
        raise fail(AlreadyAttached.default())
    last = await _last_change(session, patient_id, record)
    if last is not None and on < last + YEAR and not request.change_of_residence:
        raise fail(
            OnceAYear.default(
                f"{OnceAYear.MESSAGE} Последний раз поликлиника выбрана {last:%d.%m.%Y}; следующий выбор — "
                f"с {last + YEAR:%d.%m.%Y} или раньше при смене места жительства."
            )
        )
    form = ApplicationForm(
        person=PersonData(
            last_name=patient.last_name,
            first_name=patient.first_name,
            middle_name=patient.middle_name,
            birth_date=patient.birth_date,
            sex=patient.sex,
            oms_number=patient.oms_policy or "",
            snils=patient.snils,
            phone=patient.phone,
            email=patient.email,
        ),
        mo_id=request.mo_id,
        registration_address=address,
        residence_address=request.residence_address,
        change_of_residence=request.change_of_residence,
        representative=representative,
        doctor_id=request.doctor_id,
    )
    try:
        info = await runtime.adapters.attachment.submit(form, idempotency_key=f"{patient_id}:{idempotency_key}")
    except UpstreamPending:
        raise fail(ApplicationPending.default()) from None
    except UpstreamNotInsured:
        raise fail(NotInsured.default()) from None
    except AttachmentTransportError as exc:
        raise fail(_unavailable(exc)) from None
    except AttachmentRefusal as exc:
        raise fail(AttachmentRefused.default(exc.user_message)) from None
    actor = uow.ctx.actor
    now = runtime.adapters.clock()
    application = AttachmentApplication(
        id=uuid.uuid4(),
        patient_id=patient_id,
        upstream_id=info.id,
        mo_id=request.mo_id,
        mo_name=clinic.name,
        status=ApplicationStatus.SUBMITTED.value,
        change_of_residence=request.change_of_residence,
        registration_address=address,
        channel=actor.channel.value,
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(application)
    session.add(
        AttachmentApplicationEvent(
            id=uuid.uuid4(), application_id=application.id, status=application.status, at=now, comment=None
        )
    )
    await session.flush()
    _notify(uow, application)
    uow.audit(
        "attachment.application_submitted",
        object_type="attachment_application",
        object_id=application.id,
        subject_id=patient_id,
        details={"mo_id": request.mo_id, "change_of_residence": request.change_of_residence},
    )
    # The upstream may have decided at once (a simulator processing on submit): keep that too.
    if info.status is not ApplicationStatus.SUBMITTED:
        await _apply_info(uow, application, info)
    return application


def _notify(uow: UnitOfWork, application: AttachmentApplication) -> None:
    status = ApplicationStatus(application.status)
    notifications.notify(
        uow,
        patient_id=application.patient_id,
        event=STATUS_EVENT,
        data={
            "mo_name": application.mo_name,
            "status": status.label_ru,
            "reason": application.rejection_message or "",
        },
        dedupe_key=f"attachment:{application.id}:{application.status}",
    )


async def _apply_info(uow: UnitOfWork, application: AttachmentApplication, info: ApplicationInfo) -> bool:
    """Bring our application in step with the upstream's: the new steps of its history, a notification."""
    session = uow.session
    known = set(
        await session.scalars(
            select(AttachmentApplicationEvent.status).where(AttachmentApplicationEvent.application_id == application.id)
        )
    )
    changed = False
    for step in info.history:
        if step.status.value in known:
            continue
        known.add(step.status.value)
        session.add(
            AttachmentApplicationEvent(
                id=uuid.uuid4(),
                application_id=application.id,
                status=step.status.value,
                at=_aware(uow.runtime, step.at),
                comment=step.comment,
            )
        )
        changed = True
    if application.status != info.status.value:
        application.status = info.status.value
        application.updated_at = uow.runtime.adapters.clock()
        if info.rejection_reason is not None:
            application.rejection_reason = info.rejection_reason.value
            application.rejection_message = info.rejection_comment or info.rejection_reason.message_ru
        if info.attached_on is not None:
            application.attached_on = info.attached_on
        changed = True
        _notify(uow, application)
    return changed


def _aware(runtime: Runtime, local: datetime) -> datetime:
    if local.tzinfo is not None:
        return local
    return local.replace(tzinfo=ZoneInfo(runtime.settings.region_timezone))


async def sync(runtime: Runtime, *, since: datetime | None = None) -> int:
    """Bring every application under review in step with the upstream (the periodic job); the number changed."""
    async with runtime.sessionmaker() as session:
        pending = list(
            await session.scalars(
                select(AttachmentApplication).where(
                    AttachmentApplication.status.in_(
                        (ApplicationStatus.SUBMITTED.value, ApplicationStatus.ACCEPTED.value)
                    )
                )
            )
        )
    changed = 0
    for row in pending:
        try:
            info = await runtime.adapters.attachment.get_application(row.upstream_id)
        except AttachmentError:
            log.warning("attachment.sync_failed", application=str(row.id), exc_info=True)
            continue
        async with UnitOfWork(runtime, RequestContext.for_system("attachment.sync")) as uow:
            application = await uow.session.get(AttachmentApplication, row.id, with_for_update=True)
            if application is not None and await _apply_info(uow, application, info):
                uow.audit(
                    "attachment.application_status_changed",
                    object_type="attachment_application",
                    object_id=application.id,
                    subject_id=application.patient_id,
                    details={"status": application.status},
                )
                changed += 1
    return changed


async def upstream_id_of(runtime: Runtime, application_id: uuid.UUID) -> str | None:
    """The upstream's id of our application ``application_id`` (the development triggers use it)."""
    async with runtime.sessionmaker() as session:
        found: str | None = await session.scalar(
            select(AttachmentApplication.upstream_id).where(AttachmentApplication.id == application_id)
        )
    return found


async def applications_of(
    session: AsyncSession, patient_id: uuid.UUID
) -> list[tuple[AttachmentApplication, list[AttachmentApplicationEvent]]]:
    """The patient's applications, newest first, each with its history (two statements)."""
    rows = list(
        await session.scalars(
            select(AttachmentApplication)
            .where(AttachmentApplication.patient_id == patient_id)
            .order_by(AttachmentApplication.created_at.desc())
        )
    )
    events: dict[uuid.UUID, list[AttachmentApplicationEvent]] = {r.id: [] for r in rows}
    if rows:
        for event in await session.scalars(
            select(AttachmentApplicationEvent)
            .where(AttachmentApplicationEvent.application_id.in_(list(events)))
            .order_by(AttachmentApplicationEvent.at)
        ):
            events[event.application_id].append(event)
    return [(r, events[r.id]) for r in rows]


async def applications_by_status(session: AsyncSession, start: datetime, end: datetime) -> dict[str, int]:
    """The KPI: applications submitted in [start, end) by their status now."""
    rows = await session.execute(
        select(AttachmentApplication.status, func.count())
        .where(AttachmentApplication.created_at >= start, AttachmentApplication.created_at < end)
        .group_by(AttachmentApplication.status)
    )
    return {str(status): int(count) for status, count in rows.all()}


__all__: Sequence[str] = (
    "ApplicationRequest",
    "AttachmentView",
    "applications_by_status",
    "applications_of",
    "apply",
    "attached_mo_id",
    "sync",
    "view",
)
