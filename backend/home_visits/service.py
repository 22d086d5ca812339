"""Home visits: windows, create, cancel, the status kept in step with the hub (push and sync), the KPI.

The flow follows the HomeCallService (``protocols.md`` §3.1): ``validate`` (the hub identifies the patient
in the clinic they are attached to, checks its refusals and opens a session) → the session's windows →
``create`` on one window. The clinic is the patient's attached one (:mod:`backend.attachment`).

Nothing is written before the hub has accepted the request; the request, its first timeline step, the
notification and the audit row are then one unit of work. A timeout on ``create`` is reconciled with one
``search`` (the request may exist): found, it is kept; not found, the person is told to check and retry.

Status changes arrive as the MIS's pushes (:func:`handle_push`, the REST endpoint and the in-process
simulator) and from the periodic :func:`sync`; both name a change by the same key
(:attr:`~integrations.homecall.HomeCallChanged.dedup_key`), so each is applied once. Each change is a
timeline step, a notification (``home_visit.*``) and a live update on the ``homeVisitUpdated``
subscription (published after commit through the outbox).
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.attachment import service as attachment
from backend.attachment.problems import ProblemError as AttachmentProblemError
from backend.core.context import ActorKind, RequestContext
from backend.core.uow import UnitOfWork
from backend.home_visits import checklist
from backend.home_visits.models import ACTIVE, HomeVisit, HomeVisitEvent
from backend.home_visits.problems import (
    AddressMissing,
    AlreadyActive,
    CannotCancel,
    EmergencySymptoms,
    HomeVisitNotFound,
    HomeVisitProblem,
    HomeVisitRefused,
    HomeVisitServiceUnavailable,
    InvalidInput,
    NotAttached,
    ServiceDisabled,
    WindowUnavailable,
    fail,
)
from backend.identity import service as identity
from backend.identity.service import PatientView
from backend.outbox.service import Envelope
from integrations.homecall import (
    ActiveCallExists,
    Address,
    Applicant,
    HomeCallChanged,
    HomeCallError,
    HomeCallFilter,
    HomeCallPatient,
    HomeCallRefusal,
    HomeCallRequestInfo,
    HomeCallSlot,
    HomeCallStatus,
    HomeCallTimeout,
    HomeCallTransportError,
    NoAddress,
    PatientNotAttached,
    PatientNotIdentified,
    SessionExpired,
    SlotUnavailable,
    StatusChangeNotAllowed,
)
from integrations.homecall import ServiceDisabled as UpstreamServiceDisabled
from integrations.homecall import handle_push as parse_and_apply_push
from notifications import service as notifications
from notifications.channels import InboxEvent

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

TOPIC_CHANGED = "home_visits.changed"
SYNC_BATCH = 200
_RANK = {
    HomeCallStatus.NEW: 0,
    HomeCallStatus.DOCTOR_ASSIGNED: 1,
    HomeCallStatus.ON_THE_WAY: 2,
    HomeCallStatus.VISITED: 3,
    HomeCallStatus.CANCELLED_BY_PATIENT: 3,
    HomeCallStatus.CANCELLED_BY_MO: 3,
}
WINDOWS_REASON = "Подбор времени визита"


def now(runtime: Runtime) -> datetime:
    return runtime.adapters.clock()


def _zone(runtime: Runtime) -> ZoneInfo:
    return ZoneInfo(runtime.settings.region_timezone)


def to_utc(runtime: Runtime, local: datetime) -> datetime:
    """The hub's naive local time as aware UTC."""
    aware = local if local.tzinfo is not None else local.replace(tzinfo=_zone(runtime))
    return aware.astimezone(ZoneInfo("UTC"))


# -- input -----------------------------------------------------------------------------------------

_PHONE_DIGITS = re.compile(r"\D")


def normalise_phone(raw: str | None) -> str:
    """A Russian mobile or landline number as +7XXXXXXXXXX; InvalidInput otherwise."""
    digits = _PHONE_DIGITS.sub("", raw or "")
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    text = (raw or "").strip()
    if len(digits) != 10 or (text.startswith("+") and not text.startswith("+7")):
        raise fail(InvalidInput.of("phone", "Укажите контактный телефон: +7 и 10 цифр, например +7 900 123-45-67."))
    return "+7" + digits


