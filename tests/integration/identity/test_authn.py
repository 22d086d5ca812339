"""Bearer tokens: a valid one names the actor; forged, expired, wrong-audience or revoked ones get 401."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.exceptions import WebSocketDisconnect
from sqlalchemy import select

from backend.app import create_app
from backend.audit.models import AuditEvent
from backend.core.context import ActorKind, Channel
from backend.identity import sessions, tokens
from backend.identity.models import AuthSession
from backend.runtime import Runtime
from backend.settings import Settings
from tests.support.client import gql, served, websocket
from tests.support.identity import (
    auth_headers,
    identity_client,
    identity_schema_modules,
    kiosk_session_token,
    make_patient,
    token_for,
)

pytestmark = pytest.mark.dialect

ME = "{ me { id fullName omsPolicy snils birthDate } }"


async def test_valid_token_reads_own_profile_and_the_read_is_audited(runtime: Runtime) -> None:
    patient = await make_patient(runtime, last_name="Иванова", first_name="Мария", middle_name=None)
    async with identity_client(runtime) as client:
        body = await gql(client, ME, headers=auth_headers(token_for(runtime, patient.id)))
    assert body["data"]["me"] == {
        "id": str(patient.id),
        "fullName": "Иванова Мария",
        "omsPolicy": patient.oms_policy,
        "snils": patient.snils,
        "birthDate": "1985-04-12",
    }
    async with runtime.sessionmaker() as session:
        events = (await session.scalars(select(AuditEvent))).all()
    assert [(e.action, e.subject_id, e.actor_id, e.channel) for e in events] == [
        ("patient.profile.read", patient.id, str(patient.id), "mobile")
    ]


async def test_anonymous_gets_not_authenticated(runtime: Runtime) -> None:
    async with identity_client(runtime) as client:
        body = await gql(client, ME)
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "NOT_AUTHENTICATED"
    assert error["message"] == "Войдите через Госуслуги, чтобы продолжить."


def _forged(runtime: Runtime, patient_id: uuid.UUID) -> str:
    other = ec.generate_private_key(ec.SECP256R1())
    good = token_for(runtime, patient_id)
    claims = jwt.decode(good, options={"verify_signature": False})
    header = jwt.get_unverified_header(good)
    return jwt.encode(claims, other, algorithm="ES256", headers={"kid": header["kid"], "typ": "at+jwt"})


def _tampered(runtime: Runtime, patient_id: uuid.UUID) -> str:
    head, _, rest = token_for(runtime, patient_id).partition(".")
    payload, _, signature = rest.partition(".")
    other = token_for(runtime, uuid.uuid4())
    return f"{head}.{other.split('.')[1]}.{signature}" if payload else ""


@pytest.mark.parametrize(
    ("make_token", "message"),
    [
        (_forged, "Недействительный маркер доступа. Войдите заново."),
        (_tampered, "Недействительный маркер доступа. Войдите заново."),
        (
            lambda rt, pid: token_for(rt, pid, audience="someone-else"),
            "Недействительный маркер доступа. Войдите заново.",
        ),
        (lambda rt, pid: "not-a-jwt", "Недействительный маркер доступа. Войдите заново."),
        (
            lambda rt, pid: jwt.encode({"sub": str(pid)}, "secret", algorithm="HS256"),
            "Недействительный маркер доступа. Войдите заново.",
        ),
    ],
    ids=["forged-signature", "tampered-payload", "wrong-audience", "garbage", "hs256-none-of-ours"],
)
async def test_bad_tokens_get_401_with_a_russian_message_and_change_nothing(
    runtime: Runtime, make_token: object, message: str
) -> None:
    patient = await make_patient(runtime)
    token = make_token(runtime, patient.id)  # type: ignore[operator]
    async with identity_client(runtime) as client:
        response = await client.post("/graphql", json={"query": ME}, headers=auth_headers(token))
    assert response.status_code == 401
    assert response.json()["message"] == message
    assert response.json()["code"] == "INVALID_TOKEN"
    async with runtime.sessionmaker() as session:
        assert (await session.scalars(select(AuditEvent))).all() == []


async def test_expired_token_is_refused(runtime: Runtime) -> None:
    patient = await make_patient(runtime)
    start = tokens.now(runtime)
    tokens.set_clock(runtime, lambda: start)
    token = token_for(runtime, patient.id)
    tokens.set_clock(runtime, lambda: start + timedelta(seconds=runtime.settings.jwt_access_ttl_s + 1))
    async with identity_client(runtime) as client:
        response = await client.post("/graphql", json={"query": ME}, headers=auth_headers(token))
    assert response.status_code == 401
    assert response.json()["message"] == "Срок действия входа истек. Войдите заново."


async def test_non_bearer_scheme_is_refused(runtime: Runtime) -> None:
    async with identity_client(runtime) as client:
        response = await client.post("/graphql", json={"query": ME}, headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert response.status_code == 401


async def test_revoked_session_ends_its_access_tokens(runtime: Runtime) -> None:
    patient = await make_patient(runtime)
    token = await kiosk_session_token(runtime, patient.id)
    claims = jwt.decode(token, options={"verify_signature": False})
    async with runtime.sessionmaker() as session, session.begin():
        await sessions.revoke(session, uuid.UUID(claims["sid"]), reason="test", at=tokens.now(runtime))
    async with identity_client(runtime) as client:
        response = await client.post("/graphql", json={"query": ME}, headers=auth_headers(token))
    assert response.status_code == 401
    assert response.json()["message"] == "Сеанс завершен. Войдите заново."


async def test_kiosk_session_times_out_when_idle_and_slides_when_used(runtime: Runtime) -> None:
    patient = await make_patient(runtime)
    start = tokens.now(runtime)
    moment = {"now": start}
    tokens.set_clock(runtime, lambda: moment["now"])
    token = await kiosk_session_token(runtime, patient.id)
    idle = runtime.settings.kiosk_idle_timeout_s
    query = {"query": "{ apiInfo { version } }"}
    async with identity_client(runtime) as client:
        moment["now"] = start + timedelta(seconds=idle - 10)
        assert (await client.post("/graphql", json=query, headers=auth_headers(token))).status_code == 200
        moment["now"] = start + timedelta(seconds=2 * idle - 20)  # within idle of the last use: still alive
        assert (await client.post("/graphql", json=query, headers=auth_headers(token))).status_code == 200
        moment["now"] = start + timedelta(seconds=3 * idle)  # idle for longer than the timeout
        refused = await client.post("/graphql", json={"query": ME}, headers=auth_headers(token))
        moment["now"] = start + timedelta(seconds=3 * idle + 1)
        again = await client.post("/graphql", json={"query": ME}, headers=auth_headers(token))
    assert refused.status_code == 401
    assert refused.json()["message"] == "Сеанс завершен из-за бездействия. Начните заново."
    assert again.status_code == 401  # revoked for good, not only late
    async with runtime.sessionmaker() as session:
        row = (await session.scalars(select(AuthSession))).one()
    assert row.revoke_reason == "idle"


async def test_jwks_publishes_the_key_that_verifies_our_tokens(runtime: Runtime) -> None:
    patient = await make_patient(runtime)
    token = token_for(runtime, patient.id, channel=Channel.EPGU)
    async with identity_client(runtime) as client:
        response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in keys if k["kid"] == kid)
    assert jwk["alg"] == "ES256"
    assert "d" not in jwk  # never the private part
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["ES256"], audience=runtime.settings.jwt_audience)
    assert claims["sub"] == str(patient.id)
    assert claims["channel"] == "epgu"


def test_actor_claims_for_operator_on_behalf_carry_rfc8693_act(runtime: Runtime) -> None:
    patient_id = uuid.uuid4()
    token = token_for(runtime, patient_id, kind=ActorKind.OPERATOR, actor="op-7", channel=Channel.CALLCENTRE)
    claims = tokens.verify_access_token(runtime, token)
    assert claims["act"] == {"sub": "op-7"}
    actor = tokens.actor_from_claims(claims)
    assert (actor.kind, actor.id, actor.subject_id, actor.channel) == (
        ActorKind.OPERATOR,
        "op-7",
        patient_id,
        Channel.CALLCENTRE,
    )


def test_websocket_connection_init_refuses_a_bad_token_and_accepts_a_good_one(settings: Settings) -> None:
    issuer = Runtime.build(settings)
    good = token_for(issuer, uuid.uuid4())
    asyncio.run(issuer.close())
    app = create_app(settings, extra_schema_modules=identity_schema_modules())
    with served(app) as client:
        with (
            websocket(client) as ws,
            pytest.raises(WebSocketDisconnect) as forged,
        ):
            ws.send_json({"type": "connection_init", "payload": {"Authorization": "Bearer forged.token.value"}})
            ws.receive_json()
        assert forged.value.code == 4403
        with (
            websocket(client, headers={"Authorization": "Bearer nope"}) as ws,
            pytest.raises(WebSocketDisconnect) as refused,
        ):
            ws.send_json({"type": "connection_init"})
            ws.receive_json()
        assert refused.value.code == 4403
        with websocket(client) as ws:
            ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {good}"}})
            assert ws.receive_json() == {"type": "connection_ack"}
