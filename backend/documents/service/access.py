"""Access grants: the patient opens their profile and chosen documents to one doctor for a time they
choose, and may revoke it; the doctor's read-only view of exactly that.

A grant names the doctor by SNILS (any doctor's staff login with that SNILS may read), or carries a
one-time code the patient shows the doctor: the first doctor to enter it binds the grant to themself, and
the code is spent. Every doctor read (and every refused one) is audited about the patient, so it shows in
the patient's ``myAccessLog`` with the doctor's name.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, or_, select

from backend.audit import service as audit
from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.documents import problems
from backend.documents.models import DocumentAccessGrant, MedicalDocument
from backend.documents.service import profile as profiles
from backend.documents.service import reading
from backend.identity.service import PatientView, get_patients
from backend.identity.staff import StaffPrincipal, doctors_among, staff_members

if TYPE_CHECKING:
    from backend.runtime import Runtime

MIN_HOURS, MAX_HOURS = 1, 24 * 30
MAX_DOCUMENTS = 100
SNILS = re.compile(r"^\d{3}-\d{3}-\d{3} \d{2}$")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_GROUPS, CODE_GROUP = 3, 4


def _digest(code: str) -> str:
    normal = code.replace("-", "").replace(" ", "").upper()
    return hashlib.sha256(normal.encode()).hexdigest()


def new_code() -> str:
    """A one-time code such as ``K7QM-29XD-3PFA`` (60 bits: not guessable within a grant's life)."""
    groups = ("".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP)) for _ in range(CODE_GROUPS))
    return "-".join(groups)


def snils_valid(snils: str) -> bool:
    if not SNILS.match(snils):
        return False
    digits = snils[:11].replace("-", "")
    check = int(snils[-2:])
    total = sum(int(d) * (9 - i) for i, d in enumerate(digits))
    return total % 101 % 100 == check


@dataclass(frozen=True)
class GrantView:
    grant: DocumentAccessGrant
    doctor_name: str | None
    code: str | None = None  # the one-time code, only in the answer that created the grant

    def active_at(self, at: datetime) -> bool:
        return is_active(self.grant, at)


def is_active(grant: DocumentAccessGrant, at: datetime) -> bool:
    return grant.revoked_at is None and grant.expires_at > at


async def grant_access(
    uow: UnitOfWork,
    patient_id: uuid.UUID,
    *,
    doctor_snils: str | None,
    hours: int,
    include_profile: bool,
    document_ids: list[uuid.UUID],
    idempotency_key: str,
) -> GrantView:
    """Open the profile (``include_profile``) and ``document_ids`` to a doctor for ``hours``.

    Without ``doctor_snils`` the grant carries a one-time code, returned here only. A repeat of
    ``idempotency_key`` returns the first grant (without its code: it was shown once).
    """
    snils = (doctor_snils or "").strip() or None
    if not MIN_HOURS <= hours <= MAX_HOURS:
        raise problems.fail(problems.InvalidInput.of("hours", f"Срок доступа: от {MIN_HOURS} до {MAX_HOURS} часов."))
    if snils is not None and not snils_valid(snils):
        raise problems.fail(problems.InvalidInput.of("doctorSnils", "СНИЛС врача указан неверно (123-456-789 01)."))
    if not include_profile and not document_ids:
        raise problems.fail(problems.InvalidInput.of("documentIds", "Выберите профиль или хотя бы один документ."))
    if len(document_ids) > MAX_DOCUMENTS:
        raise problems.fail(problems.InvalidInput.of("documentIds", f"Не больше {MAX_DOCUMENTS} документов."))
    if not idempotency_key or len(idempotency_key) > 128:
        raise problems.fail(problems.InvalidInput.of("idempotencyKey", "Ключ идемпотентности: от 1 до 128 символов."))
    session = uow.session
    existing = await session.scalar(
        select(DocumentAccessGrant).where(
            DocumentAccessGrant.patient_id == patient_id, DocumentAccessGrant.idempotency_key == idempotency_key
        )
    )
    if existing is not None:
        return GrantView(existing, None)
    wanted = list(dict.fromkeys(document_ids))
    if wanted:
        owned = set(
            await session.scalars(
                select(MedicalDocument.id).where(
                    MedicalDocument.patient_id == patient_id, MedicalDocument.id.in_(wanted)
                )
            )
        )
        if len(owned) != len(wanted):
            raise problems.fail(
                problems.DocumentNotFound.default("Среди выбранных есть документ, которого нет в вашем списке.")
            )
    now = uow.runtime.now()
    code = None if snils is not None else new_code()
    grant = DocumentAccessGrant(
        id=uuid.uuid4(),
        patient_id=patient_id,
        doctor_snils=snils,
        code_hash=_digest(code) if code else None,
        include_profile=include_profile,
        document_ids=[str(d) for d in wanted],
        created_at=now,
        expires_at=now + timedelta(hours=hours),
        idempotency_key=idempotency_key,
    )
    session.add(grant)
    await session.flush()
    uow.audit(
        "documents.access_granted",
        subject_id=patient_id,
        object_type="document_access_grant",
        object_id=grant.id,
        details={"hours": hours, "by": "snils" if snils else "code", "documents": len(wanted)},
    )
    return GrantView(grant, None, code)


