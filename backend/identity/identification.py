"""Identifying a patient who is not logged in: at a kiosk or by a 122 operator.

OMS policy (or SNILS) *and* birth date must match one patient. Failures are counted per device/operator
and per policy/SNILS (:mod:`backend.identity.ratelimit`); a locked key refuses further attempts until its
window ends. Every attempt is audited; a failed one that named a real patient's policy shows in that
patient's access log.
"""

from __future__ import annotations

import enum
from datetime import date

from backend.api.context import Info
from backend.audit import service as audit
from backend.identity import ratelimit
from backend.identity.service import PatientView, find_patient_by_policy, find_patient_by_snils


class IdentificationOutcome(enum.Enum):
    FOUND = "ok"
    NOT_FOUND = "PATIENT_NOT_IDENTIFIED"
    LOCKED = "IDENTIFICATION_LOCKED"


async def identify(
    info: Info, *, channel_key: str, oms_policy: str | None, snils: str | None, birth_date: date
) -> tuple[IdentificationOutcome, PatientView | None]:
    rt = info.context.runtime
    settings = rt.settings
    counter = ratelimit.failure_counter(rt)
    document_key = f"policy:{oms_policy}" if oms_policy else f"snils:{snils}"
    limit, window = settings.kiosk_identify_max_attempts, settings.kiosk_identify_window_s
    if await counter.locked(channel_key, limit=limit) or await counter.locked(document_key, limit=limit):
        await _audit(info, "IDENTIFICATION_LOCKED", None)
        return IdentificationOutcome.LOCKED, None
    async with info.context.sessionmaker() as session:
        if oms_policy:
            patient = await find_patient_by_policy(session, oms_policy, birth_date)
            holder = None if patient else await _holder(session, oms_policy=oms_policy)
        else:
            assert snils is not None
            patient = await find_patient_by_snils(session, snils, birth_date)
            holder = None if patient else await _holder(session, snils=snils)
    if patient is None:
        await counter.fail(channel_key, window_s=window)
        await counter.fail(document_key, window_s=window)
        await _audit(info, "PATIENT_NOT_IDENTIFIED", holder)
        return IdentificationOutcome.NOT_FOUND, None
    await counter.reset(document_key)
    return IdentificationOutcome.FOUND, patient


async def _holder(session: object, *, oms_policy: str | None = None, snils: str | None = None) -> PatientView | None:
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import AsyncSession

    from backend.identity.models import Patient

    assert isinstance(session, AsyncSession)
    column = Patient.oms_policy if oms_policy else Patient.snils
    row = await session.scalar(select(Patient).where(column == (oms_policy or snils)))
    return PatientView.of(row) if row is not None else None


async def _audit(info: Info, outcome: str, holder: PatientView | None) -> None:
    await audit.record_now(
        info.context.sessionmaker,
        info.context.ctx,
        "identity.identification_failed",
        outcome=outcome,
        subject_id=holder.id if holder else None,
    )
