"""Proxy grants: who may act for whom, within which scopes, until when.

* A parent or legal representative acts for a child: from the children in the parent's ESIA data
  (``guardian_esia``, active at once) or from a declared link confirmed by staff against a document
  (``guardian_declared``). Either ends by itself at the child's 15th birthday (323-ФЗ art. 54: from 15 a
  person consents to medical care themself).
* An adult names a trusted adult (``trusted_adult``): pending until the principal confirms the SMS code
  sent to their verified phone; it carries chosen scopes and an expiry.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.identity.models import Patient, ProxyGrant
from backend.identity.policy import GUARDIAN_SCOPES
from backend.identity.service import PatientData, upsert_patient

if TYPE_CHECKING:
    from integrations.esia import EsiaChild

GUARDIAN_ESIA = "guardian_esia"
GUARDIAN_DECLARED = "guardian_declared"
TRUSTED_ADULT = "trusted_adult"
GUARDIANSHIP_AGE = 15  # 323-ФЗ art. 54 part 2


def birthday(born: date, age: int) -> date:
    try:
        return born.replace(year=born.year + age)
    except ValueError:  # 29 February → 1 March in a common year
        return date(born.year + age, 3, 1)


def guardianship_ends(child_birth_date: date) -> datetime:
    """The start of the child's 15th birthday (UTC midnight; a grant is valid strictly before it)."""
    return datetime.combine(birthday(child_birth_date, GUARDIANSHIP_AGE), time.min, tzinfo=UTC)


def _child_data(child: EsiaChild) -> PatientData | None:
    if not (child.last_name and child.first_name and child.birth_date):
        return None
    policy = child.oms_policy
    return PatientData(
        esia_oid=child.id or None,
        last_name=child.last_name,
        first_name=child.first_name,
        middle_name=child.middle_name,
        birth_date=child.birth_date,
        sex=child.sex or "U",
        snils=child.snils,
        oms_policy=policy.number if policy is not None else None,
    )


async def sync_esia_children(
    session: AsyncSession, parent_id: uuid.UUID, children: Sequence[EsiaChild], *, at: datetime
) -> list[uuid.UUID]:
    """Upsert the children ESIA lists for ``parent_id`` and keep an active guardian grant for each under 15."""
    linked: list[uuid.UUID] = []
    for child in children:
        data = _child_data(child)
        if data is None or guardianship_ends(data.birth_date) <= at:
            continue
        row = await upsert_patient(session, data, at=at)
        existing = await session.scalar(
            select(ProxyGrant).where(
                ProxyGrant.proxy_id == parent_id,
                ProxyGrant.principal_id == row.id,
                ProxyGrant.kind == GUARDIAN_ESIA,
                ProxyGrant.revoked_at.is_(None),
            )
        )
        if existing is None:
            session.add(
                ProxyGrant(
                    id=uuid.uuid4(),
                    principal_id=row.id,
                    proxy_id=parent_id,
                    kind=GUARDIAN_ESIA,
                    status="active",
                    scopes=sorted(GUARDIAN_SCOPES),
                    expires_at=guardianship_ends(data.birth_date),
                    document={"source": "esia"},
                    created_at=at,
                    confirmed_at=at,
                    confirmed_by="esia",
                )
            )
        linked.append(row.id)
    await session.flush()
    return linked


@dataclass(frozen=True)
class GrantView:
    id: uuid.UUID
    principal_id: uuid.UUID
    proxy_id: uuid.UUID
    kind: str
    status: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: ProxyGrant) -> GrantView:
        return cls(
            id=row.id,
            principal_id=row.principal_id,
            proxy_id=row.proxy_id,
            kind=row.kind,
            status=row.status,
            scopes=tuple(row.scopes or ()),
            expires_at=row.expires_at,
            created_at=row.created_at,
        )

    def effective_status(self, at: datetime) -> str:
        if self.status == "active" and self.expires_at is not None and self.expires_at <= at:
            return "expired"
        return self.status


async def grants_of_principal(session: AsyncSession, principal_id: uuid.UUID) -> list[GrantView]:
    rows = await session.scalars(
        select(ProxyGrant).where(ProxyGrant.principal_id == principal_id).order_by(ProxyGrant.created_at.desc())
    )
    return [GrantView.of(r) for r in rows]


async def grants_of_proxy(session: AsyncSession, proxy_id: uuid.UUID) -> list[GrantView]:
    rows = await session.scalars(
        select(ProxyGrant).where(ProxyGrant.proxy_id == proxy_id).order_by(ProxyGrant.created_at.desc())
    )
    return [GrantView.of(r) for r in rows]


async def create_pending_grant(
    session: AsyncSession,
    *,
    principal_id: uuid.UUID,
    proxy_id: uuid.UUID,
    kind: str,
    scopes: Iterable[str],
    expires_at: datetime | None,
    at: datetime,
    document: dict[str, str] | None = None,
) -> ProxyGrant:
    row = ProxyGrant(
        id=uuid.uuid4(),
        principal_id=principal_id,
        proxy_id=proxy_id,
        kind=kind,
        status="pending",
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        document=document or {},
        created_at=at,
    )
    session.add(row)
    await session.flush()
    return row


async def grant_for_update(session: AsyncSession, grant_id: uuid.UUID) -> ProxyGrant | None:
    return await session.scalar(select(ProxyGrant).where(ProxyGrant.id == grant_id).with_for_update())


async def find_or_create_child(session: AsyncSession, data: PatientData, *, at: datetime) -> Patient:
    """The declared child's patient row: matched by OMS policy and birth date, else created (no ESIA oid)."""
    if data.oms_policy:
        row = await session.scalar(
            select(Patient).where(Patient.oms_policy == data.oms_policy, Patient.birth_date == data.birth_date)
        )
        if row is not None:
            return row
    return await upsert_patient(session, data, at=at)


async def pending_guardianships(session: AsyncSession, *, limit: int = 50) -> list[GrantView]:
    rows = await session.scalars(
        select(ProxyGrant)
        .where(ProxyGrant.kind == GUARDIAN_DECLARED, ProxyGrant.status == "pending")
        .order_by(ProxyGrant.created_at)
        .limit(limit)
    )
    return [GrantView.of(r) for r in rows]


async def involving(session: AsyncSession, patient_id: uuid.UUID) -> list[GrantView]:
    rows = await session.scalars(
        select(ProxyGrant).where(or_(ProxyGrant.proxy_id == patient_id, ProxyGrant.principal_id == patient_id))
    )
    return [GrantView.of(r) for r in rows]