@dataclass(frozen=True)
class AddressInput:
    """Where the doctor should come; ``None`` members are unknown. ``fias_code``: FIAS GUID or KLADR code."""

    region: str | None = None
    city: str | None = None
    place: str | None = None
    street: str | None = None
    house: str | None = None
    housing: str | None = None
    building: str | None = None
    apartment: str | None = None
    postcode: str | None = None
    fias_code: str | None = None
    line: str | None = None
    entrance_comment: str | None = None

    def upstream(self) -> Address:
        return Address(
            region=self.region,
            city=self.city,
            place=self.place,
            street=self.street,
            house=self.house,
            housing=self.housing,
            structure=self.building,
            apartment=self.apartment,
            post_index=self.postcode,
            kladr_fias_code=self.fias_code,
            address_line=self.line,
            comment=self.entrance_comment,
        )

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v}


_FIAS = re.compile(r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|\d{13,19})$")


def check_address(address: AddressInput | None) -> Address:
    """A locatable address (a whole line, or a house on a street or in a place); AddressMissing otherwise."""
    if address is None:
        raise fail(AddressMissing.default())
    if address.fias_code and not _FIAS.match(address.fias_code.strip()):
        raise fail(InvalidInput.of("address.fiasCode", "Код ФИАС/КЛАДР указан неверно: это GUID ФИАС или код КЛАДР."))
    upstream = address.upstream()
    if upstream.is_empty or not upstream.is_locatable:
        raise fail(AddressMissing.default())
    return upstream


async def last_address(session: AsyncSession, patient_id: uuid.UUID) -> AddressInput | None:
    """The address of the patient's latest home visit."""
    stored = await session.scalar(
        select(HomeVisit.address).where(HomeVisit.patient_id == patient_id).order_by(HomeVisit.created_at.desc())
    )
    return AddressInput(**stored) if stored else None


class AddressSource(enum.StrEnum):
    """Where the address a visit is offered for came from."""

    GIVEN = "GIVEN"  # the person typed it
    RESIDENCE = "RESIDENCE"  # ESIA's address of residence (PLV)
    REGISTRATION = "REGISTRATION"  # ESIA's registration address (PRG)
    LAST_VISIT = "LAST_VISIT"  # the patient's previous home visit


async def offered_address(
    session: AsyncSession, patient: PatientView, given: AddressInput | None
) -> tuple[AddressInput | None, AddressSource | None]:
    """The address a visit is for: the one given; else where ESIA says the patient lives (PLV: the doctor
    comes where the patient is), else their registration (PRG); else their previous visit's."""
    if given is not None:
        return given, AddressSource.GIVEN
    for stored, source in (
        (patient.residence_address, AddressSource.RESIDENCE),
        (patient.registration_address, AddressSource.REGISTRATION),
    ):
        if stored and str(stored.get("line") or "").strip():
            line = str(stored["line"]).strip()
            return AddressInput(line=line, fias_code=stored.get("fias_code"), postcode=stored.get("postcode")), source
    last = await last_address(session, patient.id)
    return last, AddressSource.LAST_VISIT if last is not None else None


# -- the hub ---------------------------------------------------------------------------------------


_UPSTREAM_PROBLEMS: tuple[tuple[type[HomeCallError] | tuple[type[HomeCallError], ...], type[HomeVisitProblem]], ...] = (
    (HomeCallTransportError, HomeVisitServiceUnavailable),
    (NoAddress, AddressMissing),
    (ActiveCallExists, AlreadyActive),
    (UpstreamServiceDisabled, ServiceDisabled),
    ((SlotUnavailable, SessionExpired), WindowUnavailable),
    ((PatientNotAttached, PatientNotIdentified), NotAttached),
)


def upstream_problem(exc: HomeCallError) -> HomeVisitProblem:
    """The domain's problem for an adapter error, with the adapter's Russian text."""
    for kinds, problem in _UPSTREAM_PROBLEMS:
        if isinstance(exc, kinds):
            return problem.default(exc.user_message)
    return HomeVisitRefused.default(exc.user_message)


