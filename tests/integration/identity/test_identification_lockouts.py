"""Identification locks the person guessed at, not everyone at the kiosk or on the operator's line; the
kiosk and the operator have a rate of their own; an operator is never sent to the registry desk."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from backend.identity.identification import CHANNEL_LIMIT_FACTOR
from backend.runtime import Runtime
from tests.support.client import gql
from tests.support.identity import auth_headers, identity_client, kiosk_device_token, make_patient, operator_token

pytestmark = pytest.mark.dialect

IDENTIFY = """mutation($p: String!, $b: Date!) {
  identifyAtKiosk(omsPolicy: $p, birthDate: $b) { __typename ... on Problem { code message } }
}"""
OPEN = """mutation($b: Date!, $p: String) {
  openOnBehalfSession(birthDate: $b, omsPolicy: $p) { __typename ... on Problem { code message } }
}"""
BORN = date(1988, 8, 8)


def _wrong(i: int) -> str:
    return (BORN + timedelta(days=i + 1)).isoformat()


async def test_one_patients_failures_at_a_kiosk_lock_that_patient_only(runtime: Runtime) -> None:
    guessed, next_in_line = await make_patient(runtime, birth_date=BORN), await make_patient(runtime, birth_date=BORN)
    limit = runtime.settings.kiosk_identify_max_attempts
    kiosk = auth_headers(await kiosk_device_token(runtime, kiosk_id="kiosk-hall-1"))
    async with identity_client(runtime) as client:
        for i in range(limit):
            await gql(client, IDENTIFY, {"p": guessed.oms_policy, "b": _wrong(i)}, headers=kiosk)
        locked = await gql(client, IDENTIFY, {"p": guessed.oms_policy, "b": BORN.isoformat()}, headers=kiosk)
        other = await gql(client, IDENTIFY, {"p": next_in_line.oms_policy, "b": BORN.isoformat()}, headers=kiosk)
    assert locked["data"]["identifyAtKiosk"]["code"] == "IDENTIFICATION_LOCKED"
    assert other["data"]["identifyAtKiosk"]["__typename"] == "KioskSession"


async def test_one_callers_failures_lock_that_caller_only_and_the_operator_reads_no_registry_desk(
    runtime: Runtime,
) -> None:
    caller, next_caller = await make_patient(runtime, birth_date=BORN), await make_patient(runtime, birth_date=BORN)
    limit = runtime.settings.kiosk_identify_max_attempts
    operator = auth_headers(await operator_token(runtime))
    async with identity_client(runtime) as client:
        for i in range(limit):
            await gql(client, OPEN, {"p": caller.oms_policy, "b": _wrong(i)}, headers=operator)
        locked = await gql(client, OPEN, {"p": caller.oms_policy, "b": BORN.isoformat()}, headers=operator)
        other = await gql(client, OPEN, {"p": next_caller.oms_policy, "b": BORN.isoformat()}, headers=operator)
    answer = locked["data"]["openOnBehalfSession"]
    assert answer["code"] == "IDENTIFICATION_LOCKED"
    assert "регистратур" not in answer["message"]
    assert other["data"]["openOnBehalfSession"]["__typename"] == "OnBehalfSession"


async def test_a_kiosk_has_a_rate_of_its_own(runtime: Runtime) -> None:
    patient = await make_patient(runtime, birth_date=BORN)
    rate = runtime.settings.kiosk_identify_max_attempts * CHANNEL_LIMIT_FACTOR
    busy = auth_headers(await kiosk_device_token(runtime, kiosk_id="kiosk-busy"))
    calm = auth_headers(await kiosk_device_token(runtime, kiosk_id="kiosk-calm"))
    async with identity_client(runtime) as client:
        for i in range(rate):  # a different unknown policy each time: no person is locked
            miss = await gql(client, IDENTIFY, {"p": f"77{i:014d}", "b": BORN.isoformat()}, headers=busy)
            assert miss["data"]["identifyAtKiosk"]["code"] == "PATIENT_NOT_IDENTIFIED"
        stopped = await gql(client, IDENTIFY, {"p": patient.oms_policy, "b": BORN.isoformat()}, headers=busy)
        elsewhere = await gql(client, IDENTIFY, {"p": patient.oms_policy, "b": BORN.isoformat()}, headers=calm)
    assert stopped["data"]["identifyAtKiosk"]["code"] == "IDENTIFICATION_LOCKED"
    assert "Инфомат" in stopped["data"]["identifyAtKiosk"]["message"]
    assert elsewhere["data"]["identifyAtKiosk"]["__typename"] == "KioskSession"