async def revoke_access(uow: UnitOfWork, patient_id: uuid.UUID, grant_id: uuid.UUID) -> GrantView:
    grant = await uow.session.get(DocumentAccessGrant, grant_id, with_for_update=True)
    if grant is None or grant.patient_id != patient_id:
        raise problems.fail(problems.GrantNotFound.default())
    if grant.revoked_at is None:
        grant.revoked_at = uow.runtime.now()
        uow.audit(
            "documents.access_revoked", subject_id=patient_id, object_type="document_access_grant", object_id=grant.id
        )
    return GrantView(grant, None)


async def _doctor_names(runtime: Runtime, grants: list[DocumentAccessGrant]) -> dict[uuid.UUID, str | None]:
    """The doctor of each grant: the one bound to it, else the one with its SNILS (one query for all)."""
    if not grants:
        return {}
    ids = {g.doctor_staff_id for g in grants if g.doctor_staff_id}
    snils = {g.doctor_snils for g in grants if g.doctor_snils}
    async with runtime.sessionmaker() as session:
        found = await doctors_among(session, ids={i for i in ids if i}, snils={s for s in snils if s})
    by_id = {d.id: d.full_name for d in found}
    by_snils = {d.snils: d.full_name for d in found if d.snils}
    return {g.id: by_id.get(g.doctor_staff_id or "") or by_snils.get(g.doctor_snils or "") for g in grants}


async def patient_grants(runtime: Runtime, patient_id: uuid.UUID) -> list[GrantView]:
    """The patient's grants, newest first (active, expired and revoked: the patient sees their history)."""
    async with runtime.sessionmaker() as session:
        grants = list(
            await session.scalars(
                select(DocumentAccessGrant)
                .where(DocumentAccessGrant.patient_id == patient_id)
                .order_by(DocumentAccessGrant.created_at.desc(), DocumentAccessGrant.id)
                .limit(100)
            )
        )
    names = await _doctor_names(runtime, grants)
    return [GrantView(g, names[g.id]) for g in grants]


# -- the doctor's side ---------------------------------------------------------------------------------


async def _doctor(runtime: Runtime, staff_id: str) -> StaffPrincipal:
    async with runtime.sessionmaker() as session:
        member = (await staff_members(session, {staff_id})).get(staff_id)
    if member is None or member.role != "doctor":
        raise problems.fail(problems.GrantNotFound.default())
    return member


@dataclass(frozen=True)
class SharedPatient:
    grant: DocumentAccessGrant
    patient: PatientView


async def claim_code(uow: UnitOfWork, staff_id: str, code: str) -> SharedPatient:
    """The doctor enters the patient's one-time code: the grant is theirs from now on, the code spent."""
    doctor = await _doctor(uow.runtime, staff_id)
    grant = await uow.session.scalar(
        select(DocumentAccessGrant).where(DocumentAccessGrant.code_hash == _digest(code)).with_for_update()
    )
    now = uow.runtime.now()
    if grant is None or grant.claimed_at is not None or not is_active(grant, now):
        raise problems.fail(problems.GrantNotFound.default("Код не подходит: он неверный, уже использован или истек."))
    grant.claimed_at, grant.doctor_staff_id = now, doctor.id
    uow.audit(
        "documents.access_claimed", subject_id=grant.patient_id, object_type="document_access_grant", object_id=grant.id
    )
    async with uow.runtime.sessionmaker() as session:
        patient = (await get_patients(session, [grant.patient_id])).get(grant.patient_id)
    if patient is None:
        raise problems.fail(problems.GrantNotFound.default())
    return SharedPatient(grant, patient)