def _patient_part(patient: PatientView) -> HomeCallPatient:
    return HomeCallPatient(
        last_name=patient.last_name,
        first_name=patient.first_name,
        middle_name=patient.middle_name,
        birth_date=patient.birth_date,
        oms_number=patient.oms_policy or "",
        sex=patient.sex,
        snils=patient.snils,
    )


async def _applicant(session: AsyncSession, ctx: RequestContext, patient: PatientView, phone: str) -> Applicant:
    """Who calls: a proxy (a parent) acting for the patient, else the patient (or the 122 caller)."""
    actor = ctx.actor
    person = patient
    if actor.kind is ActorKind.PATIENT and actor.id is not None and actor.id != str(patient.id):
        person = await identity.get_patient(session, uuid.UUID(actor.id)) or patient
    return Applicant(
        last_name=person.last_name,
        first_name=person.first_name,
        middle_name=person.middle_name,
        mobile_phone=phone,
        email=person.email,
        snils=person.snils,
    )


async def _patient(session: AsyncSession, patient_id: uuid.UUID) -> PatientView:
    patient = await identity.get_patient(session, patient_id)
    if patient is None:  # pragma: no cover - the policy let an actor act for a patient that exists
        raise fail(InvalidInput.of("actingFor", "Пациент не найден."))
    if not patient.oms_policy:
        raise fail(NotAttached.default("В профиле пациента нет полиса ОМС: поликлинику прикрепления не найти."))
    return patient


async def _clinic(runtime: Runtime, patient: PatientView) -> tuple[str, str]:
    """(mo id, name) of the patient's attached clinic."""
    try:
        record = await attachment.record_of(runtime, patient)
    except AttachmentProblemError as exc:
        if exc.problem.code == "ATTACHMENT_SERVICE_UNAVAILABLE":
            raise fail(HomeVisitServiceUnavailable.default()) from None
        raise fail(NotAttached.default()) from None
    if record is None:
        raise fail(NotAttached.default())
    return record.mo_id, record.mo_name or record.mo_id


@dataclass
class Windows:
    mo_id: str
    mo_name: str
    doctor_name: str | None
    slots: list[HomeCallSlot] = field(default_factory=list)
    address_line: str = ""  # the address the windows are for (offered from ESIA when none was given)
    address_source: AddressSource | None = None


async def windows(
    runtime: Runtime, ctx: RequestContext, patient_id: uuid.UUID, address: AddressInput | None, phone: str | None
) -> Windows:
    """The windows the patient's clinic offers for a visit at ``address`` (the hub's validation runs)."""
    async with runtime.sessionmaker() as session:
        patient = await _patient(session, patient_id)
        address, source = await offered_address(session, patient, address)
        upstream_address = check_address(address)
        number = normalise_phone(phone or patient.phone)
        applicant = await _applicant(session, ctx, patient, number)
    mo_id, mo_name = await _clinic(runtime, patient)
    try:
        validation = await runtime.adapters.homecall.validate(
            mo_id, patient=_patient_part(patient), applicant=applicant, address=upstream_address, reason=WINDOWS_REASON
        )
    except HomeCallError as exc:
        raise fail(upstream_problem(exc)) from None
    moment = now(runtime)
    slots = [s for s in validation.slots if to_utc(runtime, s.end) > moment]
    doctor = validation.doctor.name if validation.doctor else None
    return Windows(mo_id, mo_name, doctor, slots, upstream_address.one_line(), source)


@dataclass(frozen=True)
class VisitRequest:
    reason: str
    window_id: str
    phone: str
    symptoms: Sequence[str] = ()
    reason_text: str | None = None
    address: AddressInput | None = None  # None: the address of the latest visit


def check_request(request: VisitRequest) -> None:
    """The checks that need nothing but the request: the emergency first, then the fields."""
    unknown = checklist.unknown(request.symptoms)
    if unknown:
        raise fail(InvalidInput.of("symptoms", f"Неизвестные ответы анкеты: {', '.join(unknown)}."))
    urgent = checklist.emergencies(request.symptoms)
    if urgent:
        listed = "; ".join(s.label.lower() for s in urgent)
        raise fail(
            EmergencySymptoms(
                code=EmergencySymptoms.CODE,
                message=f"{EmergencySymptoms.MESSAGE} Отмечено: {listed}.",
                emergency_number="103",
                symptoms=tuple(s.code for s in urgent),
            )
        )
    if request.reason not in checklist.REASON_LABELS:
        raise fail(InvalidInput.of("reason", "Выберите причину вызова из списка."))
    if request.reason == "other" and not (request.reason_text or "").strip():
        raise fail(InvalidInput.of("reasonText", "Опишите, что беспокоит."))
    if len(request.reason_text or "") > 1000:
        raise fail(InvalidInput.of("reasonText", "Описание — не длиннее 1000 знаков."))


