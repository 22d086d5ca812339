"""Proxies: a trusted adult confirmed by SMS, a declared guardian confirmed by staff, the end at 15, the log."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.identity import proxies, tokens
from backend.identity.models import ProxyGrant
from backend.identity.service import memory_sms
from backend.runtime import Runtime
from integrations.esia import EsiaChild, EsiaDocument
from tests.support.client import gql
from tests.support.identity import (
    auth_headers,
    grant_proxy,
    identity_client,
    kiosk_session_token,
    make_patient,
    operator_on_behalf_token,
    operator_token,
    token_for,
)

pytestmark = pytest.mark.dialect

GRANT = """mutation($s: String!, $b: Date!, $scopes: [String!]!, $e: Date!) {
  grantProxy(proxySnils: $s, proxyBirthDate: $b, scopes: $scopes, expiresOn: $e) {
    __typename ... on Problem { code message }
    ... on ProxyGrantPending { smsSentTo grant { id status scopes proxy { shortName } } }
  }
}"""
CONFIRM = """mutation($g: UUID!, $c: String!) {
  confirmProxyGrant(grantId: $g, code: $c) {
    __typename ... on Problem { code message } ... on ProxyGrantNode { status }
  }
}"""
REVOKE = """mutation($g: UUID!) {
  revokeProxyGrant(grantId: $g) { __typename ... on Problem { code } ... on ProxyGrantNode { status } }
}"""
DECLARE = """mutation($child: ChildInput!, $doc: DocumentInput!) {
  declareGuardianship(child: $child, document: $doc) {
    __typename ... on Problem { code message } ... on ProxyGrantNode { id status kind expiresAt principal { id } }
  }
}"""
CONFIRM_GUARDIAN = """mutation($g: UUID!) {
  confirmGuardianship(grantId: $g) { __typename ... on Problem { code } ... on ProxyGrantNode { status } }
}"""
ME_FOR = "query($p: UUID) { me(actingFor: $p) { id } }"


@pytest.fixture
def clock(runtime: Runtime) -> dict[str, datetime]:
    moment = {"now": datetime(2025, 3, 3, 9, 0, tzinfo=UTC)}
    tokens.set_clock(runtime, lambda: moment["now"])
    return moment


def _code(body: dict[str, Any], field: str) -> str | None:
    return (body.get("data") or {}).get(field, {}).get("code") if body.get("data") else None


async def test_trusted_adult_needs_the_sms_code_then_acts_within_scope_until_expiry(
    runtime: Runtime, clock: dict[str, datetime]
) -> None:
    principal = await make_patient(runtime, phone="+79280002233")
    proxy = await make_patient(runtime, birth_date=date(1970, 1, 1))
    p_headers, x_headers = auth_headers(token_for(runtime, principal.id)), auth_headers(token_for(runtime, proxy.id))
    async with identity_client(runtime) as client:
        pending = (
            await gql(
                client,
                GRANT,
                {"s": proxy.snils, "b": "1970-01-01", "scopes": ["profile", "booking"], "e": "2025-03-10"},
                headers=p_headers,
            )
        )["data"]["grantProxy"]
        assert pending["__typename"] == "ProxyGrantPending", pending
        assert pending["smsSentTo"] == "+7928***2233"
        grant_id = pending["grant"]["id"]
        before = await gql(client, ME_FOR, {"p": str(principal.id)}, headers=x_headers)
        assert before["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"  # pending: not yet
        await runtime.relay.drain()
        code = memory_sms(runtime).last_code("+79280002233")
        wrong = await gql(
            client, CONFIRM, {"g": grant_id, "c": "999999" if code != "999999" else "111111"}, headers=p_headers
        )
        assert wrong["data"]["confirmProxyGrant"]["code"] == "WRONG_CODE"
        by_proxy = await gql(client, CONFIRM, {"g": grant_id, "c": code}, headers=x_headers)
        assert by_proxy["data"]["confirmProxyGrant"]["code"] == "NOT_FOUND"  # only the principal confirms
        ok = await gql(client, CONFIRM, {"g": grant_id, "c": code}, headers=p_headers)
        assert ok["data"]["confirmProxyGrant"] == {"__typename": "ProxyGrantNode", "status": "active"}
        acting = await gql(client, ME_FOR, {"p": str(principal.id)}, headers=x_headers)
        assert acting["data"]["me"]["id"] == str(principal.id)
        proxies_of = await gql(client, "{ myProxies { status proxy { id } } }", headers=p_headers)
        assert proxies_of["data"]["myProxies"] == [{"status": "active", "proxy": {"id": str(proxy.id)}}]
        clock["now"] = datetime(2025, 3, 11, 0, 0, 1, tzinfo=UTC)  # past the grant's last day
        p_headers, x_headers = (
            auth_headers(token_for(runtime, principal.id)),
            auth_headers(token_for(runtime, proxy.id)),
        )
        expired = await gql(client, ME_FOR, {"p": str(principal.id)}, headers=x_headers)
        assert expired["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
        listed = await gql(client, "{ myProxies { status } }", headers=p_headers)
        assert listed["data"]["myProxies"] == [{"status": "expired"}]


async def test_wrong_codes_are_limited_even_though_each_attempt_rolls_back(
    runtime: Runtime, clock: dict[str, datetime]
) -> None:
    principal = await make_patient(runtime, phone="+79280003344")
    proxy = await make_patient(runtime, birth_date=date(1971, 2, 2))
    headers = auth_headers(token_for(runtime, principal.id))
    async with identity_client(runtime) as client:
        pending = await gql(
            client,
            GRANT,
            {"s": proxy.snils, "b": "1971-02-02", "scopes": ["booking"], "e": "2025-04-01"},
            headers=headers,
        )
        grant_id = pending["data"]["grantProxy"]["grant"]["id"]
        await runtime.relay.drain()
        code = memory_sms(runtime).last_code()
        wrong = "000000" if code != "000000" else "111111"
        results = [
            (await gql(client, CONFIRM, {"g": grant_id, "c": wrong}, headers=headers))["data"]["confirmProxyGrant"][
                "code"
            ]
            for _ in range(5)
        ]
        late = await gql(client, CONFIRM, {"g": grant_id, "c": code}, headers=headers)
    assert results == ["WRONG_CODE"] * 4 + ["CODE_EXPIRED"]
    assert late["data"]["confirmProxyGrant"]["code"] == "CODE_EXPIRED"


async def test_bad_grant_requests_change_nothing(runtime: Runtime, clock: dict[str, datetime]) -> None:
    principal = await make_patient(runtime)
    minor = await make_patient(runtime, birth_date=date(2012, 1, 1))
    headers = auth_headers(token_for(runtime, principal.id))
    cases = [
        ({"s": "123", "b": "1970-01-01", "scopes": ["booking"], "e": "2025-04-01"}, "INVALID_INPUT"),
        ({"s": minor.snils, "b": "2012-01-01", "scopes": ["everything"], "e": "2025-04-01"}, "INVALID_INPUT"),
        ({"s": minor.snils, "b": "2012-01-01", "scopes": ["booking"], "e": "2025-03-01"}, "INVALID_INPUT"),
        ({"s": minor.snils, "b": "2012-01-01", "scopes": ["booking"], "e": "2025-04-01"}, "INVALID_INPUT"),
        ({"s": minor.snils, "b": "2012-01-02", "scopes": ["booking"], "e": "2025-04-01"}, "PROXY_NOT_FOUND"),
    ]
    async with identity_client(runtime) as client:
        for variables, code in cases:
            body = await gql(client, GRANT, variables, headers=headers)
            assert body["data"]["grantProxy"]["code"] == code, variables
        operator = await gql(
            client, GRANT, cases[3][0], headers=auth_headers(await operator_on_behalf_token(runtime, principal.id))
        )
        assert operator["data"]["grantProxy"]["code"] == "ACCESS_DENIED"  # never delegated
    async with runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ProxyGrant)) == 0
    assert memory_sms(runtime).messages == []


async def test_declared_guardianship_needs_staff_confirmation_and_ends_at_15(
    runtime: Runtime, clock: dict[str, datetime]
) -> None:
    parent = await make_patient(runtime)
    headers = auth_headers(token_for(runtime, parent.id))
    child = {
        "lastName": "Тестов",
        "firstName": "Петр",
        "birthDate": "2015-03-10",
        "sex": "M",
        "omsPolicy": "2699000011112222",
    }
    document = {"type": "BIRTH_CERTIFICATE", "series": "I-ДН", "number": "654321", "issuedOn": "2015-03-20"}
    async with identity_client(runtime) as client:
        declared = (await gql(client, DECLARE, {"child": child, "doc": document}, headers=headers))["data"][
            "declareGuardianship"
        ]
        assert declared["status"] == "pending", declared
        assert declared["expiresAt"].startswith("2030-03-10T00:00:00")
        child_id = declared["principal"]["id"]
        assert (await gql(client, ME_FOR, {"p": child_id}, headers=headers))["errors"][0]["extensions"]["code"] == (
            "ACCESS_DENIED"
        )
        by_parent = await gql(client, CONFIRM_GUARDIAN, {"g": declared["id"]}, headers=headers)
        assert by_parent["data"]["confirmGuardianship"]["code"] == "ACCESS_DENIED"
        staff = auth_headers(await operator_token(runtime))
        confirmed = await gql(client, CONFIRM_GUARDIAN, {"g": declared["id"]}, headers=staff)
        assert confirmed["data"]["confirmGuardianship"]["status"] == "active"
        assert (await gql(client, ME_FOR, {"p": child_id}, headers=headers))["data"]["me"]["id"] == child_id
        clock["now"] = datetime(2030, 3, 9, 23, 59, tzinfo=UTC)
        headers = auth_headers(token_for(runtime, parent.id))
        assert "errors" not in await gql(client, ME_FOR, {"p": child_id}, headers=headers)
        clock["now"] = datetime(2030, 3, 10, 0, 0, 1, tzinfo=UTC)  # the 15th birthday
        headers = auth_headers(token_for(runtime, parent.id))
        ended = await gql(client, ME_FOR, {"p": child_id}, headers=headers)
        assert ended["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
        too_old = await gql(
            client, DECLARE, {"child": child | {"birthDate": "2010-01-01"}, "doc": document}, headers=headers
        )
        assert too_old["data"]["declareGuardianship"]["code"] == "INVALID_INPUT"


async def test_esia_children_become_guardian_grants_until_15(runtime: Runtime, clock: dict[str, datetime]) -> None:
    parent = await make_patient(runtime)
    policy_doc = EsiaDocument(id="2", type="MDCL_PLCY", series=None, number="2600000000000777", verified=True)
    kids = (
        EsiaChild("c1", "Тестова", "Ева", None, date(2016, 2, 29), "F", None, (policy_doc,)),
        EsiaChild("c2", "Тестов", "Олег", None, date(2009, 1, 1), "M", None, ()),  # already 16: no grant
    )
    async with runtime.sessionmaker() as session, session.begin():
        linked = await proxies.sync_esia_children(session, parent.id, kids, at=clock["now"])
        again = await proxies.sync_esia_children(session, parent.id, kids, at=clock["now"])
    assert linked == again and len(linked) == 1
    async with runtime.sessionmaker() as session:
        grants = (await session.scalars(select(ProxyGrant))).all()
    assert len(grants) == 1
    assert grants[0].expires_at == datetime(2031, 3, 1, tzinfo=UTC)  # 29 February → 1 March
    assert proxies.guardianship_ends(date(2016, 2, 29)) == datetime(2031, 3, 1, tzinfo=UTC)


async def test_access_log_shows_who_when_channel_and_on_whose_behalf(
    runtime: Runtime, clock: dict[str, datetime]
) -> None:
    patient = await make_patient(runtime)
    proxy = await make_patient(runtime, last_name="Доверенный", first_name="Иван", middle_name="Петрович")
    await grant_proxy(runtime, patient.id, proxy.id, scopes={"profile"})
    own = auth_headers(token_for(runtime, patient.id))
    async with identity_client(runtime) as client:
        await gql(client, "{ me { id } }", headers=own)
        clock["now"] += timedelta(minutes=1)
        await gql(client, ME_FOR, {"p": str(patient.id)}, headers=auth_headers(token_for(runtime, proxy.id)))
        clock["now"] += timedelta(minutes=1)
        await gql(client, "{ me { id } }", headers=auth_headers(await operator_on_behalf_token(runtime, patient.id)))
        await gql(client, "{ me { id } }", headers=auth_headers(await kiosk_session_token(runtime, patient.id)))
        log = await gql(client, "{ myAccessLog { actor actorKind channel onBehalf action outcome } }", headers=own)
        operator_view = await gql(
            client,
            "{ myAccessLog { actor } }",
            headers=auth_headers(await operator_on_behalf_token(runtime, patient.id)),
        )
        stranger = await gql(
            client,
            "query($p: UUID) { myAccessLog(actingFor: $p) { actor } }",
            {"p": str(patient.id)},
            headers=auth_headers(token_for(runtime, uuid.uuid4())),
        )
    entries = log["data"]["myAccessLog"]
    reads = [(e["actor"], e["channel"], e["onBehalf"]) for e in entries if e["action"] == "Просмотр профиля"]
    assert ("Вы", "mobile", False) in reads
    assert ("Доверенное лицо: Доверенный И. П.", "mobile", True) in reads
    assert any(e["actorKind"] == "operator" and e["channel"] == "callcentre" for e in entries)
    refusals = [e for e in entries if e["outcome"] == "ACCESS_DENIED"]
    assert any(e["actorKind"] == "kiosk" and e["actor"].startswith("Инфомат") for e in refusals)
    assert operator_view["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"  # the log is the patient's own
    assert stranger["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"


async def test_revoked_grant_stops_working(runtime: Runtime, clock: dict[str, datetime]) -> None:
    principal, proxy = await make_patient(runtime), await make_patient(runtime)
    grant_id = await grant_proxy(runtime, principal.id, proxy.id)
    x_headers = auth_headers(token_for(runtime, proxy.id))
    async with identity_client(runtime) as client:
        assert "errors" not in await gql(client, ME_FOR, {"p": str(principal.id)}, headers=x_headers)
        outsider = await gql(
            client, REVOKE, {"g": str(grant_id)}, headers=auth_headers(token_for(runtime, uuid.uuid4()))
        )
        assert outsider["data"]["revokeProxyGrant"]["code"] == "NOT_FOUND"
        revoked = await gql(
            client, REVOKE, {"g": str(grant_id)}, headers=auth_headers(token_for(runtime, principal.id))
        )
        assert revoked["data"]["revokeProxyGrant"]["status"] == "revoked"
        after = await gql(client, ME_FOR, {"p": str(principal.id)}, headers=x_headers)
    assert after["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
