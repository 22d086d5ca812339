"""The vaccinations the patients' documents record (СЭМД 170 and any other document with a given
``substanceAdministration`` in its IMM section), for the vaccination domain: read from the facts stored at
sync, so no upstream call and one query for any number of patients."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from backend.documents.models import ContentStatus, MedicalDocument

if TYPE_CHECKING:
    from backend.runtime import Runtime

VACCINES_OID = "1.2.643.5.1.13.13.11.1078"


@dataclass(frozen=True)
class DocumentVaccination:
    patient_id: uuid.UUID
    document_id: uuid.UUID
    registry_number: str
    document_kind: str  # REMD type, "170"
    document_title: str
    index: int  # the fact's position in the document: (registry_number, index) names it
    given_on: date
    vaccine_code: str | None  # НСИ 1078
    vaccine_name: str
    series: str | None
    clinic: str | None
    performer: str | None


def _day(value: str | None, fallback: datetime) -> date:
    if not value:
        return fallback.date()
    return datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)


async def document_vaccinations(
    runtime: Runtime, patient_ids: Sequence[uuid.UUID] | None = None
) -> list[DocumentVaccination]:
    """The vaccinations of ``patient_ids`` (every patient: None), in document order."""
    query = select(MedicalDocument).where(MedicalDocument.content_status == ContentStatus.OK.value)
    if patient_ids is not None:
        if not patient_ids:
            return []
        query = query.where(MedicalDocument.patient_id.in_(list(patient_ids)))
    found: list[DocumentVaccination] = []
    async with runtime.sessionmaker() as session:
        documents = list(await session.scalars(query.order_by(MedicalDocument.created_at, MedicalDocument.id)))
    for document in documents:
        for index, fact in enumerate(document.facts or []):
            if fact.get("kind") != "vaccination":
                continue
            code = fact.get("code") or {}
            found.append(
                DocumentVaccination(
                    patient_id=document.patient_id,
                    document_id=document.id,
                    registry_number=document.registry_number,
                    document_kind=document.kind,
                    document_title=document.title,
                    index=index,
                    given_on=_day(fact.get("known_at"), document.created_at),
                    vaccine_code=code.get("code") if code.get("system") == VACCINES_OID else None,
                    vaccine_name=fact.get("shown") or code.get("display") or "",
                    series=fact.get("detail"),
                    clinic=document.org_name,
                    performer=document.author_name,
                )
            )
    return found