async def request_visit(uow: UnitOfWork, patient_id: uuid.UUID, request: VisitRequest) -> HomeVisit:
    """Create a home visit on one of the windows; a typed problem (nothing written, nothing sent) otherwise."""
    check_request(request)
    phone = normalise_phone(request.phone)
    runtime, session, ctx = uow.runtime, uow.session, uow.ctx
    patient = await _patient(session, patient_id)
    address_input, _ = await offered_address(session, patient, request.address)
    address = check_address(address_input)
    assert address_input is not None
    active = await session.scalar(
        select(HomeVisit.id).where(HomeVisit.patient_id == patient_id, HomeVisit.status.in_(ACTIVE))
    )
    if active is not None:
        raise fail(AlreadyActive.default())
    applicant = await _applicant(session, ctx, patient, phone)
    mo_id, mo_name = await _clinic(runtime, patient)
    reason = checklist.REASON_LABELS[request.reason]
    if request.reason_text:
        reason = f"{reason}. {request.reason_text.strip()}"
    hub = runtime.adapters.homecall
    try:
        validation = await hub.validate(
            mo_id, patient=_patient_part(patient), applicant=applicant, address=address, reason=reason
        )
        slot = next((s for s in validation.slots if s.id == request.window_id), None)
        if slot is None or to_utc(runtime, slot.end) <= now(runtime):
            raise fail(WindowUnavailable.default())
        try:
            created = await hub.create(mo_id, validation.session_id, slot.id)
            request_id = created.request_id
        except HomeCallTimeout:
            found = await hub.search(HomeCallFilter(mo_id=mo_id, patient_ids=[validation.patient_id]))
            mine = [r for r in found.requests if r.status.is_active and r.session_id == validation.session_id]
            if not mine:
                raise
            request_id = mine[0].request_id
    except HomeCallError as exc:
        raise fail(upstream_problem(exc)) from None
    at = now(runtime)
    actor = ctx.actor
    visit = HomeVisit(
        id=uuid.uuid4(),
        patient_id=patient_id,
        request_id=request_id,
        mo_id=mo_id,
        mo_name=mo_name,
        status=HomeCallStatus.NEW.value,
        reason_code=request.reason,
        reason_text=(request.reason_text or "").strip() or None,
        symptoms=list(request.symptoms),
        address=address_input.as_json(),
        address_line=address.one_line()[:512],
        phone=phone,
        window_start=to_utc(runtime, slot.visit_time),
        window_end=to_utc(runtime, slot.end),
        doctor_name=validation.doctor.name if validation.doctor else None,
        channel=actor.channel.value,
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        on_behalf=actor.kind is not ActorKind.PATIENT or actor.id != str(patient_id),
        created_at=at,
        updated_at=at,
    )
    session.add(visit)
    session.add(
        HomeVisitEvent(
            id=uuid.uuid4(),
            visit_id=visit.id,
            status=visit.status,
            at=at,
            comment=None,
            source="created",
            dedup_key=f"{request_id}:created",
        )
    )
    await session.flush()
    notifications.notify(
        uow,
        patient_id=patient_id,
        event="home_visit.scheduled",
        data={"number": request_id, "visit_date": visit.window_start},
        dedupe_key=f"home_visit:{visit.id}:scheduled",
    )
    _publish(uow, visit, None)
    uow.audit(
        "home_visit.requested",
        object_type="home_visit",
        object_id=visit.id,
        subject_id=patient_id,
        details={"mo_id": mo_id, "request_id": request_id},
    )
    return visit


