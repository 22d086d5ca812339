"""Keeping a patient's documents in step with ИЭМК / РЭМД: on login and by the periodic job.

A sync pages through the register's list for the patient (by SNILS, else by ESIA oid), adds what is new
and, for each new document, reads its CDA once to take the profile's facts (``integrations.iemk.facts``).
A CDA that cannot be read marks that document ``malformed``; a CDA the register did not give in time
marks it ``pending`` (read again next time). Neither stops the sync nor hides the document.

The first sync of a patient is the baseline: documents already registered are added quietly. Every
document that appears later is announced (``document.ready``, once per document by its dedupe key).
A register that fails is recorded in :class:`DocumentSyncState` and logged; the list keeps what we have.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select

from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.documents.models import ContentStatus, DocumentSyncState, MedicalDocument
from backend.identity.service import PatientView, get_patient
from integrations.iemk import (
    CdaMalformed,
    DocumentMetadata,
    IemkError,
    IemkRejected,
    PatientNotFound,
    document_facts,
    parse_cda,
)
from integrations.iemk.cda import CodedValue
from integrations.iemk.facts import HealthFact
from integrations.iemk.types import REMD_TYPES_OID
from notifications import service as notifications

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

PAGE_SIZE = 100
MAX_PAGES = 20  # 2,000 documents per patient per run: a backlog continues next run
#: How often the periodic job looks at one patient again (and the login sync's own floor).
SYNC_INTERVAL = timedelta(minutes=30)
LOGIN_SYNC_MIN_INTERVAL = timedelta(minutes=1)
SYNC_BATCH = 200
READY_EVENT = "document.ready"


@dataclass(frozen=True)
class SyncReport:
    patient_id: uuid.UUID
    ok: bool
    added: int = 0
    announced: int = 0
    error: str | None = None


def _coded(value: CodedValue | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"code": value.code, "system": value.code_system, "display": value.display_name}


def _moment(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def fact_json(fact: HealthFact) -> dict[str, Any]:
    """A fact as stored in ``medical_documents.facts`` (JSON, the same on both dialects)."""
    quantity = None
    if fact.quantity is not None:
        quantity = {"value": str(fact.quantity.value), "unit": fact.quantity.unit}
    return {
        "kind": fact.kind,
        "code": _coded(fact.code),
        "shown": fact.shown,
        "known_at": _moment(fact.known_at),
        "until": _moment(fact.until),
        "detail": fact.detail,
        "label": fact.label,
        "quantity": quantity,
    }


def quantity_of(data: dict[str, Any] | None) -> tuple[Decimal, str] | None:
    return (Decimal(data["value"]), str(data["unit"])) if data else None


async def _read_content(runtime: Runtime, meta: DocumentMetadata, snils: str) -> tuple[str, str | None, list[Any]]:
    """(content status, error, facts) of one document's CDA."""
    try:
        cda = await runtime.adapters.iemk.get_cda(meta.registry_number, snils=snils)
    except IemkRejected as exc:
        log.warning("documents.cda_refused", registry_number=meta.registry_number, code=exc.code)
        return ContentStatus.PENDING.value, f"Реестр не выдал документ: {exc.message}", []
    except IemkError as exc:
        log.warning("documents.cda_unavailable", registry_number=meta.registry_number, error=type(exc).__name__)
        return ContentStatus.PENDING.value, "Реестр не ответил вовремя; документ будет прочитан позже.", []
    try:
        parsed = parse_cda(cda)
    except CdaMalformed as exc:
        log.warning("documents.cda_malformed", registry_number=meta.registry_number, error=str(exc))
        return ContentStatus.MALFORMED.value, f"Документ поврежден и не читается: {exc}", []
    return ContentStatus.OK.value, None, [fact_json(f) for f in document_facts(parsed)]


async def _list_all(runtime: Runtime, patient: PatientView) -> list[DocumentMetadata]:
    found: list[DocumentMetadata] = []
    for page_number in range(1, MAX_PAGES + 1):
        if patient.snils:
            page = await runtime.adapters.iemk.list_documents(snils=patient.snils, page=page_number, size=PAGE_SIZE)
        else:
            page = await runtime.adapters.iemk.list_documents(
                esia_oid=patient.esia_oid, page=page_number, size=PAGE_SIZE
            )
        found.extend(page.items)
        if not page.has_next:
            break
    return found


async def _record_state(runtime: Runtime, patient_id: uuid.UUID, *, ok: bool, error: str | None) -> bool:
    """Write the sync state; True if this was the patient's first successful sync."""
    at = runtime.now()
    async with runtime.sessionmaker() as session, session.begin():
        state = await session.get(DocumentSyncState, patient_id, with_for_update=True)
        first = state is None or state.synced_at is None
        if state is None:
            state = DocumentSyncState(patient_id=patient_id)
            session.add(state)
        state.attempted_at = at
        state.last_error = error
        if ok:
            state.synced_at = at
    return first


