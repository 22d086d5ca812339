"""E-prescriptions: the person's list (from the regional system, remembered), one prescription, deferred
service at a chosen pharmacy, and the notifications: issued (``prescription.ready``), three days before it
expires (``prescription.expiring``), the deferred drug arrived (``prescription.drug_arrived``).

The regional system is the truth. Its event feed (issued, dispensed, expired, deferred, drug arrived) is
read by :func:`sync_events` (Celery beat, every minute) from the cursor kept in ``drug_sync_state``; each
event updates the mirror row and notifies once (the notification's dedupe key names the prescription and
the event). :func:`remind_expiring` runs daily over the mirror.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select

from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.documents import service as documents
from backend.drugs.models import DrugPrescription, DrugSyncState
from backend.drugs.problems import AlreadyDispensed, NoEntitlement, PrescriptionExpired, fail
from backend.drugs.service.availability import pharmacies
from backend.drugs.service.base import (
    OPEN,
    apply,
    own_prescription,
    patient_with_snils,
    remember,
    today,
    upstream_problem,
)
from backend.identity import service as identity
from integrations.llo import LloError, LloEvent, LloEventKind, Pharmacy, PrescriptionStatus
from notifications import service as notifications

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

FEED = "llo"
EVENTS_BATCH = 200
#: The reminder goes this many days before the last day of validity.
REMIND_BEFORE = timedelta(days=3)
SEMD_KINDS = ("141", "148", "140")


@dataclass(frozen=True)
class PrescriptionList:
    rows: list[DrugPrescription]
    up_to_date: bool  # False: the regional system did not answer; these are the rows last seen
    documents: dict[str, uuid.UUID]  # СЭМД registry number → the documents domain's id


async def _document_ids(runtime: Runtime, patient_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """The prescriptions' СЭМД in the person's documents (the documents domain reads them from РЭМД)."""
    rows = await documents.list_documents(
        runtime, patient_id, first=documents.MAX_PAGE, filters=documents.DocumentFilter(kinds=SEMD_KINDS)
    )
    return {row.registry_number: row.id for row in rows}


async def list_prescriptions(runtime: Runtime, patient_id: uuid.UUID) -> PrescriptionList:
    """The person's prescriptions, newest first: asked from the regional system and remembered; when it does
    not answer, the rows last seen (``up_to_date`` False)."""
    async with runtime.sessionmaker() as session:
        patient = await patient_with_snils(session, patient_id)
    up_to_date = True
    try:
        found = await runtime.adapters.llo.prescriptions(patient.snils or "")
    except LloError as exc:
        log.warning("drugs.prescriptions_unavailable", error=type(exc).__name__)
        found, up_to_date = [], False
    async with runtime.sessionmaker() as session, session.begin():
        if up_to_date:
            await remember(session, patient_id, found, runtime.now())
        rows = list(
            await session.scalars(
                select(DrugPrescription)
                .where(DrugPrescription.patient_id == patient_id)
                .order_by(DrugPrescription.issued_on.desc(), DrugPrescription.upstream_id.desc())
            )
        )
    return PrescriptionList(rows, up_to_date, await _document_ids(runtime, patient_id))


async def get_prescription(runtime: Runtime, patient_id: uuid.UUID, prescription_id: uuid.UUID) -> DrugPrescription:
    async with runtime.sessionmaker() as session:
        return await own_prescription(session, patient_id, prescription_id)


async def defer(
    uow: UnitOfWork, patient_id: uuid.UUID, prescription_id: uuid.UUID, pharmacy_id: str, key: str
) -> DrugPrescription:
    """Put a preferential prescription on deferred service at ``pharmacy_id``: the regional system first,
    then the mirror row (nothing is written when it refuses or does not answer)."""
    row = await own_prescription(uow.session, patient_id, prescription_id)
    if row.status == PrescriptionStatus.EXPIRED.value:
        raise fail(PrescriptionExpired.default())
    if row.status == PrescriptionStatus.DISPENSED.value:
        raise fail(AlreadyDispensed.default())
    if not row.preferential:
        raise fail(NoEntitlement.default())
    try:
        answer = await uow.runtime.adapters.llo.defer(
            row.upstream_id, pharmacy_id, idempotency_key=f"{patient_id}:{key}"
        )
    except LloError as exc:
        raise fail(upstream_problem(exc)) from None
    apply(row, answer, uow.runtime.now())
    uow.audit(
        "drugs.prescription_deferred",
        object_type="prescription",
        object_id=row.id,
        subject_id=patient_id,
        details={"pharmacy_id": pharmacy_id, "due": row.deferred_due.isoformat() if row.deferred_due else None},
    )
    return row


def _noon(runtime: Runtime, day: date) -> datetime:
    """A calendar day as notification data (aware: the templates print it in the region's time)."""
    return datetime.combine(day, time(12), tzinfo=ZoneInfo(runtime.settings.region_timezone))


# -- the event feed --------------------------------------------------------------------------------------


@dataclass
class FeedReport:
    events: int = 0
    notified: int = 0
    cursor: int = 0


async def sync_events(runtime: Runtime, *, batch: int = EVENTS_BATCH) -> FeedReport:
    """Read the regional system's events after the kept cursor; apply and announce each once."""
    report = FeedReport()
    async with runtime.sessionmaker() as session:
        state = await session.get(DrugSyncState, FEED)
        cursor = state.cursor if state else 0
    llo = runtime.adapters.llo
    try:
        page = await llo.events(after=cursor, limit=batch)
        report.cursor = page.last
        if not page.events:
            return report
        async with runtime.sessionmaker() as session:
            owners = await identity.patient_ids_by_snils(session, sorted({e.snils for e in page.events}))
        ours = sorted({e.prescription_id for e in page.events if identity.normalise_snils(e.snils) in owners})
        current = {pid: await llo.prescription(pid) for pid in ours}  # only people who use the service
        every = await pharmacies(runtime) if ours else {}
    except LloError as exc:
        log.warning("drugs.feed_unavailable", error=type(exc).__name__, cursor=cursor)
        return report  # the cursor stays: the next run reads the same events
    async with UnitOfWork(runtime, RequestContext.for_system("drugs.sync")) as uow:
        session = uow.session
        for event in page.events:
            report.events += 1
            patient_id = owners.get(identity.normalise_snils(event.snils) or "")
            if patient_id is None:
                continue  # someone who has not used the service: nothing to remember or announce
            prescription = current[event.prescription_id]
            [row] = await remember(session, patient_id, [prescription], runtime.now())
            report.notified += _announce(uow, row, event, every)
        state = await session.get(DrugSyncState, FEED)
        if state is None:
            session.add(DrugSyncState(feed=FEED, cursor=page.last, updated_at=runtime.now()))
        else:
            state.cursor, state.updated_at = page.last, runtime.now()
    return report


def _announce(uow: UnitOfWork, row: DrugPrescription, event: LloEvent, every: dict[str, Pharmacy]) -> int:
    drug = f"{row.mnn} {row.dosage}"
    if event.kind is LloEventKind.ISSUED and row.status in OPEN:
        notifications.notify(
            uow,
            patient_id=row.patient_id,
            event="prescription.ready",
            data={"valid_until": _noon(uow.runtime, row.valid_until), "drug": drug},
            dedupe_key=f"prescription:{row.upstream_id}:ready",
        )
        return 1
    if event.kind is LloEventKind.DRUG_ARRIVED:
        pharmacy = every.get(row.deferred_pharmacy_id or "")
        notifications.notify(
            uow,
            patient_id=row.patient_id,
            event="prescription.drug_arrived",
            data={
                "drug": drug,
                "pharmacy": pharmacy.name if pharmacy else "аптека",
                "address": pharmacy.address if pharmacy else "",
            },
            dedupe_key=f"prescription:{row.upstream_id}:arrived",
        )
        uow.audit(
            "drugs.drug_arrived",
            object_type="prescription",
            object_id=row.id,
            subject_id=row.patient_id,
            details={"pharmacy_id": row.deferred_pharmacy_id},
        )
        return 1
    return 0


async def remind_expiring(runtime: Runtime) -> int:
    """Three days before the last day: one reminder per open prescription (not one on deferred service)."""
    day = today(runtime)
    async with UnitOfWork(runtime, RequestContext.for_system("drugs.reminders")) as uow:
        rows = list(
            await uow.session.scalars(
                select(DrugPrescription).where(
                    DrugPrescription.status.in_(
                        (PrescriptionStatus.ISSUED.value, PrescriptionStatus.PARTIALLY_DISPENSED.value)
                    ),
                    DrugPrescription.valid_until >= day,
                    DrugPrescription.valid_until <= day + REMIND_BEFORE,
                    DrugPrescription.expiry_reminded_at.is_(None),
                )
            )
        )
        for row in rows:
            notifications.notify(
                uow,
                patient_id=row.patient_id,
                event="prescription.expiring",
                data={"drug": f"{row.mnn} {row.dosage}", "valid_until": _noon(runtime, row.valid_until)},
                dedupe_key=f"prescription:{row.upstream_id}:expiring",
            )
            row.expiry_reminded_at = runtime.now()
    return len(rows)
