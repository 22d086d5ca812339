"""Identification rate limits hold under concurrency, and count per person whatever document named them."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from backend.audit.models import AuditEvent
from backend.runtime import Runtime
from tests.support.client import gql
from tests.support.identity import auth_headers, identity_client, kiosk_device_token, make_patient, operator_token

IDENTIFY = """mutation($p: String!, $b: Date!) {
  identifyAtKiosk(omsPolicy: $p, birthDate: $b) {
    __typename ... on Problem { code } ... on KioskSession { patient { shortName } }
  }
}"""
OPEN = """mutation($b: Date!, $p: String, $s: String) {
  openOnBehalfSession(birthDate: $b, omsPolicy: $p, snils: $s) {
    __typename ... on Problem { code } ... on OnBehalfSession { patient { id } }
  }
}"""
BORN = date(1990, 6, 1)


async def _evaluated(runtime: Runtime) -> int:
    """How many wrong guesses were evaluated (each is audited as PATIENT_NOT_IDENTIFIED)."""
    async with runtime.sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == "identity.identification_failed", AuditEvent.outcome == "PATIENT_NOT_IDENTIFIED"
            )
        )
    return int(count or 0)


@pytest.mark.postgres_only
async def test_concurrent_guesses_at_one_policy_evaluate_at_most_the_limit(runtime: Runtime) -> None:
    patient = await make_patient(runtime, birth_date=BORN)
    limit = runtime.settings.kiosk_identify_max_attempts
    # 59 wrong birth dates and the right one at position 46, all at once, from different kiosks.
    guesses = [BORN + timedelta(days=i + 1) for i in range(59)]
    guesses.insert(45, BORN)
    devices = [auth_headers(await kiosk_device_token(runtime, kiosk_id=f"kiosk-race-{i}")) for i in range(60)]
    async with identity_client(runtime) as client:
        bodies = await asyncio.gather(
            *(
                gql(client, IDENTIFY, {"p": patient.oms_policy, "b": day.isoformat()}, headers=headers)
                for day, headers in zip(guesses, devices, strict=True)
            )
        )
    answers = [body["data"]["identifyAtKiosk"] for body in bodies]
    evaluated = [a for a in answers if a["__typename"] != "IdentificationLocked"]
    assert len(evaluated) <= limit, [a["__typename"] for a in answers]
    assert await _evaluated(runtime) <= limit
    assert sum(a["__typename"] == "KioskSession" for a in answers) <= 1
    assert all(a["__typename"] in ("PatientNotIdentified", "IdentificationLocked", "KioskSession") for a in answers)


@pytest.mark.dialect
async def test_a_person_locked_by_policy_guesses_is_locked_by_snils_too(runtime: Runtime) -> None:
    patient = await make_patient(runtime, birth_date=BORN)
    limit = runtime.settings.kiosk_identify_max_attempts
    async with identity_client(runtime) as client:
        kiosk = auth_headers(await kiosk_device_token(runtime, kiosk_id="kiosk-snils-1"))
        for i in range(limit):
            wrong = (BORN + timedelta(days=i + 1)).isoformat()
            body = await gql(client, IDENTIFY, {"p": patient.oms_policy, "b": wrong}, headers=kiosk)
            assert body["data"]["identifyAtKiosk"]["__typename"] == "PatientNotIdentified"
        operator = auth_headers(await operator_token(runtime))
        by_snils = await gql(client, OPEN, {"b": BORN.isoformat(), "s": patient.snils}, headers=operator)
    assert by_snils["data"]["openOnBehalfSession"]["code"] == "IDENTIFICATION_LOCKED"