async def cancel_visit(uow: UnitOfWork, patient_id: uuid.UUID, visit_id: uuid.UUID) -> HomeVisit:
    """Cancel while no doctor is assigned yet: the hub first, then our row; a typed problem otherwise."""
    session = uow.session
    visit = await session.get(HomeVisit, visit_id, with_for_update=True)
    if visit is None or visit.patient_id != patient_id:
        raise fail(HomeVisitNotFound.default())
    if visit.status != HomeCallStatus.NEW.value:
        raise fail(CannotCancel.default())
    try:
        await uow.runtime.adapters.homecall.update(visit.request_id, HomeCallStatus.CANCELLED_BY_PATIENT)
    except StatusChangeNotAllowed:
        raise fail(CannotCancel.default()) from None
    except HomeCallError as exc:
        raise fail(upstream_problem(exc)) from None
    at = now(uow.runtime)
    visit.status = HomeCallStatus.CANCELLED_BY_PATIENT.value
    visit.updated_at = at
    session.add(
        HomeVisitEvent(
            id=uuid.uuid4(),
            visit_id=visit.id,
            status=visit.status,
            at=at,
            comment=None,
            source="patient",
            dedup_key=f"{visit.request_id}:cancelled_by_patient",
        )
    )
    notifications.notify(
        uow,
        patient_id=patient_id,
        event="home_visit.cancelled",
        data={"number": visit.request_id, "reason": "по вашей просьбе"},
        dedupe_key=f"home_visit:{visit.id}:cancelled",
    )
    _publish(uow, visit, None)
    uow.audit("home_visit.cancelled", object_type="home_visit", object_id=visit.id, subject_id=patient_id, details={})
    return visit


# -- status in step with the hub -----------------------------------------------------------------------


def _publish(uow: UnitOfWork, visit: HomeVisit, comment: str | None) -> None:
    """The live update, sent after commit (outbox → :func:`on_changed`)."""
    uow.emit(
        TOPIC_CHANGED,
        {
            "visit_id": str(visit.id),
            "patient_id": str(visit.patient_id),
            "status": visit.status,
            "comment": comment or "",
            "at": visit.updated_at.isoformat(),
        },
    )


async def on_changed(envelope: Envelope, runtime: Runtime) -> None:
    """Outbox handler: publish a visit's change on the live bus (best effort; the timeline is in the database)."""
    p = envelope.payload
    status = HomeCallStatus(p["status"])
    await bus(runtime).publish(
        InboxEvent(
            id=uuid.UUID(p["visit_id"]),
            patient_id=uuid.UUID(p["patient_id"]),
            event=status.value,
            title=status.label_ru,
            text=p.get("comment") or "",
            created_at=datetime.fromisoformat(p["at"]),
        )
    )


def bus(runtime: Runtime) -> Any:
    """The live bus of home-visit changes (Redis pub/sub across processes, or in-process)."""
    return runtime.adapters.home_visit_bus


async def apply_change(runtime: Runtime, info: HomeCallRequestInfo, *, source: str, dedup_key: str) -> bool:
    """Apply one upstream change (a push or the sync) once; False if unknown, already applied or stale."""
    async with UnitOfWork(runtime, RequestContext.for_system(f"home_visits.{source}")) as uow:
        session = uow.session
        visit = await session.scalar(select(HomeVisit).where(HomeVisit.request_id == info.request_id).with_for_update())
        if visit is None:
            log.info("home_visits.change_for_unknown_request", request_id=info.request_id, source=source)
            return False
        seen = await session.scalar(select(HomeVisitEvent.id).where(HomeVisitEvent.dedup_key == dedup_key))
        if seen is not None:
            return False
        current = HomeCallStatus(visit.status)
        if _RANK[info.status] <= _RANK[current] and info.status is not current:
            return False  # older news than what we know
        if info.status is current and not (info.doctor and info.doctor.name != visit.doctor_name):
            return False
        at = now(runtime)
        visit.status = info.status.value
        visit.updated_at = at
        if info.doctor is not None:
            visit.doctor_name = info.doctor.name
        comment = info.comment if info.status is HomeCallStatus.CANCELLED_BY_MO else None
        session.add(
            HomeVisitEvent(
                id=uuid.uuid4(),
                visit_id=visit.id,
                status=visit.status,
                at=to_utc(runtime, info.updated_at),
                comment=comment,
                source=source,
                dedup_key=dedup_key,
            )
        )
        if info.status is HomeCallStatus.CANCELLED_BY_MO:
            notifications.notify(
                uow,
                patient_id=visit.patient_id,
                event="home_visit.cancelled",
                data={"number": visit.request_id, "reason": comment or "отменён поликлиникой"},
                dedupe_key=f"home_visit:{visit.id}:cancelled",
            )
        elif info.status is not current:
            notifications.notify(
                uow,
                patient_id=visit.patient_id,
                event="home_visit.status_changed",
                data={"number": visit.request_id, "status": info.status.label_ru, "doctor": visit.doctor_name or ""},
                dedupe_key=f"home_visit:{visit.id}:{info.status.value}",
            )
        _publish(uow, visit, comment)
        uow.audit(
            "home_visit.status_changed",
            object_type="home_visit",
            object_id=visit.id,
            subject_id=visit.patient_id,
            details={"status": visit.status, "source": source},
        )
    return True