async def sync_patient(runtime: Runtime, patient_id: uuid.UUID, *, ctx: RequestContext | None = None) -> SyncReport:
    """Compare the patient's documents with the register and add what is new (see the module docstring)."""
    ctx = ctx or RequestContext.for_system("documents.sync")
    async with runtime.sessionmaker() as session:
        patient = await get_patient(session, patient_id)
        state = await session.get(DocumentSyncState, patient_id)
        known = {
            number: (doc_id, status)
            for number, doc_id, status in (
                await session.execute(
                    select(MedicalDocument.registry_number, MedicalDocument.id, MedicalDocument.content_status).where(
                        MedicalDocument.patient_id == patient_id
                    )
                )
            )
        }
    if patient is None or not (patient.snils or patient.esia_oid):
        return SyncReport(patient_id, ok=False, error="no SNILS or ESIA oid")
    baseline = state is None or state.synced_at is None
    try:
        listed = await _list_all(runtime, patient)
    except PatientNotFound:
        listed = []  # the register knows no documents of this person yet
    except IemkError as exc:
        log.warning("documents.sync_failed", patient_id=str(patient_id), error=type(exc).__name__, detail=str(exc))
        await _record_state(runtime, patient_id, ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
        return SyncReport(patient_id, ok=False, error=type(exc).__name__)
    snils = patient.snils or (listed[0].patient_snils if listed else "")
    new = [m for m in listed if m.registry_number not in known]
    retry = [m for m in listed if m.registry_number in known and known[m.registry_number][1] == ContentStatus.PENDING]
    contents = {m.registry_number: await _read_content(runtime, m, snils) for m in (*new, *retry)}
    announced = 0
    async with UnitOfWork(runtime, ctx) as uow:
        now = runtime.now()
        for meta in new:
            status, error, facts = contents[meta.registry_number]
            document = MedicalDocument(
                id=uuid.uuid4(),
                patient_id=patient_id,
                registry_number=meta.registry_number,
                local_uid=meta.local_uid,
                kind=meta.kind,
                title=(meta.title or runtime.adapters.terminology.display(REMD_TYPES_OID, meta.kind) or meta.kind)[
                    :255
                ],
                created_at=meta.created_at,
                org_oid=meta.org_oid,
                org_name=meta.org_name,
                author_name=meta.author.name,
                author_position=meta.author.position,
                registered_at=meta.registered_at,
                synced_at=now,
                content_status=status,
                content_error=error,
                facts=facts,
            )
            uow.session.add(document)
            if not baseline:
                notifications.notify(
                    uow,
                    patient_id=patient_id,
                    event=READY_EVENT,
                    data={"issued_on": meta.created_at, "title": document.title},
                    dedupe_key=f"document:{meta.registry_number}:ready",
                )
                announced += 1
        for meta in retry:
            status, error, facts = contents[meta.registry_number]
            row = await uow.session.get(MedicalDocument, known[meta.registry_number][0])
            if row is not None and status != ContentStatus.PENDING:
                row.content_status, row.content_error, row.facts = status, error, facts
        if new:
            uow.audit(
                "documents.synced",
                subject_id=patient_id,
                details={"added": len(new), "announced": announced},
            )
    await _record_state(runtime, patient_id, ok=True, error=None)
    if new:
        log.info("documents.synced", patient_id=str(patient_id), added=len(new), announced=announced)
    return SyncReport(patient_id, ok=True, added=len(new), announced=announced)


async def sync_due(runtime: Runtime, *, batch: int = SYNC_BATCH) -> list[SyncReport]:
    """The periodic job: patients who have synced before and not within :data:`SYNC_INTERVAL`, oldest first."""
    cutoff = runtime.now() - SYNC_INTERVAL
    async with runtime.sessionmaker() as session:
        due = list(
            await session.scalars(
                select(DocumentSyncState.patient_id)
                .where((DocumentSyncState.attempted_at.is_(None)) | (DocumentSyncState.attempted_at < cutoff))
                .order_by(DocumentSyncState.attempted_at)
                .limit(batch)
            )
        )
    reports = []
    for patient_id in due:
        try:
            reports.append(await sync_patient(runtime, patient_id))
        except Exception:
            log.exception("documents.sync_crashed", patient_id=str(patient_id))
    return reports


async def on_login(envelope: Any, runtime: Runtime) -> None:
    """The outbox handler of identity's login topic (wired in :mod:`backend.wiring`): sync the patient,
    unless a sync ran a moment ago. A failed register is recorded by the sync itself, not retried here."""
    patient_id = uuid.UUID(envelope.payload["patient_id"])
    async with runtime.sessionmaker() as session:
        state = await session.get(DocumentSyncState, patient_id)
    recent = runtime.now() - LOGIN_SYNC_MIN_INTERVAL
    if state is not None and state.attempted_at is not None and state.attempted_at > recent:
        return
    await sync_patient(runtime, patient_id, ctx=RequestContext.for_system("documents.sync_on_login"))
