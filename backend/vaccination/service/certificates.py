"""Certificates: issue (sign the minimum, store what it lists), render the PDF with its QR code, verify.

The QR code holds ``{public_url}/api/v1/vaccination/verify?c=<JWS>``; the public endpoint checks the
signature with our key (``backend.vaccination.keys``) and that we issued the certificate id, and shows only
what the token carries: initials, birth year, vaccine and date per vaccination, valid or not.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from backend.core.uow import UnitOfWork
from backend.vaccination.calendar import load_calendar
from backend.vaccination.certificate import (
    CertificateEntry,
    CertificateHolder,
    Verification,
    render_certificate_pdf,
    sign_certificate,
    verification_url,
    verify_certificate,
)
from backend.vaccination.keys import certificate_keys
from backend.vaccination.models import VaccinationCertificate
from backend.vaccination.problems import CertificateNotFound, CertificateTooLarge, NothingToCertify, UnknownInfection
from backend.vaccination.service.records import RecordView, vaccinations_of

if TYPE_CHECKING:
    from backend.identity.service import PatientView
    from backend.runtime import Runtime

VERIFY_PATH = "/api/v1/vaccination/verify"
MAX_INFECTIONS = 40
#: The longest verification URL a QR code of the PDF holds (version 40, level L: 2953 bytes), with a margin.
MAX_QR_URL = 2800


def _entry(record: RecordView) -> dict[str, Any]:
    calendar = load_calendar()
    return {
        "vaccine": record.vaccine_name or record.vaccine or "вакцина",
        "given_on": record.given_on.isoformat(),
        "infections": [calendar.infection(i).name for i in record.infections],
        "lot": record.lot,
        "clinic": record.clinic,
        "record": record.id,
        "code": record.vaccine,
    }


def entries_of(row: VaccinationCertificate) -> list[CertificateEntry]:
    return [
        CertificateEntry(
            vaccine=e["vaccine"],
            given_on=date.fromisoformat(e["given_on"]),
            infections=tuple(e.get("infections") or ()),
            lot=e.get("lot"),
            clinic=e.get("clinic"),
            code=e.get("code"),
        )
        for e in row.entries
    ]


def holder_of(patient: PatientView) -> CertificateHolder:
    return CertificateHolder(patient.last_name, patient.first_name, patient.middle_name, patient.birth_date)


def chosen_records(records: Sequence[RecordView], infections: Sequence[str] | None) -> list[RecordView]:
    """The records against any of ``infections`` (all records: None or empty); raises UnknownInfection."""
    if not infections:
        return list(records)
    known = {i.code for i in load_calendar().infections}
    for code in infections:
        if code not in known:
            raise UnknownInfection(code)
    wanted = set(infections)
    return [r for r in records if wanted & set(r.infections)]


async def issue_certificate(
    uow: UnitOfWork, patient_id: uuid.UUID, infections: Sequence[str] | None
) -> VaccinationCertificate:
    """A signed certificate listing the patient's vaccinations (against ``infections`` only, when given)."""
    runtime = uow.runtime
    data = (await vaccinations_of(runtime, [patient_id])).get(patient_id)  # read only inside the mutation
    if data is None:
        raise NothingToCertify()
    records = chosen_records(data.records, infections)
    if not records:
        raise NothingToCertify()
    keys = certificate_keys(runtime)
    issued_at = runtime.now()
    certificate_id = uuid.uuid4()
    entries = [_entry(r) for r in records]
    row = VaccinationCertificate(
        id=certificate_id,
        patient_id=patient_id,
        infections=sorted(set(infections or ())),
        entries=entries,
        kid=keys.kid,
        token="",
        issued_at=issued_at,
        channel=uow.ctx.actor.channel.value,
        actor_kind=uow.ctx.actor.kind.value,
    )
    row.token = sign_certificate(
        holder_of(data.patient),
        entries_of(row),
        keys.private_key,
        kid=keys.kid,
        certificate_id=str(certificate_id),
        issued_at=issued_at,
    )
    if len(verify_url(runtime, row.token)) > MAX_QR_URL:
        raise CertificateTooLarge()
    uow.session.add(row)
    uow.audit(
        "vaccination.certificate_issued",
        object_type="vaccination_certificate",
        object_id=certificate_id,
        subject_id=patient_id,
        details={"vaccinations": len(entries), "infections": row.infections},
    )
    return row


async def certificate_of(runtime: Runtime, patient_id: uuid.UUID, certificate_id: uuid.UUID) -> VaccinationCertificate:
    async with runtime.sessionmaker() as session:
        row = await session.get(VaccinationCertificate, certificate_id)
    if row is None or row.patient_id != patient_id:
        raise CertificateNotFound()
    return row


async def certificates_of(runtime: Runtime, patient_id: uuid.UUID) -> list[VaccinationCertificate]:
    async with runtime.sessionmaker() as session:
        return list(
            await session.scalars(
                select(VaccinationCertificate)
                .where(VaccinationCertificate.patient_id == patient_id)
                .order_by(VaccinationCertificate.issued_at.desc())
            )
        )


def verify_url(runtime: Runtime, token: str) -> str:
    return verification_url(runtime.settings.public_url.rstrip("/") + VERIFY_PATH, token)


async def certificate_pdf(runtime: Runtime, patient: PatientView, row: VaccinationCertificate) -> bytes:
    """The certificate's PDF (A4, the QR code leading to the public verification)."""
    return render_certificate_pdf(
        holder_of(patient),
        entries_of(row),
        verify_url=verify_url(runtime, row.token),
        certificate_id=str(row.id),
        issued_at=row.issued_at,
    )


async def verify(runtime: Runtime, token: str) -> Verification:
    """The public check: our signature, and a certificate id we issued."""
    verdict = verify_certificate(token, certificate_keys(runtime).verification)
    if not verdict.valid or verdict.certificate_id is None:
        return verdict
    try:
        certificate_id = uuid.UUID(verdict.certificate_id)
    except ValueError:
        return Verification(valid=False, message="Сертификат не подтвержден: такой сертификат не выдавался.")
    async with runtime.sessionmaker() as session:
        issued = await session.scalar(
            select(VaccinationCertificate.id).where(VaccinationCertificate.id == certificate_id)
        )
    if issued is None:
        return Verification(valid=False, message="Сертификат не подтвержден: такой сертификат не выдавался.")
    calendar = load_calendar()
    named = tuple(
        replace(v, vaccine=found.name) if (found := calendar.vaccine(v.vaccine)) is not None else v
        for v in verdict.vaccinations
    )
    return replace(verdict, vaccinations=named)


async def certificate_holder(runtime: Runtime, certificate_id: uuid.UUID) -> uuid.UUID | None:
    """The patient a certificate was issued to (the verification's audit row names them)."""
    async with runtime.sessionmaker() as session:
        return await session.scalar(
            select(VaccinationCertificate.patient_id).where(VaccinationCertificate.id == certificate_id)
        )