def _for_doctor(doctor: StaffPrincipal) -> ColumnElement[bool]:
    conditions = [DocumentAccessGrant.doctor_staff_id == doctor.id]
    if doctor.snils:
        conditions.append(DocumentAccessGrant.doctor_snils == doctor.snils)
    return or_(*conditions)


async def doctor_patients(runtime: Runtime, staff_id: str) -> list[SharedPatient]:
    """The patients whose profile or documents are open to this doctor right now."""
    doctor = await _doctor(runtime, staff_id)
    now = runtime.now()
    async with runtime.sessionmaker() as session:
        grants = list(
            await session.scalars(
                select(DocumentAccessGrant)
                .where(
                    _for_doctor(doctor), DocumentAccessGrant.revoked_at.is_(None), DocumentAccessGrant.expires_at > now
                )
                .order_by(DocumentAccessGrant.expires_at, DocumentAccessGrant.id)
            )
        )
        people = await get_patients(session, [g.patient_id for g in grants])
    return [SharedPatient(g, people[g.patient_id]) for g in grants if g.patient_id in people]


@dataclass(frozen=True)
class SharedView:
    grant: DocumentAccessGrant
    patient: PatientView
    profile: profiles.MedicalProfile | None
    documents: list[MedicalDocument]


async def _usable_grant(
    runtime: Runtime, ctx: RequestContext, staff_id: str, grant_id: uuid.UUID
) -> DocumentAccessGrant:
    """The grant if it is this doctor's and in force; otherwise refused, and the refusal audited about the patient."""
    doctor = await _doctor(runtime, staff_id)
    async with runtime.sessionmaker() as session:
        grant = await session.get(DocumentAccessGrant, grant_id)
    mine = grant is not None and (
        grant.doctor_staff_id == doctor.id or (doctor.snils is not None and grant.doctor_snils == doctor.snils)
    )
    if grant is None or not mine or not is_active(grant, runtime.now()):
        if grant is not None and mine:
            await audit.record_now(
                runtime.sessionmaker,
                ctx,
                "documents.doctor_read_refused",
                outcome="ACCESS_GRANT_NOT_FOUND",
                subject_id=grant.patient_id,
                object_type="document_access_grant",
                object_id=grant.id,
            )
        raise problems.fail(problems.GrantNotFound.default())
    return grant


async def shared_view(runtime: Runtime, ctx: RequestContext, staff_id: str, grant_id: uuid.UUID) -> SharedView:
    """What the grant opens to the doctor: the profile (if shared) and the chosen documents' list. Audited."""
    grant = await _usable_grant(runtime, ctx, staff_id, grant_id)
    async with runtime.sessionmaker() as session:
        patient = (await get_patients(session, [grant.patient_id])).get(grant.patient_id)
    if patient is None:
        raise problems.fail(problems.GrantNotFound.default())
    profile = await profiles.medical_profile(runtime, None, grant.patient_id) if grant.include_profile else None
    documents = await reading.documents_by_ids(runtime, grant.patient_id, [uuid.UUID(d) for d in grant.document_ids])
    await audit.record_now(
        runtime.sessionmaker,
        ctx,
        "documents.doctor_profile_read",
        subject_id=grant.patient_id,
        object_type="document_access_grant",
        object_id=grant.id,
    )
    return SharedView(grant, patient, profile, documents)


async def shared_document(
    runtime: Runtime, ctx: RequestContext, staff_id: str, grant_id: uuid.UUID, document_id: uuid.UUID
) -> reading.DocumentDetail:
    """One document the grant opens, read from its CDA. Audited."""
    grant = await _usable_grant(runtime, ctx, staff_id, grant_id)
    if str(document_id) not in grant.document_ids:
        raise problems.fail(problems.DocumentNotFound.default())
    return await reading.open_document(
        runtime, ctx, grant.patient_id, document_id, action="documents.doctor_document_read"
    )
