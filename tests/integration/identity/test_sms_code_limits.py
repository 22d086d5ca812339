"""SMS codes cannot be brute-forced by asking for new ones: codes are limited per person and per requester
over time, and the person is told when codes are being requested for them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from backend.identity import codes
from backend.identity.service import memory_sms
from backend.runtime import Runtime
from tests.support.client import gql
from tests.support.identity import auth_headers, identity_client, make_patient, operator_token, token_for

pytestmark = pytest.mark.dialect

OPEN = """mutation($b: Date!, $p: String) {
  openOnBehalfSession(birthDate: $b, omsPolicy: $p, sendSmsCode: true) {
    __typename ... on Problem { code message } ... on OnBehalfSession { smsCodeSent }
  }
}"""
GRANT = """mutation($s: String!, $b: Date!, $e: Date!) {
  grantProxy(proxySnils: $s, proxyBirthDate: $b, scopes: ["booking"], expiresOn: $e) {
    __typename ... on Problem { code message } ... on ProxyGrantPending { smsSentTo }
  }
}"""
BORN = date(1975, 5, 5)


EXPIRES = (date.today() + timedelta(days=30)).isoformat()


async def _grant(client: Any, headers: dict[str, str], snils: str | None, born: str) -> dict[str, Any]:
    body = await gql(client, GRANT, {"s": snils, "b": born, "e": EXPIRES}, headers=headers)
    answer: dict[str, Any] = body["data"]["grantProxy"]
    return answer


async def test_codes_for_one_person_are_limited_and_the_person_is_warned(runtime: Runtime) -> None:
    caller = await make_patient(runtime, birth_date=BORN, phone="+79280007788")
    answers = []
    async with identity_client(runtime) as client:
        for _ in range(codes.MAX_CODES_PER_PERSON + 2):
            staff = auth_headers(await operator_token(runtime))  # a new operator each time
            body = await gql(client, OPEN, {"b": BORN.isoformat(), "p": caller.oms_policy}, headers=staff)
            answers.append(body["data"]["openOnBehalfSession"])
    await runtime.relay.drain()
    sent = [a for a in answers if a["__typename"] == "OnBehalfSession" and a["smsCodeSent"]]
    refused = [a for a in answers if a.get("code") == "TOO_MANY_ATTEMPTS"]
    assert len(sent) == codes.MAX_CODES_PER_PERSON
    assert len(refused) == 2
    assert "СМС" in refused[0]["message"]
    texts = [m.text for m in memory_sms(runtime).messages if m.phone == "+79280007788"]
    warnings = [t for t in texts if "запрашива" in t]
    assert len(warnings) == 1, texts  # once, however many refusals
    assert len(texts) == codes.MAX_CODES_PER_PERSON + 1


async def test_codes_asked_by_one_operator_are_limited(runtime: Runtime) -> None:
    staff = auth_headers(await operator_token(runtime))
    answers = []
    async with identity_client(runtime) as client:
        for _ in range(codes.MAX_CODES_PER_REQUESTER + 1):
            caller = await make_patient(runtime, birth_date=BORN)
            body = await gql(client, OPEN, {"b": BORN.isoformat(), "p": caller.oms_policy}, headers=staff)
            answers.append(body["data"]["openOnBehalfSession"])
    assert [a.get("code") for a in answers[:-1]] == [None] * codes.MAX_CODES_PER_REQUESTER
    assert answers[-1]["code"] == "TOO_MANY_ATTEMPTS"


async def test_proxy_grant_codes_are_limited_per_principal(runtime: Runtime) -> None:
    principal = await make_patient(runtime)
    proxy = await make_patient(runtime, birth_date=date(1970, 1, 1))
    headers = auth_headers(token_for(runtime, principal.id))
    async with identity_client(runtime) as client:
        answers = [
            await _grant(client, headers, proxy.snils, "1970-01-01") for _ in range(codes.MAX_CODES_PER_PERSON + 1)
        ]
    assert [a["__typename"] for a in answers[:-1]] == ["ProxyGrantPending"] * codes.MAX_CODES_PER_PERSON
    assert answers[-1]["code"] == "TOO_MANY_ATTEMPTS"
