"""The access log: refusals by strangers are counted, not listed; a replayed login code is not «Вы»."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from backend.identity import tokens
from backend.identity.models import OAuthLogin
from backend.runtime import Runtime
from tests.support.client import gql
from tests.support.identity import auth_headers, identity_client, make_patient, operator_on_behalf_token, token_for

pytestmark = pytest.mark.dialect

LOG = "query($n: Int!) { myAccessLog(first: $n) { action actor actorKind outcome onBehalf } }"
ME_FOR = "query($p: UUID) { me(actingFor: $p) { id } }"


async def test_refusals_by_strangers_are_one_counted_line_and_push_no_real_read_out(runtime: Runtime) -> None:
    patient = await make_patient(runtime)
    stranger = await make_patient(runtime, last_name="Посторонний")
    own = auth_headers(token_for(runtime, patient.id))
    async with identity_client(runtime) as client:
        for _ in range(3):
            await gql(client, "{ me { id } }", headers=own)
        foreign = auth_headers(token_for(runtime, stranger.id))
        for _ in range(25):
            refused = await gql(client, ME_FOR, {"p": str(patient.id)}, headers=foreign)
            assert refused["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
        other_caller = await make_patient(runtime)  # an operator's session about someone else
        operator = auth_headers(await operator_on_behalf_token(runtime, other_caller.id))
        await gql(client, ME_FOR, {"p": str(patient.id)}, headers=operator)
        entries = (await gql(client, LOG, {"n": 10}, headers=own))["data"]["myAccessLog"]
    reads = [e for e in entries if e["action"] == "Просмотр профиля"]
    assert [(e["actor"], e["onBehalf"]) for e in reads] == [("Вы", False)] * 3
    counted = [e for e in entries if "попыт" in e["action"]]
    assert [e["action"] for e in counted] == ["26 отклонённых попыток доступа"]
    assert counted[0]["outcome"] == "ACCESS_DENIED" and counted[0]["onBehalf"]
    assert not any("Посторонний" in e["actor"] or e["actor"].startswith("Доверенное лицо") for e in entries)


async def test_a_replayed_login_code_is_not_shown_as_the_patient(runtime: Runtime) -> None:
    patient = await make_patient(runtime)
    at = tokens.now(runtime)
    code = "replayed-code-" + uuid.uuid4().hex
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            OAuthLogin(
                id=uuid.uuid4(),
                client_id="mz-mobile",
                redirect_uri="ru.gosuslugi.health://oauth/callback",
                code_challenge="x" * 43,
                esia_state=uuid.uuid4().hex,
                created_at=at,
                expires_at=at + timedelta(minutes=15),
                patient_id=patient.id,
                code_hash=tokens.digest(code),
                code_expires_at=at + timedelta(minutes=2),
                code_used_at=at,
            )
        )
    async with identity_client(runtime) as client:
        replay = await client.post(
            "/api/v1/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": "ru.gosuslugi.health://oauth/callback",
                "client_id": "mz-mobile",
                "code_verifier": "v" * 43,
            },
        )
        assert replay.status_code == 400
        entries = (await gql(client, LOG, {"n": 10}, headers=auth_headers(token_for(runtime, patient.id))))["data"][
            "myAccessLog"
        ]
    replays = [e for e in entries if e["outcome"] == "CODE_REPLAY"]
    assert len(replays) == 1, entries
    assert replays[0]["actor"] != "Вы" and replays[0]["onBehalf"]
