"""Declaring a guardianship or naming a trusted adult reveals nothing about the other person until confirmed,
and neither works as an unthrottled lookup."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from backend.identity import proxies
from backend.identity.models import Patient, ProxyGrant
from backend.identity.service import memory_sms
from backend.runtime import Runtime
from tests.support.client import gql
from tests.support.identity import auth_headers, identity_client, make_patient, operator_token, token_for

pytestmark = pytest.mark.dialect

DECLARE = """mutation($child: ChildInput!, $doc: DocumentInput!) {
  declareGuardianship(child: $child, document: $doc) {
    __typename ... on Problem { code message }
    ... on ProxyGrantNode { id status principal { id shortName birthDate } }
  }
}"""
PRINCIPALS = "query { myPrincipals { status principal { id shortName } } }"
CONFIRM_GUARDIAN = """mutation($g: UUID!) {
  confirmGuardianship(grantId: $g) { __typename ... on ProxyGrantNode { status principal { id } } }
}"""
GRANT = """mutation($s: String!, $b: Date!, $e: Date!) {
  grantProxy(proxySnils: $s, proxyBirthDate: $b, scopes: ["booking"], expiresOn: $e) {
    __typename ... on Problem { code message }
    ... on ProxyGrantPending { grant { status proxy { id shortName } } }
  }
}"""
DOCUMENT = {"type": "BIRTH_CERTIFICATE", "series": "I-ДН", "number": "123456", "issuedOn": "2019-02-01"}


EXPIRES = (date.today() + timedelta(days=30)).isoformat()


async def _grant(client: Any, headers: dict[str, str], snils: str | None, born: str) -> dict[str, Any]:
    body = await gql(client, GRANT, {"s": snils, "b": born, "e": EXPIRES}, headers=headers)
    answer: dict[str, Any] = body["data"]["grantProxy"]
    return answer


async def _child(runtime: Runtime) -> Patient:
    view = await make_patient(
        runtime, last_name="Настоящев", first_name="Кирилл", middle_name=None, birth_date=date(2019, 1, 20), sex="M"
    )
    async with runtime.sessionmaker() as session:
        return await session.get_one(Patient, view.id)


def _made_up(child: Patient, **overrides: str) -> dict[str, str]:
    return {
        "lastName": "Выдумкин",
        "firstName": "Иван",
        "birthDate": child.birth_date.isoformat(),
        "sex": "M",
        "omsPolicy": child.oms_policy or "",
    } | overrides


async def test_a_declared_child_matched_by_policy_and_birth_date_is_not_revealed(runtime: Runtime) -> None:
    child = await _child(runtime)
    claimant = await make_patient(runtime)
    headers = auth_headers(token_for(runtime, claimant.id))
    async with identity_client(runtime) as client:
        body = await gql(client, DECLARE, {"child": _made_up(child), "doc": DOCUMENT}, headers=headers)
        declared = body["data"]["declareGuardianship"]
        listed = (await gql(client, PRINCIPALS, headers=headers))["data"]["myPrincipals"]
    assert declared["status"] == "pending", declared
    assert declared["principal"]["id"] != str(child.id)
    assert declared["principal"]["shortName"] == "Выдумкин И."
    assert "Настоящев" not in str(listed) and str(child.id) not in str(listed)
    async with runtime.sessionmaker() as session:
        grant = await session.scalar(select(ProxyGrant).where(ProxyGrant.proxy_id == claimant.id))
        kept = await session.get_one(Patient, child.id)
    assert grant is not None and grant.principal_id == child.id  # filed against the child, for the reviewer
    assert grant.document["declared"]["last_name"] == "Выдумкин"  # what the claimant said, for the reviewer
    assert grant.document["declared"]["first_name"] == "Иван"
    assert (kept.last_name, kept.first_name) == ("Настоящев", "Кирилл")


async def test_a_declared_child_with_a_wrong_birth_date_changes_no_record(runtime: Runtime) -> None:
    child = await _child(runtime)
    claimant = await make_patient(runtime)
    headers = auth_headers(token_for(runtime, claimant.id))
    async with identity_client(runtime) as client:
        body = await gql(
            client, DECLARE, {"child": _made_up(child, birthDate="2018-07-07"), "doc": DOCUMENT}, headers=headers
        )
    assert body["data"]["declareGuardianship"]["status"] == "pending"
    assert str(child.id) != body["data"]["declareGuardianship"]["principal"]["id"]
    async with runtime.sessionmaker() as session:
        kept = await session.get_one(Patient, child.id)
    assert (kept.last_name, kept.birth_date, kept.oms_policy) == ("Настоящев", date(2019, 1, 20), child.oms_policy)


async def test_an_approved_guardianship_shows_the_child(runtime: Runtime) -> None:
    child = await _child(runtime)
    parent = await make_patient(runtime)
    headers = auth_headers(token_for(runtime, parent.id))
    async with identity_client(runtime) as client:
        declared = (await gql(client, DECLARE, {"child": _made_up(child), "doc": DOCUMENT}, headers=headers))["data"][
            "declareGuardianship"
        ]
        staff = auth_headers(await operator_token(runtime))
        approved = await gql(client, CONFIRM_GUARDIAN, {"g": declared["id"]}, headers=staff)
        listed = (await gql(client, PRINCIPALS, headers=headers))["data"]["myPrincipals"]
    assert approved["data"]["confirmGuardianship"]["principal"]["id"] == str(child.id)
    assert listed == [{"status": "active", "principal": {"id": str(child.id), "shortName": "Настоящев К."}}]


async def test_a_pending_trusted_adult_is_not_named_and_lookups_are_throttled(runtime: Runtime) -> None:
    principal = await make_patient(runtime, phone="+79280004455")
    proxy = await make_patient(runtime, last_name="Скрытов", birth_date=date(1970, 1, 1))
    headers = auth_headers(token_for(runtime, principal.id))
    async with identity_client(runtime) as client:
        pending = await _grant(client, headers, proxy.snils, "1970-01-01")
        await runtime.relay.drain()
        lookups = [
            await _grant(client, headers, proxy.snils, f"1970-01-{day:02d}")
            for day in range(2, 2 + proxies.MAX_GRANT_REQUESTS)
        ]
    assert pending["grant"]["status"] == "pending"
    assert "Скрытов" not in str(pending) and str(proxy.id) not in str(pending)
    assert all("Скрытов" not in m.text for m in memory_sms(runtime).messages)
    codes = [a.get("code") for a in lookups]
    assert codes[: proxies.MAX_GRANT_REQUESTS - 1] == ["PROXY_NOT_FOUND"] * (proxies.MAX_GRANT_REQUESTS - 1)
    assert codes[-1] == "TOO_MANY_ATTEMPTS"
