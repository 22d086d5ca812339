"""The directory's reads for the GraphQL layer and the other domains: one statement each, batched by ids."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.directory.models import District, Doctor, MedicalOrganisation, OrganisationSpecialty, Specialty

_NOT_WORD = re.compile(r"[^\w№]+")


def fold(value: str) -> str:
    """Text as search compares it: casefolded, ё as е, punctuation and ``_`` as single spaces."""
    return " ".join(_NOT_WORD.sub(" ", value.casefold().replace("ё", "е")).replace("_", " ").split())


MAX_SEARCH_WORDS = 8


@dataclass(frozen=True)
class OrganisationCursor:
    name: str
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps([self.name, str(self.id)], ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> OrganisationCursor:
        """Raise ``ValueError`` for anything that is not a cursor this module made."""
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            name, id_text = json.loads(raw)
            if not isinstance(name, str):
                raise ValueError("bad cursor")
            return cls(name=name, id=uuid.UUID(id_text))
        except (binascii.Error, UnicodeDecodeError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError("bad cursor") from exc

    @classmethod
    def of(cls, row: MedicalOrganisation) -> OrganisationCursor:
        return cls(name=row.name, id=row.id)


def _organisations_query(
    *,
    district_id: uuid.UUID | None,
    district_upstream_id: str | None,
    specialty_code: str | None,
    search: str | None,
) -> Select[MedicalOrganisation]:
    query = select(MedicalOrganisation).where(MedicalOrganisation.active)
    if district_id is not None:
        query = query.where(MedicalOrganisation.district_id == district_id)
    if district_upstream_id is not None:
        query = query.where(
            MedicalOrganisation.district_id.in_(select(District.id).where(District.upstream_id == district_upstream_id))
        )
    if specialty_code is not None:
        query = query.where(
            exists()
            .where(
                OrganisationSpecialty.organisation_id == MedicalOrganisation.id,
                OrganisationSpecialty.active,
                OrganisationSpecialty.specialty_id == Specialty.id,
                Specialty.code == specialty_code,
            )
            .correlate(MedicalOrganisation)
        )
    for word in fold(search or "").split()[:MAX_SEARCH_WORDS]:
        query = query.where(MedicalOrganisation.search_text.contains(word, autoescape=True))
    return query


async def list_organisations(
    session: AsyncSession,
    *,
    limit: int,
    after: OrganisationCursor | None = None,
    district_id: uuid.UUID | None = None,
    district_upstream_id: str | None = None,
    specialty_code: str | None = None,
    search: str | None = None,
) -> list[MedicalOrganisation]:
    """Active organisations ordered by (name, id), after the cursor; one statement."""
    query = _organisations_query(
        district_id=district_id,
        district_upstream_id=district_upstream_id,
        specialty_code=specialty_code,
        search=search,
    )
    if after is not None:
        query = query.where(
            or_(
                MedicalOrganisation.name > after.name,
                and_(MedicalOrganisation.name == after.name, MedicalOrganisation.id > after.id),
            )
        )
    query = query.order_by(MedicalOrganisation.name, MedicalOrganisation.id).limit(limit)
    return list(await session.scalars(query))


async def organisations_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, MedicalOrganisation]:
    rows = await session.scalars(select(MedicalOrganisation).where(MedicalOrganisation.id.in_(set(ids))))
    return {row.id: row for row in rows}


async def organisations_by_upstream_ids(
    session: AsyncSession, upstream_ids: Sequence[str]
) -> dict[str, MedicalOrganisation]:
    rows = await session.scalars(
        select(MedicalOrganisation).where(MedicalOrganisation.upstream_id.in_(set(upstream_ids)))
    )
    return {row.upstream_id: row for row in rows}


async def districts_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, District]:
    rows = await session.scalars(select(District).where(District.id.in_(set(ids))))
    return {row.id: row for row in rows}


async def districts_by_upstream_ids(session: AsyncSession, upstream_ids: Sequence[str]) -> dict[str, District]:
    rows = await session.scalars(select(District).where(District.upstream_id.in_(set(upstream_ids))))
    return {row.upstream_id: row for row in rows}


async def list_districts(session: AsyncSession) -> list[District]:
    return list(await session.scalars(select(District).where(District.active).order_by(District.name, District.id)))


async def specialties_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Specialty]:
    rows = await session.scalars(select(Specialty).where(Specialty.id.in_(set(ids))))
    return {row.id: row for row in rows}


async def specialties_by_codes(session: AsyncSession, codes: Sequence[str]) -> dict[str, Specialty]:
    rows = await session.scalars(select(Specialty).where(Specialty.code.in_(set(codes))))
    return {row.code: row for row in rows}


async def list_specialties(session: AsyncSession) -> list[Specialty]:
    """Specialties some active organisation books for, by name."""
    offered = (
        select(OrganisationSpecialty.specialty_id)
        .join(MedicalOrganisation, MedicalOrganisation.id == OrganisationSpecialty.organisation_id)
        .where(OrganisationSpecialty.active, MedicalOrganisation.active)
    )
    rows = await session.scalars(
        select(Specialty).where(Specialty.id.in_(offered)).order_by(Specialty.name, Specialty.code)
    )
    return list(rows)


async def specialties_by_organisation(
    session: AsyncSession, organisation_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Specialty]]:
    """The active specialties of each organisation, by name; one statement."""
    rows = await session.execute(
        select(OrganisationSpecialty.organisation_id, Specialty)
        .join(Specialty, Specialty.id == OrganisationSpecialty.specialty_id)
        .where(OrganisationSpecialty.organisation_id.in_(set(organisation_ids)), OrganisationSpecialty.active)
        .order_by(Specialty.name, Specialty.code)
    )
    result: dict[uuid.UUID, list[Specialty]] = {}
    for organisation_id, specialty in rows:
        result.setdefault(organisation_id, []).append(specialty)
    return result


async def doctors_by_organisation(
    session: AsyncSession, organisation_ids: Sequence[uuid.UUID], *, specialty_code: str | None = None
) -> dict[uuid.UUID, list[Doctor]]:
    """The active doctors of each organisation (of one specialty if given), by name; one statement."""
    query = select(Doctor).where(Doctor.organisation_id.in_(set(organisation_ids)), Doctor.active)
    if specialty_code is not None:
        query = query.where(Doctor.specialty_id.in_(select(Specialty.id).where(Specialty.code == specialty_code)))
    result: dict[uuid.UUID, list[Doctor]] = {}
    for doctor in await session.scalars(query.order_by(Doctor.full_name, Doctor.id)):
        result.setdefault(doctor.organisation_id, []).append(doctor)
    return result


async def doctors_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Doctor]:
    rows = await session.scalars(select(Doctor).where(Doctor.id.in_(set(ids))))
    return {row.id: row for row in rows}
