"""A patient's vaccinations and exemptions, and their assessment by the calendar.

Where the records come from:

* the СЭМД 170 documents (and any document recording a given vaccination in its IMM section), read from the
  documents domain's copy (``backend.documents.service.document_vaccinations``, no upstream call);
* the immunization register (``runtime.adapters.immunization``) for the history before those documents and
  the medical exemptions, imported into this domain's tables by :func:`import_register`: on the first read
  and then at most once per :data:`IMPORT_INTERVAL` (the daily job), so a read never waits on the register
  twice and a register that is down leaves the last import in place (the read says so).

A register record the documents also hold (the same day, a common infection) is shown once, from the
document: the document is the signed source.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import delete, select

from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.documents import service as documents
from backend.identity.service import PatientView, get_patient, get_patients
from backend.vaccination.calendar import Calendar, load_calendar
from backend.vaccination.codes import calendar_vaccine, infections_of_icd10
from backend.vaccination.engine import Assessment, Exemption, Person, VaccinationRecord, evaluate
from backend.vaccination.models import VaccinationExemptionRow, VaccinationRecordRow, VaccinationRegisterState
from integrations.immunization import RegisterError, RegisterPersonNotFound

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

IMPORT_INTERVAL = timedelta(days=1)
SOURCE_DOCUMENT = "semd"
SOURCE_REGISTER = "register"


@dataclass(frozen=True)
class RecordView:
    """One vaccination as the patient sees it."""

    id: str  # "semd:<registry number>:<index>" or "register:<register id>"
    source: str  # semd | register
    given_on: date
    vaccine: str | None  # the calendar's vaccine code (None: not in the calendar's book)
    vaccine_name: str  # the trade name or the book's name
    nsi_code: str | None  # НСИ 1.2.643.5.1.13.13.11.1078
    infections: tuple[str, ...]  # the calendar's infection codes
    dose_number: int | None  # as recorded
    lot: str | None
    clinic: str | None
    performer: str | None
    document_id: uuid.UUID | None
    document_title: str | None


@dataclass(frozen=True)
class ExemptionView:
    id: uuid.UUID
    starts_on: date
    ends_on: date | None
    infections: tuple[str, ...] | None  # None: every vaccination
    reason: str | None


@dataclass(frozen=True)
class PatientVaccinations:
    patient: PatientView
    records: tuple[RecordView, ...]  # oldest first
    exemptions: tuple[ExemptionView, ...]
    register_checked_at: datetime | None  # the last successful import (None: never)
    register_error: str | None  # Russian: the last import failed, the data may be incomplete


def person_of(patient: PatientView) -> Person:
    sex = {"F": "female", "M": "male"}.get((patient.sex or "").upper())
    return Person(birth_date=patient.birth_date, sex=sex)  # type: ignore[arg-type]


def _infections_of(calendar: Calendar, vaccine: str | None) -> tuple[str, ...]:
    found = calendar.vaccine(vaccine) if vaccine else None
    return tuple(found.infections) if found else ()


def engine_records(records: Sequence[RecordView]) -> list[VaccinationRecord]:
    """The records the engine can count: with a calendar vaccine or known infections."""
    return [
        VaccinationRecord(given_on=r.given_on, vaccine=r.vaccine, dose_number=r.dose_number)
        if r.vaccine
        else VaccinationRecord(given_on=r.given_on, infections=r.infections, dose_number=r.dose_number)
        for r in records
        if r.vaccine or r.infections
    ]


def engine_exemptions(exemptions: Sequence[ExemptionView]) -> list[Exemption]:
    return [
        Exemption(
            start=e.starts_on,
            end=e.ends_on,
            infections=frozenset(e.infections) if e.infections is not None else None,
            reason=e.reason,
        )
        for e in exemptions
    ]


# -- the register import -------------------------------------------------------------------------


async def _record_state(runtime: Runtime, patient_id: uuid.UUID, *, ok: bool, error: str | None) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        state = await session.get(VaccinationRegisterState, patient_id)
        if state is None:
            state = VaccinationRegisterState(patient_id=patient_id, imported_at=None, attempted_at=None)
            session.add(state)
        at = runtime.now()
        state.attempted_at = at
        state.last_error = error
        if ok:
            state.imported_at = at


async def import_register(runtime: Runtime, patient_id: uuid.UUID) -> bool:
    """Import the patient's register history and exemptions (one transaction); False when the register
    failed (the state says why; what was imported before stays)."""
    async with runtime.sessionmaker() as session:
        patient = await get_patient(session, patient_id)
    if patient is None or not patient.snils:
        await _record_state(runtime, patient_id, ok=True, error=None)  # nothing to ask the register about
        return True
    register = runtime.adapters.immunization
    try:
        try:
            immunizations = await register.immunizations(patient.snils)
            exemptions = await register.exemptions(patient.snils)
        except RegisterPersonNotFound:
            immunizations, exemptions = [], []
    except RegisterError as exc:
        log.warning("vaccination.register_failed", patient_id=str(patient_id), error=type(exc).__name__)
        await _record_state(runtime, patient_id, ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
        return False
    calendar = load_calendar()
    ctx = RequestContext.for_system("vaccination.register_import")
    async with UnitOfWork(runtime, ctx) as uow:
        session = uow.session
        known = set(
            await session.scalars(
                select(VaccinationRecordRow.source_id).where(
                    VaccinationRecordRow.patient_id == patient_id, VaccinationRecordRow.source == SOURCE_REGISTER
                )
            )
        )
        added = 0
        for item in immunizations:
            if item.id in known:
                continue
            vaccine = calendar_vaccine(item.vaccine_code)
            session.add(
                VaccinationRecordRow(
                    id=uuid.uuid4(),
                    patient_id=patient_id,
                    source=SOURCE_REGISTER,
                    source_id=item.id[:128],
                    given_on=item.given_on,
                    vaccine=vaccine,
                    nsi_code=item.vaccine_code,
                    trade_name=(item.vaccine_name or "")[:200] or None,
                    infections=list(_infections_of(calendar, vaccine) or infections_of_icd10(item.target_diseases)),
                    dose_number=item.dose_number,
                    lot=(item.lot or "")[:64] or None,
                    clinic=(item.clinic or "")[:255] or None,
                    performer=(item.performer or "")[:255] or None,
                    imported_at=runtime.now(),
                )
            )
            added += 1
        # Exemptions are replaced by the register's current list (an exemption it withdrew disappears).
        await session.execute(
            delete(VaccinationExemptionRow).where(
                VaccinationExemptionRow.patient_id == patient_id, VaccinationExemptionRow.source == SOURCE_REGISTER
            )
        )
        for exemption in exemptions:
            session.add(
                VaccinationExemptionRow(
                    id=uuid.uuid4(),
                    patient_id=patient_id,
                    source=SOURCE_REGISTER,
                    source_id=exemption.id[:128],
                    starts_on=exemption.start,
                    ends_on=exemption.end,
                    infections=list(infections_of_icd10(exemption.target_diseases)) or None,
                    reason=(exemption.reason or "")[:500] or None,
                    imported_at=runtime.now(),
                )
            )
        if added:
            uow.audit("vaccination.register_imported", subject_id=patient_id, details={"added": added})
    await _record_state(runtime, patient_id, ok=True, error=None)
    return True


async def ensure_imported(runtime: Runtime, patient_ids: Sequence[uuid.UUID]) -> None:
    """Import the register data of those of ``patient_ids`` never tried or not within :data:`IMPORT_INTERVAL`."""
    cutoff = runtime.now() - IMPORT_INTERVAL
    async with runtime.sessionmaker() as session:
        fresh = set(
            await session.scalars(
                select(VaccinationRegisterState.patient_id).where(
                    VaccinationRegisterState.patient_id.in_(list(patient_ids)),
                    VaccinationRegisterState.attempted_at >= cutoff,
                )
            )
        )
    for patient_id in patient_ids:
        if patient_id not in fresh:
            await import_register(runtime, patient_id)


# -- reading -------------------------------------------------------------------------------------


def _document_record(calendar: Calendar, item: documents.DocumentVaccination) -> RecordView:
    vaccine = calendar_vaccine(item.vaccine_code)
    return RecordView(
        id=f"{SOURCE_DOCUMENT}:{item.registry_number}:{item.index}",
        source=SOURCE_DOCUMENT,
        given_on=item.given_on,
        vaccine=vaccine,
        vaccine_name=item.vaccine_name,
        nsi_code=item.vaccine_code,
        infections=_infections_of(calendar, vaccine),
        dose_number=None,
        lot=item.series,
        clinic=item.clinic,
        performer=item.performer,
        document_id=item.document_id,
        document_title=item.document_title,
    )


def _register_record(row: VaccinationRecordRow) -> RecordView:
    return RecordView(
        id=f"{SOURCE_REGISTER}:{row.source_id}",
        source=SOURCE_REGISTER,
        given_on=row.given_on,
        vaccine=row.vaccine,
        vaccine_name=row.trade_name or row.vaccine or "",
        nsi_code=row.nsi_code,
        infections=tuple(row.infections or ()),
        dose_number=row.dose_number,
        lot=row.lot,
        clinic=row.clinic,
        performer=row.performer,
        document_id=None,
        document_title=None,
    )


def merge(from_documents: Sequence[RecordView], from_register: Sequence[RecordView]) -> list[RecordView]:
    """Both sources, a register record also in a document (same day, a common infection) once."""
    seen = {(r.given_on, i) for r in from_documents for i in r.infections}
    kept = [r for r in from_register if not any((r.given_on, i) in seen for i in r.infections)]
    return sorted([*from_documents, *kept], key=lambda r: (r.given_on, r.id))


async def vaccinations_of(runtime: Runtime, patient_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PatientVaccinations]:
    """The records and exemptions of each patient (three queries for any number of them)."""
    calendar = load_calendar()
    ids = list(dict.fromkeys(patient_ids))
    async with runtime.sessionmaker() as session:
        patients = await get_patients(session, ids)
        rows = list(await session.scalars(select(VaccinationRecordRow).where(VaccinationRecordRow.patient_id.in_(ids))))
        exemption_rows = list(
            await session.scalars(
                select(VaccinationExemptionRow)
                .where(VaccinationExemptionRow.patient_id.in_(ids))
                .order_by(VaccinationExemptionRow.starts_on)
            )
        )
        states = {
            s.patient_id: s
            for s in await session.scalars(
                select(VaccinationRegisterState).where(VaccinationRegisterState.patient_id.in_(ids))
            )
        }
    from_documents = await documents.document_vaccinations(runtime, ids)
    result: dict[uuid.UUID, PatientVaccinations] = {}
    for patient_id in ids:
        patient = patients.get(patient_id)
        if patient is None:
            continue
        state = states.get(patient_id)
        result[patient_id] = PatientVaccinations(
            patient=patient,
            records=tuple(
                merge(
                    [_document_record(calendar, d) for d in from_documents if d.patient_id == patient_id],
                    [_register_record(r) for r in rows if r.patient_id == patient_id],
                )
            ),
            exemptions=tuple(
                ExemptionView(
                    id=e.id,
                    starts_on=e.starts_on,
                    ends_on=e.ends_on,
                    infections=tuple(e.infections) if e.infections is not None else None,
                    reason=e.reason,
                )
                for e in exemption_rows
                if e.patient_id == patient_id
            ),
            register_checked_at=state.imported_at if state else None,
            register_error=(
                "Регистр прививок сейчас недоступен: показаны сведения, полученные ранее."
                if state is not None and state.last_error
                else None
            ),
        )
    return result


async def patient_vaccinations(runtime: Runtime, patient_id: uuid.UUID) -> PatientVaccinations | None:
    await ensure_imported(runtime, [patient_id])
    return (await vaccinations_of(runtime, [patient_id])).get(patient_id)


def assess(data: PatientVaccinations, on: date) -> Assessment:
    return evaluate(person_of(data.patient), engine_records(data.records), engine_exemptions(data.exemptions), on)
