"""Identifying a patient who is not logged in: at a kiosk or by a 122 operator.

OMS policy (or SNILS) *and* birth date must match one patient. Attempts are counted, atomically and
before they are evaluated, per device/operator and per person (:mod:`backend.identity.ratelimit`); a
locked key refuses further attempts until its window ends. Every attempt is audited; a failed one that
named a real patient's policy shows in that patient's access log.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import service as audit
from backend.core.context import Channel, RequestContext
from backend.core.uow import UnitOfWork
from backend.identity import policy, problems, ratelimit, sessions, tokens
from backend.identity.models import Patient
from backend.identity.service import PatientView, normalise_policy, normalise_snils

if TYPE_CHECKING:
    from backend.runtime import Runtime


class IdentificationOutcome(enum.Enum):
    FOUND = "ok"
    NOT_FOUND = "PATIENT_NOT_IDENTIFIED"
    LOCKED = "IDENTIFICATION_LOCKED"  # too many failures for this person
    CHANNEL_LOCKED = "CHANNEL_LOCKED"  # too many failures at this kiosk or by this operator


#: A kiosk or an operator may fail this many times the per-person limit in a window before it is stopped
#: too: one person's failures lock that person only, not everyone at the kiosk or on the operator's line.
CHANNEL_LIMIT_FACTOR = 6

#: What the person at a kiosk and an operator read when identification is locked.
LOCKED_MESSAGES = {
    (True, IdentificationOutcome.LOCKED): problems.IdentificationLocked.MESSAGE,
    (True, IdentificationOutcome.CHANNEL_LOCKED): (
        "Инфомат временно не принимает данные для входа: слишком много неудачных попыток. Обратитесь в регистратуру."
    ),
    (False, IdentificationOutcome.LOCKED): (
        "Слишком много неудачных попыток идентификации этого человека. Повторите через 15 минут."
    ),
    (False, IdentificationOutcome.CHANNEL_LOCKED): (
        "Слишком много неудачных попыток идентификации с вашей учетной записи. Повторите через 15 минут."
    ),
}


async def identify(
    runtime: Runtime,
    ctx: RequestContext,
    *,
    channel_key: str,
    oms_policy: str | None,
    snils: str | None,
    birth_date: date,
    patient_id: uuid.UUID | None = None,
) -> tuple[IdentificationOutcome, PatientView | None]:
    """The patient holding this policy (or SNILS) *and* born on ``birth_date``, within the attempt limits.

    The holder of the document is read first (nothing of it is told to the caller): the attempt is
    counted against that person, whichever document named them, and against the channel (a kiosk, an
    operator; :data:`CHANNEL_LIMIT_FACTOR` times the limit), before the birth date is compared, so
    concurrent guesses cannot outrun the limit.
    """
    settings = runtime.settings
    counter = ratelimit.failure_counter(runtime)
    async with runtime.sessionmaker() as session:
        holder = await _holder(session, oms_policy=oms_policy, snils=snils, patient_id=patient_id)
    person_key = (
        f"person:{holder.id}"
        if holder
        else (f"policy:{oms_policy}" if oms_policy else f"snils:{snils}" if snils else f"person:{patient_id}")
    )
    limit, window = settings.kiosk_identify_max_attempts, settings.kiosk_identify_window_s
    refused = await counter.acquire([(channel_key, limit * CHANNEL_LIMIT_FACTOR), (person_key, limit)], window_s=window)
    if refused:
        await _audit(runtime, ctx, "IDENTIFICATION_LOCKED", None)
        if person_key in refused:
            return IdentificationOutcome.LOCKED, None
        return IdentificationOutcome.CHANNEL_LOCKED, None
    if holder is None or holder.birth_date != birth_date:
        await _audit(runtime, ctx, "PATIENT_NOT_IDENTIFIED", holder)
        return IdentificationOutcome.NOT_FOUND, None
    await counter.release(channel_key)
    await counter.reset(person_key)
    return IdentificationOutcome.FOUND, holder


async def _holder(
    session: AsyncSession,
    *,
    oms_policy: str | None = None,
    snils: str | None = None,
    patient_id: uuid.UUID | None = None,
) -> PatientView | None:
    """The patient this policy (or SNILS, or id: a person a 122 call's number offered) belongs to, whatever
    the birth date."""
    if patient_id is not None:
        row = await session.get(Patient, patient_id)
    elif oms_policy:
        row = await session.scalar(select(Patient).where(Patient.oms_policy == oms_policy))
    else:
        row = await session.scalar(select(Patient).where(Patient.snils == snils))
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
    oms_policy: str | None, snils: str | None, birth_date: date, today: date, *, by_id: bool = False
) -> tuple[str | None, str | None]:
    """(policy, SNILS) normalised from what was typed: one of them, or :class:`problems.InvalidInput`;
    ``by_id``: the person is named by id (the 122 caller's number offered them), so neither is needed."""
    if birth_date > today or birth_date.year < 1900:
        raise problems.InvalidInput("birthDate", "Дата рождения указана неверно.")
    if by_id:
        return None, None
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
    at_kiosk: bool,
    patient_id: uuid.UUID | None = None,
) -> PatientView:
    """The caller identified by policy or SNILS (or the id of a person their number offered) + birth date
    (rate-limited per channel key), or a typed failure."""
    policy_number, snils_value = identification_input(
        oms_policy, snils, birth_date, at.date(), by_id=patient_id is not None
    )
    outcome, patient = await identify(
        runtime,
        ctx,
        channel_key=channel_key,
        oms_policy=policy_number,
        snils=snils_value,
        birth_date=birth_date,
        patient_id=patient_id,
    )
    if outcome in (IdentificationOutcome.LOCKED, IdentificationOutcome.CHANNEL_LOCKED):
        raise problems.IdentificationLocked(LOCKED_MESSAGES[(at_kiosk, outcome)])
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
        rt,
        uow.ctx,
        channel_key=f"kiosk:{kiosk_id}",
        at=at,
        birth_date=birth_date,
        oms_policy=oms_policy,
        snils=None,
        at_kiosk=True,
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
