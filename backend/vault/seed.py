"""The vault's demo: a patient with two documents, one of them shared by code, and a doctor (a second
demo person) to whom a folder is shared by SNILS. Everything needed to try it is returned for printing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from backend.core.context import Actor, RequestContext
from backend.core.uow import UnitOfWork
from backend.identity.service import PatientData, upsert_patient
from backend.vault import service
from backend.vault.models import VaultFile
from integrations.demo_region import RegionScale, get_region

if TYPE_CHECKING:
    from backend.runtime import Runtime

DEMO_TEXT = (
    "Общий анализ крови от 12.03.2025\nГемоглобин: 138 г/л (норма 120–160)\nЛейкоциты: 6,1×10⁹/л\nСОЭ: 8 мм/ч\n"
).encode()
DEMO_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def seed_demo_vault(runtime: Runtime) -> dict[str, Any]:
    region = get_region(runtime.settings.demo_seed, RegionScale(runtime.settings.demo_scale))
    adults = [p for p in region.people if p.parent_oid is None][:2]
    owner_person, doctor_person = adults
    at = runtime.now()
    async with runtime.sessionmaker() as session, session.begin():
        ids = []
        for person in (owner_person, doctor_person):
            row = await upsert_patient(
                session,
                PatientData(
                    esia_oid=person.esia_oid,
                    last_name=person.last_name,
                    first_name=person.first_name,
                    middle_name=person.middle_name,
                    birth_date=person.birth_date,
                    sex=person.sex,
                    snils=person.snils,
                    oms_policy=person.oms_policy,
                ),
                at=at,
            )
            ids.append(row.id)
        owner_id = ids[0]
        existing = await session.scalar(select(VaultFile.id).where(VaultFile.patient_id == owner_id).limit(1))
    result: dict[str, Any] = {
        "patient": f"{owner_person.full_name} (войдите через демо-ЕСИА)",
        "doctor": f"{doctor_person.full_name}, СНИЛС {doctor_person.snils} (sharedWithMe)",
    }
    if existing is not None:
        result["note"] = "хранилище уже заполнено; код доступа показывается один раз, при первом seed-demo"
        return result
    ctx = RequestContext(actor=Actor.system("seed-demo"), request_id=uuid.uuid4().hex)
    analysis = await service.upload(
        runtime,
        ctx,
        owner_id,
        service.FileMeta(
            folder="analyses",
            title="Общий анализ крови",
            file_name="анализ крови.txt",
            document_date=date(2025, 3, 12),
            clinic="Лаборатория «Демо»",
            tags=("кровь",),
        ),
        _once(DEMO_TEXT),
    )
    await service.upload(
        runtime,
        ctx,
        owner_id,
        service.FileMeta(folder="discharges", title="Выписка из стационара", file_name="выписка.pdf"),
        _once(DEMO_PDF),
    )
    async with UnitOfWork(runtime, ctx) as uow:
        by_code = await service.create_share(
            uow, owner_id, file_ids=[analysis.id], folders=[], period=timedelta(days=7), recipient_snils=None
        )
        by_snils = await service.create_share(
            uow,
            owner_id,
            file_ids=[],
            folders=["discharges"],
            period=timedelta(days=3),
            recipient_snils=doctor_person.snils,
        )
    result |= {
        "share_code": by_code.code,
        "share_link": by_code.link,
        "share_to_doctor": str(by_snils.share.id),
    }
    return result
