"""Kiosks: private_key_jwt client credentials, patient identification, rate limits, short sessions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from backend.identity import kiosks, ratelimit, tokens
from backend.identity.models import Patient
from backend.identity.routes import token_endpoint
from backend.runtime import Runtime
from tests.conftest import make_settings
from tests.support.client import gql
from tests.support.identity import auth_headers, identity_client, make_patient

pytestmark = pytest.mark.dialect

KIOSK_ID = "kiosk-poly-1"
IDENTIFY = """mutation($p: String!, $b: Date!) {
  identifyAtKiosk(omsPolicy: $p, birthDate: $b) {
    __typename ... on Problem { code message }
    ... on KioskSession { accessToken idleTimeoutSeconds scopes patient { shortName } }
  }
}"""


@pytest.fixture
def kiosk_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def clock(runtime: Runtime) -> dict[str, datetime]:
    moment = {"now": tokens.utcnow().replace(microsecond=0)}
    tokens.set_clock(runtime, lambda: moment["now"])
    return moment


async def _register(runtime: Runtime, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    async with runtime.sessionmaker() as session, session.begin():
        await kiosks.register_kiosk(
            session,
            client_id=KIOSK_ID,
            name="Поликлиника №1, холл",
            medical_organisation_ref="mo-1",
            public_key_pem=pem.decode(),
            at=tokens.now(runtime),
        )


def _assertion(runtime: Runtime, key: ec.EllipticCurvePrivateKey, **overrides: Any) -> str:
    now = int(tokens.now(runtime).timestamp())
    claims: dict[str, Any] = {
        "iss": KIOSK_ID,
        "sub": KIOSK_ID,
        "aud": token_endpoint(runtime.settings),
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    claims |= overrides
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="ES256")


async def _device_token(client: Any, assertion: str) -> Any:
    return await client.post(
        "/api/v1/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": kiosks.CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )


async def test_kiosk_authenticates_with_a_signed_assertion_once(
    runtime: Runtime, kiosk_key: ec.EllipticCurvePrivateKey, clock: dict[str, datetime]
) -> None:
    await _register(runtime, kiosk_key)
    assertion = _assertion(runtime, kiosk_key)
    async with identity_client(runtime) as client:
        ok = await _device_token(client, assertion)
        replay = await _device_token(client, assertion)
    assert ok.status_code == 200, ok.text
    claims = jwt.decode(ok.json()["access_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["kind"], claims["channel"], claims["scope"]) == (
        KIOSK_ID,
        "kiosk",
        "kiosk",
        "kiosk.identify",
    )
    assert "refresh_token" not in ok.json()
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "https://elsewhere.example/token"},
        {"sub": "kiosk-other"},
        {"exp": "past"},
        {"exp": "far"},
        {"jti": None},
        {"iss": "kiosk-unknown", "sub": "kiosk-unknown"},
        {"key": "other"},
    ],
    ids=["wrong-audience", "iss-not-sub", "expired", "too-long-lived", "no-jti", "unknown-client", "wrong-key"],
)
async def test_bad_client_assertions_are_refused(
    runtime: Runtime, kiosk_key: ec.EllipticCurvePrivateKey, clock: dict[str, datetime], overrides: dict[str, Any]
) -> None:
    await _register(runtime, kiosk_key)
    now = int(tokens.now(runtime).timestamp())
    key = ec.generate_private_key(ec.SECP256R1()) if overrides.pop("key", None) else kiosk_key
    if overrides.get("exp") == "past":
        overrides["exp"] = now - 120
    elif overrides.get("exp") == "far":
        overrides["exp"] = now + 3600
    async with identity_client(runtime) as client:
        refused = await _device_token(client, _assertion(runtime, key, **overrides))
    assert refused.status_code == 401
    assert refused.json() == {"error": "invalid_client", "error_description": "Подпись устройства не принята."}


async def test_patient_identifies_at_the_kiosk_and_gets_a_booking_only_session(
    runtime: Runtime, kiosk_key: ec.EllipticCurvePrivateKey, clock: dict[str, datetime]
) -> None:
    await _register(runtime, kiosk_key)
    patient = await make_patient(runtime, birth_date=date(1990, 6, 1))
    async with identity_client(runtime) as client:
        device = (await _device_token(client, _assertion(runtime, kiosk_key))).json()["access_token"]
        scanned = " ".join(patient.oms_policy[i : i + 4] for i in range(0, 16, 4))  # type: ignore[index]
        body = await gql(client, IDENTIFY, {"p": scanned, "b": "1990-06-01"}, headers=auth_headers(device))
        session = body["data"]["identifyAtKiosk"]
        assert session["__typename"] == "KioskSession", session
        assert sorted(session["scopes"]) == ["booking", "drugs", "tickets"]
        assert session["idleTimeoutSeconds"] == runtime.settings.kiosk_idle_timeout_s
        claims = jwt.decode(session["accessToken"], options={"verify_signature": False})
        assert (claims["sub"], claims["act"], claims["channel"]) == (str(patient.id), {"sub": KIOSK_ID}, "kiosk")
        # A kiosk session cannot identify others, and the device token cannot read a patient.
        nested = await gql(
            client, IDENTIFY, {"p": patient.oms_policy, "b": "1990-06-01"}, headers=auth_headers(session["accessToken"])
        )
        assert nested["data"]["identifyAtKiosk"]["code"] == "ACCESS_DENIED"
        anonymous = await gql(client, IDENTIFY, {"p": patient.oms_policy, "b": "1990-06-01"})
        assert anonymous["data"]["identifyAtKiosk"]["code"] == "NOT_AUTHENTICATED"


async def _brute_force(runtime: Runtime, kiosk_key: ec.EllipticCurvePrivateKey) -> list[str]:
    await _register(runtime, kiosk_key)
    patient = await make_patient(runtime, birth_date=date(1990, 6, 1))
    codes = []
    async with identity_client(runtime) as client:
        device = (await _device_token(client, _assertion(runtime, kiosk_key))).json()["access_token"]
        for day in range(2, 2 + runtime.settings.kiosk_identify_max_attempts):
            body = await gql(
                client, IDENTIFY, {"p": patient.oms_policy, "b": f"1990-06-{day:02d}"}, headers=auth_headers(device)
            )
            codes.append(body["data"]["identifyAtKiosk"]["code"])
        body = await gql(client, IDENTIFY, {"p": patient.oms_policy, "b": "1990-06-01"}, headers=auth_headers(device))
        codes.append(body["data"]["identifyAtKiosk"]["code"])
        body = await gql(client, IDENTIFY, {"p": "1" * 16, "b": "1990-06-01"}, headers=auth_headers(device))
        codes.append(body["data"]["identifyAtKiosk"]["code"])  # the next person at the kiosk is not locked out
    return codes


async def test_brute_force_locks_the_kiosk_and_the_policy_with_redis(
    runtime: Runtime, kiosk_key: ec.EllipticCurvePrivateKey, clock: dict[str, datetime]
) -> None:
    assert runtime.redis is not None
    codes = await _brute_force(runtime, kiosk_key)
    limit = runtime.settings.kiosk_identify_max_attempts
    assert codes == ["PATIENT_NOT_IDENTIFIED"] * limit + ["IDENTIFICATION_LOCKED", "PATIENT_NOT_IDENTIFIED"]
    assert isinstance(ratelimit.failure_counter(runtime), ratelimit.RedisFailureCounter)


@pytest.fixture
async def embedded_runtime(database_url: str) -> AsyncIterator[Runtime]:
    rt = Runtime.build(make_settings(database_url))  # no Redis: the in-process fallback
    try:
        yield rt
    finally:
        await rt.close()


async def test_brute_force_locks_in_process_without_redis_until_the_window_ends(
    embedded_runtime: Runtime, kiosk_key: ec.EllipticCurvePrivateKey
) -> None:
    runtime = embedded_runtime
    moment = {"now": tokens.utcnow()}
    tokens.set_clock(runtime, lambda: moment["now"])
    codes = await _brute_force(runtime, kiosk_key)
    limit = runtime.settings.kiosk_identify_max_attempts
    assert codes == ["PATIENT_NOT_IDENTIFIED"] * limit + ["IDENTIFICATION_LOCKED", "PATIENT_NOT_IDENTIFIED"]
    counter = ratelimit.failure_counter(runtime)
    assert isinstance(counter, ratelimit.MemoryFailureCounter)
    person = f"person:{await _patient_id(runtime)}"
    assert await counter.locked(person, limit=limit)
    moment["now"] += timedelta(seconds=runtime.settings.kiosk_identify_window_s + 1)
    assert not await counter.locked(person, limit=limit)


async def _patient_id(runtime: Runtime) -> str:
    async with runtime.sessionmaker() as session:
        return str(await session.scalar(select(Patient.id).where(Patient.birth_date == date(1990, 6, 1))))