async def handle_push(runtime: Runtime, body: bytes, soap_action: str | None) -> tuple[int, bytes]:
    """The ``HandleHomeCallRequestChanged`` endpoint: (HTTP status, SOAP reply) for the MIS."""

    async def on_change(event: HomeCallChanged) -> None:
        await apply_change(runtime, event.request, source="push", dedup_key=event.dedup_key)

    settings = runtime.settings
    return await parse_and_apply_push(
        body, soap_action, on_change, expected_guid=settings.homecall_push_guid or settings.homecall_guid
    )


@dataclass
class SyncReport:
    checked: int = 0
    changed: int = 0
    failures: int = 0


async def sync(runtime: Runtime, *, batch: int = SYNC_BATCH) -> SyncReport:
    """The periodic sync: ask the hub about every active visit (oldest change first) and apply what changed."""
    report = SyncReport()
    async with runtime.sessionmaker() as session:
        rows = (
            await session.execute(
                select(HomeVisit.request_id)
                .where(HomeVisit.status.in_(ACTIVE))
                .order_by(HomeVisit.updated_at)
                .limit(batch)
            )
        ).all()
    for (request_id,) in rows:
        report.checked += 1
        try:
            found = await runtime.adapters.homecall.search(HomeCallFilter(request_id=request_id))
        except HomeCallError:
            report.failures += 1
            log.warning("home_visits.sync_failed", request_id=request_id, exc_info=True)
            continue
        for info in found.requests:
            key = HomeCallChanged(request=info, guid=None).dedup_key
            if await apply_change(runtime, info, source="sync", dedup_key=key):
                report.changed += 1
    return report


# -- reads -----------------------------------------------------------------------------------------


async def visits_of(
    session: AsyncSession, patient_id: uuid.UUID, *, visit_id: uuid.UUID | None = None
) -> list[tuple[HomeVisit, list[HomeVisitEvent]]]:
    """The patient's visits, newest first, each with its timeline (two statements)."""
    query = select(HomeVisit).where(HomeVisit.patient_id == patient_id)
    if visit_id is not None:
        query = query.where(HomeVisit.id == visit_id)
    visits = list(await session.scalars(query.order_by(HomeVisit.created_at.desc())))
    events: dict[uuid.UUID, list[HomeVisitEvent]] = {v.id: [] for v in visits}
    if visits:
        for event in await session.scalars(
            select(HomeVisitEvent).where(HomeVisitEvent.visit_id.in_(list(events))).order_by(HomeVisitEvent.at)
        ):
            events[event.visit_id].append(event)
    return [(v, events[v.id]) for v in visits]


async def requests_by_channel(session: AsyncSession, start: datetime, end: datetime) -> dict[str, int]:
    """The KPI: home-visit requests created in [start, end) by channel."""
    rows = await session.execute(
        select(HomeVisit.channel, func.count())
        .where(HomeVisit.created_at >= start, HomeVisit.created_at < end)
        .group_by(HomeVisit.channel)
    )
    return {str(channel): int(count) for channel, count in rows.all()}


__all__ = [
    "TOPIC_CHANGED",
    "AddressInput",
    "HomeCallRefusal",
    "VisitRequest",
    "Windows",
    "apply_change",
    "cancel_visit",
    "handle_push",
    "on_changed",
    "request_visit",
    "requests_by_channel",
    "sync",
    "visits_of",
    "windows",
]
