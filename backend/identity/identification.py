"""Identifying a patient who is not logged in: at a kiosk or by a 122 operator.

OMS policy (or SNILS) *and* birth date must match one patient. Failures are counted per device/operator
and per policy/SNILS (:mod:`backend.identity.ratelimit`); a locked key refuses further attempts until its
window ends. Every attempt is audited; a failed one that named a real patient's policy shows in that
patient's access log.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import service as audit
from backend.core.context import Channel, RequestContext
from backend.core.uow import UnitOfWork
from backend.identity import policy, problems, ratelimit, sessions, tokens
from backend.identity.models import Patient
from backend.identity.service import (
    PatientView,
    find_patient_by_policy,
    find_patient_by_snils,
    normalise_policy,
    normalise_snils,
)

if TYPE_CHECKING:
    from backend.runtime import Runtime


class IdentificationOutcome(enum.Enum):
    FOUND = "ok"
    NOT_FOUND = "PATIENT_NOT_IDENTIFIED"
    LOCKED = "IDENTIFICATION_LOCKED"


async def identify(
    runtime: Runtime,
    ctx: RequestContext,
    *,
    channel_key: str,
    oms_policy: str | None,
    snils: str | None,
    birth_date: date,
) -> tuple[IdentificationOutcome, PatientView | None]:
    settings = runtime.settings
    counter = ratelimit.failure_counter(runtime)
    document_key = f"policy:{oms_policy}" if oms_policy else f"snils:{snils}"
    limit, window = settings.kiosk_identify_max_attempts, settings.kiosk_identify_window_s
    if await counter.locked(channel_key, limit=limit) or await counter.locked(document_key, limit=limit):
        await _audit(runtime, ctx, "IDENTIFICATION_LOCKED", None)
        return IdentificationOutcome.LOCKED, None
    async with runtime.sessionmaker() as session:
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
        await _audit(runtime, ctx, "PATIENT_NOT_IDENTIFIED", holder)
        return IdentificationOutcome.NOT_FOUND, None
    await counter.reset(document_key)
    return IdentificationOutcome.FOUND, patient


async def _holder(
    session: AsyncSession, *, oms_policy: str | None = None, snils: str | None = None
) -> PatientView | None:
    column = Patient.oms_policy if oms_policy else Patient.snils
    row = await session.scalar(select(Patient).where(column == (oms_policy or snils)))
    return PatientView.of(row) if row is not None else None


async def _audit(runtime: Runtime, ctx: RequestContext, outcome: str, holder: PatientView | None) -> None:
    await audit.record_now(
        runtime.sessionmaker,
        ctx,
        "identity.identification_failed",
        outcome=outcome,
        subject_id=holder.id if holder else None,
    )


def identification_input(
    oms_policy: str | None, snils: str | None, birth_date: date, today: date
) -> tuple[str | None, str | None]:
    """(policy, SNILS) normalised from what was typed: one of them, or :class:`problems.InvalidInput`."""
    if birth_date > today or birth_date.year < 1900:
        raise problems.InvalidInput("birthDate", "Дата рождения указана неверно.")
    if oms_policy:
        policy_number = normalise_policy(oms_policy)
        if policy_number is None:
            raise problems.InvalidInput("omsPolicy", "Номер полиса ОМС — 16 цифр.")
        return policy_number, None
    if snils:
        snils_value = normalise_snils(snils)
        if snils_value is None:
            raise problems.InvalidInput("snils", "СНИЛС — 11 цифр.")
        return None, snils_value
    raise problems.InvalidInput("omsPolicy", "Укажите номер полиса ОМС или СНИЛС.")


async def identified_patient(
    runtime: Runtime,
    ctx: RequestContext,
    *,
    channel_key: str,
    at: datetime,
    birth_date: date,
    oms_policy: str | None,
    snils: str | None,
) -> PatientView:
    """The caller identified by policy or SNILS + birth date (rate-limited per channel key), or a typed failure."""
    policy_number, snils_value = identification_input(oms_policy, snils, birth_date, at.date())
    outcome, patient = await identify(
        runtime, ctx, channel_key=channel_key, oms_policy=policy_number, snils=snils_value, birth_date=birth_date
    )
    if outcome is IdentificationOutcome.LOCKED:
        raise problems.IdentificationLocked()
    if outcome is IdentificationOutcome.NOT_FOUND or patient is None:
        raise problems.PatientNotIdentified()
    return patient


async def open_kiosk_session(
    uow: UnitOfWork, *, kiosk_id: str, oms_policy: str, birth_date: date
) -> tuple[sessions.IssuedSession, PatientView]:
    """A kiosk's session for the patient who typed or scanned their policy and birth date."""
    rt = uow.runtime
    at = tokens.now(rt)
    patient = await identified_patient(
        rt, uow.ctx, channel_key=f"kiosk:{kiosk_id}", at=at, birth_date=birth_date, oms_policy=oms_policy, snils=None
    )
    idle = rt.settings.kiosk_idle_timeout_s
    row = await sessions.open_session(
        uow.session,
        kind=sessions.SessionKind.KIOSK,
        channel=Channel.KIOSK,
        at=at,
        ttl_s=idle * 10,
        idle_timeout_s=idle,
        scopes=policy.KIOSK_SCOPES,
        patient_id=patient.id,
        actor_id=kiosk_id,
        client_id=kiosk_id,
    )
    issued = sessions.issued(rt, row)
    uow.audit("identity.kiosk_identified", subject_id=patient.id, object_type="session", object_id=row.id)
    return issued, patient
