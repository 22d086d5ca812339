"""What the drugs services share: the patient's SNILS, upstream errors as problems, the mirror of a
prescription as the regional system last showed it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.drugs.models import DrugPrescription
from backend.drugs.problems import (
    AlreadyDeferred,
    AlreadyDispensed,
    DrugInStock,
    DrugsProblem,
    DrugsServiceUnavailable,
    InvalidInput,
    NoEntitlement,
    NoSnils,
    PharmacyUnavailable,
    PrescriptionExpired,
    PrescriptionNotFound,
    RenewalNotAllowed,
    RequestNotFound,
    RequestPending,
    fail,
)
from backend.identity import service as identity
from backend.identity.service import PatientView
from integrations.llo import AlreadyDeferred as UpstreamAlreadyDeferred
from integrations.llo import AlreadyDispensed as UpstreamAlreadyDispensed
from integrations.llo import DrugInStock as UpstreamDrugInStock
from integrations.llo import (
    LloError,
    LloTransportError,
    Prescription,
    PrescriptionStatus,
)
from integrations.llo import NotPreferential as UpstreamNotPreferential
from integrations.llo import PharmacyNotFound as UpstreamPharmacyNotFound
from integrations.llo import PrescriptionExpired as UpstreamPrescriptionExpired
from integrations.llo import PrescriptionNotFound as UpstreamPrescriptionNotFound
from integrations.llo import RenewalNotAllowed as UpstreamRenewalNotAllowed
from integrations.llo import RequestNotFound as UpstreamRequestNotFound
from integrations.llo import RequestPending as UpstreamRequestPending

if TYPE_CHECKING:
    from backend.runtime import Runtime

OPEN = (
    PrescriptionStatus.ISSUED.value,
    PrescriptionStatus.PARTIALLY_DISPENSED.value,
    PrescriptionStatus.DEFERRED.value,
)

_UPSTREAM: tuple[tuple[type[LloError], type[DrugsProblem]], ...] = (
    (LloTransportError, DrugsServiceUnavailable),
    (UpstreamPrescriptionNotFound, PrescriptionNotFound),
    (UpstreamPrescriptionExpired, PrescriptionExpired),
    (UpstreamAlreadyDispensed, AlreadyDispensed),
    (UpstreamNotPreferential, NoEntitlement),
    (UpstreamPharmacyNotFound, PharmacyUnavailable),
    (UpstreamDrugInStock, DrugInStock),
    (UpstreamAlreadyDeferred, AlreadyDeferred),
    (UpstreamRequestNotFound, RequestNotFound),
    (UpstreamRequestPending, RequestPending),
)


def upstream_problem(exc: LloError) -> DrugsProblem:
    """The domain's problem for an adapter error (a refusal keeps the upstream's words where they say more)."""
    if isinstance(exc, UpstreamRenewalNotAllowed):
        return RenewalNotAllowed.default(f"Продление без приёма невозможно: {exc.message}. Запишитесь к врачу.")
    for kind, problem in _UPSTREAM:
        if isinstance(exc, kind):
            return problem.default()
    return DrugsServiceUnavailable.default()


def today(runtime: Runtime) -> date:
    """Today in the region (prescription validity counts calendar days there)."""
    return runtime.now().astimezone(ZoneInfo(runtime.settings.region_timezone)).date()


async def patient_with_snils(session: AsyncSession, patient_id: uuid.UUID) -> PatientView:
    patient = await identity.get_patient(session, patient_id)
    if patient is None:  # pragma: no cover - the policy let an actor act for a patient that exists
        raise fail(InvalidInput.of("actingFor", "Пациент не найден."))
    if not patient.snils:
        raise fail(NoSnils.default())
    return patient


def apply(row: DrugPrescription, p: Prescription, at: datetime) -> bool:
    """Copy the upstream's prescription onto its mirror row; True if anything changed (only then is the row
    written: a list read again costs no UPDATE per prescription)."""
    deferral = p.deferral
    values = {
        "series": p.series,
        "number": p.number,
        "barcode": p.barcode,
        "mnn": p.drug.mnn,
        "dosage": p.drug.dosage,
        "form": p.drug.form,
        "narcotic_schedule": p.drug.narcotic_schedule,
        "quantity": p.quantity,
        "dispensed_quantity": p.dispensed_quantity,
        "preferential": p.preferential,
        "benefit_code": p.benefit_code,
        "financing": p.financing.value,
        "chronic": p.chronic,
        "status": p.status.value,
        "issued_on": p.issued_on,
        "valid_days": p.valid_days,
        "valid_until": p.valid_until,
        "doctor_name": p.doctor_name,
        "mo_name": p.mo_name,
        "dosing": p.dosing,
        "semd_kind": p.semd.kind,
        "semd_registry_number": p.semd.prescription,
        "dispensing_semd": list(p.semd.dispensing),
        "deferred_pharmacy_id": deferral.pharmacy_id if deferral else None,
        "deferred_on": deferral.registered_on if deferral else None,
        "deferred_due": deferral.due_on if deferral else None,
        "arrived_on": deferral.arrived_on if deferral else None,
    }
    changed = False
    for name, value in values.items():
        if getattr(row, name, None) != value:
            setattr(row, name, value)
            changed = True
    if changed:
        row.updated_at = at
    return changed


async def remember(
    session: AsyncSession, patient_id: uuid.UUID, found: list[Prescription], at: datetime
) -> list[DrugPrescription]:
    """Upsert the mirror rows of ``found`` (one read, then inserts or updates): the rows, in ``found``'s order."""
    if not found:
        return []
    known = {
        row.upstream_id: row
        for row in await session.scalars(
            select(DrugPrescription).where(DrugPrescription.upstream_id.in_([p.id for p in found]))
        )
    }
    rows = []
    for p in found:
        row = known.get(p.id)
        if row is None:
            row = DrugPrescription(id=uuid.uuid4(), patient_id=patient_id, upstream_id=p.id, created_at=at)
            session.add(row)
        apply(row, p, at)
        rows.append(row)
    await session.flush()
    return rows


async def own_prescription(
    session: AsyncSession, patient_id: uuid.UUID, prescription_id: uuid.UUID
) -> DrugPrescription:
    row = await session.get(DrugPrescription, prescription_id)
    if row is None or row.patient_id != patient_id:
        raise fail(PrescriptionNotFound.default())
    return row
